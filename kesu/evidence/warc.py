"""WARC/1.1 for one capture: write, read back and check, all in memory.

Captured pages may show intimate images of the person we act for, so nothing
here takes a path or a temporary file: bytes in, bytes out.

Digests are "sha256:" with the hex value, as in WACZ. warcio writes sha1 in
base32 by default, but its checker (warcio check) accepts any hashlib
algorithm and recognises hex by its length, so these verify there too.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import zlib
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from http import HTTPStatus
from io import BytesIO
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator, WARCIterator
from warcio.statusandheaders import StatusAndHeaders, StatusAndHeadersParser
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from kesu.capture.record import Capture, Exchange, MediaItem
from kesu.lib import archives

from . import bundle

WARC_VERSION = "WARC/1.1"
WARC_FORMAT = "WARC File Format 1.1"
CONFORMS_TO = "http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"
# Headers describing a body's wire form; the WARC holds the body decoded.
WIRE_HEADERS = ("content-encoding", "transfer-encoding", "content-length")
ORIG_PREFIX = "X-Archive-Orig-"
# Data URLs can run to megabytes; longer ones get a short name (see target_uri).
MAX_TARGET_URI = 2048
RECORD_TYPES = ("warcinfo", "response", "resource", "request", "metadata", "revisit", "conversion", "continuation")
NEEDS_TARGET_URI = ("response", "resource", "request", "revisit", "conversion", "continuation")
HAS_PAYLOAD_DIGEST = ("response", "resource", "request", "metadata")
REFERENCE_HEADERS = ("WARC-Concurrent-To", "WARC-Refers-To", "WARC-Warcinfo-ID")
GZIP_HEADER_SIZE = 10
CHUNK = 1024 * 1024


# -- writing


def write_warc(capture: Capture, *, software: str, operator: str = "") -> bytes:
    """The capture as a gzipped WARC/1.1, one gzip member per record, warcinfo first."""
    warc = _Writer()
    warc.info_id = warc.add("warcinfo", "", datetime.now(UTC), _warcinfo(capture, software, operator))
    records = {exchange.id: _write_exchange(warc, exchange, capture) for exchange in capture.exchanges}
    shot_date = capture.finished_at or capture.started_at
    if capture.screenshot is not None:
        warc.add("resource", f"urn:kesu:screenshot:{capture.url}", shot_date, capture.screenshot, "image/png")
    if capture.mhtml is not None:
        warc.add("resource", f"urn:kesu:mhtml:{capture.url}", shot_date, capture.mhtml, "multipart/related")
    for item in capture.media:
        _write_media(warc, item, records, shot_date)
    return warc.out.getvalue()


def target_uri(url: str) -> str:
    """The WARC-Target-URI for a URL: itself, unless it is a long data: URL.

    A data: URL carries its own bytes, so replay never looks it up; the
    record keeps the decoded bytes and this short, stable name.
    """
    if url.startswith("data:") and len(url) > MAX_TARGET_URI:
        return f"urn:kesu:data:sha256:{hashlib.sha256(url.encode('utf-8')).hexdigest()}"
    return url


def truncation(reason: str) -> str:
    """WARC-Truncated value for an incomplete body, from Kesu's reason text."""
    text = reason.lower()
    if "limit" in text or "larger" in text:
        return "length"
    if "time" in text or re.search(r"after [\d.]+ ?s\b", text):
        return "time"
    return "disconnect"


