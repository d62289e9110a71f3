"""The trusted flagger's yearly report (DSA Art. 22(3)): the desk's Art. 16 notices of one calendar year,
per provider, type of illegal content and action taken, with the median time to action and how many
notices had the provider's 16(4) confirmation of receipt and 16(5) decision.

Read from the history rows (``TakedownRequest``), so a shredded case still counts; nothing in it names a
case, a URL or a person. The action is the decision the provider notified (16(5)) when staff recorded one,
else what the desk saw: removed, still online, or nothing settled yet. Time to action runs from sending to
the notified decision, else to the removal the desk saw.
"""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db.models import Case, Count, DateTimeField, F, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce, NullIf
from django.utils.translation import gettext_lazy

from ..cases.models import CaseType
from ..lib.errors import UserError
from ..sites.models import REMOVED, Decision, Outcome, TakedownRequest
from .services import SECONDS_PER_DAY, PercentileSeconds, duration

REGIME = "eu_dsa_16"
# The report is for an EU coordinator: its calendar year runs in Brussels time.
ZONE = ZoneInfo("Europe/Brussels")
SEEN_REMOVED, SEEN_ONLINE, PENDING = "seen_removed", "seen_online", "pending"
ACTIONS = {
    **dict(Decision.choices),
    SEEN_REMOVED: gettext_lazy("Removed (no decision notified)"),
    SEEN_ONLINE: gettext_lazy("Still online (no decision notified)"),
    PENDING: gettext_lazy("No action yet"),
}


@dataclass(frozen=True)
class Art22Line:
    provider: str
    content_type: str  # a case type's key
    action: str  # a key of ACTIONS
    notices: int
    confirmed: int  # with a 16(4) confirmation of receipt
    decided: int  # with a 16(5) decision
    median_days: float | None

    @property
    def content_type_label(self) -> str:
        return str(dict(CaseType.choices).get(self.content_type, self.content_type))

    @property
    def action_label(self) -> str:
        return str(ACTIONS.get(self.action, self.action))


def notices_of_year(year: int) -> QuerySet:
    if not 2000 <= year <= 2100:
        raise UserError(f"--year must be between 2000 and 2100, not {year}")
    start, end = datetime(year, 1, 1, tzinfo=ZONE), datetime(year + 1, 1, 1, tzinfo=ZONE)
    return TakedownRequest.objects.filter(legal_basis=REGIME, sent_at__gte=start, sent_at__lt=end)


def _action():
    seen = Case(
        When(outcome__in=REMOVED, then=Value(SEEN_REMOVED)),
        When(outcome=Outcome.STILL_ONLINE, then=Value(SEEN_ONLINE)),
        default=Value(PENDING),
    )
    return Coalesce(NullIf("decision", Value("")), seen)


def _acted_at():
    return Case(
        When(decided_at__isnull=False, then=F("decided_at")),
        When(outcome__in=REMOVED, then=F("resolved_at")),
        default=None,
        output_field=DateTimeField(),
    )


def art22_lines(requests: QuerySet) -> list[Art22Line]:
    """One line per provider, content type and action, the database grouping as the other reports do."""
    rows = (
        requests.order_by()
        .annotate(provider=Coalesce("recipient__name", Value("")), action=_action(), acted_at=_acted_at())
        .values("provider", "case_type", "action")
        .annotate(
            notices=Count("pk"),
            confirmed=Count("pk", filter=Q(receipt_confirmed_at__isnull=False)),
            decided=Count("pk", filter=~Q(decision="")),
            seconds=PercentileSeconds(duration("sent_at", "acted_at"), 0.5, filter=Q(acted_at__isnull=False)),
        )
        .order_by("provider", "case_type", "action")
    )
    return [
        Art22Line(
            row["provider"],
            row["case_type"],
            row["action"],
            row["notices"],
            row["confirmed"],
            row["decided"],
            None if row["seconds"] is None else row["seconds"] / SECONDS_PER_DAY,
        )  # fmt: skip
        for row in rows
    ]


def columns():
    return [
        (gettext_lazy("Provider"), lambda line: line.provider),
        (gettext_lazy("Type of illegal content"), lambda line: line.content_type_label),
        (gettext_lazy("Action taken"), lambda line: line.action_label),
        (gettext_lazy("Notices"), lambda line: line.notices),
        (gettext_lazy("Median days to action"), lambda line: "" if line.median_days is None else
         f"{line.median_days:.1f}"),
        (gettext_lazy("With 16(4) confirmation of receipt"), lambda line: line.confirmed),
        (gettext_lazy("With 16(5) decision"), lambda line: line.decided),
    ]  # fmt: skip
