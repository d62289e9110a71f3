"""What the cases app adds to its own page: references added, contacts with her, changes to the case (from the
audit log), and the yearly continuation check. Registered in ``CasesConfig.ready()``."""

from collections.abc import Iterable
from datetime import date, datetime

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from . import services, timeline
from .models import Case, ContactEntry, ReferenceItem
from .timeline import Action, Event, bunched, by, case_link


def register() -> None:
    timeline.register_events({"reference": gettext_lazy("References")}, references)
    timeline.register_events({"contact": gettext_lazy("Contacts with her")}, contacts)
    timeline.register_events({"case": gettext_lazy("Case")}, case_changes)
    timeline.register_due(continuation_due)


def references(case: Case, limit: int) -> Iterable[Event]:
    labels = dict(ReferenceItem.Kind.choices)
    rows = case.references.values("kind", "created_at", "created_by")
    link = case_link(case, "references")

    def one(row):
        title = _("Reference added: %(kind)s") % {"kind": labels.get(row["kind"], row["kind"])}
        return Event(row["created_at"], "reference", title, by(row["created_by"]), link)

    def many(group):
        n = len(group)
        title = ngettext("%(n)d reference added", "%(n)d references added", n) % {"n": n}
        return Event(max(r["created_at"] for r in group), "reference", title, by(group[0]["created_by"]), link)

    return bunched(rows, "created_at", lambda r: r["created_by"], one, many)


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


def contacts(case: Case, limit: int) -> Iterable[Event]:
    """Who talked to her, how and when; what was said stays sealed."""
    link = case_link(case, "contacts")
    for row in ContactEntry.objects.filter(case=case).values("at", "direction", "channel", "staff")[:limit]:
        title = CONTACT_TITLES.get((row["direction"], row["channel"]), gettext_lazy("Contact with her"))
        yield Event(row["at"], "contact", str(title), by(row["staff"]), link)


CASE_ACTIONS = ("case.create", "case.status", "case.continue", "case.assign", "case.consent")


def case_changes(case: Case, limit: int) -> Iterable[Event]:
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
        yield Event(row["at"], "case", title, by(row["actor"]), "", tone)


def _short_date(value) -> str:
    try:
        return date_format(date.fromisoformat(value), "SHORT_DATE_FORMAT")
    except (TypeError, ValueError):
        return "—"


def continuation_due(case: Case, user, now: datetime) -> list[Action]:
    if not case.continuation_is_due(timezone.localdate(now)):
        return []
    detail = _("due on %(date)s") % {"date": date_format(case.continuation_due_on, "SHORT_DATE_FORMAT")}
    return [Action("continuation", _("Ask her whether the case should continue"), detail)]
