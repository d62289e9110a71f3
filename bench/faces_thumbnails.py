"""Faces on thumbnails: TAR at FAR <= 1e-2 for probes shrunk to a long side of 160 / 120 / 90 px (JPEG q70),
for Kesu's pipeline, Kesu's pipeline before issue 19 (kept here only, as ``old``) and plain dlib, side by
side, with faces per second for each. Evaluation only: nothing is written.

    .venv/bin/python bench/faces_thumbnails.py [--data ../shared/data/faces-dev] [--sides 160,120,90]
        [--pipelines kesu,kesu+views,kesu+640,kesu-tiny,old,plain] [--speed]

(``kesu+views``: references banked with their faces' views on thumbnails too; ``kesu+640``: YOLO's 640 pass
on enlarged thumbnails too; both off in Kesu. ``kesu-tiny``: Kesu without its tiny-face pass on thumbnails,
faces from 16 px as before it. ``--speed``: only faces/s, the pipelines taking turns picture
by picture, so that a shared machine's load weighs on all alike.)

(also ``bench/faces_eval.py --thumbnails``). Gallery: the largest face of every full-size single photo
of faces-dev, banked as each pipeline banks a reference. Probes: every photo (the group photos too) shrunk
and recompressed; a probe matches a gallery photo at the smallest distance of any of its faces to anything
banked of it. Genuine pairs: the probe shows the gallery photo's person and is another photo. faces-dev is
small (10 people, 23 + 3 photos): the error bars are wide (Wilson 95 % intervals in brackets).
"""

import argparse
import os
import sys
import time
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kesu.matching import calibration, signals  # noqa: E402
from kesu.ml import analysis, faces  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/faces-dev"
# who is on each group photo of faces-dev/_multi (looked at; the third pair is in no single photo)
MULTI = {"1": {"obama", "biden"}, "2": {"kit_harington", "rose_leslie"}, "3": set()}
FAR = 1e-2


@dataclass
class Photo:
    name: str  # person/file
    people: set[str]
    image: Image.Image
    single: bool


@dataclass
class Found:
    embedding: np.ndarray
    size: float  # px in the picture analysed
    sharpness: float
    bank: list[np.ndarray] | None = None  # what a reference banks of it, when more than the embedding

    def banked(self) -> list[np.ndarray]:
        return self.bank or [self.embedding]


def load(folder: Path) -> list[Photo]:
    out = []
    for path in sorted(folder.glob("*/*")):
        if path.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        image = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
        person, single = path.parent.name, path.parent.name != "_multi"
        people = {person} if single else MULTI[path.stem]
        out.append(Photo(f"{person}/{path.name}", people, image, single))
    return out


def thumbnail(image: Image.Image, side: int, quality: int = 70) -> Image.Image:
    """The picture with its long side shrunk to ``side`` px, as a JPEG of that quality (in memory)."""
    factor = side / max(image.size)
    small = image.resize((max(1, round(image.width * factor)), max(1, round(image.height * factor))),
                         Image.Resampling.LANCZOS)  # fmt: skip
    out = BytesIO()
    small.save(out, "JPEG", quality=quality)
    return Image.open(BytesIO(out.getvalue())).convert("RGB")


# ---------------------------------------------------------------- the three pipelines


def kesu(image: Image.Image, reference: bool = False) -> list[Found]:
    """A reference banks its faces' embeddings on thumbnails of the photo too (analysis.REFERENCE_THUMBNAILS)."""
    return [_found(f) for f in analysis.analyse(image, reference=reference).usable_faces]


def _found(face: faces.Face) -> Found:
    return Found(face.embedding, face.quality["size"], face.quality["sharpness"], list(face.embeddings))


OLD = {"min_size": 40, "min_score": 0.3, "max_yaw": 0.35, "min_sharpness": 15.0}


def old(image: Image.Image, reference: bool = False) -> list[Found]:
    """Kesu before issue 19: no enlargement, NudeNet only, and the gate (size >= 40 px in the working copy,
    detection score >= 0.3, |yaw| <= 0.35, sharpness >= 15) dropping every face that failed it."""
    scale = min(1.0, analysis.WORK_MAX_SIDE / max(image.size))
    if scale < 1.0:
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    rgb = np.ascontiguousarray(np.asarray(image.convert("RGB")))
    out = []
    for det in analysis.detect(rgb)[0]:
        shape = faces.locate(rgb, det["box"])
        chip = faces.align(rgb, shape)
        size, sharp = min(det["box"][2:]), faces.sharpness(chip)
        if (size >= OLD["min_size"] and det["score"] >= OLD["min_score"] and sharp >= OLD["min_sharpness"]
                and abs(faces.yaw(faces.points(shape))) <= OLD["max_yaw"]):  # fmt: skip
            out.append(Found(faces.embed(chip), size, sharp))
    return out


