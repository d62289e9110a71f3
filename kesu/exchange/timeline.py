"""What the exchange adds to the case page: consents given and withdrawn, files imported, hashes shared, partners'
feedback (all read from the audit log), and its section (her consents, the form). Registered in
``ExchangeConfig.ready()``."""

from collections.abc import Iterable

from django.utils.translation import gettext_lazy

from ..cases import services as cases
from ..cases import timeline
from ..cases.models import Case
from ..cases.timeline import Event, by, case_link
from .models import DESTINATIONS

TITLES = {
    "exchange.consent": gettext_lazy("She consents to share her hashes with %(to)s"),
    "exchange.withdraw": gettext_lazy("She withdrew her consent for %(to)s: her hashes are taken back"),
    "exchange.import": gettext_lazy("Hashes imported: %(n)s hash-only references"),
    "exchange.export": gettext_lazy("Her hashes exported for %(to)s (%(n)s hashes)"),
    "exchange.share": gettext_lazy("Her hashes sent to %(to)s (%(n)s hashes)"),
    "exchange.unshare": gettext_lazy("Her hashes withdrawn from %(to)s (%(n)s hashes)"),
    "exchange.feedback": gettext_lazy("%(to)s says: %(what)s"),
    "exchange.ncmec": gettext_lazy("NCMEC already lists %(listed)s of her hashes (%(upvoted)s entries upvoted)"),
}


def register() -> None:
    timeline.register_events({"exchange": gettext_lazy("Hash sharing")}, exchange_events)
    timeline.register_section(section)


def destination_label(name: str) -> str:
    return str(DESTINATIONS.get(name, name))


def exchange_events(case: Case, limit: int) -> Iterable[Event]:
    rows = cases.case_history(case).filter(action__in=TITLES).values("at", "actor", "action", "detail")
    link = case_link(case, "sharing")
    for row in rows[:limit]:
        detail = row["detail"] or {}
        values = {"to": destination_label(detail.get("destination", "")), "n": detail.get("hashes",
                  detail.get("references", "")), "what": detail.get("opinion", ""),
                  "listed": detail.get("listed", 0), "upvoted": detail.get("upvoted", 0)}  # fmt: skip
        tone = "warn" if row["action"] in ("exchange.withdraw", "exchange.feedback") else ""
        yield Event(row["at"], "exchange", str(TITLES[row["action"]]) % values, by(row["actor"]), link, tone)


def section(case: Case) -> dict:
    from .services import doubts, live_consents

    consents = [(c, destination_label(c.destination)) for c in live_consents(case)]
    return {"share_consents": consents, "share_destinations": [(k, str(v)) for k, v in DESTINATIONS.items()],
            "share_doubts": doubts(case)}  # fmt: skip
