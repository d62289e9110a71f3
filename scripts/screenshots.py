"""Screenshots of the desk's main pages in Japanese, for docs/screenshots/ (run by scripts/screenshots).

Loads the demo into a fresh data directory, runs ``kesu run --demo`` on free loopback ports, waits for the
demo patrol to find the demo case's pictures, prepares a draft notice from the command line, logs in as
``demo`` with Playwright in /usr/bin/chromium and saves each page of PAGES at 1280x800. Previews stay blurred:
nothing is revealed. PNGs are reduced to a palette and optimised, so each stays small.
"""

import io
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KESU = str(ROOT / ".venv" / "bin" / "kesu")
OUT = ROOT / "docs" / "screenshots"
PASSWORD = "kesu-demo-desk-2026"  # kesu.demo.load.DEMO_PASSWORD
# (file name, path; {case}, {hit} and {notice} are filled from the running demo desk). tests/test_screenshots.py
# checks that each path is a page of the URL conf.
PAGES = [
    ("01-cases", "/"),
    ("02-case", "/cases/{case}/"),
    ("03-review-queue", "/review/"),
    ("04-review-item", "/review/hits/{hit}/"),
    ("05-notices", "/notices/"),
    ("06-notice", "/notices/{notice}/"),
    ("07-reports", "/reports/"),
    ("08-compliance", "/reports/compliance/"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kesu(env, *argv, stdin: str | None = None) -> str:
    done = subprocess.run([KESU, *argv], env=env, input=stdin, capture_output=True, text=True, check=True)
    return done.stdout


def wait(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(2)
    sys.exit(f"screenshots: {what} did not happen within {seconds:.0f} s")


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def log_in(page, base: str, env) -> None:
    page.goto(base + "/accounts/login/")
    page.fill("input[name=username]", "demo")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.press("input[name=password]", "Enter")
    page.fill("input[name=token]", kesu(env, "user", "totp-code", "demo").strip())
    with page.expect_navigation():
        page.press("input[name=token]", "Enter")


def first_hit(page, base: str) -> str | None:
    page.goto(base + "/review/")
    link = page.locator("tr[data-hit-id]").first
    return link.get_attribute("data-hit-id") if link.count() else None


def first_notice(page, base: str, case: str) -> str:
    page.goto(f"{base}/cases/{case}/notices/")
    hrefs = page.locator("main a[href^='/notices/']").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    return next(re.fullmatch(r"/notices/(\d+)/", h)[1] for h in hrefs if re.fullmatch(r"/notices/\d+/", h))


def save(page, path: Path) -> None:
    from PIL import Image

    image = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    image.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def shoot(base: str, env, web_port: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                             args=["--no-sandbox", "--disable-gpu", "--no-first-run"])  # fmt: skip
        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="ja-JP")
        context.add_cookies([{"name": "django_language", "value": "ja", "url": base}])
        page = context.new_page()
        revealed = []  # her media itself is only ever at .../media/: a screenshot must never have loaded it
        page.on("request", lambda request: "/media/" in request.url and revealed.append(request.url))
        log_in(page, base, env)
        case = re.search(r"/cases/(\d+)/", page.locator("main a[href^='/cases/']").first.get_attribute("href"))[1]
        hit = wait(lambda: first_hit(page, base), 600, "the demo patrol finding a hit")
        url = f"http://tubeleak.test:{web_port}/v/astronaut-holiday\n"
        kesu(env, "notice", "prepare", "--case", case, "--urls", "-", stdin=url)
        notice = first_notice(page, base, case)
        OUT.mkdir(parents=True, exist_ok=True)
        for name, path in PAGES:
            page.goto(base + path.format(case=case, hit=hit, notice=notice))
            page.wait_for_load_state("networkidle")
            if revealed or (path.startswith("/review/hits/") and page.locator("img.blurred").count() < 2):
                sys.exit(f"screenshots: {name} would show more than blurred previews; nothing written for it")
            save(page, OUT / f"{name}.png")
            print(f"screenshots: {name}.png  {path}", flush=True)
        browser.close()


def main() -> None:
    data = Path(tempfile.mkdtemp(prefix="kesu-screens-"))
    env = {**os.environ, "KESU_DATA_DIR": str(data), "KESU_LANGUAGE": "ja"}
    env.pop("KESU_DATABASE_URL", None)
    port, web_port, smtp_port = free_port(), free_port(), free_port()
    with (data / "run.log").open("w") as log:
        process = subprocess.Popen(
            [KESU, "run", "--demo", "--port", str(port), "--demo-web-port", str(web_port),
             "--demo-smtp-port", str(smtp_port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            wait(lambda: answers(base + "/accounts/login/"), 300, "kesu run answering")
            shoot(base, env, web_port)
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=90)
    print(f"screenshots: written to {OUT.relative_to(ROOT)} (desk log: {data / 'run.log'})")


if __name__ == "__main__":
    main()
