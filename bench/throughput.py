"""Throughput on this machine: hashing, faces, and look-up in a bank of 1 million PDQ hashes.

    .venv/bin/python bench/throughput.py [--bank 1000000]

Each figure is printed beside its baseline: hashing beside plain PDQ,
Kesu's look-up beside FAISS's brute-force scan (which is also the truth for
the exact-recall check).
"""

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import pictures  # noqa: E402


def jpeg_files(count: int) -> list[bytes]:
    """Camera-sized JPEGs (about 12 MP) made from the benchmark pictures."""
    out = []
    for _, picture in (pictures.package_pictures() + pictures.wallpapers(1600))[:count]:
        big = picture.resize((4000, round(4000 * picture.height / picture.width)))
        buffer = io.BytesIO()
        big.save(buffer, "JPEG", quality=88)
        out.append(buffer.getvalue())
    return out


def per_second(fn, items) -> float:
    started = time.perf_counter()
    for item in items:
        fn(item)
    return len(items) / (time.perf_counter() - started)


def hashing(files: list[bytes]) -> None:
    import django

    django.setup()
    from kesu.matching import image as features
    from kesu.matching import media
    from kesu.matching.signals import Medium, compute_all

    print(f"hashing {len(files)} JPEGs of ~12 MP (decode included):")
    plain = per_second(lambda d: features.pdq(media.inspect(d).image), files)
    print(f"  PDQ only (baseline)                    {plain:6.1f} images/s")
    query = per_second(lambda d: compute_all(Medium(d, "image", media.inspect(d).image), ["pdq", "orb"]), files)
    print(f"  Kesu query (8 orientations, trim, ORB) {query:6.1f} images/s")
    full = per_second(lambda d: compute_all(Medium(d, "image", media.inspect(d).image)), files)
    print(f"  Kesu all signals (+ faces, nudity)     {full:6.1f} images/s")


def faces() -> None:
    import matplotlib.cbook
    import skimage.data
    from PIL import Image

    from kesu.ml.analysis import analyse

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as fh:
        hopper = Image.open(fh).convert("RGB")
    photos = [Image.fromarray(skimage.data.astronaut()), hopper] * 10
    analyse(photos[0])  # load the models once
    started = time.perf_counter()
    count = sum(len(analyse(p).usable_faces) for p in photos)
    elapsed = time.perf_counter() - started
    print(f"faces: {count / elapsed:5.1f} faces/s (detection, landmarks, alignment, embedding; {count} faces)")


def lookup(size: int) -> None:
    from kesu.matching.indexes import HashIndex

    rng = np.random.default_rng(1)
    codes = rng.integers(0, 256, (size, 32), dtype=np.uint8)
    index = HashIndex()
    started = time.perf_counter()
    index.add(np.arange(size), codes)
    index.search(codes[:1])  # builds the chunk tables
    built = time.perf_counter() - started
    queries = codes[rng.integers(0, size, 500)] ^ np.packbits(rng.random((500, 256)) < 0.05, axis=-1)
    import faiss

    faiss.omp_set_num_threads(1)  # one query at a time, as a request would
    fast = _time_each(lambda q: index.search(q[None, :]), queries)
    brute = _time_each(lambda q: index.brute_force(q[None, :]), queries)
    same = {(f.query, f.id) for f in index.search(queries)} == {(f.query, f.id) for f in index.brute_force(queries)}
    print(f"look-up in a bank of {size:,} PDQ hashes, radius 31 (tables built in {built:.1f} s):")
    print(f"  FAISS flat scan (baseline) median {brute:6.3f} ms/query")
    print(f"  Kesu multi-index hash      median {fast:6.3f} ms/query; same results as the scan: {same}")


def _time_each(fn, queries) -> float:
    times = []
    for q in queries:
        started = time.perf_counter()
        fn(q)
        times.append(time.perf_counter() - started)
    return 1000 * float(np.median(times))


if __name__ == "__main__":
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kesu.settings")
    os.environ.setdefault("KESU_DATA_DIR", "/tmp/kesu-bench")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bank", type=int, default=1_000_000)
    parser.add_argument("--images", type=int, default=20)
    args = parser.parse_args()
    hashing(jpeg_files(args.images))
    faces()
    lookup(args.bank)
