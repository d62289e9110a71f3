"""Evaluate kesu.ml's face pipeline; prints tables. Evaluation only: nothing is written.

    .venv/bin/python bench/faces_eval.py [--data ../shared/data/faces-dev] [--thumbnails]

faces-dev (local, never committed): one folder per person, ``_multi/`` with group photos.
Also uses public-domain images shipped in packages (scikit-image, matplotlib).
The faces-dev numbers come from 10 people and 23 photos: their error bars are wide.
"""

import argparse
import itertools
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kesu.ml import analysis, faces  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from faces_thumbnails import OLD  # noqa: E402
from faces_thumbnails import main as thumbnails_main  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/faces-dev"
THRESHOLDS = [0.40, 0.45, 0.50, 0.55, 0.60, 0.65, 0.70, 0.75]
# Names in faces-dev/README.md for the group photos (which file is which is not stated).
MULTI_GROUPS = [{"obama", "biden"}, {"kit_harington", "rose_leslie"}, {"eva_longoria", "bradley_cooper"}]


@dataclass
class Photo:
    person: str
    image: Image.Image


def load(folder: Path) -> tuple[list[Photo], list[Image.Image]]:
    singles, multi = [], []
    for path in sorted(folder.glob("*/*")):
        if path.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        image = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
        if path.parent.name == "_multi":
            multi.append(image)
        else:
            singles.append(Photo(path.parent.name, image))
    return singles, multi


# ---------------------------------------------------------------- statistics


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (math.nan, math.nan)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def rate(k: int, n: int) -> str:
    lo, hi = wilson(k, n)
    return f"{k}/{n} = {100 * k / n:5.1f} % [{100 * lo:4.1f}, {100 * hi:5.1f}]" if n else "n/a"


def pair_report(genuine: list[float], impostor: list[float], label: str) -> None:
    g, i = np.array(genuine), np.array(impostor)
    print(f"  {label}: {len(g)} genuine, {len(i)} impostor pairs")
    print(f"    genuine  distance min/median/max {g.min():.3f} / {np.median(g):.3f} / {g.max():.3f}")
    print(f"    impostor distance min/median/max {i.min():.3f} / {np.median(i):.3f} / {i.max():.3f}")
    print("    ROC:  threshold    TAR     FAR")
    for t in THRESHOLDS:
        print(f"          {t:8.2f}  {np.mean(g <= t):6.3f}  {np.mean(i <= t):6.4f}")
    below = i.min() - 1e-6
    print(
        f"    TAR @ FAR 1e-3: FAR resolution here is 1/{len(i)} = {1 / len(i):.1e}, so the threshold must sit"
        f" below the closest impostor ({i.min():.3f}): TAR = {rate(int(np.sum(g <= below)), len(g))}"
    )
    print(f"    TAR @ 0.60 (dlib): {rate(int(np.sum(g <= 0.6)), len(g))}")
    print(f"    FAR @ 0.60 (dlib): {rate(int(np.sum(i <= 0.6)), len(i))}")


# ---------------------------------------------------------------- pipeline helpers


def area(face: faces.Face) -> int:
    return face.box[2] * face.box[3]


def largest(image: Image.Image, usable_only: bool = True) -> tuple[faces.Face | None, np.ndarray | None]:
    """The largest face (passing the gate, unless ``usable_only`` is false) and its aligned chip."""
    rgb, scale = analysis.working_copy(image)
    best = None
    for det in analysis.detect(rgb)[0]:
        face = faces.describe(rgb, det["box"], det["score"], scale=scale)
        if (face.ok or not usable_only) and (best is None or area(face) > area(best[0])):
            best = (face, det["box"])
    if best is None:
        return None, None
    return best[0], faces.align(rgb, faces.locate(rgb, best[1]))


def query_embedding(image: Image.Image) -> np.ndarray | None:
    usable = analysis.analyse(image).usable_faces
    return usable[0].embedding if usable else None


def bank_of(chip: np.ndarray, variant: str) -> list[np.ndarray]:
    jitters = 10 if "jitter" in variant else 0
    bank = [faces.embed(chip, jitters)]
    if "flip" in variant:
        bank.append(faces.embed(np.ascontiguousarray(chip[:, ::-1]), jitters))
    return bank


