"""Issue 22: the hashing page's own code in real Chromium. Its PDQ agrees with Kesu's server PDQ, its video
frames with the server's vPDQ frames; the end-to-end run sends nothing but hashes (the browser's own network
log) and leaves hash-only references on the case."""

import hashlib
import io
import json
import os
import signal
import subprocess
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import sync_playwright
from skimage import data as samples
from test_processes import KESU, environment, free_port, wait_for

from kesu.demo.load import DEMO_WATCHES
from kesu.demo.web import DemoWeb
from kesu.matching import video as server_video
from kesu.matching.image import pdq as server_pdq
from kesu.matching.media import open_image

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
AXE = Path(__file__).resolve().parents[1] / "tests" / "site" / "node_modules" / "axe-core" / "axe.min.js"
WINDOW = 64  # bytes: no request may carry any run of this many bytes of her files
MAX_BITS = 8  # the bound between the page's PDQ and the server's


def distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def sample(name: str) -> Image.Image:
    return Image.fromarray(getattr(samples, name)()).convert("RGB")


def rotated_exif_jpeg() -> bytes:
    """Stored sideways with EXIF orientation 6, as a phone camera writes it: upright only once turned."""
    stored = sample("chelsea").transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    return encoded(stored, "JPEG", quality=90, exif=exif.tobytes())


def twelve_megapixels() -> bytes:
    """4000 x 3000, a phone camera's photo: the coffee sample enlarged, with sensor-like noise."""
    big = np.asarray(sample("coffee").resize((4000, 3000), Image.Resampling.BICUBIC), dtype=np.int16)
    noise = np.random.default_rng(22).normal(0, 6, big.shape).astype(np.int16)
    return encoded(Image.fromarray(np.clip(big + noise, 0, 255).astype(np.uint8)), "JPEG", quality=92)


def test_pictures() -> dict[str, tuple[str, bytes]]:
    return {
        "astronaut.jpg": ("image/jpeg", encoded(sample("astronaut"), "JPEG", quality=85)),
        "rocket.png": ("image/png", encoded(sample("rocket"), "PNG")),
        "coffee.webp": ("image/webp", encoded(sample("coffee"), "WEBP", quality=80)),
        "sideways.jpg": ("image/jpeg", rotated_exif_jpeg()),
        "camera-12mp.jpg": ("image/jpeg", twelve_megapixels()),
        "thumb-64.png": ("image/png", encoded(sample("chelsea").resize((64, 43), Image.Resampling.LANCZOS), "PNG")),
    }


test_pictures.__test__ = False


def test_video() -> bytes:
    from kesu.demo.media import REFERENCE_PHOTOS, Slideshow, encode

    return encode([Slideshow(REFERENCE_PHOTOS, 8.0)], size=(640, 360), fps=25)


