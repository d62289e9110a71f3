"""Captures per minute of a page with 50 images (tests/site /media50.html), cold and warm.

cold: a new browser for every capture (what a one-off `kesu capture` pays).
warm: one engine kept between captures with warm contexts (what a Celery worker does).
Baseline: plain Playwright (goto + load, bodies from response.body(), no scrolling,
no Fetch domain), the usual quick approach: how fast it is and how many of the 50
images it actually gets with the right bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import ipaddress
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kesu.settings")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from capture_site import CaptureSite  # noqa: E402

from kesu.capture.browser import CHROMIUM, LAUNCH_ARGS, Engine  # noqa: E402
from kesu.capture.policy import AddressPolicy  # noqa: E402
from kesu.capture.recorder import Limits  # noqa: E402

POLICY = AddressPolicy(allow=(ipaddress.ip_network("127.0.0.0/8"),))


def found(capture, expected: set[str]) -> int:
    return len(expected & {m.sha256 for m in capture.media})


def kesu_cold(url: str, expected: set[str], runs: int) -> tuple[float, int]:
    start, hits = time.monotonic(), []
    for _ in range(runs):
        engine = Engine(POLICY, Limits(), warm=0)
        try:
            hits.append(found(engine.capture(url), expected))
        finally:
            engine.close()
    return runs * 60 / (time.monotonic() - start), min(hits)


def kesu_warm(url: str, expected: set[str], runs: int) -> tuple[float, int]:
    engine = Engine(POLICY, Limits(), warm=2)
    try:
        engine.warm()
        start, hits = time.monotonic(), []
        for _ in range(runs):
            hits.append(found(engine.capture(url), expected))
        return runs * 60 / (time.monotonic() - start), min(hits)
    finally:
        engine.close()


async def _baseline(url: str, expected: set[str], runs: int) -> tuple[float, int]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        start, hits = time.monotonic(), []
        for _ in range(runs):
            context = await browser.new_context()
            page = await context.new_page()
            responses = []
            page.on("response", lambda response, seen=responses: seen.append(response))
            await page.goto(url, wait_until="load")
            bodies = set()
            for response in responses:
                try:
                    bodies.add(hashlib.sha256(await response.body()).hexdigest())
                except Exception:
                    pass
            hits.append(len(expected & bodies))
            await context.close()
        elapsed = time.monotonic() - start
        await browser.close()
    return runs * 60 / elapsed, min(hits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=8)
    args = parser.parse_args()
    import django

    django.setup()
    with CaptureSite(Path(tempfile.mkdtemp(prefix="kesu-bench-site-"))) as site:
        url = site.url("/media50.html")
        expected = {e["sha256"] for e in site.on_page("/media50.html").values()}
        rows = [
            ("baseline: Playwright goto+load, response.body()", *asyncio.run(_baseline(url, expected, args.runs))),
            ("Kesu cold (new browser each time)", *kesu_cold(url, expected, max(2, args.runs // 3))),
            ("Kesu warm (one engine, warm contexts)", *kesu_warm(url, expected, args.runs)),
        ]
    print(f"page with {len(expected)} images; {os.cpu_count()} cores")
    print(f"{'':52} {'captures/min':>12} {'images with right bytes':>24}")
    for name, per_minute, hits in rows:
        print(f"{name:52} {per_minute:12.1f} {hits:>18} of {len(expected)}")


if __name__ == "__main__":
    main()