def bank_distance(bank: list[np.ndarray], query: np.ndarray) -> float:
    return float(faces.distances(query, np.stack(bank)).min())


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    out = BytesIO()  # in memory only
    image.save(out, "JPEG", quality=quality)
    return Image.open(BytesIO(out.getvalue())).convert("RGB")


def shrink(image: Image.Image, factor: float) -> Image.Image:
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    return image.resize(size, Image.Resampling.LANCZOS)


# ---------------------------------------------------------------- sections


def section(title: str) -> None:
    print(f"\n== {title} ==")


def detection_and_gate(singles: list[Photo], multi: list[Image.Image]) -> None:
    section("Detection and quality gate (faces-dev)")
    found = passed = 0
    failures: list[str] = []
    usable: list[faces.Face] = []
    for photo in singles:
        result = analysis.analyse(photo.image)
        found += bool(result.faces)
        passed += bool(result.usable_faces)
        usable += result.usable_faces
        failures += [f"{f.reason} (score {f.score:.2f}, {f.box[2]}x{f.box[3]} px)" for f in result.faces if not f.ok]
    print(f"  single photos with a face found:            {rate(found, len(singles))}")
    print(f"  single photos with a face passing the gate: {rate(passed, len(singles))}")
    print(f"  boxes failing the gate: {failures or 'none'}")
    q = {k: [f.quality[k] for f in usable] for k in ("score", "yaw", "sharpness")}
    ranges = ", ".join(f"{k} {min(v):.2f}..{max(v):.2f}" for k, v in q.items())
    print(f"  passing faces: {ranges}")
    mfound = mpass = 0
    for image in multi:
        result = analysis.analyse(image)
        mfound += min(2, len(result.faces))
        mpass += min(2, len(result.usable_faces))
    print(f"  group photos: faces found {rate(mfound, 2 * len(multi))}, passing the gate {mpass}/{2 * len(multi)}")


def embeddings_by_photo(singles: list[Photo]) -> tuple[list[tuple[int, str, np.ndarray]], list[tuple[str, np.ndarray]]]:
    """(photo index, person, chip) and (person, plain embedding) of the largest passing face per photo."""
    chips = []
    for n, photo in enumerate(singles):
        _, chip = largest(photo.image)
        if chip is not None:
            chips.append((n, photo.person, chip))
    return chips, [(person, faces.embed(chip)) for _, person, chip in chips]


def pairs(embs: list[tuple[str, np.ndarray]]) -> tuple[list[float], list[float]]:
    genuine, impostor = [], []
    for (pa, a), (pb, b) in itertools.combinations(embs, 2):
        (genuine if pa == pb else impostor).append(faces.face_distance(a, b))
    return genuine, impostor


def verification(embs: list[tuple[str, np.ndarray]]) -> None:
    section("Verification, faces-dev single photos (one embedding per photo, all unordered pairs)")
    genuine, impostor = pairs(embs)
    pair_report(genuine, impostor, f"{len(embs)} photos of {len({p for p, _ in embs})} people, no augmentation")


# Query conditions for the augmentation test: (name, face size in px, JPEG quality).
DEGRADATIONS = [("repost", 64, 40), ("hard", 44, 25)]


def degraded_queries(singles: list[Photo], face_px: int, quality: int) -> list[tuple[int, str, np.ndarray]]:
    """Each photo shrunk so its face is ``face_px``, then JPEG-compressed: a repost. Only queries passing the gate."""
    out = []
    for n, photo in enumerate(singles):
        face, _ = largest(photo.image)
        if face is None:
            continue
        factor = min(1.0, face_px / min(face.box[2], face.box[3]))
        query = query_embedding(jpeg(shrink(photo.image, factor), quality))
        if query is not None:
            out.append((n, photo.person, query))
    return out


def d_prime(g: np.ndarray, i: np.ndarray) -> float:
    """Separation of the genuine and impostor distance distributions, in pooled standard deviations."""
    return float((i.mean() - g.mean()) / math.sqrt((g.var() + i.var()) / 2))


