"""The case page's one timeline, what is due next, and the actions the page offers.

Every fact is read from the rows that already hold it (references, hits, evidence bundles, notice events,
replies, re-check histories, contacts, the audit log); nothing is stored twice. Events carry no personal
data: never her name or contact, never the URL of a hit, never the text of a contact note. Each source
costs one or two queries however large the case is; where one day holds many rows of one sort, they
become one event ("12 hits found").
"""

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from django.db import transaction
from django.db.models import Count, Max, Q
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from ..evidence.models import EvidenceBundle
from ..lib.errors import UserError
from ..matching.calibration import PINK
from ..matching.models import Hit
from ..notices.models import Notice, NoticeEvent, OutboxMessage, Reply
from ..patrol.models import Recheck
from ..sites.models import Outcome
from . import services
from .models import Case, ContactEntry, ReferenceItem

# The host of a hit is shown where the matching app keeps it in the clear (never the URL).
HIT_HOST = any(field.name == "host" for field in Hit._meta.fields)
FEW = 3  # rows of one sort on one day are shown one by one; more become one event
MAX_PRESELECTED = 200  # hit ids handed to the notice composer in its URL
FAILED_MAIL_DAYS = 14  # a failed message stays on the case's to-do list this long (nothing marks it seen)

KINDS = {
    "reference": gettext_lazy("References"),
    "hit": gettext_lazy("Hits found"),
    "decision": gettext_lazy("Hit decisions"),
    "evidence": gettext_lazy("Evidence"),
    "notice": gettext_lazy("Notices"),
    "reply": gettext_lazy("Replies"),
    "recheck": gettext_lazy("Re-checks"),
    "outcome": gettext_lazy("Outcomes"),
    "contact": gettext_lazy("Contacts with her"),
    "case": gettext_lazy("Case"),
}
LIVE_NOTICES = (Notice.Status.DRAFT, Notice.Status.QUEUED, Notice.Status.FORM, Notice.Status.SENT)


@dataclass(frozen=True)
class Event:
    """One line of the timeline. ``tone`` is for styling: "pink" (a hit at ≥95 %), "done", "warn" or ""."""

    at: datetime
    kind: str
    title: str
    detail: str = ""
    link: str = ""
    tone: str = ""


def parse_kinds(values: Iterable[str]) -> list[str]:
    """Kinds from a query string (repeated or comma-separated); unknown ones are dropped."""
    wanted = {part.strip() for value in values for part in value.split(",")}
    return [kind for kind in KINDS if kind in wanted]


def events(case: Case, *, kinds: Iterable[str] | None = None, limit: int = 200) -> list[Event]:
    """The case's events of these kinds (all when None or empty), newest first, at most ``limit``."""
    wanted = set(kinds or ()) or set(KINDS)
    found: list[Event] = []
    for produces, source in SOURCES:
        if wanted & produces:
            found.extend(e for e in source(case, limit) if e.kind in wanted)
    found.sort(key=lambda e: e.at, reverse=True)
    return found[:limit]


# --- helpers ------------------------------------------------------------------------------------------------


def _day(at: datetime) -> date:
    return timezone.localtime(at).date()


def _who(label: str | None) -> str:
    """A staff member's user name; any part of the system is just "Kesu"."""
    if label and label.startswith("user:"):
        return label[5:]
    return label if label and ":" not in label else _("Kesu")


def _by(label: str | None) -> str:
    return _("by %(who)s") % {"who": _who(label)}


