"""A notice's legal clock: which of its regime's clocks applies, when it started and when it runs out.

A clock that starts on receipt of a valid request starts when the notice was sent (the server accepted it,
or staff submitted the web form). One that starts later (DSA 16(4) confirmation, eSafety's removal
notice) starts when staff record that moment. The desk escalates when the clock runs out, unless the
ladder gave this recipient a shorter period of its own (an operator that ignores requests).
"""

from datetime import timedelta

from django.db import transaction

from ..audit.services import Actor, log_action
from ..law import clocks, regimes
from ..lib.errors import UserError
from ..sites.models import TakedownRequest
from .models import Notice, NoticeEvent

STARTS_RECORDED_BY_STAFF = (clocks.CONFIRMED, clocks.AUTHORITY)


def clock_of(notice: Notice) -> clocks.Clock | None:
    regime = regimes.REGIMES.get(notice.regime)
    return regime.clock_for(notice.case.case_type, notice.role) if regime else None


def escalate_at(notice: Notice, clock: clocks.Clock | None, started, due):
    """The desk's next step: the clock's end, or the ladder's shorter period when it gave one."""
    desk = started + timedelta(hours=notice.deadline_hours) if notice.deadline_hours else None
    if due is None:
        return desk
    if desk is None or notice.deadline_hours == clock.nominal_hours:
        return due  # the ladder's period came from this clock: its exact end counts
    return min(desk, due)


def on_sent(notice: Notice, sent_at):
    """Set the clock of a notice just sent; returns when to escalate (None: open-ended)."""
    clock = clock_of(notice)
    if clock is None or clock.starts != clocks.RECEIVED:
        return escalate_at(notice, None, sent_at, None)
    notice.clock_started_at, notice.clock_due_at = sent_at, clock.ends_at(sent_at)
    return escalate_at(notice, clock, sent_at, notice.clock_due_at)


def record_start(actor, notice: Notice, when) -> Notice:
    """Staff record the moment a later-starting clock began (confirmation of receipt, an authority's notice)."""
    clock = clock_of(notice)
    if clock is None or clock.starts not in STARTS_RECORDED_BY_STAFF:
        raise UserError(f"the {notice.regime} clock for this notice does not wait for a recorded start")
    if notice.status != Notice.Status.SENT:
        raise UserError(f"notice {notice.token} is not sent")
    with transaction.atomic():
        notice.clock_started_at, notice.clock_due_at = when, clock.ends_at(when)
        notice.escalate_at = notice.clock_due_at
        notice.save(update_fields=["clock_started_at", "clock_due_at", "escalate_at"])
        TakedownRequest.objects.filter(pk=notice.request_id).update(clock_due_at=notice.clock_due_at)
        NoticeEvent.objects.create(notice=notice, kind="clock_started", actor=Actor.of(actor).label,
                                   detail={"starts": clock.starts, "due": notice.clock_due_at.isoformat()})  # fmt: skip
        log_action(actor, "notice.clock_start", notice, case_id=notice.case_id, starts=clock.starts)
    return notice


def standing(notice: Notice, now) -> clocks.Standing | None:
    """Time left on a running clock, or how long ago it ran out while the notice was still open."""
    if notice.clock_due_at is None:
        return None
    end = notice.resolved_at or now
    return clocks.Standing.at(notice.clock_due_at, end)
