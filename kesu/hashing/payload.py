"""What the hashing page sends, read strictly: JSON of hashes, counts and her keywords, nothing else.

Every refusal is one line naming what was wrong (a `UserError`), raised before anything is stored."""

import json
import re
from dataclasses import dataclass, field

from ..lib.errors import UserError

MAX_BODY = 4 * 1024 * 1024  # bytes: a thousand pictures and a few hours of video frames fit easily
MAX_FILES = 1000
MAX_FRAMES = 3600  # a video's frame hashes: an hour at 1 fps
MAX_KEYWORDS = 20
MAX_KEYWORD_CHARS = 200
_HEX = {32: re.compile(r"[0-9a-f]{32}"), 64: re.compile(r"[0-9a-f]{64}")}
_FILE_KEYS = {"kind", "md5", "sha256", "pdq", "quality", "frames"}


@dataclass(frozen=True)
class Frame:
    t: float  # seconds from the start
    pdq: str
    quality: int


@dataclass(frozen=True)
class HashedFile:
    kind: str  # "image" or "video"
    md5: str
    sha256: str
    pdq: str = ""  # a picture's; a video's PDQ is its frames'
    quality: int = 0
    frames: tuple[Frame, ...] = ()


@dataclass(frozen=True)
class Submission:
    nonce: str
    files: tuple[HashedFile, ...]
    keywords: tuple[str, ...] = field(default=())


def parse(body: bytes) -> Submission:
    if len(body) > MAX_BODY:
        raise UserError(f"the list of hashes is too large (at most {MAX_BODY // (1024 * 1024)} MB)")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise UserError("the list of hashes is not valid JSON") from None
    if not isinstance(data, dict) or set(data) - {"nonce", "count", "files", "keywords"}:
        raise UserError("the submission holds fields other than nonce, count, files and keywords")
    files = data.get("files")
    if not isinstance(files, list) or not files:
        raise UserError("the submission holds no files")
    if len(files) > MAX_FILES:
        raise UserError(f"too many files: at most {MAX_FILES} at once")
    if data.get("count") != len(files):
        raise UserError("the number of files does not match the list of hashes")
    nonce = data.get("nonce")
    if not isinstance(nonce, str) or not re.fullmatch(r"[A-Za-z0-9_-]{16,64}", nonce):
        raise UserError("the submission has no valid page nonce")
    parsed = tuple(_file(entry, number) for number, entry in enumerate(files, 1))
    return Submission(nonce, parsed, _keywords(data.get("keywords", [])))


def _file(entry, number: int) -> HashedFile:
    if not isinstance(entry, dict) or set(entry) - _FILE_KEYS:
        raise UserError(f"file {number}: unexpected fields")
    kind = entry.get("kind")
    if kind not in ("image", "video"):
        raise UserError(f"file {number}: kind must be image or video")
    md5, sha256 = _hex(entry.get("md5"), 32, number, "MD5"), _hex(entry.get("sha256"), 64, number, "SHA-256")
    if kind == "image":
        return HashedFile(kind, md5, sha256, _hex(entry.get("pdq"), 64, number, "PDQ"), _quality(entry, number))
    frames = entry.get("frames")
    if not isinstance(frames, list) or len(frames) > MAX_FRAMES:
        raise UserError(f"file {number}: a video needs a list of at most {MAX_FRAMES} frame hashes")
    return HashedFile(kind, md5, sha256, frames=tuple(_frame(f, number) for f in frames))


def _frame(frame, number: int) -> Frame:
    if not isinstance(frame, list) or len(frame) != 3:
        raise UserError(f"file {number}: a frame is [seconds, PDQ, quality]")
    t, pdq, quality = frame
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 <= t <= 86_400:
        raise UserError(f"file {number}: a frame's time is not a number of seconds")
    return Frame(float(t), _hex(pdq, 64, number, "PDQ"), _quality({"quality": quality}, number))


def _hex(value, length: int, number: int, name: str) -> str:
    if not isinstance(value, str) or len(value) != length:
        raise UserError(f"file {number}: {name} must be {length} hex digits")
    if not _HEX[length].fullmatch(value.lower()):
        raise UserError(f"file {number}: {name} is not hexadecimal")
    return value.lower()


def _quality(entry: dict, number: int) -> int:
    quality = entry.get("quality")
    if isinstance(quality, bool) or not isinstance(quality, int) or not 0 <= quality <= 100:
        raise UserError(f"file {number}: PDQ quality must be a whole number from 0 to 100")
    return quality


def _keywords(value) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > MAX_KEYWORDS:
        raise UserError(f"keywords must be a list of at most {MAX_KEYWORDS}")
    words = []
    for word in value:
        if not isinstance(word, str) or len(word.strip()) > MAX_KEYWORD_CHARS:
            raise UserError(f"a keyword must be text of at most {MAX_KEYWORD_CHARS} characters")
        if word.strip() and word.strip() not in words:
            words.append(word.strip())
    return tuple(words)
