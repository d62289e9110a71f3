"""Issue 19's speed rows, side by side in one run: fingerprinting a found photo, faces, one match query.

    .venv/bin/python bench/cascade.py [--images 12] [--bank 1000] [--faces-dev ../shared/data/faces-dev]

1. All signals (SHA-256, MD5, PDQ in 8 orientations, local features, faces, nudity) of camera-sized JPEGs
   (12 MP, quality 88) that show faces, against the issue's floor: a JPEG draft decode to >= 1024 px and
   pdqhash of it. Target: <= 2x the floor. Also printed beside a lower floor (the decode reduced to 512 px
   before pdqhash).
2. Faces per second: detection, landmarks, alignment and embedding of every face, on the same photos
   at working size. Target: >= 10 faces/s.
3. One match query (the search of a found medium's values, its fingerprinting not counted) against a bank
   of --bank references: the photos, the package pictures, wallpapers and their tiles. Target: <= 50 ms
   median.

The photos are faces-dev's (when the folder exists; evaluation only, never copied) or, without it, the
public-domain faces that ship inside scikit-image and matplotlib. Baselines are measured in the same run.
"""

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kesu.settings")
os.environ.setdefault("KESU_DATA_DIR", "/tmp/kesu-bench")

import numpy as np  # noqa: E402
import pictures  # noqa: E402
from PIL import Image  # noqa: E402

CAMERA_SIDE = 4000  # 4000 x 3000: 12 MP


def face_photos(faces_dev: Path) -> list[Image.Image]:
    if faces_dev.is_dir():
        return [Image.open(p).convert("RGB") for p in sorted(faces_dev.glob("*/*.jpg"))]
    import matplotlib.cbook
    import skimage.data

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as fh:
        hopper = Image.open(fh).convert("RGB")
    return [Image.fromarray(skimage.data.astronaut()), hopper]


def camera_jpeg(picture: Image.Image) -> bytes:
    """The photo as a phone would save it: 12 MP, 4:3, JPEG q88 (enlarged, so it holds no more detail)."""
    width = CAMERA_SIDE if picture.width >= picture.height else CAMERA_SIDE * 3 // 4
    height = round(width * picture.height / picture.width)
    out = io.BytesIO()
    picture.resize((width, height), Image.Resampling.BICUBIC).save(out, "JPEG", quality=88)
    return out.getvalue()


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.draft("RGB", (1024, 1024))  # JPEG draft decode: both sides >= 1024 px
    return image.convert("RGB")


def floor(data: bytes) -> None:
    """The issue's floor: a JPEG draft decode to >= 1024 px, and pdqhash of it."""
    import pdqhash

    pdqhash.compute(np.asarray(decoded(data)))


def fast_floor(data: bytes) -> None:
    """A lower floor still: the decode reduced to 512 px before pdqhash (what PDQ looks at anyway)."""
    import pdqhash

    image = decoded(data)
    image.thumbnail((512, 512))
    pdqhash.compute(np.asarray(image))


def all_signals(data: bytes):
    from kesu.matching import media
    from kesu.matching.signals import Medium, found_medium

    return found_medium(Medium(data, "image", media.inspect(data).image))


def median_seconds(fn, items, repeat: int = 1) -> float:
    times = []
    for _ in range(repeat):
        for item in items:
            started = time.perf_counter()
            fn(item)
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def row(name: str, baseline: str, now: str, target: str) -> None:
    print(f"  {name:<44} {baseline:>22} {now:>22}   target {target}")


def signals_row(files: list[bytes]) -> list:
    all_signals(files[0])  # models loaded before the clock
    base, lower = median_seconds(floor, files, repeat=2), median_seconds(fast_floor, files, repeat=2)
    founds = []
    now = median_seconds(lambda d: founds.append(all_signals(d)), files)
    row("all signals, 12 MP JPEG with faces", f"floor {1000 * base:.0f} ms", f"{1000 * now:.0f} ms = {now / base:.1f}x",
        "<= 2x floor (issue: 3.9x)")  # fmt: skip
    row("  the same beside a 512 px PDQ floor", f"floor {1000 * lower:.0f} ms", f"{now / lower:.1f}x", "-")
    return founds


def faces_row(photos: list[Image.Image]) -> None:
    from kesu.ml.analysis import analyse

    analyse(photos[0])
    started, count = time.perf_counter(), 0
    for photo in photos:
        count += len(analyse(photo).usable_faces)
    rate = count / (time.perf_counter() - started)
    row("faces (detect, align, embed)", "issue: 1.1 faces/s", f"{rate:.1f} faces/s ({count} faces)", ">= 10 faces/s")


def bank_of(size: int, photos: list[Image.Image]):
    """A bank like a desk's: her photos with every signal, then pictures and tiles up to ``size``."""
    from kesu.matching.bank import Bank
    from kesu.matching.signals import Medium

    others = pictures.package_pictures() + pictures.wallpapers(1024)
    others += [(name, tile) for name, tile in pictures.tiles(pictures.wallpapers(1600))]
    bank = Bank()
    for owner, photo in enumerate(photos):
        bank.add_medium(owner, 1, Medium(b"", "image", photo, reference=True))
    for owner, (_, picture) in enumerate(others[: max(0, size - len(photos))], start=len(photos)):
        picture.thumbnail((1024, 1024))
        bank.add_medium(owner, 2, Medium(b"", "image", picture, reference=True), ["pdq", "orb"])
    return bank, len(photos) + len(others[: max(0, size - len(photos))])


def query_row(founds: list, photos: list[Image.Image], size: int) -> None:
    started = time.perf_counter()
    bank, banked = bank_of(size, photos)
    built = time.perf_counter() - started
    bank.search(founds[0])  # indexes built before the clock
    now = median_seconds(bank.search, founds, repeat=3)
    row(f"one match query, bank of {banked:,} (built in {built:.0f} s)", "issue: 715 ms (364 refs)",
        f"{1000 * now:.1f} ms median", "<= 50 ms")  # fmt: skip


def main() -> None:
    import django

    django.setup()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--bank", type=int, default=1000)
    parser.add_argument("--faces-dev", type=Path, default=HERE.parent.parent / "shared" / "data" / "faces-dev")
    args = parser.parse_args()
    photos = face_photos(args.faces_dev)
    files = [camera_jpeg(p) for p in (photos * args.images)[: args.images]]
    print(f"{len(files)} camera JPEGs of 12 MP from {len(photos)} photos with faces; load {os.getloadavg()[0]:.1f}")
    row("measure", "baseline", "now", "")
    founds = signals_row(files)
    faces_row(photos)
    query_row(founds, photos, args.bank)


if __name__ == "__main__":
    main()
