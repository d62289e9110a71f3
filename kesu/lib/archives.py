"""ZIP archives someone else made (a workbook to import, a WACZ or a bundle to verify), read in bounded memory.

A ZIP's directory says how big each member unpacks, and deflate packs zeros
about 1,000 to 1, so a file of a few kilobytes can claim gigabytes. Before
anything is unpacked, :func:`open_zip` checks the entry count, each member's
size, their total and each member's ratio against limits; members are then
read through :func:`read_member`, which stops at the limit even when the
sizes in the directory are lies.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from .errors import UserError

CHUNK = 1 << 20
# Below this a member cannot hurt, and a tiny file (an empty sheet, a short JSON) packs at any ratio.
RATIO_FLOOR = 1 << 20
# Central directory bytes allowed per permitted entry: its 46-byte record plus a long name and extras.
DIRECTORY_BYTES_PER_ENTRY = 512


class ArchiveRefused(UserError):
    """Refused before (or while) unpacking; the message is one line naming the member and its sizes."""


@dataclass(frozen=True)
class ZipLimits:
    entries: int  # members in the archive
    member: int  # bytes one member may unpack to
    total: int  # bytes all members together may unpack to
    ratio: int  # unpacked / packed, for members over RATIO_FLOOR
    setting: str = ""  # the environment variable that raises ``member``, named in refusals


def open_zip(data: bytes, limits: ZipLimits) -> zipfile.ZipFile:
    """The archive, once its directory is within ``limits``; raises ArchiveRefused or zipfile.BadZipFile."""
    _check_directory_size(data, limits)
    archive = zipfile.ZipFile(io.BytesIO(data))
    check_members(archive.infolist(), limits)
    return archive


def _check_directory_size(data: bytes, limits: ZipLimits) -> None:
    """The end record's counts, read before zipfile builds an object for every directory entry."""
    end = zipfile._EndRecData(io.BytesIO(data))  # noqa: SLF001 - the stdlib's own reader of the end record
    if end is None:
        return  # not a ZIP: zipfile says so
    count, directory = end[zipfile._ECD_ENTRIES_TOTAL], end[zipfile._ECD_SIZE]  # noqa: SLF001
    if count > limits.entries or directory > limits.entries * DIRECTORY_BYTES_PER_ENTRY:
        raise ArchiveRefused(
            f"{count:,} entries ({directory:,} bytes of directory), more than {limits.entries:,} are read"
        )


def check_members(infos: list[zipfile.ZipInfo], limits: ZipLimits) -> None:
    """Declared sizes against the limits; the first member over one is named."""
    if len(infos) > limits.entries:
        raise ArchiveRefused(f"{len(infos):,} entries, more than {limits.entries:,} are read")
    total = 0
    for info in infos:
        ratio = info.file_size // max(info.compress_size, 1)
        if info.file_size > limits.member:
            raise ArchiveRefused(f"{_sizes(info)}, more than the {limits.member:,}-byte limit{_raise_with(limits)}")
        if info.file_size > RATIO_FLOOR and ratio > limits.ratio:
            raise ArchiveRefused(f"{_sizes(info)}, packed tighter than {limits.ratio:,}:1 (a decompression bomb)")
        total += info.file_size
        if total > limits.total:
            raise ArchiveRefused(
                f"members unpack to more than {limits.total:,} bytes together (at {info.filename[:80]!r})"
            )


def _sizes(info: zipfile.ZipInfo) -> str:
    ratio = info.file_size // max(info.compress_size, 1)
    return f"{info.filename[:80]!r} unpacks to {info.file_size:,} bytes from {info.compress_size:,} (ratio {ratio:,}:1)"


def _raise_with(limits: ZipLimits) -> str:
    return f" (set by {limits.setting})" if limits.setting else ""


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """The member's bytes; ArchiveRefused past ``limit`` whatever its header says."""
    return b"".join(stream_member(archive, info, limit))


def stream_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> Iterator[bytes]:
    """The member in chunks of at most CHUNK bytes, never more than ``limit`` in all."""
    seen = 0
    with archive.open(info) as member:
        while chunk := member.read(CHUNK):
            seen += len(chunk)
            if seen > limit:
                raise ArchiveRefused(f"{info.filename[:80]!r} unpacks to more than {limit:,} bytes")
            yield chunk


@dataclass
class Inflated:
    parts: list[bytes]  # the output, when kept
    size: int  # bytes out; limit + 1 when the stream went past the limit
    end: int  # where in the input the stream ended (or reading stopped)
    ended: bool  # the stream's own end was reached


def inflate(data: bytes | memoryview, start: int, limit: int, *, wbits: int = -zlib.MAX_WBITS, keep: bool = True):
    """Inflate the deflate (or, with wbits 16 + MAX_WBITS, gzip) stream at data[start:], CHUNK by CHUNK.

    Stops as soon as the output passes ``limit`` bytes, so a stream of a few
    kilobytes that would unpack to gigabytes costs one chunk. Raises zlib.error.
    """
    inflater, view = zlib.decompressobj(wbits), memoryview(data)
    result, pending = Inflated([], 0, start, False), b""
    while not inflater.eof:
        if not pending:
            if result.end >= len(view):
                break
            pending, result.end = view[result.end : result.end + CHUNK], min(result.end + CHUNK, len(view))
        part = inflater.decompress(pending, CHUNK)
        pending = inflater.unconsumed_tail
        result.size += len(part)
        if result.size > limit:
            result.size = limit + 1
            return result
        if keep:
            result.parts.append(part)
    result.ended = inflater.eof
    result.end -= len(inflater.unused_data)
    return result


def inflated_size(stream: bytes, limit: int) -> tuple[int, bool]:
    """(bytes out, whether the raw deflate stream ends exactly where ``stream`` does), output not kept;
    past ``limit`` bytes out, (limit + 1, False)."""
    try:
        result = inflate(stream, 0, limit, keep=False)
    except zlib.error:
        return 0, False
    return result.size, result.ended and result.end == len(stream)
