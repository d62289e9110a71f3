"""Video benchmark: decode + hash speed, full decode vs keyframes only, and segment matching at scale.

    .venv/bin/python bench/video_bench.py [--minutes 2]

Videos are generated (tests/videos.py: pan/zoom over public-domain photos, H.264 640x360 25 fps),
once with x264's default keyframe interval (10 s) and once with a keyframe every second, as
phones often write. Matching runs on synthetic hash lists: a 2-hour reference at 1 frame/s
(7200 hashes) against a 10-minute query holding a 5-minute excerpt.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import videos  # noqa: E402

from kesu.matching import framehash, video  # noqa: E402


def timed(fn, repeat: int = 1):
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def decode_rows(name: str, data: bytes, seconds: float) -> list[tuple]:
    rows = []
    for label, kwargs in [
        ("decode only, full", {"keyframes": False}),
        ("decode+hash, full", {"keyframes": False, "hash": True}),
        ("decode+hash, keyframes only", {"keyframes": True, "hash": True}),
        ("decode+hash, auto", {"keyframes": None, "hash": True}),
        ("decode+hash, full, native size", {"keyframes": False, "hash": True, "max_side": None}),
    ]:
        hashing = kwargs.pop("hash", False)
        fn = video.hash_video if hashing else video.decode_frames
        elapsed, result = timed(lambda fn=fn, kwargs=kwargs: fn(data, **kwargs))
        count = len(result.hashes if hashing else result.frames)
        rows.append((name, label, count, elapsed, count / elapsed, seconds / elapsed))
    with tempfile.TemporaryDirectory() as tmp:  # vpdq reads files only; this video is synthetic
        path = Path(tmp) / "bench.mp4"
        path.write_bytes(data)
        import vpdq

        elapsed, result = timed(lambda: vpdq.computeHash(str(path), seconds_per_hash=1.0))
        rows.append(
            (name, "vpdq.computeHash (native size)", len(result), elapsed, len(result) / elapsed, seconds / elapsed)
        )
    return rows


def matching_rows() -> list[tuple]:
    rng = np.random.default_rng(1)
    reference = [framehash.FrameHash(float(t), rng.bytes(32).hex(), 90) for t in range(7200)]
    query = [framehash.FrameHash(float(t), rng.bytes(32).hex(), 90) for t in range(600)]
    for i in range(150, 450):  # query 150..450 s = reference 4000..4300 s, 12 bits flipped
        value = int(reference[i + 3850].pdq_hex, 16)
        for bit in rng.choice(256, 12, replace=False):
            value ^= 1 << int(bit)
        query[i] = framehash.FrameHash(float(i), f"{value:064x}", 90)
    elapsed, segments = timed(lambda: framehash.match_segments(query, reference), repeat=3)
    found = ", ".join(
        f"q {s.query_start:.0f}-{s.query_end:.0f} = ref {s.ref_start:.0f}-{s.ref_end:.0f}" for s in segments
    )
    rows = [("match_segments 600 x 7200", elapsed, found)]
    elapsed, sim = timed(lambda: framehash.vpdq_similarity(query, reference), repeat=3)
    rows.append(("vpdq_similarity 600 x 7200", elapsed, f"{sim.query_percent:.0f}% / {sim.reference_percent:.0f}%"))
    rows.append(faiss_row(query, reference))
    return rows


def faiss_row(query, reference) -> tuple:
    """For comparison only: the candidate-pair search with faiss instead of numpy popcount."""
    import faiss

    def codes(hashes):
        return np.frombuffer(bytes.fromhex("".join(h.pdq_hex for h in hashes)), dtype=np.uint8).reshape(-1, 32)

    def search():
        index = faiss.IndexBinaryFlat(256)
        index.add(codes(reference))
        return index.range_search(codes(query), framehash.VPDQ_DISTANCE + 1)

    elapsed, (lims, _, _) = timed(search, repeat=3)
    return ("faiss IndexBinaryFlat range_search (pairs only)", elapsed, f"{int(lims[-1])} pairs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.0)
    args = parser.parse_args()
    seconds = args.minutes * 60
    show = videos.Slideshow(videos.REFERENCE_PHOTOS, seconds)
    print(f"generating two {seconds:.0f} s videos, 640x360 25 fps H.264 ...", flush=True)
    samples = {"keyframe every 10 s": videos.encode([show]), "keyframe every 1 s": videos.encode([show], gop=25)}

    print(f"\n{'video':<20} {'path':<32} {'frames':>6} {'seconds':>8} {'frames/s':>9} {'video s/s':>9}")
    for name, data in samples.items():
        for row in decode_rows(name, data, seconds):
            print(f"{row[0]:<20} {row[1]:<32} {row[2]:>6} {row[3]:>8.2f} {row[4]:>9.1f} {row[5]:>9.1f}")

    print(f"\n{'matching':<48} {'seconds':>8}  result")
    for label, elapsed, result in matching_rows():
        print(f"{label:<48} {elapsed:>8.3f}  {result}")


if __name__ == "__main__":
    main()