def plain(image: Image.Image, reference: bool = False) -> list[Found]:
    """face_recognition's defaults: HOG with one upsampling, 5 landmarks, ResNet; no gate at all (large
    pictures first reduced to Kesu's working size, as HOG upsampled on 12 MP would take seconds)."""
    scale = min(1.0, analysis.WORK_MAX_SIDE / max(image.size))
    if scale < 1.0:
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    rgb = np.ascontiguousarray(np.asarray(image.convert("RGB")))
    out = []
    for rect in analysis.hog()(rgb, 1):
        chip = faces.align(rgb, faces._predictor()(rgb, rect))
        out.append(Found(faces.embed(chip), min(rect.width(), rect.height()), faces.sharpness(chip)))
    return out


def kesu_views(image: Image.Image, reference: bool = False) -> list[Found]:
    """Kesu with references banked with their faces' views on 160 and 96 px thumbnails (off in Kesu)."""
    shipped, analysis.REFERENCE_THUMBNAILS = analysis.REFERENCE_THUMBNAILS, (160, 96)
    try:
        return kesu(image, reference)
    finally:
        analysis.REFERENCE_THUMBNAILS = shipped


def kesu_with_640(image: Image.Image, reference: bool = False) -> list[Found]:
    """Kesu with YOLO's 640 pass on enlarged thumbnails too (Kesu: its 320 pass and dlib's HOG only)."""
    shipped, analysis.SMALL_PICTURE_YOLO_640 = analysis.SMALL_PICTURE_YOLO_640, True
    try:
        return kesu(image, reference)
    finally:
        analysis.SMALL_PICTURE_YOLO_640 = shipped


def kesu_without_tiny(image: Image.Image, reference: bool = False) -> list[Found]:
    """Kesu as before the thumbnails' tiny-face pass: HOG at the enlarged copy's scale only, faces from 16 px."""
    shipped = analysis.TINY_FACE_HOG_UPSAMPLING, faces.MIN_SIZE
    analysis.TINY_FACE_HOG_UPSAMPLING, faces.MIN_SIZE = 0, 16
    try:
        return kesu(image, reference)
    finally:
        analysis.TINY_FACE_HOG_UPSAMPLING, faces.MIN_SIZE = shipped


PIPELINES = {"kesu": kesu, "kesu+views": kesu_views, "kesu+640": kesu_with_640, "kesu-tiny": kesu_without_tiny,
             "old": old, "plain": plain}  # fmt: skip


def speed(photos: list[Photo], names: list[str], sides: list[int]) -> None:
    """Faces per second of each pipeline, taking turns picture by picture (a shared machine's load then weighs
    on all alike), on the full-size photos and on each size of thumbnail."""
    print(f"\nfaces/s, pipelines taking turns on each picture (load average {os.getloadavg()[0]:.1f} at start):")
    for side in ["full", *sides]:
        images = [p.image if side == "full" else thumbnail(p.image, side) for p in photos]
        spent, found = dict.fromkeys(names, 0.0), dict.fromkeys(names, 0)
        for image in images:
            for name in names:
                start = time.perf_counter()
                found[name] += len(PIPELINES[name](image))
                spent[name] += time.perf_counter() - start
        cells = "  ".join(f"{name} {found[name] / spent[name]:5.1f} ({found[name]} faces)" for name in names)
        print(f"  {side:>4}: {cells}")
    print(f"  load average {os.getloadavg()[0]:.1f} at the end")


# ---------------------------------------------------------------- scores


def timed(pipeline, images: list[Image.Image], reference: bool = False) -> tuple[list[list[Found]], float]:
    """Every picture's faces, and faces per second (detect, align, embed; decoding excluded)."""
    start = time.perf_counter()
    found = [pipeline(image, reference) for image in images]
    elapsed = time.perf_counter() - start
    return found, sum(len(f) for f in found) / elapsed


def gallery(photos: list[Photo], found: list[list[Found]]) -> list[tuple[Photo, Found]]:
    """The largest face of each single photo (a reference photo shows her; others may be bystanders)."""
    return [(p, max(f, key=lambda x: x.size)) for p, f in zip(photos, found, strict=True) if p.single and f]


def pairs(gallery_faces, photos, probes) -> list[dict]:
    """Every probe against every gallery photo but itself: distance (inf when no face) and the quality
    of the probe face that gave it."""
    rows = []
    for photo, probe in zip(photos, probes, strict=True):
        for ref, ref_face in gallery_faces:
            if ref.name == photo.name:
                continue
            bank = np.stack(ref_face.banked())
            best = min(probe, key=lambda f: faces.distances(f.embedding, bank).min(), default=None)
            distance = float(faces.distances(best.embedding, bank).min()) if best else float("inf")
            rows.append({"label": int(bool(ref.people & photo.people)), "distance": distance,
                         "size": best.size if best else 0.0, "sharpness": best.sharpness if best else 0.0,
                         "probe": photo.name, "reference": ref.name})  # fmt: skip
    return rows


