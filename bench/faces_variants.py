"""Issue 19's embedding study: ways to embed a face found on a thumbnail (or to bank a reference), compared on
TAR at FAR <= 1e-2 over faces-dev probes shrunk to each side (JPEG q70). Evaluation only: nothing is written.

    .venv/bin/python bench/faces_variants.py [--data ../shared/data/faces-dev] [--sides 160,120,90]
        [--variants base,flip,...] [--hog-upsample 1] [--min-size 16]

Detection runs once per picture as Kesu runs it (analysis.working_copy and analysis.detect; the faces
faces.rejection lets through), so every variant sees the same boxes; a variant changes only the landmarks,
the chip, the embeddings averaged, or what a reference banks. Pairs and TAR as in bench/faces_thumbnails.py;
``pooled``: accepted genuine pairs summed over the sides (pass many sides, e.g. 80,90,...,200: the threshold
at FAR 1e-2 is the sixth-nearest of 512 impostors, so one side alone moves by +-3 pairs between variants
that differ by nothing). ``missed``: genuine pairs whose probe had no face to compare.

Measured 2026-12-07 (faces-dev: 10 people, 63 genuine and 512 impostor pairs per side; the Wilson 95 %
interval of a TAR near 0.7 spans +-0.11). At 160 / 120 / 90 px: base 58 / 43 / 34 of 63 (Kesu as shipped),
flip 60 / 43 / 31, jitter+flip 61 / 43 / 32, pad0.20 62 / 42 / 32, landmarks68+flip 63 / 39 / 31, enlarged
55 / 41 / 34, ref-flip 59 / 39 / 33, ref-views40 61 / 46 / 35. Pooled over 80, 90, ..., 200 px (819 genuine
pairs): base 640, flip 642, flip-norm 614, pad0.20 638, jitter 646, jitter+flip 645, landmarks68 645,
landmarks68+flip 639, ref-views32 647, ref-views48 643, ref-views48/32 653, ref-views64/40 654, ref-views40 656
(at or above base on 12 of the 13 sides, but it brings impostors nearer too: the threshold at FAR 1e-2 falls
from ~0.65 to ~0.61, which Kesu's face calibration would have to be refitted for). No test-time augmentation
or chip change moved TAR beyond the noise, so Kesu embeds as before. What bounds TAR on small thumbnails is
the faces' size: at 90 px 26 of 63 genuine pairs have no face to compare (faces of 5-12 px: group photos and
distant shots, missed or under faces.MIN_SIZE); with --hog-upsample 1 --min-size 8 all but one are found and
base goes to 58 / 46 / 37 (ref-views40 61 / 48 / 39): dlib's network hardly recognises faces that small.
Kesu now searches thumbnails so (analysis.TINY_FACE_HOG_UPSAMPLING, faces.MIN_SIZE 8): rerun with its detection,
base 58 / 46 / 37, flip 60 / 45 / 32, ref-views40 61 / 48 / 39 but with the threshold at FAR 1e-2 down from
0.64-0.66 to 0.60-0.62 (strangers nearer), so neither is adopted.
"""

import argparse
import sys
from dataclasses import dataclass, replace
from functools import cache
from io import BytesIO
from pathlib import Path

import dlib
import face_recognition_models
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import faces_thumbnails as ft  # noqa: E402
from faces_eval import rate  # noqa: E402

from kesu.ml import analysis, facenet, faces  # noqa: E402


@dataclass
class Picture:
    image: Image.Image  # as given (a thumbnail, or the full-size photo)
    rgb: np.ndarray  # Kesu's working copy
    scale: float
    boxes: list[tuple[dlib.rectangle, float]]  # landmark box (working copy px), size in the picture's px


