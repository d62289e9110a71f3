"""WARC and WACZ of a hand-made capture: the real tools accept them, replay gives
back the exact bytes, and any changed byte is reported."""

import builtins
import gzip
import hashlib
import json
import random
import subprocess
import sys
import tempfile
import zipfile
import zlib
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

import pytest

from kesu.capture.record import Capture, Exchange, MediaItem
from kesu.evidence.wacz import build_wacz, check_wacz
from kesu.evidence.warc import check_warc, header, read_warc, target_uri, truncation, write_warc
from kesu.lib.archives import ArchiveRefused

BIN = Path(sys.executable).parent
START = datetime(2025, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)
PAGE = "https://example.org/gallery"
HTML = b"<!doctype html><title>Gallery</title><img src=/a.jpg><video src=/v.mp4></video>\r\n\r\nWARC/1.1\r\n"
IMAGE = b"\xff\xd8\xff\xe0JFIF\r\n\r\n" + random.Random(7).randbytes(80_000)  # over cdxj_indexer's 64 KB spool
VIDEO_PART = random.Random(8).randbytes(5_000)
BLOB = b"\x00\x01blob bytes\r\n"
CANVAS = b"\x89PNG\r\n\x1a\ncanvas pixels"
CANVAS_URL = "data:image/png;base64," + "QUFB" * 1000  # long enough to get a short urn: name
SOFTWARE = "Kesu 0.1.0 (test)"


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def make_capture() -> Capture:
    exchanges = [
        Exchange(
            id="r1.0",
            url="http://example.org/gallery",
            status=302,
            status_text="Found",
            response_headers=[("Location", PAGE), ("Content-Length", "0")],
            complete=True,
            resource_type="Document",
            started_at=at(0),
            remote_ip="192.0.2.10",
        ),
        Exchange(
            id="r1.1",
            url=PAGE,
            request_headers=[(":authority", "example.org"), ("User-Agent", "Kesu-Test"), ("Accept", "*/*")],
            status=200,
            response_headers=[
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Encoding", "gzip"),
                ("Content-Length", "61"),
                ("Set-Cookie", "a=1"),
                ("Set-Cookie", "b=2"),
            ],
            mime_type="text/html",
            body=HTML,
            complete=True,
            resource_type="Document",
            started_at=at(0.5),
            remote_ip="192.0.2.10",
        ),
        Exchange(
            id="r2",
            url="https://example.org/a.jpg",
            status=200,
            response_headers=[("Content-Type", "image/jpeg"), ("Transfer-Encoding", "chunked")],
            mime_type="image/jpeg",
            body=IMAGE,
            complete=True,
            resource_type="Image",
            started_at=at(1),
        ),
        Exchange(
            id="r3",
            url="https://tracker.example.net/pixel",
            error="net::ERR_CONNECTION_REFUSED",
            resource_type="Image",
            started_at=at(1.5),
        ),
        Exchange(
            id="r4",
            url="https://example.org/v.mp4",
            status=200,
            response_headers=[("Content-Type", "video/mp4"), ("Content-Length", "104857601")],
            mime_type="video/mp4",
            body=VIDEO_PART,
            complete=False,
            incomplete_reason="body larger than the 100 MB limit",
            resource_type="Media",
            started_at=at(2),
        ),
        Exchange(
            id="r5",
            url="https://example.org/api/like",
            method="POST",
            request_headers=[("Content-Type", "application/json")],
            request_body=b'{"photo": 3}',
            status=200,
            response_headers=[("Content-Type", "application/json")],
            body=b'{"ok": true}',
            complete=True,
            resource_type="Fetch",
            started_at=at(2.5),
        ),
        Exchange(
            id="p1",
            url="blob:https://example.org/5d1c0b7e",
            route="page",
            mime_type="image/webp",
            body=BLOB,
            complete=True,
            started_at=at(3),
        ),
        Exchange(
            id="p2", url=CANVAS_URL, route="page", mime_type="image/png", body=CANVAS, complete=True, started_at=at(3)
        ),
    ]
    media = [
        MediaItem(
            kind="image",
            url="https://example.org/a.jpg",
            source="img",
            exchange_ids=["r2"],
            mime_type="image/jpeg",
            selector="main > img:nth-of-type(1)",
            box=(10.0, 20.0, 640.0, 480.0),
            body=IMAGE,
            complete=True,
        ),
        MediaItem(
            kind="image",
            url=CANVAS_URL,
            source="canvas",
            exchange_ids=["p2"],
            mime_type="image/png",
            selector="canvas#c",
            body=CANVAS,
            complete=True,
        ),
    ]
    return Capture(
        url="http://example.org/gallery",
        started_at=START,
        finished_at=at(10),
        final_url=PAGE,
        title="Gallery",
        exchanges=exchanges,
        media=media,
        screenshot=b"\x89PNG\r\n\x1a\nfull page",
        mhtml=b"MIME-Version: 1.0\r\nContent-Type: multipart/related\r\n\r\n--b--\r\n",
        environment={"browser": "Chromium 131", "user_agent": "Kesu-Test", "proxy": "http://user:secret@10.0.0.2:3128"},
    )


