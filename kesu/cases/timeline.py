"""The case page's one timeline, what is due next, and the actions the page offers, from the apps that own
the facts.

This module knows no other app's models. Each app registers, in its ``AppConfig.ready()``, what it adds to
the case page: sources of events (with the kinds they produce), sources of due actions, its section's
template context, and the answers to the questions the page's actions ask (``QUESTIONS``). Here the events
are merged, filtered and put newest first, the actions ranked by urgency, the kinds put in order.

Every fact is read from the rows that already hold it; nothing is stored twice. Events carry no personal
data: never her name or contact, never the URL of a hit, never the text of a contact note. Each source costs
one or two queries however large the case is; where one day holds many rows of one sort, they become one
event ("12 hits found": see ``bunched``).
"""

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from ..lib.errors import UserError
from . import services
from .models import Case

FEW = 3  # rows of one sort on one day are shown one by one; more become one event

# The kinds in the order the filter shows them; a kind not named here comes last, in the order registered.
ORDER = (
    "reference", "hit", "decision", "evidence", "notice", "reply", "recheck", "outcome", "exchange", "hashing",
    "contact", "case",
)  # fmt: skip
# The due actions, most urgent first: a message that did not go out (she counts on it), escalations whose
# deadline passed, content still online past the deadline with nobody further up the ladder, replies waiting
# for a decision (a site answered), new hits to review, drafts to send, web forms to fill, the yearly
# continuation check. A kind not named here comes last.
URGENCY = ("failed_mail", "escalate", "past_deadline", "replies", "hits", "drafts", "forms", "continuation")
# What the page's actions ask, each answered by one app: ``answer(case) -> list``.
QUESTIONS = {
    "removal_hit_ids": "the confirmed hits not yet in a live notice (preselected when staff ask for removal)",
    "open_notices": "the notices still going: drafts, queued, waiting for a form, sent and not settled",
}


@dataclass(frozen=True)
class Event:
    """One line of the timeline. ``tone`` is for styling: "pink" (a hit at ≥95 %), "done", "warn" or ""."""

    at: datetime
    kind: str
    title: str
    detail: str = ""
    link: str = ""
    tone: str = ""


@dataclass(frozen=True)
class Action:
    """Something staff should do on the case. ``notice_id`` is set where the page offers a button for it
    (escalation); ``kind`` names the situation (the template shows the continuation form for it)."""

    kind: str
    title: str
    detail: str = ""
    link: str = ""
    notice_id: int | None = None
    tone: str = "warn"


EventSource = Callable[[Case, int], Iterable[Event]]  # (case, limit): its newest ``limit`` events suffice
DueSource = Callable[[Case, object, datetime], Iterable[Action]]  # (case, user looking, now)
SectionSource = Callable[[Case], dict]  # the template context of its section of the case page

KINDS: dict = {}  # kind → label for the filter, in ORDER
_events: list[tuple[frozenset[str], EventSource]] = []
_due: list[DueSource] = []
_sections: list[SectionSource] = []
_answers: dict[str, Callable[[Case], list]] = {}


# --- registration (each app's ready()) ----------------------------------------------------------------------


def register_events(kinds: dict, source: EventSource) -> None:
    """``source`` yields events of these kinds (kind → label for the filter); a kind has one source."""
    if any(source is known for _kinds, known in _events):
        return
    taken = set(kinds) & set(KINDS)
    if taken:
        raise ValueError(f"timeline kinds already registered: {sorted(taken)}")
    _events.append((frozenset(kinds), source))
    _order_kinds({**KINDS, **kinds})


def register_due(source: DueSource) -> None:
    if source not in _due:
        _due.append(source)


def register_section(source: SectionSource) -> None:
    if source not in _sections:
        _sections.append(source)


def register_answer(question: str, answer: Callable[[Case], list]) -> None:
    if question not in QUESTIONS:
        raise ValueError(f"the case page asks no question {question!r}")
    _answers[question] = answer


def unregister(source: Callable) -> None:
    """Take a source of events, due actions or context out again (an app that goes away, a test's fake)."""
    _events[:] = [(kinds, known) for kinds, known in _events if known is not source]
    _due[:] = [known for known in _due if known is not source]
    _sections[:] = [known for known in _sections if known is not source]
    _order_kinds({kind: label for kind, label in KINDS.items() if any(kind in kinds for kinds, _s in _events)})


