"""Found and reference videos play in the browser: HLS (MPEG-TS) hits are served as fragmented MP4, made once
and kept sealed, in ranges, counted only when something was shown, and they really play in Chromium."""

import subprocess
import threading
from functools import cache
from io import BytesIO
from pathlib import Path

import av
import pytest
from conftest import verified_client
from test_review import make_hit

from kesu.audit.models import AuditEntry
from kesu.lib.web import byte_range
from kesu.review import exposure, playback
from kesu.review.models import PlayableCopy
from kesu.vault import services as vault

CHROMIUM = "/usr/bin/chromium"


def _hls(tmp: Path, codec: list[str]) -> bytes:
    """A stream as patrol keeps it: ffmpeg's HLS segments of a test picture with a tone, joined in order."""
    tmp.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "6", *codec, "-g", "50",
         "-sc_threshold", "0", "-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod",
         "-hls_segment_filename", str(tmp / "seg%d.ts"), str(tmp / "index.m3u8")],
        check=True,
    )  # fmt: skip
    segments = sorted(tmp.glob("seg*.ts"), key=lambda p: int(p.stem[3:]))
    return b"".join(p.read_bytes() for p in segments)


@cache
def hls_h264() -> bytes:
    import tempfile

    return _hls(Path(tempfile.mkdtemp()) / "h264", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"])


@cache
def hls_mpeg2() -> bytes:
    """MPEG-2 video and MP2 audio: no browser plays either, so they are re-encoded."""
    import tempfile

    return _hls(Path(tempfile.mkdtemp()) / "mpeg2", ["-c:v", "mpeg2video", "-c:a", "mp2"])


def codecs_of(data: bytes) -> tuple[str, list[str], int]:
    with av.open(BytesIO(data)) as container:
        frames = sum(1 for _ in container.decode(video=0))
        return container.format.name, [s.codec_context.name for s in container.streams], frames


def boxes(data: bytes) -> list[bytes]:
    """The top-level MP4 boxes, in order."""
    found, at = [], 0
    while at + 8 <= len(data):
        size = int.from_bytes(data[at : at + 4], "big")
        found.append(data[at + 4 : at + 8])
        at += size if size >= 8 else len(data)
    return found


@pytest.fixture(autouse=True)
def english(request):
    if "clients" in request.fixturenames:
        for client in request.getfixturevalue("clients").values():
            client.cookies["django_language"] = "en"


def video_hit(case, data: bytes):
    hit = make_hit(case, 0.93, signal="vpdq", data=data, evidence={"segments": []})
    hit.media_type = "video/mp2t"
    hit.save(update_fields=["media_type"])
    return hit


# --- the conversion ---------------------------------------------------------------------------------------------


def test_an_hls_stream_is_remuxed_to_fragmented_mp4_without_re_encoding():
    out = playback.to_fragmented_mp4(hls_h264())
    top = boxes(out)
    assert top[:2] == [b"ftyp", b"moov"] and b"moof" in top and b"mdat" in top  # fragments from the start
    name, codecs, frames = codecs_of(out)
    assert "mp4" in name and codecs == ["h264", "aac"]
    assert frames == codecs_of(hls_h264())[2] == 150  # every frame of the 6 s at 25 fps, copied


def test_codecs_no_browser_plays_are_re_encoded_to_h264_and_aac():
    out = playback.to_fragmented_mp4(hls_mpeg2())
    name, codecs, frames = codecs_of(out)
    assert "mp4" in name and codecs == ["h264", "aac"] and frames >= 140


def test_a_file_that_is_no_video_is_refused_with_one_line():
    with pytest.raises(Exception) as refused:
        playback.to_fragmented_mp4(b"\x47" + bytes(4000))
    assert type(refused.value).__name__ == "UserError" and "\n" not in str(refused.value)


# --- ranges ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header, expected",
    [
        ("", None),
        ("bytes=0-", (0, 999)),
        ("bytes=0-99", (0, 99)),
        ("bytes=500-", (500, 999)),
        ("bytes = 900-5000", (900, 999)),  # clipped to the end
        ("bytes=-100", (900, 999)),  # the last 100 bytes
        ("bytes=1000-", ()),  # wholly past the end: 416
        ("bytes=-0", ()),
        ("bytes=5-1", None),  # malformed: the whole body
        ("bytes=0-1,5-9", None),  # several ranges: the whole body, as RFC 9110 allows
        ("items=0-5", None),
        ("bytes=a-b", None),
    ],
)
def test_byte_ranges_are_read_as_http_says(header, expected):
    assert byte_range(header, 1000) == expected


