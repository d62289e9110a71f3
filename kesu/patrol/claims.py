"""Claiming a row for one stage, and moving it on: the patrol's exactly-once.

``claim`` takes a row that is in the stage, due, and not held by a live
claim. ``advance`` (inside the transaction that writes the stage's results)
moves it on only if the claim is still ours; otherwise it raises LostClaim
and the transaction, results included, rolls back. A claim older than
KESU_PATROL_LEASE_SECONDS belongs to a worker that died and may be taken.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone


class LostClaim(Exception):
    """Another worker took the row over (ours ran past its lease): our results must not be kept."""


def lease() -> timedelta:
    return timedelta(seconds=settings.KESU_PATROL_LEASE_SECONDS)


def claimable(model, stage: str, now=None):
    now = now or timezone.now()
    return model.objects.filter(stage=stage, due_at__lte=now).filter(Q(claim="") | Q(claimed_at__lt=now - lease()))


def claim(model, pk: int, stage: str) -> str | None:
    """The claim token, or None when the row is not there to take. The token starts with the worker
    process's id, so a supervisor (or a test) can tell whose work a dead worker left behind."""
    token, now = f"{os.getpid()}-{secrets.token_hex(6)}", timezone.now()
    taken = claimable(model, stage, now).filter(pk=pk).update(claim=token, claimed_at=now, attempts=F("attempts") + 1)
    return token if taken else None


def advance(model, pk: int, token: str, stage: str, **fields) -> None:
    moved = model.objects.filter(pk=pk, claim=token).update(
        stage=stage, claim="", claimed_at=None, due_at=timezone.now(), completions=F("completions") + 1, **fields
    )
    if not moved:
        raise LostClaim(f"{model.__name__} {pk}")


def defer(model, pk: int, token: str, seconds: float, *, attempt: bool = False, **fields) -> None:
    """Give the row back to be taken again after ``seconds`` (politeness, Retry-After, a retry)."""
    model.objects.filter(pk=pk, claim=token).update(
        claim="",
        claimed_at=None,
        due_at=timezone.now() + timedelta(seconds=seconds),
        **({} if attempt else {"attempts": F("attempts") - 1}),
        **fields,
    )
