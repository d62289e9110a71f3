"""WACZ 1.1.1 package around one WARC, built and checked in memory.

The layout and datapackage.json follow what py-wacz's `wacz create` writes,
so `wacz validate` and ReplayWeb.page accept it. Nothing touches disk: the
WARC holds intimate images of the person we act for.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import uuid
import zipfile
from collections import Counter
from datetime import UTC, datetime
from io import BytesIO, StringIO
from urllib.parse import urlsplit, urlunsplit

from cdxj_indexer.bufferiter import concur_req_resp, digest_block, join_req_resp
from cdxj_indexer.main import CDXJIndexer
from warcio.archiveiterator import ArchiveIterator
from warcio.timeutils import iso_date_to_timestamp

from ..lib import archives
from . import bundle
from .warc import check_warc

WACZ_VERSION = "1.1.1"
DATAPACKAGE = "datapackage.json"
DIGEST = "datapackage-digest.json"
INDEX = "indexes/index.cdx"
PAGES = "pages/pages.jsonl"
PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}
# What replay looks up by URL; metadata and request records are not replay material.
INDEXED_TYPES = ("response", "revisit", "resource")
WARC_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\.warc\.gz")


def build_wacz(warc_name: str, warc: bytes, *, url: str, title: str, ts: datetime, software: str) -> bytes:
    """The WACZ for one gzipped WARC; url/ts/title name the captured page.

    ts should be the WARC-Date of the page's response (its started_at), so
    replay opens that capture.
    """
    if not WARC_NAME.fullmatch(warc_name):
        raise ValueError("the WARC name must be a plain file name ending in .warc.gz")
    created = datetime.now(UTC)
    url = _with_path(url)
    entries = {
        INDEX: cdxj_index(warc_name, warc).encode("utf-8"),
        f"archive/{warc_name}": warc,
        PAGES: _pages(url, title, ts),
    }
    package = _datapackage(entries, url=url, title=title, ts=ts, created=created, software=software)
    digest = {"path": DATAPACKAGE, "hash": _sha256(package)}
    entries[DATAPACKAGE] = package
    entries[DIGEST] = json.dumps(digest, indent=2).encode("utf-8")
    out = BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for path, data in entries.items():
            info = zipfile.ZipInfo(path, created.timetuple()[:6])
            # WARCs are stored as they are: already gzipped, and replay reads them by offset.
            info.compress_type = zipfile.ZIP_STORED if path.startswith("archive/") else zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return out.getvalue()


def cdxj_index(warc_name: str, warc: bytes) -> str:
    """Sorted CDXJ lines for the WARC, with the fields `wacz create` asks for."""
    output = StringIO()
    indexer = _MemoryIndexer(
        output,
        [BytesIO(warc)],
        post_append=True,  # POST bodies join the lookup key, so replay can tell requests apart
        fields="referrer,req.http:cookie",
        digest_records=True,
        filename=warc_name,
    )
    indexer.process_all()
    return "".join(sorted(set(output.getvalue().splitlines(keepends=True))))


class _MemoryIndexer(CDXJIndexer):
    """CDXJIndexer without temporary files.

    Its own record buffering (cdxj_indexer.bufferiter) spools bodies over 64 KB
    to a temporary file on disk; this holds them in memory instead. The record
    choice is fixed here rather than taken from CDXJIndexer.DEFAULT_RECORDS,
    which importing wacz.waczindexer changes.
    """

    def filter_record(self, record) -> bool:
        return record.rec_type in INDEXED_TYPES

    def process_one(self, input_, output, filename) -> None:
        self.curr_filename = self.force_filename
        iterator = self._create_record_iter(input_)
        for record in _buffered(iterator, input_, self.get_url_key):
            if self.filter_record(record):
                self.process_index_entry(iterator, record, filename, output)


def _buffered(iterator, raw: BytesIO, url_key):
    """cdxj_indexer's buffering_record_iter, with bodies in BytesIO."""
    previous = None
    for record in iterator:
        record.buffered_stream = BytesIO(record.content_stream().read())
        record.file_offset = iterator.get_record_offset()
        record.file_length = iterator.get_record_length()
        here = raw.tell()
        raw.seek(record.file_offset)
        record.record_digest, _ = digest_block(raw, record.file_length)
        raw.seek(here)
        request, response = concur_req_resp(previous, record)
        if request and response:
            join_req_resp(request, response, True, url_key)
            yield previous
            yield record
            previous = None
            continue
        if previous:
            yield previous
        previous = record
    if previous:
        yield previous


