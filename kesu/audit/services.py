"""The audit log: append-only and hash-chained.

Each entry's hash is HMAC-SHA256, under the installation's audit key (kept in
the vault), over the previous hash and the entry's canonical fields. Without
the key nobody can rewrite a row and re-chain the rest; the MAC'd head
catches entries cut from the end.
"""

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC

from django.db import transaction
from django.utils import timezone

from ..vault.services import audit_key
from .models import AuditEntry, AuditHead

GENESIS = "0" * 64


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
    key = audit_key()
    with transaction.atomic():
        head = AuditHead.objects.select_for_update().get(pk=1)
        entry = AuditEntry(
            seq=head.seq + 1,
            at=timezone.now(),
            actor=actor.label,
            action=action,
            object_type=obj._meta.label_lower if obj is not None else "",
            object_id=str(obj.pk) if obj is not None else "",
            case_id=case_id,
            detail=detail,
            prev_hash=head.hash or GENESIS,
        )
        entry.hash = _entry_hash(key, entry.prev_hash, entry)
        entry.save()
        head.seq, head.hash, head.mac = entry.seq, entry.hash, _head_mac(key, entry.seq, entry.hash)
        head.save()
    return entry


@dataclass
class ChainReport:
    entries: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_chain(max_problems: int = 20) -> ChainReport:
    """Walk the whole log; report every break (edited, removed or added rows)."""
    key = audit_key()
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
    problems += _check_head(key, expected_seq - 1, prev_hash)
    return ChainReport(entries=count, problems=problems[:max_problems])


def _check_head(key: bytes, last_seq: int, last_hash: str) -> list[str]:
    head = AuditHead.objects.filter(pk=1).first()
    if head is None:
        return ["the chain head is missing"]
    if head.seq == 0 and last_seq == 0:
        return []
    if not hmac.compare_digest(head.mac, _head_mac(key, head.seq, head.hash)):
        return ["the chain head was altered"]
    if head.seq != last_seq or head.hash != last_hash:
        return [f"the log ends at entry {last_seq} but its head records entry {head.seq}"]
    return []


def entries_for_case(case_id: int):
    return AuditEntry.objects.filter(case_id=case_id).order_by("-seq")