def prepared(image: Image.Image, hog_upsample: int, min_size: float) -> Picture:
    rgb, scale = analysis.working_copy(image)
    dets, _ = analysis.detect(rgb, small=scale > 1.0)
    if scale > 1.0 and hog_upsample:  # HOG again on a twice larger copy: faces of 10-20 px in the thumbnail
        rects, _, _ = analysis.hog().run(rgb, hog_upsample, analysis.HOG_MIN_SCORE)
        more = [{"box": [r.left(), r.top(), r.width(), r.height()], "rect": r} for r in rects]
        dets += [d for d in more if all(analysis._iou(d["box"], k["box"]) <= analysis.SAME_FACE_IOU for k in dets)]
    boxes = []
    for det in dets:
        rect = det.get("rect") or faces.dlib_box(det["box"])
        size = float(min(det["box"][2:])) / max(scale, 1.0)
        turned = abs(faces.yaw(faces.points(faces._predictor()(rgb, rect)))) > faces.MAX_YAW
        if size >= min_size and not turned:
            boxes.append((rect, size))
    return Picture(image, rgb, scale, boxes)


# ---------------------------------------------------------------- chips: one face -> the chips to embed


@cache
def predictor68() -> dlib.shape_predictor:
    return dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())


def chip(rgb: np.ndarray, rect: dlib.rectangle, padding: float = faces.CHIP_PADDING, model=None) -> np.ndarray:
    shape = (model or faces._predictor())(rgb, rect)
    return dlib.get_face_chip(rgb, shape, size=faces.CHIP_SIZE, padding=padding)


def enlarged_chip(rgb: np.ndarray, rect: dlib.rectangle, target: float = 150.0) -> np.ndarray:
    """Landmarks and chip on a Lanczos-enlarged crop around the face, its box ~``target`` px (at most 4x)."""
    factor = min(4.0, target / max(rect.width(), 1))
    if factor <= 1.05:
        return chip(rgb, rect)
    margin = int(0.8 * rect.width())
    x0, y0 = max(0, rect.left() - margin), max(0, rect.top() - margin)
    crop = Image.fromarray(rgb[y0 : rect.bottom() + margin, x0 : rect.right() + margin])
    size = (round(crop.width * factor), round(crop.height * factor))
    big = np.ascontiguousarray(np.asarray(crop.resize(size, Image.Resampling.LANCZOS)))
    moved = dlib.rectangle(*(round(v * factor) for v in (rect.left() - x0, rect.top() - y0,
                                                          rect.right() - x0, rect.bottom() - y0)))  # fmt: skip
    return chip(big, moved)


def mirrored(chips: list[np.ndarray]) -> list[np.ndarray]:
    return [*chips, *(np.ascontiguousarray(c[:, ::-1]) for c in chips)]


def jittered(rgb: np.ndarray, rect: dlib.rectangle) -> list[np.ndarray]:
    """The chip at three scales (padding 0.25 +- 0.04: the face +-6 % in the chip)."""
    return [chip(rgb, rect, p) for p in (0.25, 0.21, 0.29)]


CHIPS = {
    "base": lambda rgb, rect: [chip(rgb, rect)],
    "flip": lambda rgb, rect: mirrored([chip(rgb, rect)]),
    "flip-norm": lambda rgb, rect: mirrored([chip(rgb, rect)]),
    "pad0.20": lambda rgb, rect: [chip(rgb, rect, 0.20)],
    "pad0.30": lambda rgb, rect: [chip(rgb, rect, 0.30)],
    "jitter": jittered,
    "jitter+flip": lambda rgb, rect: mirrored(jittered(rgb, rect)),
    "landmarks68": lambda rgb, rect: [chip(rgb, rect, model=predictor68())],
    "landmarks68+flip": lambda rgb, rect: mirrored([chip(rgb, rect, model=predictor68())]),
    "enlarged": lambda rgb, rect: [enlarged_chip(rgb, rect)],
    "ref-flip": lambda rgb, rect: [chip(rgb, rect)],
    "ref-views40": lambda rgb, rect: [chip(rgb, rect)],  # or ref-views48/32 etc.: face sizes in px
}


def embedding(variant: str, rgb: np.ndarray, rect: dlib.rectangle) -> np.ndarray:
    """The mean of the chips' embeddings (not re-normalised, but for flip-norm: dlib's vectors are not unit)."""
    chips = CHIPS.get(variant, CHIPS["base"])(rgb, rect)
    vector = facenet.embed_batch(chips).mean(axis=0)
    return vector / np.linalg.norm(vector) if variant == "flip-norm" else vector