@pytest.fixture(scope="module")
def warc() -> bytes:
    return write_warc(make_capture(), software=SOFTWARE, operator="Test desk")


@pytest.fixture(scope="module")
def records(warc) -> list[dict]:
    return read_warc(warc)


@pytest.fixture(scope="module")
def wacz(warc) -> bytes:
    return build_wacz("capture.warc.gz", warc, url=PAGE, title="Gallery", ts=at(0.5), software=SOFTWARE)


def find(records, rec_type, uri) -> dict:
    return next(r for r in records if r["type"] == rec_type and r["uri"] == uri)


def flipped(data: bytes, position: int) -> bytes:
    changed = bytearray(data)
    changed[position] ^= 0xFF
    return bytes(changed)


def member_offsets(warc: bytes) -> list[int]:
    return [r["offset"] for r in read_warc(warc)]


# -- the WARC


def test_warcio_check_accepts_it(warc, tmp_path):
    path = tmp_path / "capture.warc.gz"
    path.write_bytes(warc)
    result = subprocess.run([BIN / "warcio", "check", "-v", path], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "digest pass" in result.stdout and "fail" not in result.stdout
    assert check_warc(warc) == []


def test_one_gzip_member_per_record_warcinfo_first(warc, records):
    assert len(member_offsets(warc)) == len(records)
    assert records[0]["type"] == "warcinfo"
    info = records[0]["payload"].decode()
    assert "software: Kesu 0.1.0 (test)" in info and "format: WARC File Format 1.1" in info
    assert "operator: Test desk" in info and "http-header-user-agent: Kesu-Test" in info
    assert "secret" not in info  # proxy credentials stay out
    assert all(header(r["warc_headers"], "WARC-Warcinfo-ID") == records[0]["id"] for r in records[1:])


def test_replay_gives_back_every_body(records):
    for exchange in make_capture().exchanges:
        if exchange.body is None:
            continue
        kind = "resource" if exchange.is_resource else "response"
        record = find(records, kind, target_uri(exchange.url))
        assert hashlib.sha256(record["payload"]).hexdigest() == exchange.sha256
        assert header(record["warc_headers"], "WARC-Payload-Digest") == f"sha256:{exchange.sha256}"
        assert header(record["warc_headers"], "WARC-Kesu-Exchange-ID") == exchange.id


def test_response_headers_describe_the_decoded_body(records):
    page = find(records, "response", PAGE)
    assert page["status"] == 200
    assert header(page["headers"], "X-Archive-Orig-Content-Encoding") == "gzip"
    assert header(page["headers"], "X-Archive-Orig-Content-Length") == "61"
    assert header(page["headers"], "Content-Encoding") is None
    assert header(page["headers"], "Content-Length") == str(len(HTML))
    assert [v for k, v in page["headers"] if k == "Set-Cookie"] == ["a=1", "b=2"]
    assert header(page["warc_headers"], "WARC-Date") == "2025-03-04T05:06:07.623456Z"
    assert header(page["warc_headers"], "WARC-IP-Address") == "192.0.2.10"
    image = find(records, "response", "https://example.org/a.jpg")
    assert header(image["headers"], "X-Archive-Orig-Transfer-Encoding") == "chunked"
    assert header(image["headers"], "Transfer-Encoding") is None


def test_request_records_pair_with_their_responses(records):
    response = find(records, "response", PAGE)
    request = find(records, "request", PAGE)
    assert header(request["warc_headers"], "WARC-Concurrent-To") == response["id"]
    assert header(request["headers"], "Host") == "example.org"
    assert header(request["headers"], ":authority") is None
    assert header(request["headers"], "User-Agent") == "Kesu-Test"
    post = find(records, "request", "https://example.org/api/like")
    assert post["payload"] == b'{"photo": 3}'


def test_redirect_is_a_response(records):
    redirect = find(records, "response", "http://example.org/gallery")
    assert redirect["status"] == 302 and redirect["payload"] == b""
    assert header(redirect["headers"], "Location") == PAGE
    assert header(redirect["warc_headers"], "WARC-Truncated") is None


def test_incomplete_body_is_marked_truncated(records):
    video = find(records, "response", "https://example.org/v.mp4")
    assert video["payload"] == VIDEO_PART
    assert header(video["warc_headers"], "WARC-Truncated") == "length"
    assert header(video["warc_headers"], "WARC-Kesu-Incomplete") == "body larger than the 100 MB limit"
    assert header(video["headers"], "X-Archive-Orig-Content-Length") == "104857601"
    assert truncation("body not complete after 30 s") == "time"
    assert truncation("the page ended before the body arrived") == "disconnect"


def test_failed_request_has_request_and_error_metadata(records):
    url = "https://tracker.example.net/pixel"
    assert not [r for r in records if r["type"] == "response" and r["uri"] == url]
    request = find(records, "request", url)
    error = find(records, "metadata", url)
    assert header(error["warc_headers"], "WARC-Concurrent-To") == request["id"]
    assert b"error: net::ERR_CONNECTION_REFUSED" in error["payload"]


def test_page_resources_screenshot_and_mhtml(records):
    blob = find(records, "resource", "blob:https://example.org/5d1c0b7e")
    assert blob["payload"] == BLOB and header(blob["warc_headers"], "Content-Type") == "image/webp"
    canvas = find(records, "resource", target_uri(CANVAS_URL))
    assert target_uri(CANVAS_URL).startswith("urn:kesu:data:sha256:")
    assert canvas["payload"] == CANVAS and header(canvas["warc_headers"], "Content-Type") == "image/png"
    shot = find(records, "resource", "urn:kesu:screenshot:http://example.org/gallery")
    assert shot["payload"] == make_capture().screenshot
    assert header(shot["warc_headers"], "Content-Type") == "image/png"
    mhtml = find(records, "resource", "urn:kesu:mhtml:http://example.org/gallery")
    assert header(mhtml["warc_headers"], "Content-Type") == "multipart/related"


def test_media_metadata_says_where_each_item_appeared(records):
    image = find(records, "metadata", "https://example.org/a.jpg")
    about = json.loads(image["payload"])
    assert about["selector"] == "main > img:nth-of-type(1)" and about["source"] == "img"
    assert about["box"] == {"x": 10.0, "y": 20.0, "width": 640.0, "height": 480.0}
    assert about["sha256"] == hashlib.sha256(IMAGE).hexdigest()
    response = find(records, "response", "https://example.org/a.jpg")
    assert about["record_ids"] == [response["id"]]
    assert header(image["warc_headers"], "WARC-Refers-To") == response["id"]
    canvas = json.loads(find(records, "metadata", target_uri(CANVAS_URL))["payload"])
    assert canvas["source"] == "canvas" and canvas["box"] is None


def test_any_changed_byte_is_reported(warc):
    offsets = member_offsets(warc)
    ends = [*offsets[1:], len(warc)]
    positions = set(range(0, len(warc), 89))
    for start, end in zip(offsets, ends, strict=True):
        positions |= {start, start + 3, start + 4, start + 9}  # gzip magic, flags, time, OS
        positions |= {start + 40, (start + end) // 2}  # WARC headers, body (both compressed)
        positions |= set(range(end - 8, end))  # gzip trailer: CRC-32 and length
    for position in sorted(positions):
        changed = flipped(warc, position)
        if check_warc(changed):
            continue
        # Deflate can hold bits that do not change what they decode to (code lengths of symbols a
        # block never uses): then the WARC says exactly what it said, and only the bundle's SHA-256
        # of the file can notice. Anything that changes the content must be reported.
        assert gzip.decompress(changed) == gzip.decompress(warc), f"byte {position} changed unnoticed"


def test_damaged_warcs_are_reported_not_raised(warc):
    assert check_warc(b"")
    assert check_warc(b"not a warc at all")
    assert check_warc(warc[:-3])
    assert check_warc(warc + b"\x00")
    assert check_warc(warc[member_offsets(warc)[1] :])  # warcinfo missing
    assert check_warc(warc + warc[: member_offsets(warc)[1]])  # a second warcinfo with the same ID


def test_edited_and_regzipped_record_fails_its_digest(warc, records, tmp_path):
    page = find(records, "response", PAGE)
    start, end = page["offset"], page["offset"] + page["length"]
    plain = gzip.decompress(warc[start:end])
    plain = plain.replace(b"<title>Gallery</title>", b"<title>Gallerz</title>")
    assert plain != gzip.decompress(warc[start:end])
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    edited = warc[:start] + compressor.compress(plain) + compressor.flush() + warc[end:]
    problems = check_warc(edited)
    assert any("digest failed" in p for p in problems), problems
    path = tmp_path / "edited.warc.gz"
    path.write_bytes(edited)
    assert subprocess.run([BIN / "warcio", "check", path], capture_output=True).returncode == 1


# -- the WACZ


def test_wacz_validate_accepts_it(wacz, tmp_path):
    path = tmp_path / "capture.wacz"
    path.write_bytes(wacz)
    result = subprocess.run([BIN / "wacz", "validate", "-f", path], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is valid" in result.stdout
    assert check_wacz(wacz) == []


def test_wacz_layout(wacz, warc):
    archive = zipfile.ZipFile(BytesIO(wacz))
    assert archive.read("archive/capture.warc.gz") == warc
    assert archive.getinfo("archive/capture.warc.gz").compress_type == zipfile.ZIP_STORED
    package = json.loads(archive.read("datapackage.json"))
    assert package["wacz_version"] == "1.1.1" and package["profile"] == "data-package"
    assert package["mainPageURL"] == PAGE and package["mainPageDate"] == "2025-03-04T05:06:07Z"
    assert package["software"] == SOFTWARE
    listed = {r["path"]: r for r in package["resources"]}
    assert listed["archive/capture.warc.gz"]["hash"] == "sha256:" + hashlib.sha256(warc).hexdigest()
    assert listed["archive/capture.warc.gz"]["bytes"] == len(warc)
    digest = json.loads(archive.read("datapackage-digest.json"))
    assert digest["hash"] == "sha256:" + hashlib.sha256(archive.read("datapackage.json")).hexdigest()
    header_line, page = [json.loads(line) for line in archive.read("pages/pages.jsonl").splitlines()]
    assert header_line == {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}
    assert page["url"] == PAGE and page["ts"] == "2025-03-04T05:06:07Z" and page["title"] == "Gallery"


def test_wacz_index_points_at_records(wacz, warc, records):
    lines = zipfile.ZipFile(BytesIO(wacz)).read("indexes/index.cdx").decode().splitlines()
    assert lines == sorted(lines)
    entries = [json.loads(line.split(" ", 2)[2]) for line in lines]
    by_offset = {r["offset"]: r for r in records}
    for entry in entries:
        record = by_offset[int(entry["offset"])]
        assert record["uri"] == entry["url"] and record["length"] == int(entry["length"])
        assert record["type"] in ("response", "resource")
    assert {e["url"] for e in entries} >= {PAGE, "https://example.org/a.jpg", target_uri(CANVAS_URL)}
    post = next(e for e in entries if e["url"] == "https://example.org/api/like")
    assert post["method"] == "POST" and "photo=3" in post["requestBody"]


def noticed(package: bytes) -> bool:
    """check_wacz found a problem, or refused the package: a flipped byte in a size field of the central
    directory can declare a member of gigabytes, which is refused before anything is unpacked."""
    try:
        return bool(check_wacz(package))
    except ArchiveRefused:
        return True


def test_wacz_changed_byte_is_reported(wacz, tmp_path):
    archive = zipfile.ZipFile(BytesIO(wacz))
    info = archive.getinfo("archive/capture.warc.gz")
    warc_start = info.header_offset + 30 + len(info.filename)
    inside_warc = [warc_start, warc_start + info.compress_size // 2, warc_start + info.compress_size - 1]
    positions = set(range(0, len(wacz), 97)) | set(inside_warc)
    positions |= {archive.start_dir + n for n in (0, 5, 38, 42)} | {len(wacz) - n for n in (1, 6, 12, 22)}
    for position in sorted(positions):
        assert noticed(flipped(wacz, position)), f"byte {position} changed unnoticed"
    path = tmp_path / "flipped.wacz"
    for position in inside_warc:
        path.write_bytes(flipped(wacz, position))
        result = subprocess.run([BIN / "wacz", "validate", "-f", path], capture_output=True, text=True)
        assert result.returncode != 0 or "is invalid" in result.stdout


def test_damaged_wacz_is_reported_not_raised(wacz):
    assert check_wacz(b"")
    assert check_wacz(wacz[:-1])
    assert check_wacz(wacz[: len(wacz) // 2])


# -- nothing on disk


def test_nothing_touches_disk(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a temporary file was made")

    real_open = builtins.open

    def read_only_open(file, mode="r", *args, **kwargs):
        if any(flag in mode for flag in "wax+"):
            raise AssertionError(f"opened {file!r} for writing")
        return real_open(file, mode, *args, **kwargs)

    for name in ("TemporaryFile", "NamedTemporaryFile", "SpooledTemporaryFile", "mkstemp", "mkdtemp"):
        monkeypatch.setattr(tempfile, name, refuse)
    monkeypatch.setattr("cdxj_indexer.main.NamedTemporaryFile", refuse)
    monkeypatch.setattr(builtins, "open", read_only_open)
    warc = write_warc(make_capture(), software=SOFTWARE)
    assert check_warc(warc) == [] and read_warc(warc)
    wacz = build_wacz("capture.warc.gz", warc, url=PAGE, title="Gallery", ts=at(0.5), software=SOFTWARE)
    assert check_wacz(wacz) == []