def augmentation(singles: list[Photo], chips: list[tuple[int, str, np.ndarray]]) -> None:
    section("Reference augmentation (bank from photo a, plain query from photo b; ordered pairs a != b)")
    print("  Ordered pairs are not independent: the intervals are optimistic. A bank matches at its closest entry.")
    conditions = [("clean", [(n, p, faces.embed(c)) for n, p, c in chips])]
    for name, face_px, quality in DEGRADATIONS:
        queries = degraded_queries(singles, face_px, quality)
        conditions.append((name, queries))
        print(f"  {name}: face {face_px} px, JPEG q{quality}: {len(queries)}/{len(singles)} queries pass the gate")
    print("  variant        queries  gen-median  gen-max  closest-imp  d'    TAR@0.60                      TAR@FAR=0")
    for variant in ("plain", "flip", "jitter10", "jitter10+flip"):
        banks = [(n, p, bank_of(c, variant)) for n, p, c in chips]
        for qname, queries in conditions:
            g, i = [], []
            for a, pa, bank in banks:
                for b, pb, q in queries:
                    if a != b:
                        (g if pa == pb else i).append(bank_distance(bank, q))
            g, i = np.array(g), np.array(i)
            print(
                f"  {variant:13s}  {qname:7s}  {np.median(g):10.3f}  {g.max():7.3f}  {i.min():11.3f}"
                f"  {d_prime(g, i):4.2f}  {rate(int(np.sum(g <= 0.6)), len(g)):29s} {int(np.sum(g < i.min()))}/{len(g)}"
            )


def multi_identification(multi: list[Image.Image], embs: list[tuple[str, np.ndarray]]) -> None:
    section("Group photos: open-set identification against the single-photo gallery (not used as pairs)")
    people = sorted({p for p, _ in embs})
    gallery = np.stack([e for _, e in embs])
    owners = [p for p, _ in embs]
    consistent = 0
    for n, image in enumerate(multi, 1):
        names = []
        for face in analysis.analyse(image).usable_faces[:2]:
            d = faces.distances(face.embedding, gallery)
            best = int(np.argmin(d))
            names.append((owners[best] if d[best] <= faces.MATCH_DISTANCE else "unknown", float(d[best])))
        assigned = sorted(name for name, _ in names)
        ok = any(assigned == sorted(p if p in people else "unknown" for p in group) for group in MULTI_GROUPS)
        consistent += ok
        shown = ", ".join(f"{name} ({dist:.2f})" for name, dist in names)
        print(f"  group photo {n}: {shown}  -> {'consistent' if ok else 'NOT consistent'} with the README names")
    print(f"  consistent: {consistent}/{len(multi)} (people without single photos must come out 'unknown')")


def lfw_subset() -> None:
    section("scikit-image lfw_subset")
    from skimage import data

    crops = (data.lfw_subset() * 255).astype(np.uint8)
    print("  200 crops of 25x25 px: 100 faces, 100 background patches, WITHOUT identity labels:")
    print("  unusable for genuine/impostor pairs. Used as a face / non-face check instead.")
    for name, part in (("faces", crops[:100]), ("non-faces", crops[100:])):
        results = [analysis.analyse(Image.fromarray(c).convert("RGB")) for c in part]
        found = sum(bool(r.faces) for r in results)
        usable = sum(bool(r.usable_faces) for r in results)
        print(f"  {name:9s}: a face found in {found}/100, passing the gate {usable}/100 (all are under 40 px)")


def synthetic_transforms() -> None:
    section("Synthetic transforms of public-domain images (same face vs the other face) - NOT real pairs")
    import matplotlib.cbook
    from skimage import data

    originals = {
        "astronaut": Image.fromarray(data.astronaut()),
        "grace_hopper": Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")).convert("RGB"),
    }
    refs = {name: analysis.analyse(im).usable_faces[0].embedding for name, im in originals.items()}
    transforms = {
        "JPEG q40": lambda im: jpeg(im, 40),
        "JPEG q15": lambda im: jpeg(im, 15),
        "resize 50%": lambda im: shrink(im, 0.5),
        "resize 25%": lambda im: shrink(im, 0.25),
        "blur r=1": lambda im: im.filter(ImageFilter.GaussianBlur(1)),
        "blur r=2": lambda im: im.filter(ImageFilter.GaussianBlur(2)),
        "blur r=4": lambda im: im.filter(ImageFilter.GaussianBlur(4)),
        "flip": ImageOps.mirror,
        "brightness 0.5": lambda im: ImageEnhance.Brightness(im).enhance(0.5),
        "brightness 1.5": lambda im: ImageEnhance.Brightness(im).enhance(1.5),
        "rotate 15": lambda im: im.rotate(15, resample=Image.Resampling.BILINEAR),
        "q40+50%+flip": lambda im: ImageOps.mirror(jpeg(shrink(im, 0.5), 40)),
    }
    print(f"  {'transform':16s} " + "  ".join(f"{n[:12]:>12s}: same / other" for n in originals))
    for tname, fn in transforms.items():
        cells = []
        for name, im in originals.items():
            result = analysis.analyse(fn(im))
            if not result.usable_faces:
                reason = result.faces[0].reason if result.faces else "no face"
                cells.append(f"{'gate: ' + reason:>27s}")
                continue
            e = result.usable_faces[0].embedding
            other = next(n for n in originals if n != name)
            cells.append(f"{faces.face_distance(e, refs[name]):19.3f} / {faces.face_distance(e, refs[other]):5.3f}")
        print(f"  {tname:16s} " + "  ".join(cells))
    print(f"  astronaut vs grace_hopper originals: {faces.face_distance(*refs.values()):.3f}")