def _pages(url: str, title: str, ts: datetime) -> bytes:
    page = {"id": uuid.uuid4().hex, "url": url, "ts": _iso(ts), "title": title or url}
    return "".join(json.dumps(line) + "\n" for line in (PAGES_HEADER, page)).encode("utf-8")


def _datapackage(entries: dict[str, bytes], *, url, title, ts, created, software) -> bytes:
    resources = [
        {"name": path.rsplit("/", 1)[-1].lower(), "path": path, "hash": _sha256(data), "bytes": len(data)}
        for path, data in entries.items()
    ]
    package = {
        "profile": "data-package",
        "resources": resources,
        "title": title or url,
        "mainPageURL": url,
        "mainPageDate": _iso(ts),
        "created": _iso(created),
        "wacz_version": WACZ_VERSION,
        "software": software,
    }
    return json.dumps(package, indent=2).encode("utf-8")


def _with_path(url: str) -> str:
    """As `wacz create` does: "https://host" becomes "https://host/", as browsers request it."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/")) if parts.scheme in ("http", "https") and not parts.path else url


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# -- checking


def check_wacz(data: bytes, limits: archives.ZipLimits | None = None) -> list[str]:
    """Problems with a WACZ, one line each; empty when it is intact.

    Mirrors `wacz validate` (required files, datapackage hashes and sizes,
    digest file) and goes further: ZIP CRCs, every ZIP entry listed, the WARC
    passes check_warc and every index line points at the record it names.
    Like check_warc, blind to unused bits after a deflate stream. Never
    raises, but for ArchiveRefused: a package over ``limits`` (by default
    bundle.limits()) is refused before anything in it is unpacked.
    """
    try:
        return _check_wacz(data, limits or bundle.limits())
    except archives.ArchiveRefused:
        raise
    except Exception as error:  # a damaged package is a finding, not a crash
        return [f"WACZ could not be read: {type(error).__name__}: {error}".replace("\n", " ")[:300]]


def _check_wacz(data: bytes, limits: archives.ZipLimits) -> list[str]:
    try:
        archive = archives.open_zip(data, limits)
    except zipfile.BadZipFile as error:
        return [f"not a ZIP file: {error}"]
    entries, problems = _read_entries(archive, limits)
    problems += _check_zip_layout(data, archive)
    if problems:
        return problems
    problems += _check_required(entries)
    if problems:
        return problems
    problems += _check_datapackage(entries)
    problems += _check_pages(entries[PAGES])
    for path, warc in entries.items():
        if path.startswith("archive/"):
            problems += [f"{path}: {problem}" for problem in check_warc(warc, limits)]
    if not problems:
        problems += _check_index(entries)
    return problems


def _read_entries(archive: zipfile.ZipFile, limits: archives.ZipLimits) -> tuple[dict[str, bytes], list[str]]:
    entries, problems = {}, []
    for info in archive.infolist():
        if info.filename in entries:
            problems.append(f"{info.filename}: appears twice in the ZIP")
        try:
            entries[info.filename] = archives.read_member(archive, info, limits.member)  # zipfile checks CRC-32s
        except archives.ArchiveRefused:
            raise
        except Exception as error:
            problems.append(f"{info.filename}: unreadable ({type(error).__name__}: {error})")
    return entries, problems


def _check_zip_layout(data: bytes, archive: zipfile.ZipFile) -> list[str]:
    """What zipfile does not check. It trusts the central directory and stops
    reading an entry once it has its bytes, and ZIP has no checksum over its
    headers; so a changed byte there would go unseen. Kesu's packages are
    written in one go by zipfile: entries back to back, each header agreeing
    with the directory, the same attributes for every entry, no comment."""
    problems, expected = [], 0
    for info in sorted(archive.infolist(), key=lambda i: i.header_offset):
        problem, expected = _check_entry_layout(data, info, expected)
        if problem:
            return problems + [f"{info.filename}: {problem}"]
    if archive.start_dir != expected:
        problems.append("the central directory does not follow the last entry")
    problems += _check_directory(data, archive)
    problems += _check_end_record(data, archive)
    attributes = {
        i.filename: (i.create_version, i.create_system, i.volume, i.internal_attr, i.external_attr)
        for i in archive.infolist()
    }
    usual = Counter(attributes.values()).most_common(1)[0][0] if attributes else None
    problems += [
        f"{name}: directory attributes differ from the other entries"
        for name, value in attributes.items()
        if value != usual
    ]
    return problems


def _check_entry_layout(data: bytes, info: zipfile.ZipInfo, expected: int) -> tuple[str, int]:
    """One entry: where the previous ended, local header as in the directory, deflate stream ending exactly."""
    local = data[info.header_offset : info.header_offset + 30]
    if info.header_offset != expected or len(local) < 30 or local[:4] != b"PK\x03\x04":
        return "not where the previous entry ends", expected
    if local[4:26] != _local_fields(info):
        return "local header differs from the central directory", expected
    start = info.header_offset + 30 + int.from_bytes(local[26:28], "little") + int.from_bytes(local[28:30], "little")
    end = start + info.compress_size
    if info.compress_type == zipfile.ZIP_DEFLATED:
        # Inflated without keeping the output, and only as far as the directory's size: zipfile stops
        # there too, so a stream that goes on (to gigabytes) is a header that lies.
        size, exact = archives.inflated_size(data[start:end], info.file_size)
        if size > info.file_size:
            return f"deflate stream unpacks to more than the {info.file_size:,} bytes the directory says", end
        if not exact:
            return "deflate stream does not end where the entry ends", end
    return "", end


def _check_directory(data: bytes, archive: zipfile.ZipFile) -> list[str]:
    """Walk the central directory as stored: zipfile reads it from a buffer cut
    to its declared size, so a wrong length in the last record goes unnoticed."""
    position = archive.start_dir
    for info in archive.infolist():
        head = data[position : position + 46]
        name = info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437")
        lengths = struct.unpack("<3H", head[28:34]) if len(head) == 46 else None
        if head[:4] != b"PK\x01\x02" or lengths != (len(name), len(info.extra), len(info.comment)):
            return [f"{info.filename}: central directory record is malformed"]
        position += 46 + sum(lengths)
    return [] if position == len(data) - 22 else ["the central directory does not end at the end record"]


def _check_end_record(data: bytes, archive: zipfile.ZipFile) -> list[str]:
    """The end-of-directory record: last 22 bytes, one disk, counts and sizes as found, no comment."""
    count, directory = len(archive.infolist()), len(data) - 22 - archive.start_dir
    wanted = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, directory, archive.start_dir, 0)
    return [] if data[-22:] == wanted else ["the end-of-directory record is not as written"]


def _local_fields(info: zipfile.ZipInfo) -> bytes:
    """Version, flags, method, time, date, CRC and sizes as the local header must hold them."""
    year, month, day, hour, minute, second = info.date_time
    dostime, dosdate = hour << 11 | minute << 5 | second // 2, (year - 1980) << 9 | month << 5 | day
    fields = (info.flag_bits, info.compress_type, dostime, dosdate)
    sizes = (info.CRC, min(info.compress_size, 0xFFFFFFFF), min(info.file_size, 0xFFFFFFFF))
    return (
        bytes((info.extract_version, info.reserved))
        + b"".join(value.to_bytes(2, "little") for value in fields)
        + b"".join(value.to_bytes(4, "little") for value in sizes)
    )


def _check_required(entries: dict[str, bytes]) -> list[str]:
    problems = [f"missing {path}" for path in (DATAPACKAGE, DIGEST, PAGES, INDEX) if path not in entries]
    if not any(path.startswith("archive/") and path.endswith(".warc.gz") for path in entries):
        problems.append("no archive/*.warc.gz")
    return problems


def _check_datapackage(entries: dict[str, bytes]) -> list[str]:
    package = json.loads(entries[DATAPACKAGE])
    problems = []
    if package.get("profile") != "data-package":
        problems.append("datapackage.json: profile is not data-package")
    if package.get("wacz_version") != WACZ_VERSION:
        problems.append(f"datapackage.json: wacz_version is not {WACZ_VERSION}")
    listed = set()
    for resource in package.get("resources", []):
        path = resource.get("path", "")
        listed.add(path)
        if path not in entries:
            problems.append(f"datapackage.json lists {path!r}, which is not in the ZIP")
        elif resource.get("hash") != _sha256(entries[path]) or resource.get("bytes") != len(entries[path]):
            problems.append(f"{path}: hash or size differs from datapackage.json")
    problems += [f"{path}: not listed in datapackage.json" for path in entries.keys() - listed - {DATAPACKAGE, DIGEST}]
    digest = json.loads(entries[DIGEST])
    if digest.get("path") != DATAPACKAGE or digest.get("hash") != _sha256(entries[DATAPACKAGE]):
        problems.append("datapackage-digest.json does not match datapackage.json")
    return problems


def _check_pages(pages: bytes) -> list[str]:
    lines = [json.loads(line) for line in pages.decode("utf-8").splitlines() if line.strip()]
    if not lines or lines[0].get("format") != "json-pages-1.0" or "id" not in lines[0]:
        return ["pages.jsonl: no json-pages-1.0 header"]
    if len(lines) < 2 or not all(page.get("url") and page.get("ts") for page in lines[1:]):
        return ["pages.jsonl: no page, or a page without url and ts"]
    return []


def _check_index(entries: dict[str, bytes]) -> list[str]:
    """Each index line must lead to the record it describes, and each replayable record have a line."""
    warcs = {path.rsplit("/", 1)[-1]: warc for path, warc in entries.items() if path.startswith("archive/")}
    problems, pointed = [], set()
    for number, line in enumerate(entries[INDEX].decode("utf-8").splitlines(), 1):
        _key, timestamp, fields = line.split(" ", 2)
        entry = json.loads(fields)
        warc = warcs.get(entry.get("filename"))
        if warc is None:
            problems.append(f"index line {number}: names no WARC in the package")
            continue
        offset, length = int(entry["offset"]), int(entry["length"])
        pointed.add((entry["filename"], offset))
        problem = _check_pointer(warc[offset : offset + length], entry, timestamp)
        if problem:
            problems.append(f"index line {number}: {problem}")
    for name, warc in warcs.items():
        for offset in _indexed_offsets(warc):
            if (name, offset) not in pointed:
                problems.append(f"{name}: record at offset {offset} is not in the index")
    return problems


def _check_pointer(member: bytes, entry: dict, timestamp: str) -> str:
    if entry.get("recordDigest") and entry["recordDigest"] != _sha256(member):
        return "recordDigest does not match the bytes it points at"
    record = next(iter(ArchiveIterator(BytesIO(member))), None)
    if record is None:
        return "points at no record"
    uri, date = record.rec_headers.get_header("WARC-Target-URI"), record.rec_headers.get_header("WARC-Date")
    if uri != entry.get("url") or iso_date_to_timestamp(date) != timestamp:
        return "points at a record with another URL or date"
    return ""


def _indexed_offsets(warc: bytes) -> list[int]:
    iterator = ArchiveIterator(BytesIO(warc))
    return [iterator.get_record_offset() for record in iterator if record.rec_type in INDEXED_TYPES]