test_video.__test__ = False


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    """``kesu run --no-worker`` on loopback with a fresh data directory (tasks inline), and one case in it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = environment(tmp_path_factory.mktemp("hashing") / "data", KESU_BASE_URL=base, KESU_TASKS_EAGER="1")
    created = kesu(env, "case", "create", "--type", "ncii", "--consent", "search,takedown", "--json")
    case_id = json.loads(created)["id"]
    log = tmp_path_factory.mktemp("hashing-log") / "kesu-run.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [KESU, "run", "--no-worker", "--port", str(port), "--web-workers", "1"],
            env=env, stdout=sink, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip
        try:
            assert wait_for(lambda: _answers(base + "/accounts/login/"), 300), "kesu run did not start"
            yield SimpleNamespace(base=base, env=env, case_id=case_id)
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=60)
    assert "Traceback" not in log.read_text(), log.read_text()[-6000:]


def kesu(env, *argv) -> str:
    done = subprocess.run([KESU, *argv], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def her_page(browser, desk):
    """Her phone (360 px wide) on the hashing page of a new link, consent given; what went wrong collected."""
    url = kesu(desk.env, "case", "hashing-link", str(desk.case_id)).strip()
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True, locale="ja-JP"
    )
    context.set_default_timeout(120_000)
    page = context.new_page()
    page.problems = []
    page.on(
        "console",
        lambda m: m.type == "error" and "favicon" not in m.location.get("url", "") and page.problems.append(m.text),
    )
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    page.on(
        "response",
        lambda r: (
            r.status >= 400 and not r.url.endswith("/favicon.ico") and page.problems.append(f"{r.status} {r.url}")
        ),
    )
    page.sent = []  # every request the browser made, with its body: the network log the e2e test reads
    page.on("request", lambda r: page.sent.append((r.method, r.url, r.post_data_buffer or b"")))
    page.goto(url)
    page.looked_at_consent = screen(page)
    with page.expect_navigation():
        page.click("#agree")
    try:
        yield page
    finally:
        context.close()


def screen(page) -> list[str]:
    """axe-core's WCAG 2 A/AA violations on the page (run through DevTools: the page's policy stays strict)."""
    page.evaluate(AXE.read_text())
    return page.evaluate(
        """async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']})).violations
                       .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"""
    )


def pick(page, files: dict[str, tuple[str, bytes]]) -> list[dict]:
    """Choose the files as she would, wait until the page has hashed them all; the page's hashes."""
    payloads = [{"name": name, "mimeType": mime, "buffer": data} for name, (mime, data) in files.items()]
    page.set_input_files("#files", payloads)
    page.wait_for_function(
        f"() => kesuHashing.files().length === {len(files)} && kesuHashing.files().every(f => f.done || f.failed)"
    )
    return page.evaluate("() => kesuHashing.files()")


def test_the_pages_pdq_agrees_with_the_servers_within_8_bits(her_page):
    pictures = test_pictures()
    her_page.context.set_offline(True)  # once loaded, the page hashes without the network
    hashed = pick(her_page, pictures)
    her_page.context.set_offline(False)
    report = {}
    for (name, (_mime, data)), got in zip(pictures.items(), hashed, strict=True):
        assert got["done"], name
        want, quality = server_pdq(open_image(data))
        report[name] = (distance(want, got["pdq"]), quality, got["quality"])
    print("PDQ bits apart (page vs server), quality server/page:", report)
    assert all(bits <= MAX_BITS for bits, *_ in report.values()), report
    for (name, (_mime, data)), got in zip(pictures.items(), hashed, strict=True):
        assert got["md5"] == hashlib.md5(data).hexdigest() and got["sha256"] == hashlib.sha256(data).hexdigest(), name
    assert not her_page.problems, her_page.problems


def test_the_pages_video_frames_match_the_servers_vpdq_frames(her_page):
    clip = test_video()
    got = pick(her_page, {"clip.mp4": ("video/mp4", clip)})[0]
    assert got["done"], got
    server = {round(h.t): h.pdq_hex for h in server_video.hash_video(clip, fps=1.0).hashes}
    page = {round(t): pdq for t, pdq, _quality in got["frames"]}
    assert sorted(page) == sorted(server) == list(range(8))
    apart = [distance(page[t], server[t]) for t in sorted(server)]
    print("video frame PDQ bits apart (page vs server) per second:", apart)
    assert max(apart) <= MAX_BITS, apart
    assert not her_page.problems, her_page.problems


def screens_dir() -> Path:
    folder = Path(os.environ.get("KESU_ARTEFACTS") or Path(__file__).resolve().parents[1] / "artefacts") / "screens"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def windows(data: bytes) -> set[bytes]:
    return {data[i : i + WINDOW] for i in range(len(data) - WINDOW + 1)}


def carries_any_of(body: bytes, data: bytes) -> bool:
    """Whether ``body`` holds any 64-byte run of ``data`` (the body's runs, looked up along the file)."""
    runs = windows(body)
    return bool(runs) and any(data[i : i + WINDOW] in runs for i in range(len(data) - WINDOW + 1))