def gate_calibration(singles: list[Photo]) -> None:
    section("Gate calibration on faces-dev (drift = distance to the clean photo's embedding)")
    blur_rows: dict[float, list[tuple[float, float]]] = {}
    size_rows: dict[int, list[tuple[float, float, bool]]] = {}
    for photo in singles:
        face, chip = largest(photo.image)
        if chip is None:
            continue
        clean = faces.embed(chip)
        for sigma in (0.5, 1.0, 1.5, 2.0, 3.0):
            blurred = cv2.GaussianBlur(chip, (0, 0), sigma)
            blur_rows.setdefault(sigma, []).append(
                (faces.sharpness(blurred), faces.face_distance(faces.embed(blurred), clean))
            )
        for target in (24, 32, 40, 48, 64):
            f, small_chip = largest(shrink(photo.image, target / min(face.box[2], face.box[3])), usable_only=False)
            rows = size_rows.setdefault(target, [])
            if f is not None:
                drift = faces.face_distance(faces.embed(small_chip), clean)
                rows.append((f.quality["sharpness"], drift, f.ok))
    print("  Gaussian blur on the aligned chip:")
    print("    sigma  sharpness min/median   drift median/max   passes the old sharpness gate")
    for sigma, rows in blur_rows.items():
        s, d = np.array(rows).T
        print(
            f"    {sigma:5.1f}  {s.min():7.0f} / {np.median(s):<8.0f}  {np.median(d):6.2f} / {d.max():.2f}"
            f"        {int(np.sum(s >= OLD['min_sharpness']))}/{len(s)}"
        )
    print("  Whole photo shrunk so the face is N px (full pipeline; the new box is often a few px under N):")
    print("    face px  found   sharpness median   drift median/max   passes gate")
    for target, rows in size_rows.items():
        if not rows:
            print(f"    {target:7d}  0/{len(singles)}")
            continue
        s, d, ok = (np.array(c) for c in zip(*rows, strict=True))
        print(
            f"    {target:7d}  {len(rows):2d}/{len(singles)}  {np.median(s):16.0f}"
            f"   {np.median(d):6.2f} / {d.max():.2f}        {int(ok.sum())}/{len(rows)}"
        )


