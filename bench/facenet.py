"""Face embeddings: dlib's ResNet run by dlib beside the same network run by ONNX Runtime (kesu.ml.facenet).

    .venv/bin/python bench/facenet.py [--data ../shared/data/faces-dev] [--rounds 3]

Prints ms per face for batches of 1 and 8 (dlib; ONNX Runtime on 1 and 2 threads), the largest
difference between the two embeddings of one chip, and, when faces-dev is there, faces/s of the whole
analyse() (detection, landmarks, alignment, embedding) with either embedder, the two taking turns photo
by photo so that a shared machine's load weighs on both alike. Evaluation only: nothing is written.
"""

import argparse
import sys
import time
from pathlib import Path

import cv2
import matplotlib.cbook
import numpy as np
from PIL import Image, ImageOps
from skimage import data

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kesu.lib import threads as native_threads  # noqa: E402
from kesu.ml import analysis, facenet, faces  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/faces-dev"
ONNX_EMBED_BATCH = faces.embed_batch


def dlib_embed_batch(chips: list[np.ndarray]) -> list[np.ndarray]:
    """Kesu's embedder before ONNX: dlib's own runner of the network."""
    vectors = faces._encoder().compute_face_descriptor([np.ascontiguousarray(c) for c in chips], 0) if chips else []
    return [np.asarray(v, dtype=np.float32) for v in vectors]


def package_chips() -> list[np.ndarray]:
    """astronaut's and grace_hopper's aligned faces, each also mirrored and blurred."""
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as fh:
        hopper = Image.open(fh).convert("RGB")
    out = []
    for image in (Image.fromarray(data.astronaut()), hopper):
        out += [c for chip in chips_of(image) for c in (chip, chip[:, ::-1].copy(), cv2.GaussianBlur(chip, (0, 0), 3))]
    return out


def chips_of(image: Image.Image) -> list[np.ndarray]:
    rgb, scale = analysis.working_copy(image)
    return [m.chip for m in (faces._measure(rgb, det, scale) for det in analysis.detect(rgb)[0]) if m.reason is None]


def photos(folder: Path) -> list[Image.Image]:
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    return [ImageOps.exif_transpose(Image.open(p)).convert("RGB") for p in files]


def ms_per_face(embed, chips: list[np.ndarray], batch: int, rounds: int) -> float:
    """Best of ``rounds`` runs over 16 faces (the least disturbed by the machine's other work)."""
    faces16 = [chips[i % len(chips)] for i in range(16)]
    embed(faces16[:batch])
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for i in range(0, 16, batch):
            embed(faces16[i : i + batch])
        best = min(best, (time.perf_counter() - started) / 16)
    return 1000 * best


def speed(chips: list[np.ndarray], rounds: int) -> None:
    print("ms per face (best of rounds; lower is better)")
    print(f"  {'embedder':28} {'batch 1':>8} {'batch 8':>8}")
    runners = [("dlib (baseline)", dlib_embed_batch)]
    runners += [(f"ONNX Runtime, {t} thread{'s' * (t > 1)}", lambda c, t=t: facenet.embed_batch(c, t)) for t in (1, 2)]
    for name, embed in runners:
        one, eight = (ms_per_face(embed, chips, b, rounds) for b in (1, 8))
        print(f"  {name:28} {one:8.1f} {eight:8.1f}")


def agreement(label: str, chips: list[np.ndarray]) -> None:
    ref = np.stack(dlib_embed_batch(chips))
    onnx = facenet.embed_batch(chips)
    print(
        f"  {label}: {len(chips)} chips, largest component difference {np.abs(onnx - ref).max():.2e},"
        f" largest L2 distance {np.linalg.norm(onnx - ref, axis=1).max():.2e} (dlib's match distance: 0.6)"
    )


def pipeline(images: list[Image.Image], rounds: int) -> None:
    """faces/s of analyse() with dlib's embedder and with ONNX Runtime's, alternating photo by photo; each photo's
    best time of ``rounds`` (the least disturbed by the machine's other work) and the mean time."""
    best = {"dlib": [np.inf] * len(images), "onnx": [np.inf] * len(images)}
    total = {"dlib": 0.0, "onnx": 0.0}
    count = 0
    for embed in (dlib_embed_batch, ONNX_EMBED_BATCH):  # load every model first
        faces.embed_batch = embed
        analysis.analyse(images[0])
    for _ in range(rounds):
        for i, image in enumerate(images):
            for name, embed in (("dlib", dlib_embed_batch), ("onnx", ONNX_EMBED_BATCH)):
                faces.embed_batch = embed
                started = time.perf_counter()
                found = len(analysis.analyse(image).usable_faces)
                elapsed = time.perf_counter() - started
                best[name][i] = min(best[name][i], elapsed)
                total[name] += elapsed
            count += found
    faces.embed_batch = ONNX_EMBED_BATCH
    per_round = count / rounds
    print(f"analyse() on {len(images)} faces-dev photos x {rounds} ({per_round:.0f} usable faces; higher is better)")
    for name, label in (("dlib", "dlib embedder (before)"), ("onnx", "ONNX Runtime (Kesu)")):
        print(
            f"  {label:28} {per_round / sum(best[name]):6.1f} faces/s best,"
            f" {count / total[name]:6.1f} faces/s mean ({1000 * sum(best[name]) / per_round:.0f} ms a face best)"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    chips = package_chips()
    threads = native_threads.count()
    print(f"face embeddings: dlib {faces.dlib.__version__} beside ONNX Runtime (Kesu's threads: {threads})")
    speed(chips, args.rounds)
    print("agreement (ONNX Runtime against dlib)")
    agreement("astronaut, grace_hopper, mirrored, blurred", chips)
    if not args.data.is_dir():
        print(f"(no {args.data}: analyse() not timed)")
        return 0
    images = photos(args.data)
    agreement("faces-dev", [c for image in images for c in chips_of(image)])
    pipeline(images, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
