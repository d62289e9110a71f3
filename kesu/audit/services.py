"""The audit log: append-only and hash-chained.

Each entry's hash is HMAC-SHA256, under the installation's audit key (kept in
the vault, wrapped by the master key), over the previous hash and the entry's
canonical fields. Without the key nobody can rewrite a row and re-chain the
rest; the MAC'd head catches entries cut from the end. The first action of an
installation writes a genesis entry, so an empty log never verifies, and the
head is anchored outside the database (anchors.py), so a head put back from
an older copy, or a log wiped whole, is caught too.
"""

import hashlib
import hmac
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC

from django.db import transaction
from django.utils import timezone

from ..vault import services as vault
from ..vault.models import DataKey
from . import anchors
from .anchors import Anchor
from .models import AuditEntry, AuditHead

log = logging.getLogger(__name__)
GENESIS = "0" * 64  # the previous hash of the first entry
GENESIS_ACTION = "audit.genesis"
EMPTY = "the log is empty: its genesis entry is missing (an installation writes it at kesu init or its first action)"
NO_KEY = "the vault holds no audit key: the log was never written, or its key was deleted"


@dataclass(frozen=True)
class Actor:
    """Who did it: a staff user or a part of the system."""

    label: str

    @classmethod
    def of(cls, user) -> "Actor":
        if isinstance(user, Actor):
            return user
        if isinstance(user, str):
            return cls(user)
        if getattr(user, "audit_label", None):
            return cls(user.audit_label)
        if user is None or not getattr(user, "is_authenticated", False):
            return cls("anonymous")
        return cls(f"user:{user.get_username()}")

    @classmethod
    def system(cls, part: str) -> "Actor":
        return cls(f"system:{part}")


