"""The demo web: the fake sites' pages, media, removal behaviours, bad-site traps and the SMTP desk.

Requests go to 127.0.0.1 with the site's name in the Host header, as a crawler pinned by
KESU_CAPTURE_HOSTS sends them; nothing is resolved.
"""

import hashlib
import re
import smtplib
import time
import urllib.error
import urllib.request
from email.message import EmailMessage

import pytest

from kesu.demo import media as demomedia
from kesu.demo.sites import HUGE_ITEMS
from kesu.demo.web import DemoWeb
from kesu.matching.media import inspect

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never an environment proxy


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    with DemoWeb(tmp_path_factory.mktemp("demo-web"), ban_after=30, removal_delay=0.3) as web:
        yield web


@pytest.fixture
def web(running):
    running.reset()
    return running


def get(web: DemoWeb, site: str, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{web.port}{path}", headers={"Host": f"{site}:{web.port}", **(headers or {})}
    )
    try:
        with OPENER.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def text(web, site, path) -> str:
    status, _, body = get(web, site, path)
    assert status == 200, (site, path, status)
    return body.decode()


def test_unknown_host_is_404(web):
    assert get(web, "nowhere.test", "/")[0] == 404
    assert web.requests == [("nowhere.test", "/", 404)]


def test_tubeleak_listing_pages_with_lazy_thumbnails(web):
    pages = [text(web, "tubeleak.test", f"/latest?page={n}") for n in (1, 2, 3)]
    for page in pages:
        assert len(re.findall(r'<a class="item" href="/v/[^"]+"><img class="thumb" src="/static/blank.gif"', page)) == 6
    assert '<a rel="next" href="/latest?page=2">' in pages[0]
    assert '<a rel="next" href="/latest?page=3">' in pages[1]
    assert 'rel="next"' not in pages[2]
    assert get(web, "tubeleak.test", "/latest?page=4")[0] == 404
    thumb = re.search(r'data-src="(/t/astronaut-holiday.jpg)" alt="Astronaut holiday demo title 2026"', pages[0])[1]
    status, headers, body = get(web, "tubeleak.test", thumb)
    assert (status, headers["Content-Type"]) == (200, "image/jpeg")
    assert inspect(body).kind == "image"
    status, headers, body = get(web, "tubeleak.test", "/static/blank.gif")
    assert (status, headers["Content-Type"], body[:6]) == (200, "image/gif", b"GIF89a")
    page = text(web, "tubeleak.test", "/v/astronaut-holiday")
    assert '<img class="full" src="/m/astronaut-holiday.jpg"' in page
    assert get(web, "tubeleak.test", "/m/astronaut-holiday.jpg")[2] == web.store.read("astronaut")


def test_tubeleak_search(web):
    found = re.findall(r'class="item" href="(/v/[^"]+)"', text(web, "tubeleak.test", "/search?q=DEMO+title+2026"))
    assert found == ["/v/astronaut-holiday", "/v/clip-excerpt"]
    assert 'class="item"' not in text(web, "tubeleak.test", "/search?q=no+such+thing")


def test_hls_video_page_playlist_and_segments(web):
    page = text(web, "tubeleak.test", "/v/clip-excerpt")
    assert '<video id="player" controls poster="/t/clip-excerpt.jpg"></video>' in page
    assert 'fetch("/hls/clip-excerpt/index.m3u8")' in page
    status, headers, playlist = get(web, "tubeleak.test", "/hls/clip-excerpt/index.m3u8")
    assert (status, headers["Content-Type"]) == (200, "application/vnd.apple.mpegurl")
    segments = [line for line in playlist.decode().splitlines() if line and not line.startswith("#")]
    assert len(segments) == 3 and b"#EXT-X-ENDLIST" in playlist
    joined = b""
    for name in segments:
        status, headers, data = get(web, "tubeleak.test", f"/hls/clip-excerpt/{name}")
        assert (status, headers["Content-Type"], data[0], data[188]) == (200, "video/mp2t", 0x47, 0x47)
        joined += data
    assert inspect(joined).kind == "video"
    mp4 = get(web, "tubeleak.test", "/m/clip-excerpt.mp4")[2]
    assert inspect(mp4) == inspect(web.store.read("clip_excerpt"))
    assert inspect(mp4).kind == "video"


def test_video_ranges(web):
    whole = web.store.read("clip_excerpt")
    status, headers, body = get(web, "tubeleak.test", "/m/clip-excerpt.mp4", {"Range": "bytes=100-1099"})
    assert (status, body, headers["Content-Range"]) == (206, whole[100:1100], f"bytes 100-1099/{len(whole)}")
    status, headers, body = get(web, "tubeleak.test", "/m/clip-excerpt.mp4", {"Range": "bytes=-500"})
    assert (status, body) == (206, whole[-500:])
    status, headers, body = get(web, "tubeleak.test", "/m/clip-excerpt.mp4", {"Range": f"bytes={len(whole)}-"})
    assert status == 416 and headers["Content-Range"] == f"bytes */{len(whole)}"
    status, headers, body = get(web, "tubeleak.test", "/m/clip-excerpt.mp4")
    assert (status, headers["Accept-Ranges"], headers["Content-Length"]) == (200, "bytes", str(len(whole)))