def _bunched(rows: Iterable[dict], at: str, key: Callable, one: Callable, many: Callable) -> Iterable[Event]:
    """One event per row, or one event per (key, day) for a group of more than FEW rows."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        if row[at] is not None:
            groups[(key(row), _day(row[at]))].append(row)
    for group in groups.values():
        if len(group) > FEW:
            yield many(group)
        else:
            yield from (one(row) for row in group)


def _percent(probability: float) -> str:
    return f"{round(probability * 100)}%"


def _review_link(case: Case) -> str:
    # The review queue is its own page (kesu/review); it takes the case as a filter.
    return f"/review/?case={case.pk}"


def _case_link(case: Case, anchor: str) -> str:
    return reverse("cases:detail", args=[case.pk]) + "#" + anchor


@lru_cache(maxsize=4096)
def _notice_link(notice_id: int) -> str:
    return reverse("notices:detail", args=[notice_id])


# --- sources --------------------------------------------------------------------------------------------------


def _references(case: Case, limit: int) -> Iterable[Event]:
    labels = dict(ReferenceItem.Kind.choices)
    rows = case.references.values("kind", "created_at", "created_by")
    link = _case_link(case, "references")

    def one(row):
        title = _("Reference added: %(kind)s") % {"kind": labels.get(row["kind"], row["kind"])}
        return Event(row["created_at"], "reference", title, _by(row["created_by"]), link)

    def many(group):
        n = len(group)
        title = ngettext("%(n)d reference added", "%(n)d references added", n) % {"n": n}
        return Event(max(r["created_at"] for r in group), "reference", title, _by(group[0]["created_by"]), link)

    return _bunched(rows, "created_at", lambda r: r["created_by"], one, many)


def _hits_found(case: Case, limit: int) -> Iterable[Event]:
    """Per day: one aggregate row (one query), and the hits themselves only for days with few of them."""
    per_day = list(
        case.hits.annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(
            n=Count("pk"),
            pink=Count("pk", filter=Q(probability__gte=PINK)),
            reuploads=Count("pk", filter=Q(reupload_of__isnull=False)),
            last=Max("created_at"),
        )
        .order_by("-day")[:limit]
    )
    link = _review_link(case)
    quiet_days = [row["day"] for row in per_day if row["n"] <= FEW]
    for row in per_day:
        if row["n"] > FEW:
            yield _many_hits(row, link)
    if quiet_days:
        hits = case.hits.annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        fields = ["created_at", "signal", "probability", "reupload_of_id"] + ["host"] * HIT_HOST
        for hit in hits.filter(day__in=quiet_days).values(*fields):
            yield _one_hit(hit, link)


def _one_hit(hit: dict, link: str) -> Event:
    title = _("Re-upload found") if hit["reupload_of_id"] else _("Hit found")
    detail = " · ".join(p for p in (hit.get("host", ""), hit["signal"], _percent(hit["probability"])) if p)
    tone = "pink" if hit["probability"] >= PINK else ("warn" if hit["reupload_of_id"] else "")
    return Event(hit["created_at"], "hit", title, detail, link, tone)


def _many_hits(row: dict, link: str) -> Event:
    title = ngettext("%(n)d hit found", "%(n)d hits found", row["n"]) % {"n": row["n"]}
    parts = [_("%(n)d at ≥95%%") % {"n": row["pink"]}]
    if row["reuploads"]:
        parts.append(ngettext("%(n)d re-upload", "%(n)d re-uploads", row["reuploads"]) % {"n": row["reuploads"]})
    return Event(row["last"], "hit", title, ", ".join(parts), link, "pink" if row["pink"] else "")


def _decisions(case: Case, limit: int) -> Iterable[Event]:
    """Confirmations and rejections, one event per day, decision and person (one query)."""
    rows = (
        case.hits.filter(decided_at__isnull=False, status__in=(Hit.Status.CONFIRMED, Hit.Status.REJECTED))
        .annotate(day=TruncDate("decided_at", tzinfo=timezone.get_current_timezone()))
        .values("day", "status", "decided_by__username")
        .annotate(n=Count("pk"), last=Max("decided_at"), top=Max("probability"))
        .order_by("-day")[:limit]
    )
    for row in rows:
        n, confirmed = row["n"], row["status"] == Hit.Status.CONFIRMED
        if n == 1:
            title = _("Hit confirmed") if confirmed else _("Hit rejected")
            detail = f"{_percent(row['top'])} · {_by(row['decided_by__username'])}"
        elif confirmed:
            title = ngettext("%(n)d hit confirmed", "%(n)d hits confirmed", n) % {"n": n}
            detail = _by(row["decided_by__username"])
        else:
            title = ngettext("%(n)d hit rejected", "%(n)d hits rejected", n) % {"n": n}
            detail = _by(row["decided_by__username"])
        yield Event(row["last"], "decision", title, detail, "", "done" if confirmed else "")


def _evidence(case: Case, limit: int) -> Iterable[Event]:
    rows = list(
        EvidenceBundle.objects.filter(case=case).values(
            "requested_at", "finished_at", "status", "reason", "outcome", "media_count"
        )
    )
    link = _case_link(case, "evidence")
    reasons = dict(EvidenceBundle.Reason.choices)

    def requested(row):
        return Event(
            row["requested_at"], "evidence", _("Preservation requested"), str(reasons.get(row["reason"], "")), link
        )

    def requested_many(group):
        n = len(group)
        title = ngettext("%(n)d preservation requested", "%(n)d preservations requested", n) % {"n": n}
        return Event(max(r["requested_at"] for r in group), "evidence", title, "", link)

    yield from _bunched(rows, "requested_at", lambda r: "", requested, requested_many)
    finished = [r for r in rows if r["status"] != EvidenceBundle.Status.PENDING]
    yield from _bunched(finished, "finished_at", lambda r: r["status"], _finished_one(link), _finished_many(link))


def _finished_one(link: str) -> Callable:
    def one(row):
        if row["status"] == EvidenceBundle.Status.FAILED:
            return Event(row["finished_at"], "evidence", _("Preservation failed"), "", link, "warn")
        detail = ngettext("%(n)d medium", "%(n)d media", row["media_count"]) % {"n": row["media_count"]}
        if row["outcome"] == "partial":
            detail += " · " + _("partly")
        return Event(row["finished_at"], "evidence", _("Page preserved"), detail, link, "done")

    return one


def _finished_many(link: str) -> Callable:
    def many(group):
        n, at = len(group), max(r["finished_at"] for r in group)
        if group[0]["status"] == EvidenceBundle.Status.FAILED:
            title = ngettext("%(n)d preservation failed", "%(n)d preservations failed", n) % {"n": n}
            return Event(at, "evidence", title, "", link, "warn")
        title = ngettext("%(n)d page preserved", "%(n)d pages preserved", n) % {"n": n}
        return Event(at, "evidence", title, "", link, "done")

    return many


NOTICE_TITLES = {
    "prepared": gettext_lazy("Notice to %(recipient)s drafted"),
    "queued": gettext_lazy("Notice to %(recipient)s queued"),
    "evidence": gettext_lazy("Evidence kept for the notice to %(recipient)s"),
    "held": gettext_lazy("Notice to %(recipient)s held: something is missing"),
    "form_ready": gettext_lazy("Notice to %(recipient)s ready for its web form"),
    "form_submitted": gettext_lazy("Notice to %(recipient)s submitted through its web form"),
    "send_failed": gettext_lazy("Sending to %(recipient)s failed"),
    "reminder": gettext_lazy("Reminder to %(recipient)s queued"),
    "reminder_held": gettext_lazy("Reminder to %(recipient)s held: something is missing"),
    "escalated": gettext_lazy("Notice to %(recipient)s escalated"),
    "after_bounce": gettext_lazy("Notice to %(recipient)s written after a bounce"),
    "bounced": gettext_lazy("Notice to %(recipient)s bounced"),
    "cancelled": gettext_lazy("Notice to %(recipient)s cancelled"),
    "identity_consent": gettext_lazy("Her agreement to give her name to %(recipient)s recorded"),
    "language": gettext_lazy("Language of the notice to %(recipient)s changed"),
}
SENT_TITLES = {
    OutboxMessage.Kind.NOTICE: gettext_lazy("Notice to %(recipient)s sent"),
    OutboxMessage.Kind.REMINDER: gettext_lazy("Reminder to %(recipient)s sent"),
    OutboxMessage.Kind.RECEIPT: gettext_lazy("Receipt sent to her"),
}
WARN_EVENTS = {"held", "send_failed", "reminder_held", "bounced"}


def _notice_events(case: Case, limit: int) -> Iterable[Event]:
    """NoticeEvent rows (one query); outcomes become their own kind. Replies come from Reply rows instead."""
    rows = (
        NoticeEvent.objects.filter(notice__case=case)
        .exclude(kind="reply")
        .values("kind", "at", "actor", "detail", "notice_id", "notice__recipient__name")
    )

    def many(group):
        first = _notice_event(group[0])
        title = _("%(title)s (×%(n)d)") % {"title": first.title, "n": len(group)}
        return Event(max(r["at"] for r in group), first.kind, title, first.detail, first.link, first.tone)

    return _bunched(rows, "at", lambda r: (r["notice_id"], r["kind"]), _notice_event, many)


def _notice_event(row: dict) -> Event:
    names, kind, detail = {"recipient": row["notice__recipient__name"]}, row["kind"], row["detail"] or {}
    link, by = _notice_link(row["notice_id"]), _by(row["actor"])
    if kind in ("outcome", "observed"):
        return _outcome_event(row, names, link, by)
    if kind == "sent":
        title = SENT_TITLES.get(detail.get("message"), gettext_lazy("Message about %(recipient)s sent")) % names
        return Event(row["at"], "notice", title, "", link, "done")
    title = NOTICE_TITLES.get(kind, gettext_lazy("Notice to %(recipient)s: %(step)s")) % {**names, "step": kind}
    extra = ""
    if kind == "prepared":
        extra = _("step %(step)s, %(n)s URL(s)") % {"step": detail.get("step", "?"), "n": detail.get("urls", "?")}
    elif kind == "send_failed" and detail.get("code"):
        extra = _("server answered %(code)s") % {"code": detail["code"]}
    elif kind == "escalated":
        extra = ngettext("%(n)d new notice", "%(n)d new notices", detail.get("notices", 0)) % {
            "n": detail.get("notices", 0)
        }
    return Event(row["at"], "notice", title, " · ".join(p for p in (extra, by) if p), link, _tone(kind))


def _tone(kind: str) -> str:
    return "warn" if kind in WARN_EVENTS else ""


def _outcome_event(row: dict, names: dict, link: str, by: str) -> Event:
    outcome = (row["detail"] or {}).get("outcome", "")
    label = Outcome(outcome).label if outcome in Outcome.values else outcome
    if row["kind"] == "observed":
        title = _("Re-checks show %(outcome)s at %(recipient)s") % {**names, "outcome": label}
    else:
        title = _("%(recipient)s: %(outcome)s") % {**names, "outcome": label}
    tone = "done" if outcome in (Outcome.DELETED, Outcome.PARTLY_DELETED) else ""
    tone = "warn" if outcome == Outcome.STILL_ONLINE else tone
    return Event(row["at"], "outcome", title, by, link, tone)


def _replies(case: Case, limit: int) -> Iterable[Event]:
    rows = list(
        Reply.objects.filter(Q(case=case) | Q(notice__case=case)).values(
            "pk",
            "received_at",
            "proposal",
            "decision",
            "decided_at",
            "decided_by__username",
            "from_domain",
            "notice__recipient__name",
        )  # fmt: skip
    )
    yield from _bunched(rows, "received_at", lambda r: r["proposal"], _reply_received, _replies_received)
    labels = dict(Reply.Proposal.choices)
    for row in rows:
        if row["decision"] and row["decided_at"]:
            title = _("Reply read as: %(decision)s") % {"decision": labels.get(row["decision"], row["decision"])}
            link = reverse("notices:reply", args=[row["pk"]])
            yield Event(row["decided_at"], "reply", title, _by(row["decided_by__username"]), link, "")


def _reply_received(row: dict) -> Event:
    labels = dict(Reply.Proposal.choices)
    link = reverse("notices:reply", args=[row["pk"]])
    if row["proposal"] == Reply.Proposal.VICTIM:  # her address, even its domain, stays off the page
        return Event(row["received_at"], "reply", _("E-mail from her received"), "", link)
    # Only the recipient's name: a reply threaded to the case alone (a bounce of a receipt we sent her, her
    # mailbox's auto-reply) comes from her domain, which is part of her contact.
    sender = row["notice__recipient__name"] or _("a message not about a notice")
    title = _("Reply from %(sender)s") % {"sender": sender}
    detail = _("looks like: %(proposal)s") % {"proposal": labels.get(row["proposal"], row["proposal"])}
    tone = "warn" if row["proposal"] in (Reply.Proposal.BOUNCE, Reply.Proposal.REFUSED) else ""
    return Event(row["received_at"], "reply", title, detail, link, tone)


def _replies_received(group: list[dict]) -> Event:
    labels, n = dict(Reply.Proposal.choices), len(group)
    title = ngettext("%(n)d reply received", "%(n)d replies received", n) % {"n": n}
    detail = _("looks like: %(proposal)s") % {"proposal": labels.get(group[0]["proposal"], "")}
    return Event(max(r["received_at"] for r in group), "reply", title, detail, "")


def _rechecks(case: Case, limit: int) -> Iterable[Event]:
    """Every change a re-check saw (its ``history``), with the host but never the URL."""
    rows = []
    # Only the re-checks that changed most recently: each row's newest change is ``changed_at``, so the newest
    # ``limit`` changes are all among these rows (a case may have hundreds of re-checked URLs).
    recent = Recheck.objects.filter(case=case, changed_at__isnull=False).order_by("-changed_at")[:limit]
    for item in recent.values("host", "history", "notice_id"):
        before = ""
        for entry in item["history"] or []:
            back = before in Recheck.GONE and entry["state"] == Recheck.State.ONLINE
            at = datetime.fromisoformat(entry["at"])
            rows.append({**entry, "at": at, "host": item["host"], "notice_id": item["notice_id"], "back": back})
            before = entry["state"]
    return _bunched(rows, "at", lambda r: (r["state"], r["back"]), _recheck_one, _recheck_many)


def _recheck_title(row: dict) -> tuple[str, str]:
    state = Recheck.State(row["state"]).label if row["state"] in Recheck.State.values else row["state"]
    if row["back"]:
        return _("Back online"), "warn"
    tone = "done" if row["state"] in Recheck.GONE else ("warn" if row["state"] == Recheck.State.ONLINE else "")
    return _("Re-check: %(state)s") % {"state": state}, tone


def _recheck_one(row: dict) -> Event:
    title, tone = _recheck_title(row)
    detail = row["host"] + (f" · HTTP {row['status']}" if row.get("status") else "")
    return Event(row["at"], "recheck", title, detail, _notice_link(row["notice_id"]), tone)


def _recheck_many(group: list[dict]) -> Event:
    title, tone = _recheck_title(group[0])
    hosts = sorted({r["host"] for r in group})
    detail = ngettext("%(n)d URL", "%(n)d URLs", len(group)) % {"n": len(group)}
    detail += " · " + ", ".join(hosts[:3]) + ("…" if len(hosts) > 3 else "")
    return Event(max(r["at"] for r in group), "recheck", title, detail, "", tone)


CONTACT_TITLES = {
    ("in", "phone"): gettext_lazy("Phone call from her"),
    ("out", "phone"): gettext_lazy("Phone call to her"),
    ("in", "email"): gettext_lazy("E-mail from her"),
    ("out", "email"): gettext_lazy("E-mail to her"),
    ("in", "meeting"): gettext_lazy("Meeting with her"),
    ("out", "meeting"): gettext_lazy("Meeting with her"),
    ("in", "chat"): gettext_lazy("Chat message from her"),
    ("out", "chat"): gettext_lazy("Chat message to her"),
    ("in", "letter"): gettext_lazy("Letter from her"),
    ("out", "letter"): gettext_lazy("Letter to her"),
}


def _contacts(case: Case, limit: int) -> Iterable[Event]:
    """Who talked to her, how and when; what was said stays sealed."""
    link = _case_link(case, "contacts")
    for row in ContactEntry.objects.filter(case=case).values("at", "direction", "channel", "staff")[:limit]:
        title = CONTACT_TITLES.get((row["direction"], row["channel"]), gettext_lazy("Contact with her"))
        yield Event(row["at"], "contact", str(title), _by(row["staff"]), link)


CASE_ACTIONS = ("case.create", "case.status", "case.continue", "case.assign", "case.consent")


def _case_changes(case: Case, limit: int) -> Iterable[Event]:
    rows = services.case_history(case).filter(action__in=CASE_ACTIONS).values("at", "actor", "action", "detail")
    statuses = dict(Case.Status.choices)
    for row in rows[:limit]:
        detail, tone = row["detail"] or {}, ""
        if row["action"] == "case.create":
            title = _("Case opened")
        elif row["action"] == "case.status":
            title = _("Status: %(status)s") % {"status": statuses.get(detail.get("status"), detail.get("status"))}
            tone = "done" if detail.get("status") == Case.Status.CLOSED else ""
        elif row["action"] == "case.continue":
            title = _("She wants to continue: next check on %(date)s") % {"date": _short_date(detail.get("next_due"))}
        elif row["action"] == "case.assign":
            title = _("Assigned: %(users)s") % {"users": ", ".join(detail.get("users") or []) or "—"}
        else:
            title = _("Consent recorded")
        yield Event(row["at"], "case", title, _by(row["actor"]), "", tone)


def _short_date(value) -> str:
    try:
        return date_format(date.fromisoformat(value), "SHORT_DATE_FORMAT")
    except (TypeError, ValueError):
        return "—"


SOURCES: list[tuple[set[str], Callable[[Case, int], Iterable[Event]]]] = [
    ({"reference"}, _references),
    ({"hit"}, _hits_found),
    ({"decision"}, _decisions),
    ({"evidence"}, _evidence),
    ({"notice", "outcome"}, _notice_events),
    ({"reply"}, _replies),
    ({"recheck"}, _rechecks),
    ({"contact"}, _contacts),
    ({"case"}, _case_changes),
]


# --- what is due --------------------------------------------------------------------------------------------


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


def due_actions(case: Case, user, now: datetime | None = None) -> list[Action]:
    """Everything due on the case, most urgent first.

    The order: a message that did not go out (she counts on it), escalations whose deadline passed,
    content still online past the deadline with nobody further up the ladder, replies waiting for a
    decision (a site answered), new hits to review, drafts to send, web forms to fill, and the yearly
    continuation check. ``user`` is the staff member looking (already allowed on the case).
    """
    now = now or timezone.now()
    found: list[Action] = []
    found += _failed_mail(case, now)
    counts = case.notices.aggregate(
        escalate=Count("pk", filter=Q(status=Notice.Status.SENT, escalate_at__lte=now)),
        drafts=Count("pk", filter=Q(status=Notice.Status.DRAFT)),
        forms=Count("pk", filter=Q(status=Notice.Status.FORM)),
    )
    if counts["escalate"]:
        found += _escalations(case, now)
    found += _past_deadline(case, now)
    found += _replies_waiting(case)
    found += _new_hits(case)
    found += _waiting_notices(case, Notice.Status.DRAFT, counts["drafts"])
    found += _waiting_notices(case, Notice.Status.FORM, counts["forms"])
    if case.continuation_is_due(timezone.localdate(now)):
        detail = _("due on %(date)s") % {"date": date_format(case.continuation_due_on, "SHORT_DATE_FORMAT")}
        found.append(Action("continuation", _("Ask her whether the case should continue"), detail))
    return found


def next_action(case: Case, user, now: datetime | None = None) -> Action | None:
    actions = due_actions(case, user, now)
    return actions[0] if actions else None


def _failed_mail(case: Case, now: datetime) -> list[Action]:
    failed = OutboxMessage.objects.filter(case=case).filter(
        Q(status=OutboxMessage.Status.UNCERTAIN)
        | Q(status=OutboxMessage.Status.FAILED, created_at__gte=now - timedelta(days=FAILED_MAIL_DAYS))
    )
    rows = list(failed.values("notice_id", "status")[:50])
    if not rows:
        return []
    n = len(rows)
    title = ngettext("%(n)d message did not go out", "%(n)d messages did not go out", n) % {"n": n}
    first = next((r["notice_id"] for r in rows if r["notice_id"]), None)
    link = _notice_link(first) if first else reverse("notices:case", args=[case.pk])
    detail = _("Check the address or resend; an uncertain one must be settled first.")
    return [Action("failed_mail", title, detail, link)]


def _escalations(case: Case, now: datetime) -> list[Action]:
    due = case.notices.filter(status=Notice.Status.SENT, escalate_at__lte=now).order_by("escalate_at")
    return [
        Action(
            "escalate",
            _("Escalation due: %(recipient)s") % {"recipient": row["recipient__name"]},
            _("the deadline passed on %(date)s")
            % {"date": date_format(timezone.localtime(row["escalate_at"]), "SHORT_DATETIME_FORMAT")},
            _notice_link(row["pk"]),
            notice_id=row["pk"],
        )  # fmt: skip
        for row in due.values("pk", "escalate_at", "recipient__name")[:5]
    ]


def _past_deadline(case: Case, now: datetime) -> list[Action]:
    """Sent notices past their deadline, still online (by her re-checks or their answer), never escalated."""
    rows = (
        case.notices.filter(status=Notice.Status.SENT, escalate_at__isnull=True, deadline_hours__isnull=False)
        .filter(escalations__isnull=True, sent_at__isnull=False)
        .filter(Q(outcome=Outcome.STILL_ONLINE) | Q(rechecks__state=Recheck.State.ONLINE))
        .values("pk", "sent_at", "deadline_hours", "recipient__name")
        .order_by("sent_at", "pk")  # the oldest are the latest past their deadline: never cut them off
        .distinct()[:20]
    )
    late = [r for r in rows if r["sent_at"] + timedelta(hours=r["deadline_hours"]) <= now]
    return [
        Action(
            "past_deadline",
            _("Still online after the deadline: %(recipient)s") % {"recipient": row["recipient__name"]},
            _("Nobody further up the ladder: decide on the next step."),
            _notice_link(row["pk"]),
        )
        for row in late[:5]
    ]


def _replies_waiting(case: Case) -> list[Action]:
    waiting = Reply.objects.filter(Q(case=case) | Q(notice__case=case), decision="").order_by("received_at")
    ids = list(waiting.values_list("pk", flat=True)[:100])
    if not ids:
        return []
    n = len(ids)
    title = ngettext("%(n)d reply waits for your decision", "%(n)d replies wait for your decision", n) % {"n": n}
    return [Action("replies", title, "", reverse("notices:reply", args=[ids[0]]))]


def _new_hits(case: Case) -> list[Action]:
    counts = case.hits.filter(status=Hit.Status.NEW).aggregate(
        n=Count("pk"), pink=Count("pk", filter=Q(probability__gte=PINK))
    )
    if not counts["n"]:
        return []
    title = ngettext("%(n)d new hit to review", "%(n)d new hits to review", counts["n"]) % {"n": counts["n"]}
    detail = _("%(n)d at ≥95%%") % {"n": counts["pink"]}
    return [Action("hits", title, detail, _review_link(case), tone="pink" if counts["pink"] else "warn")]


def _waiting_notices(case: Case, status: str, count: int) -> list[Action]:
    if not count:
        return []
    if status == Notice.Status.DRAFT:
        title = ngettext("%(n)d draft notice waits to be sent", "%(n)d draft notices wait to be sent", count)
    else:
        title = ngettext(
            "%(n)d notice waits to be entered in a web form", "%(n)d notices wait to be entered in web forms", count
        )
    link = reverse("notices:case", args=[case.pk])
    if count == 1:
        first = case.notices.filter(status=status).values_list("pk", flat=True).first()
        link = reverse("notices:form" if status == Notice.Status.FORM else "notices:detail", args=[first])
    return [Action("drafts" if status == Notice.Status.DRAFT else "forms", title % {"n": count}, "", link)]


# --- actions on the case page ----------------------------------------------------------------------------------


def removal_hit_ids(case: Case) -> list[int]:
    """Confirmed hits not yet in a live notice: preselected when staff ask for removal."""
    hits = case.hits.filter(status=Hit.Status.CONFIRMED, source_url_sealed__isnull=False)  # a notice names a place
    hits = hits.exclude(notices__status__in=LIVE_NOTICES)
    return list(hits.order_by("pk").values_list("pk", flat=True).distinct()[:MAX_PRESELECTED])


def open_notices(case: Case) -> list[Notice]:
    """Drafts and notices still going (queued, waiting for a form, sent and not settled)."""
    return list(case.notices.filter(status__in=LIVE_NOTICES).select_related("recipient").order_by("-created_at"))


def close_case(actor, case: Case, *, despite_open: bool = False) -> None:
    """Close the case. With notices still open, staff must say they saw them (``despite_open``); their
    reminders and re-checks go on until each is settled on its own page."""
    with transaction.atomic():
        if case.status == Case.Status.CLOSED:
            raise UserError(_("The case is already closed."))
        if open_notices(case) and not despite_open:
            raise UserError(_("Notices are still open: confirm that the case should close anyway."))
        services.set_status(actor, case, Case.Status.CLOSED)