def small_faces(singles: list[Photo]) -> None:
    section("Small faces: face crops pasted into a 1600 px scene (synthetic), found by resolution")
    from skimage import data

    scene = Image.fromarray(data.rocket()).resize((1600, 1068))
    crops = []
    for photo in singles:
        result = analysis.analyse(photo.image)
        if result.faces:
            x, y, w, h = result.faces[0].box
            crops.append(photo.image.crop((x - w // 2, y - h // 2, x + w + w // 2, y + h + h // 2)))
    print("    face / long side   320 only   640 only   320+640 (what analyse does)")
    for frac in (0.03, 0.04, 0.05, 0.07, 0.10, 0.15):
        hits = {320: 0, 640: 0, "both": 0}
        for crop in crops:
            side = round(2 * frac * 1600)
            canvas = scene.copy()
            canvas.paste(crop.resize((side, side)), (900, 500))
            bgr = np.ascontiguousarray(np.asarray(canvas)[:, :, ::-1])
            centre = (900 + side / 2, 500 + side / 2)
            got = {r: _hit(analysis.detector(r).detect(bgr), centre) for r in (320, 640)}
            hits[320] += got[320]
            hits[640] += got[640]
            hits["both"] += got[320] or got[640]
        n = len(crops)
        counts = "      ".join(f"{hits[k]:2d}/{n}" for k in (320, 640, "both"))
        print(f"    {frac:5.2f} ({frac * 1600:4.0f} px)    {counts}")


def _hit(found: list[dict], centre: tuple[float, float]) -> bool:
    for d in found:
        x, y, w, h = d["box"]
        if d["class"].startswith("FACE") and abs(x + w / 2 - centre[0]) < w and abs(y + h / 2 - centre[1]) < h:
            return True
    return False


def throughput(singles: list[Photo]) -> None:
    section(f"Throughput ({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start)")
    times, n_faces = [], 0
    det_times, face_times = [], []
    for photo in singles:
        start = time.perf_counter()
        result = analysis.analyse(photo.image)
        times.append(time.perf_counter() - start)
        n_faces += len(result.faces)
        rgb, scale = analysis.working_copy(photo.image)
        t0 = time.perf_counter()
        dets = analysis.detect(rgb)[0]
        t1 = time.perf_counter()
        for d in dets:
            faces.describe(rgb, d["box"], d["score"], scale=scale)
        det_times.append(t1 - t0)
        face_times.extend([(time.perf_counter() - t1) / max(1, len(dets))] * len(dets))
    sizes = [max(p.image.size) for p in singles]
    print(f"  analyse(): {len(singles)} photos ({min(sizes)}-{max(sizes)} px long side), {n_faces} faces")
    print(f"    ms per image median {1000 * statistics.median(times):.0f}, mean {1000 * statistics.mean(times):.0f}")
    print(f"    faces per second (decode excluded; detection + landmarks + embedding): {n_faces / sum(times):.1f}")
    print(
        f"    detection (320 + 640 passes) median {1000 * statistics.median(det_times):.0f} ms per image;"
        f" landmarks + chip + embedding median {1000 * statistics.median(face_times):.0f} ms per face"
    )
    rgb, _ = analysis.working_copy(singles[0].image)
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    for resolution in (analysis.DETECT_RESOLUTION, analysis.SMALL_FACE_RESOLUTION):
        start = time.perf_counter()
        for _ in range(5):
            analysis.detector(resolution).detect(bgr)
        ms = 200 * (time.perf_counter() - start)
        print(f"    one detector pass at {resolution}: {ms:.0f} ms (on a {max(rgb.shape)} px image)")
    _, chip = largest(singles[0].image)
    start = time.perf_counter()
    for _ in range(5):
        faces.embed(chip, 10)
    print(f"    embedding with num_jitters=10: {1000 * (time.perf_counter() - start) / 5:.0f} ms per face")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--thumbnails", action="store_true", help="only faces on thumbnails: faces_thumbnails.py")
    args = parser.parse_args(argv)
    if args.thumbnails:
        return thumbnails_main(["--data", str(args.data)])
    print("kesu.ml face pipeline evaluation")
    print(
        f"  gate: size >= {faces.MIN_SIZE} px, |yaw| <= {faces.MAX_YAW} (size, score and sharpness are calibration"
        f" features since issue 19); match distance {faces.MATCH_DISTANCE}"
    )
    print(f"  reference augmentation in use: jitters={faces.REFERENCE_JITTERS}, flip={faces.REFERENCE_FLIP}")
    analysis.analyse(Image.new("RGB", (64, 64)))  # load the models before timing anything
    synthetic_transforms()
    lfw_subset()
    if not args.data.is_dir():
        print(f"\nfaces-dev not found at {args.data}: skipping the labelled evaluation.")
        return 0
    singles, multi = load(args.data)
    print(
        f"\nfaces-dev: {len(singles)} single photos of {len({p.person for p in singles})} people,"
        f" {len(multi)} group photos. Small set: wide error bars (Wilson 95 % intervals in brackets)."
    )
    throughput(singles)
    detection_and_gate(singles, multi)
    chips, embs = embeddings_by_photo(singles)
    verification(embs)
    augmentation(singles, chips)
    multi_identification(multi, embs)
    gate_calibration(singles)
    small_faces(singles)
    return 0


if __name__ == "__main__":
    sys.exit(main())
