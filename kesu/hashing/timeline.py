"""What hashing adds to the case page: links made and ended, her consent, the hashes her device sent (read from
the audit log: counts only), and its section (its live links and the buttons to make or end one)."""

from collections.abc import Iterable

from django.utils.translation import gettext_lazy

from ..cases import services as cases
from ..cases import timeline
from ..cases.models import Case
from ..cases.timeline import Event, by

TITLES = {
    "hashing.link_create": gettext_lazy("Hashing link made for her (valid %(days)s days)"),
    "hashing.link_revoke": gettext_lazy("Her hashing link ended"),
    "hashing.consent": gettext_lazy("She opened her hashing link and agreed"),
    "hashing.receive": gettext_lazy("Her device sent the hashes of %(files)s files"),
}


def register() -> None:
    timeline.register_events({"hashing": gettext_lazy("Her hashing page")}, hashing_events)
    timeline.register_section(section)


def hashing_events(case: Case, limit: int) -> Iterable[Event]:
    rows = cases.case_history(case).filter(action__in=TITLES).values("at", "actor", "action", "detail")
    for row in rows[:limit]:
        detail = row["detail"] or {}
        values = {"days": detail.get("days", ""), "files": detail.get("files", "")}
        yield Event(row["at"], "hashing", str(TITLES[row["action"]]) % values, by(row["actor"]))


def section(case: Case) -> dict:
    from .services import live_links

    return {"hashing_links": list(live_links(case))}