class _Writer:
    def __init__(self) -> None:
        self.out = BytesIO()
        self.writer = WARCWriter(self.out, gzip=True, warc_version=WARC_VERSION)
        self.info_id = ""

    def add(
        self,
        rec_type: str,
        uri: str,
        date: datetime,
        body: bytes,
        content_type: str = "",
        *,
        http: StatusAndHeaders | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> str:
        """Write one record with sha256 digests; returns its WARC-Record-ID."""
        record_id = StatusAndHeadersParser.make_warc_id()
        fields = {"WARC-Type": rec_type, "WARC-Record-ID": record_id, "WARC-Date": _warc_date(date)}
        if uri:
            fields["WARC-Target-URI"] = uri
        if self.info_id:
            fields["WARC-Warcinfo-ID"] = self.info_id
        fields.update((name, _one_line(value)) for name, value in headers if value)
        if http is not None:
            http.compute_headers_buffer()  # the exact bytes warcio writes before the payload
        head = http.headers_buff if http is not None else b""
        if rec_type in HAS_PAYLOAD_DIGEST:
            fields["WARC-Payload-Digest"] = _digest(body)
        fields["WARC-Block-Digest"] = _digest(head, body)
        record = self.writer.create_warc_record(
            uri,
            rec_type,
            payload=BytesIO(body),
            length=len(body),
            warc_content_type=content_type,
            warc_headers_dict=fields,
            http_headers=http,
        )
        self.writer.write_record(record)
        return record_id


def _write_exchange(warc: _Writer, exchange: Exchange, capture: Capture) -> str:
    """Records for one exchange; returns the ID of the record holding its body."""
    date = exchange.started_at or capture.started_at
    body = exchange.body or b""
    ids = [("WARC-Kesu-Exchange-ID", exchange.id)]
    if exchange.is_resource or not exchange.url.startswith(("http:", "https:")):
        # No HTTP message to rebuild (blob:, data:, canvas): the bytes as a resource.
        content_type = exchange.mime_type or "application/octet-stream"
        return warc.add(
            "resource", target_uri(exchange.url), date, body, content_type, headers=ids + _truncated(exchange)
        )
    address = [("WARC-IP-Address", exchange.remote_ip)]
    request = _request_head(exchange)
    request_body = exchange.request_body or b""
    if exchange.status is None:
        request_id = warc.add("request", exchange.url, date, request_body, http=request, headers=ids + address)
        error = _warc_fields({"error": exchange.error or "failed", "resource-type": exchange.resource_type})
        linked = [("WARC-Concurrent-To", request_id), *ids]
        warc.add("metadata", exchange.url, date, error, "application/warc-fields", headers=linked)
        return request_id
    response = _response_head(exchange)
    response_id = warc.add(
        "response", exchange.url, date, body, http=response, headers=ids + address + _truncated(exchange)
    )
    linked = [("WARC-Concurrent-To", response_id), *ids, *address]
    warc.add("request", exchange.url, date, request_body, http=request, headers=linked)
    return response_id


def _write_media(warc: _Writer, item: MediaItem, records: dict[str, str], date: datetime) -> None:
    """Where a medium appeared on the page, pointing at the records that hold its bytes."""
    record_ids = [records[eid] for eid in item.exchange_ids if eid in records]
    box = dict(zip(("x", "y", "width", "height"), item.box, strict=True)) if item.box else None
    about = {
        "kind": item.kind,
        "url": target_uri(item.url),
        "source": item.source,
        "selector": item.selector,
        "frame_url": item.frame_url,
        "box": box,
        "mime_type": item.mime_type,
        "size": len(item.body) if item.body is not None else None,
        "sha256": item.sha256 or None,
        "complete": item.complete,
        "incomplete_reason": item.incomplete_reason,
        "exchange_ids": item.exchange_ids,
        "record_ids": record_ids,
    }
    body = json.dumps(about, ensure_ascii=False, indent=1).encode("utf-8")
    refers = [("WARC-Refers-To", record_ids[0])] if record_ids else []
    warc.add("metadata", target_uri(item.url), date, body, "application/json", headers=refers)


def _request_head(exchange: Exchange) -> StatusAndHeaders:
    parts = urlsplit(exchange.url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    # HTTP/2 pseudo-headers have no place in an HTTP/1.1 message; :authority becomes Host.
    headers = [(name, value) for name, value in _clean(exchange.request_headers) if not name.startswith(":")]
    if not any(name.lower() == "host" for name, _ in headers):
        headers.insert(0, ("Host", parts.netloc.rpartition("@")[2]))
    return StatusAndHeaders(f"{exchange.method} {path} HTTP/1.1", headers, is_http_request=True)


def _response_head(exchange: Exchange) -> StatusAndHeaders:
    headers = []
    for name, value in _clean(exchange.response_headers):
        if name.startswith(":"):
            continue
        # The body is stored decoded and whole: the wire headers no longer describe it.
        headers.append((ORIG_PREFIX + name, value) if name.lower() in WIRE_HEADERS else (name, value))
    headers.append(("Content-Length", str(len(exchange.body or b""))))
    status_line = f"{exchange.status} {exchange.status_text or _reason(exchange.status)}".rstrip()
    return StatusAndHeaders(status_line, headers, protocol="HTTP/1.1")


def _truncated(exchange: Exchange) -> list[tuple[str, str]]:
    if exchange.complete:
        return []
    reason = exchange.incomplete_reason or "incomplete"
    return [("WARC-Truncated", truncation(reason)), ("WARC-Kesu-Incomplete", reason)]


def _warcinfo(capture: Capture, software: str, operator: str) -> bytes:
    env = capture.environment
    fields = {
        "software": software,
        "format": WARC_FORMAT,
        "conformsTo": CONFORMS_TO,
        "hostname": socket.gethostname(),
        "operator": operator,
        "http-header-user-agent": env.get("user_agent") or env.get("userAgent") or "",
        "kesu-capture-url": capture.url,
        "kesu-capture-started": _warc_date(capture.started_at),
        "kesu-capture-finished": _warc_date(capture.finished_at) if capture.finished_at else "",
    }
    for key, value in env.items():
        fields.setdefault(f"kesu-{re.sub(r'[^A-Za-z0-9-]', '-', str(key))}", _field_value(value))
    return _warc_fields(fields)


def _field_value(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    # A proxy URL may carry credentials; the WARC is shown to courts and platforms.
    return re.sub(r"(://)[^/@\s]+@", r"\1[redacted]@", text)


def _warc_fields(fields: dict[str, str]) -> bytes:
    lines = (f"{name}: {_one_line(value)}\r\n" for name, value in fields.items() if value)
    return "".join(lines).encode("utf-8")


def _clean(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Header pairs safe to serialise: a CR or LF would end the header block early."""
    return [(_one_line(name).strip(), _one_line(value)) for name, value in headers if name]


def _one_line(text: str) -> str:
    return re.sub(r"[\r\n]+", " ", str(text))


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _warc_date(when: datetime) -> str:
    return datetime_to_iso_date(when.astimezone(UTC).replace(tzinfo=None), use_micros=True)


def _digest(*parts: bytes) -> str:
    hasher = hashlib.sha256()
    for part in parts:  # no joined copy of a body that may be hundreds of MB
        hasher.update(part)
    return "sha256:" + hasher.hexdigest()


# -- reading


def read_warc(data: bytes) -> list[dict]:
    """Every record: type, id, uri, date, status, headers (HTTP), warc_headers, payload, offset, length.

    payload is the content with HTTP headers removed: for Kesu's WARCs the
    bytes the browser received, decoded. Raises on a damaged WARC; check first.
    """
    records = []
    iterator = ArchiveIterator(BytesIO(data))
    for record in iterator:
        payload = record.content_stream().read()
        http = record.http_headers
        status = http.get_statuscode() if http is not None and record.rec_type in ("response", "revisit") else ""
        records.append(
            {
                "type": record.rec_type,
                "id": record.rec_headers.get_header("WARC-Record-ID"),
                "uri": record.rec_headers.get_header("WARC-Target-URI") or "",
                "date": record.rec_headers.get_header("WARC-Date"),
                "status": int(status) if status.isdigit() else None,
                "headers": list(http.headers) if http is not None else [],
                "warc_headers": list(record.rec_headers.headers),
                "payload": payload,
                "offset": iterator.get_record_offset(),
                "length": iterator.get_record_length(),
            }
        )
    return records


def payload_sha256s(data: bytes) -> set[str]:
    """The SHA-256 (hex) of every record's payload as read_warc gives it, read in chunks, not kept."""
    hashes = set()
    for record in ArchiveIterator(BytesIO(data)):
        digest, stream = hashlib.sha256(), record.content_stream()
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
        hashes.add(digest.hexdigest())
    return hashes


def header(pairs: list[tuple[str, str]], name: str) -> str | None:
    """First value of a header in read_warc's header lists, case-insensitive."""
    return next((value for key, value in pairs if key.lower() == name.lower()), None)


# -- checking


def check_warc(data: bytes, limits: archives.ZipLimits | None = None) -> list[str]:
    """Problems with a Kesu WARC, one line each; empty when it is intact.

    Stricter than warcio check: besides digests it checks the gzip framing
    (CRC and length of every member, one record per member, identical member
    headers), record structure, required headers and references between
    records. Never raises: a WARC that cannot be read is a problem too; but
    a record that unpacks past ``limits.member`` bytes, or records past
    ``limits.total`` together, stop it with ArchiveRefused (by default
    bundle.limits()).
    Not seen: the unused bits after a deflate stream's last block, which
    carry no content; the sealed hash of the file covers those.
    """
    try:
        return _check_warc(data, limits or bundle.limits())
    except archives.ArchiveRefused:
        raise
    except Exception as error:  # a damaged file must come back as a finding, not a crash
        return [f"WARC could not be read: {_one_line(f'{type(error).__name__}: {error}')[:300]}"]


def _check_warc(data: bytes, limits: archives.ZipLimits) -> list[str]:
    problems: list[str] = []
    records: list[tuple[int, dict]] = []
    try:
        for offset, plain in _gzip_members(data, limits):  # one member in memory at a time
            fields, found = _check_record(offset, plain)
            records.append((offset, fields))
            problems += found
    except _Damaged as damage:
        return [*problems, str(damage)]
    problems += _check_gzip_headers(data, [offset for offset, _ in records])
    if records[0][1].get("WARC-Type") != "warcinfo":
        problems.append("the first record is not warcinfo")
    problems += _check_references(records)
    return problems


class _Damaged(Exception):
    """The gzip layer is broken: nothing after this point can be read."""


def _gzip_members(data: bytes, limits: archives.ZipLimits):
    """Each gzip member's offset and content; zlib checks each CRC-32 and length."""
    if not data:
        raise _Damaged("WARC is empty")
    offset, total = 0, 0
    while offset < len(data):
        if data[offset : offset + 2] != b"\x1f\x8b":
            raise _Damaged(f"offset {offset}: not a gzip member")
        try:
            inflated = archives.inflate(data, offset, limits.member, wbits=16 + zlib.MAX_WBITS)
        except zlib.error as error:
            raise _Damaged(f"offset {offset}: gzip member is damaged ({error})") from None
        if inflated.size > limits.member:
            raise archives.ArchiveRefused(
                f"the record at offset {offset} unpacks to more than {limits.member:,} bytes (set by {limits.setting})"
            )
        total += inflated.size
        if total > limits.total:
            raise archives.ArchiveRefused(f"its records unpack to more than {limits.total:,} bytes together")
        if not inflated.ended:
            raise _Damaged(f"offset {offset}: gzip member is cut short")
        yield offset, b"".join(inflated.parts)
        offset = inflated.end


def _check_gzip_headers(data: bytes, offsets: list[int]) -> list[str]:
    """gzip's CRC does not cover its own header (time, flags, OS); a writer
    produces the same header for every member, so an odd one out was altered."""
    heads = {offset: data[offset : offset + GZIP_HEADER_SIZE] for offset in offsets}
    usual = Counter(heads.values()).most_common(1)[0][0]
    problems = [f"offset {o}: gzip member header has optional fields" for o, h in heads.items() if h[3] != 0]
    problems += [f"offset {o}: gzip member header differs from the others" for o, h in heads.items() if h != usual]
    return problems


def _check_record(offset: int, plain: bytes) -> tuple[dict, list[str]]:
    """One member's record: framing, then warcio's parse with digest checks."""
    where = f"record at offset {offset}"
    framing = _check_framing(plain)
    if framing:
        return {}, [f"{where}: {framing}"]
    iterator = WARCIterator(BytesIO(plain), check_digests=True)
    record = next(iterator)
    while record.raw_stream.read(CHUNK):  # digests are checked as the block is read
        pass
    fields = dict(record.rec_headers.headers)
    problems = [f"{where}: {problem}" for problem in record.digest_checker.problems]
    problems += [f"{where}: {problem}" for problem in _check_fields(record, fields)]
    if record.digest_checker.passed is not True and not record.digest_checker.problems:
        problems.append(f"{where}: digests were not verified")
    return fields, problems


def _check_framing(plain: bytes) -> str:
    """The member must hold exactly one record: headers, Content-Length bytes, CRLF CRLF."""
    if not plain.startswith(WARC_VERSION.encode() + b"\r\n"):
        return f"does not start with {WARC_VERSION}"
    end = plain.find(b"\r\n\r\n")
    match = re.search(rb"\r\ncontent-length:[ \t]*(\d+)[ \t]*\r\n", plain[: end + 2], re.IGNORECASE)
    if end < 0 or match is None:
        return "no Content-Length"
    if len(plain) != end + 4 + int(match.group(1)) + 4 or not plain.endswith(b"\r\n\r\n"):
        return "Content-Length does not match the record's size"
    return ""


def _check_fields(record, fields: dict) -> list[str]:
    rec_type = fields.get("WARC-Type", "")
    problems = [f"missing {name}" for name in ("WARC-Record-ID", "WARC-Date", "WARC-Type") if not fields.get(name)]
    if rec_type and rec_type not in RECORD_TYPES:
        problems.append(f"unknown WARC-Type {rec_type!r}")
    if rec_type in NEEDS_TARGET_URI and not fields.get("WARC-Target-URI"):
        problems.append("missing WARC-Target-URI")
    if not fields.get("WARC-Block-Digest", "").startswith("sha256:"):
        problems.append("no sha256 WARC-Block-Digest")
    if rec_type in HAS_PAYLOAD_DIGEST and not fields.get("WARC-Payload-Digest", "").startswith("sha256:"):
        problems.append("no sha256 WARC-Payload-Digest")
    if rec_type in ("response", "request") and record.http_headers is None:
        problems.append("no HTTP message")
    return problems


def _check_references(records: list[tuple[int, dict]]) -> list[str]:
    ids = Counter(fields.get("WARC-Record-ID") for _, fields in records if fields)
    problems = [f"WARC-Record-ID {rid} appears {n} times" for rid, n in ids.items() if n > 1]
    for offset, fields in records:
        problems += [
            f"record at offset {offset}: {name} points at no record in this WARC"
            for name in REFERENCE_HEADERS
            if fields.get(name) and fields[name] not in ids
        ]
    return problems