def _order_kinds(labels: dict) -> None:
    KINDS.clear()
    KINDS.update(sorted(labels.items(), key=lambda item: _rank(item[0], ORDER)))


def _rank(kind: str, order: tuple[str, ...]) -> int:
    return order.index(kind) if kind in order else len(order)


def registered() -> dict:
    """What the apps registered: sources of events and of due actions, sections, and the questions answered."""
    return {
        "events": {source: kinds for kinds, source in _events},
        "due": list(_due),
        "sections": list(_sections),
        "answers": dict(_answers),
    }


# --- the timeline --------------------------------------------------------------------------------------------


def parse_kinds(values: Iterable[str]) -> list[str]:
    """Kinds from a query string (repeated or comma-separated); unknown ones are dropped."""
    wanted = {part.strip() for value in values for part in value.split(",")}
    return [kind for kind in KINDS if kind in wanted]


def events(case: Case, *, kinds: Iterable[str] | None = None, limit: int = 200) -> list[Event]:
    """The case's events of these kinds (all when None or empty), newest first, at most ``limit``."""
    wanted = set(kinds or ()) or set(KINDS)
    found: list[Event] = []
    for produces, source in _events:
        if wanted & produces:
            found.extend(e for e in source(case, limit) if e.kind in wanted)
    found.sort(key=lambda e: e.at, reverse=True)
    return found[:limit]


# --- helpers for the sources -----------------------------------------------------------------------------------


def day(at: datetime) -> date:
    return timezone.localtime(at).date()


def who(label: str | None) -> str:
    """A staff member's user name; any part of the system is just "Kesu"."""
    if label and label.startswith("user:"):
        return label[5:]
    return label if label and ":" not in label else _("Kesu")


def by(label: str | None) -> str:
    return _("by %(who)s") % {"who": who(label)}


def bunched(rows: Iterable[dict], at: str, key: Callable, one: Callable, many: Callable) -> Iterable[Event]:
    """One event per row, or one event per (key, day) for a group of more than FEW rows."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        if row[at] is not None:
            groups[(key(row), day(row[at]))].append(row)
    for group in groups.values():
        if len(group) > FEW:
            yield many(group)
        else:
            yield from (one(row) for row in group)


def case_link(case: Case, anchor: str) -> str:
    return reverse("cases:detail", args=[case.pk]) + "#" + anchor


# --- what is due --------------------------------------------------------------------------------------------


def due_actions(case: Case, user, now: datetime | None = None) -> list[Action]:
    """Everything due on the case, most urgent first (``URGENCY``). ``user`` is the staff member looking
    (already allowed on the case)."""
    now = now or timezone.now()
    found = [action for source in _due for action in source(case, user, now)]
    return sorted(found, key=lambda action: _rank(action.kind, URGENCY))  # stable: a source's own order holds


def next_action(case: Case, user, now: datetime | None = None) -> Action | None:
    actions = due_actions(case, user, now)
    return actions[0] if actions else None


# --- the page's sections and actions ----------------------------------------------------------------------------


def sections(case: Case) -> dict:
    """The template context each app gives for its section of the case page."""
    context: dict = {}
    for source in _sections:
        part = source(case)
        if set(part) & set(context):
            raise ValueError(f"two sections of the case page give {sorted(set(part) & set(context))}")
        context.update(part)
    return context


def removal_hit_ids(case: Case) -> list[int]:
    return list(_answers["removal_hit_ids"](case))


def open_notices(case: Case) -> list:
    return list(_answers["open_notices"](case))


def close_case(actor, case: Case, *, despite_open: bool = False) -> None:
    """Close the case. With notices still open, staff must say they saw them (``despite_open``); their
    reminders and re-checks go on until each is settled on its own page."""
    with transaction.atomic():
        if case.status == Case.Status.CLOSED:
            raise UserError(_("The case is already closed."))
        if open_notices(case) and not despite_open:
            raise UserError(_("Notices are still open: confirm that the case should close anyway."))
        services.set_status(actor, case, Case.Status.CLOSED)
