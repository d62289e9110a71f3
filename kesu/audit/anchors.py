"""Anchors: the audit log's head recorded outside its database.

A MAC'd head inside the database shows entries cut from the end, but not a
head put back from an older copy of the database, nor a log wiped whole. So
the head (sequence, hash and a MAC under the audit key) is also written
where a thief of the database cannot reach: an append-only file beside the
data (``KESU_AUDIT_ANCHOR_FILE``), every evidence bundle's signed manifest
and the staff digests. ``kesu audit verify`` checks that each anchored entry
is still in the log, unchanged.

An anchor's MAC is not the head's MAC (another domain under the same key):
an anchor handed out in a bundle or an e-mail cannot be put back as the
database's head.
"""

import hashlib
import hmac
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings

from ..lib.datadir import ensure_dir
from ..lib.errors import UserError
from .models import AuditEntry

log = logging.getLogger(__name__)
LOOKUP_CHUNK = 500  # sequence numbers per query (SQLite's limit on parameters)


@dataclass(frozen=True)
class Anchor:
    """Entry ``seq`` of the log was the head, with this hash (when known) and this MAC; ``source`` names where
    the anchor was kept, for messages."""

    seq: int
    mac: str
    hash: str | None = None
    source: str = "anchor"

    @property
    def token(self) -> str:
        """The short form people copy from a digest: ``SEQ:MAC``."""
        return f"{self.seq}:{self.mac}"

    def as_dict(self) -> dict:
        return {"seq": self.seq, "hash": self.hash, "mac": self.mac}


def anchor_mac(key: bytes, seq: int, hash_: str) -> str:
    return hmac.new(key, f"anchor|{seq}|{hash_}".encode(), hashlib.sha256).hexdigest()


def make(key: bytes, seq: int, hash_: str) -> Anchor:
    return Anchor(seq, anchor_mac(key, seq, hash_), hash_)


def parse_token(text: str) -> Anchor:
    seq, _, mac = text.strip().lower().partition(":")
    if not seq.isascii() or not seq.isdigit() or len(mac) != 64 or any(c not in "0123456789abcdef" for c in mac):
        raise UserError(f"--anchor {text[:80]!r}: expected SEQ:MAC as a digest prints it (64 hex digits)")
    return Anchor(int(seq), mac, None, f"anchor {seq}:{mac[:12]}…")


def from_mapping(data, source: str) -> Anchor:
    """An anchor kept as JSON (a line of the file, a manifest's ``audit``); ValueError when malformed."""
    if not isinstance(data, dict):
        raise ValueError("not an object")
    seq, hash_, mac = data.get("seq"), data.get("hash"), data.get("mac")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise ValueError("no entry number")
    if not isinstance(mac, str) or not isinstance(hash_, str):
        raise ValueError("no hash or MAC")
    return Anchor(seq, mac, hash_, source)


# --- the anchor file ---------------------------------------------------------------------------------------


def append(anchor: Anchor) -> None:
    """Add one line to the anchor file (created private, only ever appended to); the same head twice is
    written once."""
    path = settings.KESU_AUDIT_ANCHOR_FILE
    anchors, _ = read_file()
    if anchors and anchors[-1].seq == anchor.seq and anchors[-1].mac == anchor.mac:
        return
    line = json.dumps({**anchor.as_dict(), "at": datetime.now(UTC).isoformat(timespec="seconds")}) + "\n"
    ensure_dir(path.parent)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(descriptor, line.encode())
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def append_quietly(anchor: Anchor) -> None:
    """After a commit: a data directory that cannot be written must not undo the action, only be told."""
    try:
        append(anchor)
    except OSError as error:
        log.error("audit anchor for entry %d not written: %s", anchor.seq, error.strerror or error)


def read_file() -> tuple[list[Anchor], list[str]]:
    """The anchors in the file, and a problem for each line that cannot be read. No file: none yet."""
    path = settings.KESU_AUDIT_ANCHOR_FILE
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return [], []
    except (OSError, UnicodeDecodeError) as error:
        return [], [f"the anchor file {path} cannot be read ({getattr(error, 'strerror', None) or error})"]
    anchors, problems = [], []
    for number, line in enumerate(lines, 1):
        try:
            data = json.loads(line)
            at = data.get("at") if isinstance(data, dict) else None
            anchors.append(from_mapping(data, f"anchor file line {number}" + (f" ({str(at)[:10]})" if at else "")))
        except ValueError:
            problems.append(f"anchor file line {number} is damaged")
    return anchors, problems


# --- checking ----------------------------------------------------------------------------------------------


def check(key: bytes, anchors: Iterable[Anchor], last_seq: int) -> list[str]:
    """A problem for each anchor whose entry is gone or changed; ``last_seq`` is where the log ends."""
    anchors = list(anchors)
    found = _hashes({a.seq for a in anchors})
    problems = []
    for anchor in anchors:
        problem = _check_one(key, anchor, found.get(anchor.seq), last_seq)
        if problem:
            problems.append(problem)
    return problems


def _check_one(key: bytes, anchor: Anchor, found: str | None, last_seq: int) -> str | None:
    if anchor.hash is not None and not hmac.compare_digest(anchor.mac, anchor_mac(key, anchor.seq, anchor.hash)):
        return f"{anchor.source} is damaged or was not written by this installation"
    if found is None and anchor.seq > last_seq:
        return f"the log ends at entry {last_seq} but {anchor.source} anchored entry {anchor.seq}"
    if found is None:
        return f"entry {anchor.seq}, anchored by {anchor.source}, is missing"
    if not hmac.compare_digest(anchor.mac, anchor_mac(key, anchor.seq, found)):
        return f"entry {anchor.seq} is not the entry {anchor.source} anchored"
    return None


def _hashes(seqs: set[int]) -> dict[int, str]:
    ordered, found = sorted(seqs), {}
    for start in range(0, len(ordered), LOOKUP_CHUNK):
        chunk = ordered[start : start + LOOKUP_CHUNK]
        found.update(AuditEntry.objects.filter(seq__in=chunk).values_list("seq", "hash"))
    return found