def test_tubeleak_removal_is_404_and_leaves_listings(web):
    url = web.url("tubeleak.test", "/v/clip-excerpt")
    assert web.notice_received(f"Please remove:\n{url}.\nThank you.") == [url]
    for path in ("/v/clip-excerpt", "/m/clip-excerpt.mp4", "/hls/clip-excerpt/index.m3u8", "/hls/clip-excerpt/seg0.ts"):
        assert get(web, "tubeleak.test", path)[0] == 404
    listed = "".join(text(web, "tubeleak.test", f"/latest?page={n}") for n in (1, 2, 3))
    assert "clip-excerpt" not in listed and listed.count('class="item"') == 17
    assert web.notice_received(url) == []  # already gone


def test_imgboard_soft_404(web):
    boards = text(web, "imgboard.test", "/board/1") + text(web, "imgboard.test", "/board/2")
    assert '<a href="/board/2">next</a>' in boards
    assert '<a href="/p/103"><img src="/thumb/103.jpg"' in boards
    assert '<img class="full" src="/img/103.jpg"' in text(web, "imgboard.test", "/p/103")
    assert get(web, "imgboard.test", "/img/103.jpg")[2] == demomedia.coffee_cropped()
    assert web.notice_received(web.url("imgboard.test", "/img/103.jpg")) == [web.url("imgboard.test", "/img/103.jpg")]
    page = text(web, "imgboard.test", "/p/103")
    assert "This post has been removed." in page and "<img" not in page
    assert get(web, "imgboard.test", "/img/103.jpg")[0] == 404
    assert "/p/103" not in text(web, "imgboard.test", "/board/1")


def test_reup_comes_back_under_a_new_url_with_the_same_bytes(web):
    original = get(web, "reup.test", "/media/astro-holiday.jpg")[2]
    assert web.notice_received(web.url("reup.test", "/watch/astro-holiday"))
    assert get(web, "reup.test", "/watch/astro-holiday")[0] == 404
    assert get(web, "reup.test", "/watch/astro-holiday-re1")[0] == 404  # not yet: removal_delay is 0.3 s
    time.sleep(0.4)
    links = re.findall(r'href="(/watch/[^"]+)"', text(web, "reup.test", "/new"))
    assert links[0] == "/watch/astro-holiday-re1" and "/watch/astro-holiday" not in links
    image = re.search(r'src="([^"]+)"', text(web, "reup.test", links[0]).split("<main>")[1])[1]
    copy = get(web, "reup.test", image)[2]
    assert hashlib.sha256(copy).digest() == hashlib.sha256(original).digest()
    assert get(web, "reup.test", "/media/astro-holiday.jpg")[0] == 404


def test_geoblock_451(web):
    assert "/i/4" in text(web, "geoblock.test", "/list")
    assert web.notice_received(f"<{web.url('geoblock.test', '/i/4')}>")
    for path in ("/i/4", "/img/4.jpg"):
        status, _, body = get(web, "geoblock.test", path)
        assert (status, body) == (451, b"This content is not available in your country.")
    assert "/i/4" not in text(web, "geoblock.test", "/list")


def test_smtp_notice_removes_the_item(web):
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "desk@kesu.test", "abuse@tubeleak.test", "Removal request"
    message.set_content(f"Remove {web.url('tubeleak.test', '/v/astronaut-holiday')} please.")
    message.add_alternative("<p>html part</p>", subtype="html")
    with smtplib.SMTP("127.0.0.1", web.smtp_port, local_hostname="kesu.test", timeout=10) as smtp:
        smtp.send_message(message)
    assert len(web.mailbox) == 1 and b"Removal request" in web.mailbox[0]
    assert get(web, "tubeleak.test", "/v/astronaut-holiday")[0] == 404
    assert get(web, "tubeleak.test", "/m/astronaut-holiday.jpg")[0] == 404


def test_notice_about_a_bad_site_changes_nothing(web):
    assert web.notice_received(web.url("trap.test", "/item/1") + " " + web.url("unknown.test", "/x")) == []
    assert get(web, "trap.test", "/item/1")[0] == 200


def test_endless_pagination(web):
    page = text(web, "endless.test", "/page/123456")
    assert '<a rel="next" href="/page/123457">' in page
    assert re.findall(r'href="(/e/[^"]+)"', page) == [f"/e/123456-{k}" for k in range(1, 6)]
    image = re.search(r'src="(/img/123456-3.jpg)"', text(web, "endless.test", "/e/123456-3"))[1]
    assert inspect(get(web, "endless.test", image)[2]).kind == "image"