def _canonical(entry: AuditEntry) -> bytes:
    fields = {
        "seq": entry.seq,
        "at": entry.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": entry.actor,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "case_id": entry.case_id,
        "detail": entry.detail,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _entry_hash(key: bytes, prev_hash: str, entry: AuditEntry) -> str:
    return hmac.new(key, prev_hash.encode() + b"|" + _canonical(entry), hashlib.sha256).hexdigest()


def _head_mac(key: bytes, seq: int, hash_: str) -> str:
    return hmac.new(key, f"head|{seq}|{hash_}".encode(), hashlib.sha256).hexdigest()


def log_action(actor, action: str, obj=None, *, case_id=None, **detail) -> AuditEntry:
    """Append one entry. Call inside the transaction that makes the change.

    ``detail`` must hold ids, field names and counts only: never personal data.
    """
    actor = Actor.of(actor)
    key = vault.audit_key()
    with transaction.atomic():
        head = _head_after_genesis(key)
        return _append(key, head, actor.label, action, obj, case_id=case_id, detail=detail)


def ensure_genesis() -> None:
    """Write the installation's first entry if the log has none (``kesu init``, a fresh database): from then
    on an empty log never verifies."""
    key = vault.audit_key()
    with transaction.atomic():
        _head_after_genesis(key)


def _head_after_genesis(key: bytes) -> AuditHead:
    """The head, locked; a log never written gets its genesis entry first, anchored outside the database as
    soon as it is committed."""
    head = AuditHead.objects.select_for_update().get(pk=1)
    if head.seq == 0:
        entry = _append(key, head, Actor.system("audit").label, GENESIS_ACTION)
        anchor = anchors.make(key, entry.seq, entry.hash)
        transaction.on_commit(lambda: anchors.append_quietly(anchor))
    return head


def _append(key: bytes, head: AuditHead, actor: str, action: str, obj=None, *, case_id=None, detail=None):
    entry = AuditEntry(
        seq=head.seq + 1,
        at=timezone.now(),
        actor=actor,
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        case_id=case_id,
        detail=detail or {},
        prev_hash=head.hash or GENESIS,
    )
    entry.hash = _entry_hash(key, entry.prev_hash, entry)
    entry.save()
    head.seq, head.hash, head.mac = entry.seq, entry.hash, _head_mac(key, entry.seq, entry.hash)
    head.save()
    return entry


# --- verifying ---------------------------------------------------------------------------------------------


@dataclass
class ChainReport:
    entries: int
    problems: list[str]
    anchors: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_chain(extra_anchors: Iterable[Anchor] = (), max_problems: int = 20) -> ChainReport:
    """Walk the whole log; report every break (edited, removed or added rows, a head that is not the last
    entry's), an empty log, and every anchor (the anchor file's and ``extra_anchors``) whose entry is gone
    or changed."""
    key = _existing_audit_key()
    if key is None:
        return ChainReport(AuditEntry.objects.count(), [NO_KEY])
    count, last_seq, last_hash, problems = _walk(key, max_problems)
    problems += _check_head(key, last_seq, last_hash)
    kept, unreadable = anchors.read_file()
    held = [*kept, *extra_anchors]
    problems += unreadable + anchors.check(key, held, last_seq)
    return ChainReport(entries=count, problems=problems[:max_problems], anchors=len(held))


def _existing_audit_key() -> bytes | None:
    """The audit key, never a new one: a key made now would only hide that the old one was removed."""
    data_key = DataKey.objects.filter(pk=vault.AUDIT_KEY_ID).first()
    return vault.unwrap(data_key) if data_key is not None else None


def _walk(key: bytes, max_problems: int) -> tuple[int, int, str, list[str]]:
    """(entries, last entry's seq, its hash, problems) over the log in order."""
    problems: list[str] = []
    prev_hash, expected_seq, count = GENESIS, 1, 0
    for entry in AuditEntry.objects.order_by("seq").iterator(chunk_size=2000):
        count += 1
        if entry.seq != expected_seq:
            problems.append(f"entries {expected_seq}..{entry.seq - 1} are missing")
        if entry.prev_hash != prev_hash:
            problems.append(f"entry {entry.seq} does not follow the entry before it")
        if not hmac.compare_digest(entry.hash, _entry_hash(key, entry.prev_hash, entry)):
            problems.append(f"entry {entry.seq} was altered")
        prev_hash, expected_seq = entry.hash, entry.seq + 1
        if len(problems) >= max_problems:
            break
    return count, expected_seq - 1, prev_hash, problems


def _check_head(key: bytes, last_seq: int, last_hash: str) -> list[str]:
    """The head must carry a valid MAC in every state; no state is valid with an empty log, since an
    installation's first action writes the genesis entry."""
    head = AuditHead.objects.filter(pk=1).first()
    if head is None:
        return ["the chain head is missing"]
    if head.seq == 0 and last_seq == 0:
        return [EMPTY]
    if not hmac.compare_digest(head.mac, _head_mac(key, head.seq, head.hash)):
        return ["the chain head was altered"]
    if head.seq != last_seq or head.hash != last_hash:
        return [f"the log ends at entry {last_seq} but its head records entry {head.seq}"]
    return []


# --- anchoring ---------------------------------------------------------------------------------------------


def current_anchor() -> Anchor | None:
    """The head as an anchor, for a bundle's manifest or a digest; None when the head's own MAC fails (an
    altered head is not vouched for). Reads committed state: call outside a transaction."""
    ensure_genesis()
    key = vault.audit_key()
    head = AuditHead.objects.get(pk=1)
    if not hmac.compare_digest(head.mac, _head_mac(key, head.seq, head.hash)):
        log.error("audit head %d fails its MAC: not anchored", head.seq)
        return None
    return anchors.make(key, head.seq, head.hash)


def verify_and_anchor() -> tuple[ChainReport, Anchor | None]:
    """The daily check: walk the log and, only when it is intact, add its head to the anchor file."""
    report = verify_chain()
    anchor = current_anchor() if report.ok else None
    if anchor is not None:
        anchors.append(anchor)
    return report, anchor


def entries_for_case(case_id: int):
    return AuditEntry.objects.filter(case_id=case_id).order_by("-seq")