# ---------------------------------------------------------------- what a reference banks


def view(picture: Picture, rect: dlib.rectangle, side: float) -> np.ndarray:
    """The reference face's embedding on a JPEG q70 copy of its photo where it is ``side`` px: located from
    the reference's own box (no detection on the copy, so no bystander can join her bank)."""
    image, factor = picture.image, side * picture.scale / rect.width()
    small = image.resize((max(1, round(image.width * factor)), max(1, round(image.height * factor))),
                         Image.Resampling.LANCZOS)  # fmt: skip
    out = BytesIO()
    small.save(out, "JPEG", quality=70)
    rgb, scale = analysis.working_copy(Image.open(BytesIO(out.getvalue())).convert("RGB"))
    k = factor * scale / picture.scale
    moved = dlib.rectangle(*(round(v * k) for v in (rect.left(), rect.top(), rect.right(), rect.bottom())))
    return facenet.embed_batch([chip(rgb, moved)])[0]


def bank(variant: str, picture: Picture, rect: dlib.rectangle, vector: np.ndarray) -> list[np.ndarray]:
    if variant == "ref-flip":
        return [vector, facenet.embed_batch(mirrored([chip(picture.rgb, rect)])[1:])[0]]
    if variant.startswith("ref-views"):
        sides = [int(v) for v in variant.removeprefix("ref-views").split("/")]
        return [vector, *(view(picture, rect, s) for s in sides if rect.width() / picture.scale > s / 0.9)]
    return [vector]


# ---------------------------------------------------------------- scores


def found(variant: str, picture: Picture) -> list[ft.Found]:
    return [ft.Found(embedding(variant, picture.rgb, rect), size, 0.0) for rect, size in picture.boxes]


def references(variant: str, photos: list[ft.Photo], full: list[Picture]) -> list:
    out = []
    for picture in full:
        faces_ = found(variant, picture)
        if faces_:
            i = max(range(len(faces_)), key=lambda j: faces_[j].size)
            faces_[i] = replace(faces_[i], bank=bank(variant, picture, picture.boxes[i][0], faces_[i].embedding))
        out.append(faces_)
    return ft.gallery(photos, out)


def measure(variant: str, photos: list[ft.Photo], pictures: dict) -> dict:
    gallery = references(variant, photos, pictures["full"])
    out = {}
    for side, probes in pictures.items():
        if side != "full":
            rows = ft.pairs(gallery, photos, [found(variant, p) for p in probes])
            missed = sum(1 for r in rows if r["label"] and not np.isfinite(r["distance"]))
            out[side] = (*ft.tar_at_far(rows), missed)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ft.DEFAULT_DATA)
    parser.add_argument("--sides", default="160,120,90")
    parser.add_argument("--variants", default=",".join(CHIPS))
    parser.add_argument("--hog-upsample", type=int, default=0, help="dlib HOG's upsampling on thumbnails too")
    parser.add_argument("--min-size", type=float, default=faces.MIN_SIZE, help="px in the found picture")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"faces-dev not found at {args.data}")
        return 1
    photos, sides = ft.load(args.data), [int(s) for s in args.sides.split(",")]
    pictures = {"full": [prepared(p.image, 0, faces.MIN_SIZE) for p in photos]}
    for side in sides:
        pictures[side] = [prepared(ft.thumbnail(p.image, side), args.hog_upsample, args.min_size) for p in photos]
    print(f"faces-dev: {len(photos)} photos; TAR at FAR <= {ft.FAR:g} (Wilson 95 %), [missed: no face], threshold")
    for variant in args.variants.split(","):
        result = measure(variant, photos, pictures)
        pooled = sum(r[0] for r in result.values()), sum(r[1] for r in result.values())
        print(f"{variant:>16}  pooled {pooled[0]}/{pooled[1]}")
        for side, (k, n, limit, missed) in result.items():
            print(f"{'':>16}  {side:>4} px: {rate(k, n)} [missed {missed}] below {limit:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