def test_a_video_is_served_in_ranges_made_once_kept_sealed_and_counted_once(clients, case, personas):
    hit = video_hit(case, hls_h264())
    client, user = clients["on_case"], personas["on_case"]
    url = f"/review/hits/{hit.pk}/media/"
    first = client.get(url, HTTP_RANGE="bytes=0-")
    assert first.status_code == 206 and first["Content-Type"] == "video/mp4" and first["Accept-Ranges"] == "bytes"
    whole = first.content
    assert first["Content-Range"] == f"bytes 0-{len(whole) - 1}/{len(whole)}" and boxes(whole)[0] == b"ftyp"
    assert first["Cache-Control"] == "no-store, private"
    later = client.get(url, HTTP_RANGE="bytes=1000-1999")
    assert later.status_code == 206 and later.content == whole[1000:2000]
    assert later["Content-Range"] == f"bytes 1000-1999/{len(whole)}"
    assert client.get(url, HTTP_RANGE=f"bytes={len(whole)}-").status_code == 416
    # One look: the range after the first is the same look, neither audited nor counted again.
    assert exposure.today(user).count == 1
    assert AuditEntry.objects.filter(action="media.view", case_id=case.pk).count() == 1
    # Made once, kept sealed with the case's key: the vault file holds no MP4 box in clear.
    [kept] = PlayableCopy.objects.filter(source=hit.blob)
    assert kept.copy.data_key_id == case.data_key_id and vault.read_blob(kept.copy) == whole
    sealed = (vault._blob_path(kept.copy)).read_bytes()
    assert b"ftyp" not in sealed and b"moof" not in sealed
    assert client.get(url).content == whole and PlayableCopy.objects.count() == 1  # the kept copy, no new one


def test_a_video_that_cannot_be_decoded_costs_no_look(clients, case, personas):
    hit = video_hit(case, b"\x47" + bytes(188 * 40))
    response = clients["on_case"].get(f"/review/hits/{hit.pk}/media/", HTTP_RANGE="bytes=0-")
    assert response.status_code == 422 and "could not be decoded" in response.content.decode()  # (in English)
    assert exposure.today(personas["on_case"]).count == 0
    assert not AuditEntry.objects.filter(action="media.view").exists() and not PlayableCopy.objects.exists()
    assert clients["outsider"].get(f"/review/hits/{hit.pk}/media/").status_code == 404


def test_a_reference_video_plays_too_and_its_copy_goes_when_it_is_shredded(
    clients, case, personas, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    from kesu.accounts.principals import SystemPrincipal
    from kesu.cases import references

    operator = SystemPrincipal("test")
    item = references.add_file(operator, case, "clip.mp4", playback.to_fragmented_mp4(hls_h264()))
    response = clients["on_case"].get(f"/cases/{case.pk}/references/{item.pk}/media/", HTTP_RANGE="bytes=0-99")
    assert response.status_code == 206 and response["Content-Type"] == "video/mp4" and len(response.content) == 100
    assert exposure.today(personas["on_case"]).count == 1
    path = vault._blob_path(PlayableCopy.objects.get(source=item.blob).copy)
    assert path.exists()
    with django_capture_on_commit_callbacks(execute=True):
        references.delete(operator, case, item)
        assert references.shred(operator, [item.pk], now=timezone.now() + timezone.timedelta(days=1)) == 1
    assert not PlayableCopy.objects.exists() and not path.exists()


# --- in the browser ------------------------------------------------------------------------------------------------


@pytest.fixture
def desk_url(db):
    """The desk served over HTTP on loopback for a real browser, inside the test's transaction: the server's
    threads share the test's connection (as Django's LiveServerTestCase does for SQLite in memory), which no
    request closes (as Django's test client keeps it open). A transactional live server would have to flush the
    append-only audit log, which refuses."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.core import signals
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.db import close_old_connections, connections

    class Shared(ThreadedWSGIServer):
        def _close_connections(self):
            pass

    connection = connections["default"]  # the wrapper itself, not the per-thread proxy
    connection.inc_thread_sharing()
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    server = Shared(("127.0.0.1", 0), WSGIRequestHandler, connections_override={"default": connection})
    server.set_app(StaticFilesHandler(WSGIHandler()))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
        for signal in (signals.request_started, signals.request_finished):
            signal.connect(close_old_connections)
        connection.dec_thread_sharing()


def test_a_revealed_hls_hit_plays_in_chromium(desk_url, case, personas):
    from playwright.sync_api import sync_playwright

    hit = video_hit(case, hls_h264())
    user = personas["on_case"]
    session = verified_client(user).cookies["sessionid"].value
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            context = browser.new_context()
            context.add_cookies([{"name": "sessionid", "value": session, "url": desk_url}])
            context.add_cookies([{"name": "django_language", "value": "en", "url": desk_url}])
            page = context.new_page()
            breaches = []
            page.on("console", lambda m: breaches.append(m.text) if "Content Security Policy" in m.text else None)
            page.goto(f"{desk_url}/review/hits/{hit.pk}/")
            page.keyboard.press("r")  # reveal, as staff do
            video = page.locator("video.revealed")
            video.wait_for()
            # Functions with an argument: a string to evaluate is refused by the desk's CSP (no unsafe-eval).
            page.wait_for_function("v => v.videoWidth === 320", arg=video.element_handle(), timeout=20_000)
            video.click()  # she presses play
            page.evaluate("document.querySelector('video.revealed').play()")
            page.wait_for_function(
                "v => v.readyState >= 3 && v.currentTime > 1", arg=video.element_handle(), timeout=20_000
            )
            assert page.evaluate("document.getElementById('exposure').getAttribute('data-count')") == "1"
            # Decided with c, the desk moves on (to the queue: it was the last); u there takes it back.
            page.keyboard.press("c")
            page.wait_for_url(f"{desk_url}/review/")
            page.keyboard.press("u")
            page.wait_for_url(f"{desk_url}/review/hits/{hit.pk}/")
            assert f"Hit #{hit.pk} waits for review again." in page.locator("#review-status").inner_text()
        finally:
            browser.close()
    assert breaches == []
    assert exposure.today(user).count == 1  # the player's ranges made one look
