"""The patrol's rows as work items (``kesu/lib/workrows.py``): a row is taken in its stage once it is due.

``claim`` takes a row that is in the stage, due, and not held by a live claim. ``advance`` (inside the
transaction that writes the stage's results) moves it on only if the claim is still ours; otherwise it
raises LostClaim and the transaction, results included, rolls back. A claim older than
KESU_PATROL_LEASE_SECONDS belongs to a worker that died and may be taken.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from ..lib import workrows
from ..lib.workrows import LostClaim

__all__ = ["LostClaim", "advance", "claim", "claimable", "defer", "lease"]


def lease() -> timedelta:
    return timedelta(seconds=settings.KESU_PATROL_LEASE_SECONDS)


def claimable(model, stage: str, now=None):
    now = now or timezone.now()
    return model.objects.filter(stage=stage, due_at__lte=now).filter(workrows.free(lease(), now))


def claim(model, pk: int, stage: str) -> str | None:
    """The claim token, or None when the row is not there to take (not in the stage, not due, or held)."""
    now = timezone.now()
    return workrows.take(claimable(model, stage, now), pk, now=now)


def advance(model, pk: int, token: str, stage: str, **fields) -> None:
    workrows.settle(model, pk, token, stage=stage, due_at=timezone.now(), completions=F("completions") + 1, **fields)


def defer(model, pk: int, token: str, seconds: float, *, attempt: bool = False, **fields) -> None:
    """Give the row back to be taken again after ``seconds`` (politeness, Retry-After, a retry)."""
    workrows.release(model, pk, token, attempt_used=attempt, due_at=timezone.now() + timedelta(seconds=seconds),
                     **fields)  # fmt: skip