def tar_at_far(rows: list[dict], far: float = FAR) -> tuple[int, int, float]:
    """(accepted genuine, genuine, threshold): the threshold accepts at most ``far`` of the impostors."""
    genuine = np.array([r["distance"] for r in rows if r["label"]])
    impostor = np.sort([r["distance"] for r in rows if not r["label"]])
    allowed = int(np.floor(far * len(impostor)))
    limit = impostor[allowed] if allowed < len(impostor) else np.inf  # strictly below: <= `allowed` accepted
    return int(np.sum(genuine < limit)), len(genuine), float(limit)


def reaches(rows: list[dict]) -> str:
    """Kesu's calibrated verdicts: genuine pairs reaching review / pink, impostors reaching review."""
    p = [
        signals.probability("face", r["distance"], r["size"], r["sharpness"]) if np.isfinite(r["distance"]) else 0.0
        for r in rows
    ]
    g = [x for x, r in zip(p, rows, strict=True) if r["label"]]
    i = [x for x, r in zip(p, rows, strict=True) if not r["label"]]
    review = sum(x >= calibration.REVIEW_CUT for x in g)
    return (f"genuine >= {calibration.REVIEW_CUT}: {review}/{len(g)}, pink: {sum(x >= calibration.PINK for x in g)};"
            f" impostors >= {calibration.REVIEW_CUT}: {sum(x >= calibration.REVIEW_CUT for x in i)}/{len(i)},"
            f" pink: {sum(x >= calibration.PINK for x in i)}")  # fmt: skip


def probe_rows(photos: list[Photo], sides: list[int], pipeline=kesu) -> dict:
    """Pairs per probe size ("full" and each side) for one pipeline: what bench/calibrate.py fits on."""
    refs = gallery(photos, timed(pipeline, [p.image for p in photos], reference=True)[0])
    found, _ = timed(pipeline, [p.image for p in photos])
    out = {"full": pairs(refs, photos, found)}
    for side in sides:
        out[side] = pairs(refs, photos, [pipeline(thumbnail(p.image, side)) for p in photos])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sides", default="160,120,90")
    parser.add_argument("--pipelines", default="kesu,kesu-tiny,kesu+views,old,plain")
    parser.add_argument("--speed", action="store_true", help="only faces/s, the pipelines taking turns")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"faces-dev not found at {args.data}")
        return 1
    photos, sides = load(args.data), [int(s) for s in args.sides.split(",")]
    names = args.pipelines.split(",")
    for name in names:
        PIPELINES[name](Image.new("RGB", (200, 200)))  # load the models before timing anything
    people, groups = len({n for p in photos for n in p.people}), sum(not p.single for p in photos)
    print(f"faces-dev: {len(photos) - groups} single photos of {people} people + {groups} group photos;"
          " probes JPEG q70. Small set: wide error bars.")  # fmt: skip
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    if args.speed:
        speed(photos, names, sides)
        return 0
    results = {}
    for name in names:
        found, rate = timed(PIPELINES[name], [p.image for p in photos])
        refs, _ = timed(PIPELINES[name], [p.image for p in photos], reference=True)
        results[name] = {"gallery": gallery(photos, refs), "rate": {"full": rate}}
    for side in sides:
        probes = [thumbnail(p.image, side) for p in photos]
        for name in names:
            found, rate = timed(PIPELINES[name], probes)
            results[name]["rate"][side] = rate
            results[name][side] = pairs(results[name]["gallery"], photos, found)
    report(results, names, sides)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


def report(results: dict, names: list[str], sides: list[int]) -> None:
    from faces_eval import rate  # Wilson intervals

    print(f"\nTAR at FAR <= {FAR:g} (threshold: the distance it implies), faces/s (detect, align, embed):")
    for side in sides:
        for name in names:
            k, n, limit = tar_at_far(results[name][side])
            print(f"  {side:>4} px  {name:>10}: TAR {rate(k, n)}  (below {limit:.3f})"
                  f"  {results[name]['rate'][side]:5.1f} faces/s")  # fmt: skip
    for name in names:
        print(f"  full-size photos {name:>10}: {results[name]['rate']['full']:5.1f} faces/s")
    if "kesu" in names:
        print("\nKesu's calibrated probability (face signal alone):")
        for side in sides:
            print(f"  {side:>4} px: {reaches(results['kesu'][side])}")


if __name__ == "__main__":
    sys.exit(main())
