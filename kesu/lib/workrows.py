"""Rows as work items, one worker at a time: take a row, settle it only while the claim is ours, give it back.

A row that is worked on has three fields: ``claim`` (a token, "" when free), ``claimed_at`` and ``attempts``.
``take`` is one UPDATE guarded by the caller's filter, so of two workers only one gets the row. ``settle``
belongs inside the transaction that writes the results: when the claim is no longer ours (our lease ran out
and another worker took the row over) it raises LostClaim, and the results roll back with it. A claim older
than the caller's lease belongs to a worker that died: ``free`` lets it be taken again, ``stale`` finds it.

Used by the patrol's rows (``patrol/claims.py``), the outbox (``notices/outbox.py``) and evidence requests
(``evidence/services.py``); each says what "takeable" means for its rows and what settling writes.
"""

from __future__ import annotations

import os
import secrets
from datetime import datetime, timedelta

from django.db.models import F, Q, QuerySet
from django.utils import timezone


class LostClaim(Exception):
    """Another worker took the row over (ours ran past its lease): our results must not be kept."""


def new_token() -> str:
    """A fresh claim token. It starts with the worker process's id, so a supervisor (or a test) can tell whose
    work a dead worker left behind; at most 20 characters."""
    return f"{os.getpid()}-{secrets.token_hex(6)}"


def free(lease: timedelta, now: datetime) -> Q:
    """Rows nobody holds, or held by a claim older than lease (its worker died)."""
    return Q(claim="") | Q(claimed_at__lte=now - lease)


def stale(rows: QuerySet, lease: timedelta, now: datetime) -> QuerySet:
    """The rows of ``rows`` held by a claim older than lease."""
    return rows.exclude(claim="").filter(claimed_at__lte=now - lease)


def take(rows: QuerySet, pk, *, now: datetime | None = None, attempt: bool = True, **changes) -> str | None:
    """Claim row pk if ``rows`` (the caller's filter: due, free, in the right state) still holds it; the token,
    or None when another worker has it or it is not there to take. ``changes`` are written in the same UPDATE
    (the outbox's pending -> sending); ``attempt=False`` leaves the attempt count alone."""
    token = new_token()
    counted = {"attempts": F("attempts") + 1} if attempt else {}
    taken = rows.filter(pk=pk).update(claim=token, claimed_at=now or timezone.now(), **counted, **changes)
    return token if taken else None


def settle(model, pk, token: str, *, only: dict | None = None, **changes) -> None:
    """Free the row and write ``changes`` if the claim is still ours (and the row matches ``only``); LostClaim
    otherwise. Call it inside the transaction that writes the results."""
    done = model.objects.filter(pk=pk, claim=token, **(only or {})).update(claim="", claimed_at=None, **changes)
    if not done:
        raise LostClaim(f"{model.__name__} {pk}")


def release(model, pk, token: str, *, attempt_used: bool = True, **changes) -> bool:
    """Give the row back to be taken again (``changes`` say when: a due time, a status); False when the claim
    was no longer ours. ``attempt_used=False`` takes back the attempt ``take`` counted (a politeness wait is
    not a try)."""
    uncounted = {} if attempt_used else {"attempts": F("attempts") - 1}
    return bool(model.objects.filter(pk=pk, claim=token).update(claim="", claimed_at=None, **uncounted, **changes))
