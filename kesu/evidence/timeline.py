"""What evidence adds to the case page: preservations requested and finished on the timeline, and its section
(the bundles, the form to preserve a page). Registered in ``EvidenceConfig.ready()``."""

from collections.abc import Callable, Iterable

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from ..cases import timeline
from ..cases.models import Case
from ..cases.timeline import Event, bunched, case_link
from .models import EvidenceBundle


def register() -> None:
    timeline.register_events({"evidence": gettext_lazy("Evidence")}, preservations)
    timeline.register_section(section)


def section(case: Case) -> dict:
    # Imported here: the services pull in the capture stack (Playwright, WACZ), which every process would
    # otherwise load at start through the app registry (~0.7 s for each `kesu` command).
    from .services import evidence_rows
    from .views import PreserveForm

    return {"evidence": evidence_rows(case), "preserve_form": PreserveForm()}


def preservations(case: Case, limit: int) -> Iterable[Event]:
    rows = list(
        EvidenceBundle.objects.filter(case=case).values(
            "requested_at", "finished_at", "status", "reason", "outcome", "media_count"
        )
    )
    link = case_link(case, "evidence")
    reasons = dict(EvidenceBundle.Reason.choices)

    def requested(row):
        return Event(
            row["requested_at"], "evidence", _("Preservation requested"), str(reasons.get(row["reason"], "")), link
        )

    def requested_many(group):
        n = len(group)
        title = ngettext("%(n)d preservation requested", "%(n)d preservations requested", n) % {"n": n}
        return Event(max(r["requested_at"] for r in group), "evidence", title, "", link)

    yield from bunched(rows, "requested_at", lambda r: "", requested, requested_many)
    finished = [r for r in rows if r["status"] != EvidenceBundle.Status.PENDING]
    yield from bunched(finished, "finished_at", lambda r: r["status"], _finished_one(link), _finished_many(link))


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