def test_end_to_end_only_hashes_leave_the_browser_and_the_case_holds_hash_only_references(her_page, desk, tmp_path):
    pictures = dict(list(test_pictures().items())[:3])  # JPEG, PNG, WebP
    files = {**pictures, "clip.mp4": ("video/mp4", test_video())}
    assert not her_page.looked_at_consent, her_page.looked_at_consent
    before = references(desk)
    hashed = pick(her_page, files)
    assert all(f["done"] for f in hashed), hashed
    assert her_page.locator("#thumbs canvas").count() == 4  # drawn here, blurred
    assert not screen(her_page), screen(her_page)
    assert her_page.evaluate("() => document.documentElement.lang") == "ja"  # her phone's language
    assert her_page.evaluate("() => document.documentElement.scrollWidth") <= 360  # nothing wider than her phone
    her_page.screenshot(path=str(screens_dir() / "hashing-page-360.png"), full_page=True)
    her_page.fill("#keywords", "hanako leak, tube.example")
    her_page.click("#send")
    her_page.wait_for_function("() => document.getElementById('result').textContent.length > 0")
    assert "4" in her_page.inner_text("#result") and not her_page.is_enabled("#send")
    posts = [(url, body) for method, url, body in her_page.sent if method == "POST"]
    assert any(url.endswith("/hashes/") for url, _body in posts)
    sent = b"".join(body for _url, body in posts)
    for name, (_mime, data) in files.items():
        assert hashlib.sha256(data).hexdigest().encode() in sent, name  # the hashes went...
        for url, body in posts:
            assert not carries_any_of(body, data), f"{url} carried bytes of {name}"  # ...and nothing of the file
    assert all(method == "GET" or url.endswith(("/hashes/", "/")) for method, url, _b in her_page.sent)
    after = references(desk)
    new = [row for row in after if row["id"] not in {r["id"] for r in before}]
    hashed_refs = [row for row in new if row["kind"] == "hashes"]
    assert len(hashed_refs) == 4 and not any(row["media_kept"] for row in hashed_refs)
    kinds = {s["kind"] for row in hashed_refs for s in row["signals"]}
    assert {"pdq", "vpdq", "md5", "sha256"} <= kinds
    assert sorted(row["kind"] for row in new if row["kind"] != "hashes") == ["keyword", "keyword"]
    # What she sent finds a copy the patrol would meet: her JPEG shrunk and recompressed by a site.
    copy = tmp_path / "copy.jpg"
    found = Image.open(io.BytesIO(files["astronaut.jpg"][1]))
    copy.write_bytes(encoded(found.resize((410, 410), Image.Resampling.LANCZOS), "JPEG", quality=60))
    result = json.loads(kesu(desk.env, "match", str(copy), "--case", str(desk.case_id), "--json"))
    assert [(hit["case"], hit["signal"]) for hit in result["hits"]][:1] == [(desk.case_id, "pdq")], result
    assert not her_page.problems, her_page.problems
    # And the patrol finds it where a site re-posted it: the demo web's reup.test shows her photo re-encoded.
    with DemoWeb(tmp_path / "demo-web") as web:
        env = {**desk.env, "KESU_ALLOW_LOOPBACK": "1", "KESU_CAPTURE_HOSTS": web.host_rules()}
        spec = DEMO_WATCHES["reup.test"]
        kesu(env, "patrol", "watch", "reup.test", "--seed", web.url("reup.test", spec["seeds"][0]),
             "--item-pattern", spec["item_pattern"], "--browser", "never", "--rate", "600")  # fmt: skip
        kesu(env, "patrol", "run", "reup.test", "--inline", "--seconds", "300")
    queue = json.loads(kesu(env, "review", "queue", "--case", str(desk.case_id), "--json"))
    assert any(row["site"] == "reup.test" and row["signal"] == "pdq" for row in queue), queue


def references(desk) -> list[dict]:
    out = kesu(desk.env, "reference", "list", "--case", str(desk.case_id), "--json")
    return [json.loads(line) for line in out.splitlines() if line.strip()]
