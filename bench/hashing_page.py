"""How long her phone's browser takes on the hashing page (issue 22), measured in headless Chromium here.

    .venv/bin/python bench/hashing_page.py [--runs 3] [--seconds 60]

Runs ``kesu run --no-worker`` on loopback with a fresh data directory, opens a hashing link as she would (360 px,
consent), then times, inside the page, from her choice of files to the last hash: a 12 MP camera JPEG (MD5,
SHA-256 and PDQ), and a 1080p H.264 video made by ffmpeg (MD5, SHA-256 and PDQ of a frame a second). Prints the
median of the runs per photo and per minute of video. Nothing is sent: the page only hashes.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kesu.settings")
os.environ.setdefault("KESU_DATA_DIR", "/tmp/kesu-bench")

from playwright.sync_api import sync_playwright  # noqa: E402
from test_hashing_page import CHROMIUM, _answers, kesu, twelve_megapixels  # noqa: E402
from test_processes import KESU, environment, free_port, wait_for  # noqa: E402

STARTED = """() => document.getElementById('files').addEventListener('change',
                   () => { window.benchStart = performance.now(); }, {once: true})"""


def video_1080p(seconds: int, gop: int) -> bytes:
    """A moving 1920x1080 test pattern at 30 fps in H.264 (ffmpeg's testsrc2), a keyframe every ``gop`` frames:
    phones write one about every second; x264's default is 250 (the page seeks, so long gaps cost more)."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "clip.mp4"
        subprocess.run(
            ["/usr/bin/ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30",
             "-t", str(seconds), "-g", str(gop), "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
             str(out)],
            check=True,
        )  # fmt: skip
        return out.read_bytes()


def hashing_time(browser, url: str, name: str, mime: str, data: bytes) -> float:
    """Seconds from her choice of the file to its last hash, on a fresh page (a fresh link each run)."""
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    context.set_default_timeout(600_000)
    page = context.new_page()
    try:
        page.goto(url)
        with page.expect_navigation():
            page.click("#agree")
        page.evaluate(STARTED)
        page.set_input_files("#files", [{"name": name, "mimeType": mime, "buffer": data}])
        page.wait_for_function("() => kesuHashing.files().length === 1 && kesuHashing.files()[0].done")
        return page.evaluate("() => (performance.now() - window.benchStart) / 1000")
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=60, help="length of the 1080p video")
    args = parser.parse_args()
    photo, clips = twelve_megapixels(), {gop: video_1080p(args.seconds, gop) for gop in (30, 250)}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as folder:
        env = environment(Path(folder) / "data", KESU_BASE_URL=base, KESU_TASKS_EAGER="1")
        case_id = json.loads(kesu(env, "case", "create", "--type", "ncii", "--json"))["id"]
        server = subprocess.Popen(
            [KESU, "run", "--no-worker", "--port", str(port), "--web-workers", "1"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        try:
            assert wait_for(lambda: _answers(base + "/accounts/login/"), 90), "kesu run did not start"
            run(args, env, case_id, photo, clips)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)


def run(args, env, case_id: int, photo: bytes, clips: dict[int, bytes]) -> None:
    def link() -> str:
        return kesu(env, "case", "hashing-link", str(case_id)).strip()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            photos = [hashing_time(browser, link(), "photo.jpg", "image/jpeg", photo) for _ in range(args.runs)]
            print(f"12 MP JPEG ({len(photo) / 1e6:.1f} MB), MD5 + SHA-256 + PDQ: "
                  f"median {statistics.median(photos):.2f} s "
                  f"(runs: {', '.join(f'{t:.2f}' for t in photos)})")  # fmt: skip
            for gop, clip in clips.items():
                times = [hashing_time(browser, link(), "clip.mp4", "video/mp4", clip) for _ in range(args.runs)]
                per_minute = statistics.median(times) * 60 / args.seconds
                print(f"1080p H.264 video, {args.seconds} s, keyframe every {gop} frames ({len(clip) / 1e6:.1f} MB), "
                      f"MD5 + SHA-256 + PDQ at 1 fps: {per_minute:.1f} s per minute of video "
                      f"(runs: {', '.join(f'{t:.1f}' for t in times)} s)")  # fmt: skip
        finally:
            browser.close()
    print(f"Chromium {CHROMIUM}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
