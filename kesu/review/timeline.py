"""What review adds to the case page: hits found (bunched per day when many), the decisions on them, and the
new hits waiting for review. Every line links to the review queue filtered to the case, never to a hit's URL.
Registered in ``ReviewConfig.ready()``."""

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Count, Max, Q
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from ..cases import timeline
from ..cases.models import Case
from ..cases.timeline import FEW, Action, Event, by
from ..matching.calibration import PINK
from ..matching.models import Hit
from ..matching.names import signal_name

# The host of a hit is shown where the matching app keeps it in the clear (never the URL).
HIT_HOST = any(field.name == "host" for field in Hit._meta.fields)


def register() -> None:
    timeline.register_events({"hit": gettext_lazy("Hits found")}, hits_found)
    timeline.register_events({"decision": gettext_lazy("Hit decisions")}, decisions)
    timeline.register_due(new_hits)


def _percent(probability: float) -> str:
    return f"{round(probability * 100)}%"


def _queue_link(case: Case) -> str:
    return reverse("review:queue") + f"?case={case.pk}"


def hits_found(case: Case, limit: int) -> Iterable[Event]:
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
    link = _queue_link(case)
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
    detail = " · ".join(p for p in (hit.get("host", ""), signal_name(hit["signal"]), _percent(hit["probability"])) if p)
    tone = "pink" if hit["probability"] >= PINK else ("warn" if hit["reupload_of_id"] else "")
    return Event(hit["created_at"], "hit", title, detail, link, tone)


def _many_hits(row: dict, link: str) -> Event:
    title = ngettext("%(n)d hit found", "%(n)d hits found", row["n"]) % {"n": row["n"]}
    parts = [_("%(n)d at ≥95%%") % {"n": row["pink"]}]
    if row["reuploads"]:
        parts.append(ngettext("%(n)d re-upload", "%(n)d re-uploads", row["reuploads"]) % {"n": row["reuploads"]})
    return Event(row["last"], "hit", title, ", ".join(parts), link, "pink" if row["pink"] else "")


def decisions(case: Case, limit: int) -> Iterable[Event]:
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
            detail = f"{_percent(row['top'])} · {by(row['decided_by__username'])}"
        elif confirmed:
            title = ngettext("%(n)d hit confirmed", "%(n)d hits confirmed", n) % {"n": n}
            detail = by(row["decided_by__username"])
        else:
            title = ngettext("%(n)d hit rejected", "%(n)d hits rejected", n) % {"n": n}
            detail = by(row["decided_by__username"])
        yield Event(row["last"], "decision", title, detail, "", "done" if confirmed else "")


def new_hits(case: Case, user, now: datetime) -> list[Action]:
    counts = case.hits.filter(status=Hit.Status.NEW).aggregate(
        n=Count("pk"), pink=Count("pk", filter=Q(probability__gte=PINK))
    )
    if not counts["n"]:
        return []
    title = ngettext("%(n)d new hit to review", "%(n)d new hits to review", counts["n"]) % {"n": counts["n"]}
    detail = _("%(n)d at ≥95%%") % {"n": counts["pink"]}
    return [Action("hits", title, detail, _queue_link(case), tone="pink" if counts["pink"] else "warn")]
