"""The legal events staff record on a sent notice, from the notice page or the CLI.

- DSA Art. 16(4): the provider confirmed receipt of the notice.
- DSA Art. 16(5): the provider notified its decision (removed, access disabled, refused, other) and its date.
- An authority acted (eSafety's removal notice, Online Safety Act 2021 s 77): the regime's 24 h clock starts.

Which of them a notice takes comes from its regime (``Regime.milestones`` and what its clock waits for).
Each is a ``NoticeEvent`` (the case timeline and the escalation packet read those), an audit entry, and a
field of the notice's history row (``TakedownRequest``), which the reports and the Art. 22 export count.
The moment is the one the provider or the authority stated, not when staff typed it in.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from ..audit.services import log_action
from ..law import clocks as law_clocks
from ..law import regimes
from ..lib.errors import UserError
from ..sites.models import Decision, TakedownRequest
from . import clocks
from .compose import event
from .models import Notice

RECEIPT = "receipt_confirmed"
DECISION = "decision"
AUTHORITY = "authority_notice"
SKEW = timedelta(minutes=5)  # a moment typed from another clock may lie a little in the future


def recordable(notice: Notice) -> list[str]:
    """The legal events this notice can take now (none until it was sent)."""
    if not notice.was_sent:
        return []
    regime = regimes.REGIMES.get(notice.regime)
    kinds = [kind for kind in (RECEIPT, DECISION) if regime and kind in regime.milestones]
    clock = clocks.clock_of(notice)
    if clock is not None and clock.starts == law_clocks.AUTHORITY:
        kinds.append(AUTHORITY)
    return kinds


def _check(notice: Notice, kind: str, when: datetime) -> None:
    if kind not in recordable(notice):
        raise UserError(f"{regimes.label(notice.regime)}: notice {notice.token} takes no {kind.replace('_', ' ')}")
    if when.tzinfo is None:
        raise UserError("the moment needs a time zone")
    if when < notice.sent_at:
        raise UserError(f"{when.isoformat()} is before the notice was sent ({notice.sent_at.isoformat()})")
    if when > timezone.now() + SKEW:
        raise UserError(f"{when.isoformat()} is in the future")


def confirm_receipt(actor, notice: Notice, when: datetime) -> Notice:
    """The provider confirmed receipt (DSA 16(4)); a clock that waits for that confirmation starts."""
    _check(notice, RECEIPT, when)
    with transaction.atomic():
        event(notice, RECEIPT, actor, on=when.isoformat())
        TakedownRequest.objects.filter(pk=notice.request_id).update(receipt_confirmed_at=when)
        log_action(actor, "notice.receipt_confirmed", notice, case_id=notice.case_id)
        clock = clocks.clock_of(notice)
        if clock is not None and clock.starts == law_clocks.CONFIRMED:
            clocks.record_start(actor, notice, when)
    return notice


def record_decision(actor, notice: Notice, decision: str, when: datetime) -> Notice:
    """The provider's decision on the notice (DSA 16(5)). What the re-checks see stays the notice's outcome."""
    if decision not in Decision.values:
        raise UserError(f"unknown decision {decision!r} (one of {', '.join(Decision.values)})")
    _check(notice, DECISION, when)
    with transaction.atomic():
        event(notice, DECISION, actor, decision=decision, on=when.isoformat())
        TakedownRequest.objects.filter(pk=notice.request_id).update(decision=decision, decided_at=when)
        log_action(actor, "notice.decision", notice, case_id=notice.case_id, decision=decision)
    return notice


def authority_notice(actor, notice: Notice, when: datetime) -> Notice:
    """The authority gave the provider its removal notice: the regime's clock runs from then."""
    _check(notice, AUTHORITY, when)
    return clocks.record_start(actor, notice, when)


def record(actor, notice: Notice, kind: str, when: datetime, decision: str = "") -> Notice:
    """One entry point for the page and the CLI."""
    if kind == RECEIPT:
        return confirm_receipt(actor, notice, when)
    if kind == DECISION:
        return record_decision(actor, notice, decision, when)
    if kind == AUTHORITY:
        return authority_notice(actor, notice, when)
    raise UserError(f"unknown legal event {kind!r} (one of {RECEIPT}, {DECISION}, {AUTHORITY})")


def parse_local(text: str) -> datetime:
    """A date and time typed by staff (``2026-12-01T14:30``), in their time zone unless it names one."""
    try:
        when = datetime.fromisoformat((text or "").strip())
    except ValueError:
        raise UserError(f"{text!r} is not a date and time (e.g. 2026-12-01 14:30)") from None
    return when if when.tzinfo else timezone.make_aware(when, timezone.get_current_timezone())