def test_trap_links_never_end(web):
    home = text(web, "trap.test", "/")
    assert len(set(re.findall(r'href="/item/[123]\?sid=([0-9a-f]{16})"', home))) == 3
    again = text(web, "trap.test", "/")
    assert re.findall(r'href="/item/1\?sid=(\w+)', home) != re.findall(r'href="/item/1\?sid=(\w+)', again)
    december = text(web, "trap.test", "/cal/2026/12?sid=abc")
    assert re.search(r'href="/cal/2026/11\?sid=[0-9a-f]+"', december)
    assert re.search(r'href="/cal/2027/01\?sid=[0-9a-f]+"', december)
    deep = text(web, "trap.test", "/x/" + "more/" * 40 + "?sid=1")
    assert re.search(r'href="more/\?sid=[0-9a-f]+"', deep)
    assert get(web, "trap.test", "/img/2.jpg")[2] == demomedia.filler(402)


def test_banning_rate_limits_then_bans(web):
    statuses = []
    for _ in range(35):
        status, headers, _ = get(web, "banning.test", "/")
        statuses.append(status)
        if status == 429:
            assert headers["Retry-After"] == "1"
    assert [i + 1 for i, s in enumerate(statuses) if s == 429] == [7, 14, 21, 28]
    assert statuses[30:] == [403] * 5 and set(statuses[:30]) == {200, 429}
    assert get(web, "banning.test", "/b/1")[0] == 403
    web.reset()
    assert len(re.findall(r'href="/b/\d+"', text(web, "banning.test", "/"))) == 40


def test_huge_listing(web):
    started = time.monotonic()
    page = text(web, "huge.test", "/all")
    assert len(re.findall(r'href="/h/\d+"', page)) == HUGE_ITEMS == 20_000
    assert time.monotonic() - started < 2.0
    assert "/img/20000.jpg" in text(web, "huge.test", "/h/20000")


def test_changing_layouts(web):
    layout_a = text(web, "changing.test", "/")
    assert len(re.findall(r'<div class="card"><a href="/item/\d"', layout_a)) == 8
    web.set_layout("changing.test", "b")
    layout_b = text(web, "changing.test", "/")
    assert len(re.findall(r'<li class="entry"><a href="/p/\d"', layout_b)) == 8 and "card" not in layout_b
    assert get(web, "changing.test", "/item/1")[0] == 404
    assert get(web, "changing.test", "/p/1")[0] == 200
    web.reset()
    assert get(web, "changing.test", "/item/1")[0] == 200


def test_reset_restores_items_and_counters(web):
    web.notice_received(web.url("geoblock.test", "/i/4") + " " + web.url("imgboard.test", "/p/112"))
    assert get(web, "geoblock.test", "/i/4")[0] == 451
    web.reset()
    assert web.requests == [] and web.mailbox == []
    assert get(web, "geoblock.test", "/i/4")[0] == 200
    assert "<img" in text(web, "imgboard.test", "/p/112")


def test_catalogue_describes_every_planted_copy(web):
    catalogue = web.catalogue()
    planted = {
        (entry["site"], entry["variant"], entry["behaviour"]) for entry in catalogue if entry["variant"] != "filler"
    }
    assert planted == {
        ("tubeleak.test", "astronaut", "gone"),
        ("tubeleak.test", "clip_excerpt", "gone"),
        ("imgboard.test", "coffee_cropped", "soft404"),
        ("imgboard.test", "grace_hopper", "soft404"),
        ("reup.test", "astronaut", "reupload"),
        ("geoblock.test", "grace_hopper", "geoblock"),
    }
    assert sum(entry["site"] == "huge.test" for entry in catalogue) == HUGE_ITEMS
    for entry in catalogue[:40]:
        site, path = entry["site"], entry["url"].split(str(web.port), 1)[1]
        assert get(web, site, path)[0] == 200
        for url in entry["media"]:
            assert get(web, site, url.split(str(web.port), 1)[1])[0] == 200


def test_media_store_is_built_once(running):
    before = {path: path.stat().st_mtime_ns for path in running.store.directory.rglob("*")}
    store = demomedia.MediaStore(running.store.directory).build()
    assert {path: path.stat().st_mtime_ns for path in store.directory.rglob("*")} == before
    assert store.read("clip_excerpt") == running.store.read("clip_excerpt")


def test_fillers_differ_and_are_640_by_480_jpegs():
    # (how fast they are drawn is a benchmark's business, bench/patrol_bench.py, not a timed test's)
    images = [demomedia.filler(n) for n in range(1000, 1020)]
    assert len(set(images)) == len(images)
    assert {_shape(image) for image in images} == {("image/jpeg", 640, 480)}


def test_variants(running):
    assert _shape(running.store.read("astronaut")) == ("image/jpeg", 307, 307)
    assert _shape(running.store.read("coffee_cropped")) == ("image/jpeg", 510, 360)
    assert inspect(running.store.read("reference_clip")).kind == "video"


def _shape(image: bytes) -> tuple[str, int | None, int | None]:
    info = inspect(image)
    return info.mime, info.width, info.height
