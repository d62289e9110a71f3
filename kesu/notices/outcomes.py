"""A notice's outcome, as the re-checks of its URLs see it (``patrol/rechecks.py`` looks; the notice decides).

All gone -> deleted; some gone or blocked -> partly deleted; still online after the recipient's deadline ->
still online (the next rung is due); none reachable for UNREACHABLE_TO_HOLD checks -> on hold; otherwise
ongoing.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from ..patrol.models import Recheck
from ..sites.models import Outcome
from . import services
from .models import Notice

State = Recheck.State
UNREACHABLE_TO_HOLD = 3


def outcome_of(notice: Notice) -> str:
    items = list(notice.rechecks.all())
    if not items or all(i.state == State.UNCHECKED for i in items):
        return Outcome.ONGOING
    gone = sum(i.gone for i in items)
    blocked = sum(i.state == State.GEO_BLOCKED for i in items)
    if gone == len(items):
        return Outcome.DELETED
    if gone or blocked:
        return Outcome.PARTLY_DELETED
    if all(i.state == State.UNREACHABLE and i.checks >= UNREACHABLE_TO_HOLD for i in items):
        return Outcome.ON_HOLD
    deadline = notice.sent_at + timedelta(hours=notice.deadline_hours) if notice.deadline_hours else None
    if deadline and timezone.now() > deadline and any(i.state == State.ONLINE for i in items):
        return Outcome.STILL_ONLINE
    return Outcome.ONGOING


def apply_outcome(actor, notice: Notice) -> str | None:
    """Bring the notice (and its request row) in line with what the re-checks saw; the new outcome or None."""
    notice.refresh_from_db()
    outcome = outcome_of(notice)
    if outcome == (notice.outcome or Outcome.ONGOING):
        return None
    services.observed_outcome(actor, notice, outcome)
    return outcome
