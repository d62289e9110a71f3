"""What the patrol keeps of a found medium, and what it costs: the typed signal file beside the old format.

    .venv/bin/python bench/signal_file.py

Baseline: the format the fingerprint stage used before issue 19, the whole decoded `Medium` (pixels, every
face's embedding) serialised as a Python object (here, in the benchmark, with the standard library's
``pickle``). For the astronaut, grace_hopper, a 12 MP camera JPEG and a 60 s video: bytes kept, time to write
and read, and a search of an empty bank from the values read back.
"""

import io
import os
import pickle
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kesu.settings")
os.environ.setdefault("KESU_DATA_DIR", "/tmp/kesu-bench")

import django  # noqa: E402

django.setup()

from kesu.matching import media, signalfile  # noqa: E402
from kesu.matching.signals import Medium, found_medium  # noqa: E402


def media_files() -> dict[str, bytes]:
    import matplotlib
    import videos
    from conftest import png_bytes
    from PIL import Image
    from skimage import data

    big = Image.fromarray(data.astronaut()).resize((4000, 4000))
    camera = io.BytesIO()
    big.save(camera, "JPEG", quality=88)
    return {
        "astronaut.png": png_bytes(data.astronaut()),
        "grace_hopper.jpg": (Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg").read_bytes(),
        "camera 12 MP.jpg": camera.getvalue(),
        "video 60 s.mp4": videos.reference_video(),
    }


def timed(fn, repeat: int = 20) -> tuple[object, float]:
    started = time.perf_counter()
    for _ in range(repeat):
        out = fn()
    return out, (time.perf_counter() - started) / repeat * 1000


def old_format(data: bytes) -> bytes:
    """The fingerprint stage's old output, rebuilt: everything computed, the bytes dropped, the object kept."""
    info = media.inspect(data)
    medium = Medium(data, info.kind, info.image)
    medium.analyses(), medium.faces_json()
    if medium.kind == "image":
        medium.query_hashes  # noqa: B018
    medium.video_hashes, medium.sha256, medium.md5  # noqa: B018
    medium.data = b""
    return pickle.dumps((1, medium), protocol=pickle.HIGHEST_PROTOCOL)


def main() -> None:
    print(f"{'medium':18} {'file':>10} | {'kept: old':>10} {'new':>9} | {'write ms old':>12} {'new':>6} "
          f"| {'read ms old':>11} {'new':>6}")  # fmt: skip
    for name, data in media_files().items():
        old = old_format(data)
        info = media.inspect(data)
        found = found_medium(Medium(data, info.kind, info.image))
        new = signalfile.dumps(found)
        _, write_old = timed(lambda old=old: pickle.dumps(pickle.loads(old), protocol=pickle.HIGHEST_PROTOCOL), 5)
        _, write_new = timed(lambda found=found: signalfile.dumps(found))
        _, read_old = timed(lambda old=old: pickle.loads(old))  # noqa: S301 - our own bytes, the baseline
        loaded, read_new = timed(lambda new=new: signalfile.loads(new))
        assert loaded == found
        print(f"{name:18} {len(data):>10,} | {len(old):>10,} {len(new):>9,} | {write_old:>12.2f} {write_new:>6.2f} "
              f"| {read_old:>11.2f} {read_new:>6.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
