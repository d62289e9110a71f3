"""What the patrol adds to the case page: every change a re-check saw, and notices whose content is still online
after their deadline with nobody further up the ladder. Registered in ``PatrolConfig.ready()``."""

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from ..cases import timeline
from ..cases.models import Case
from ..cases.timeline import Action, Event, bunched
from ..notices.models import Notice
from ..notices.timeline import notice_link
from ..sites.models import Outcome
from .models import Recheck


def register() -> None:
    timeline.register_events({"recheck": gettext_lazy("Re-checks")}, rechecks)
    timeline.register_due(past_deadline)


def rechecks(case: Case, limit: int) -> Iterable[Event]:
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
    return bunched(rows, "at", lambda r: (r["state"], r["back"]), _recheck_one, _recheck_many)


def _recheck_title(row: dict) -> tuple[str, str]:
    state = Recheck.State(row["state"]).label if row["state"] in Recheck.State.values else row["state"]
    if row["back"]:
        return _("Back online"), "warn"
    tone = "done" if row["state"] in Recheck.GONE else ("warn" if row["state"] == Recheck.State.ONLINE else "")
    return _("Re-check: %(state)s") % {"state": state}, tone


def _recheck_one(row: dict) -> Event:
    title, tone = _recheck_title(row)
    detail = row["host"] + (f" · HTTP {row['status']}" if row.get("status") else "")
    return Event(row["at"], "recheck", title, detail, notice_link(row["notice_id"]), tone)


def _recheck_many(group: list[dict]) -> Event:
    title, tone = _recheck_title(group[0])
    hosts = sorted({r["host"] for r in group})
    detail = ngettext("%(n)d URL", "%(n)d URLs", len(group)) % {"n": len(group)}
    detail += " · " + ", ".join(hosts[:3]) + ("…" if len(hosts) > 3 else "")
    return Event(max(r["at"] for r in group), "recheck", title, detail, "", tone)


def past_deadline(case: Case, user, now: datetime) -> list[Action]:
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
            notice_link(row["pk"]),
        )
        for row in late[:5]
    ]
