"""The figures the organisation publishes, computed from the request history.

Every function takes a queryset of ``TakedownRequest`` (so callers and tests choose what is counted)
and lets the database do the grouping: one GROUP BY query per table, outcomes as conditional counts,
the median as an ordered-set aggregate (PostgreSQL's ``percentile_cont``; on SQLite a Python
aggregate registered on the connection). Nothing here reads a case, a URL or a victim's data:
requests point to cases only by id, and no id leaves this module.

Fiscal years are Japanese: FY N runs from 1 April N to 31 March N+1 in ``settings.TIME_ZONE``.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import (
    Aggregate,
    Case,
    CharField,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, ExtractMonth, ExtractYear, NullIf
from django.db.models.lookups import LessThan
from django.utils import timezone
from django.utils.formats import number_format

from ..law import regimes
from ..lib.errors import UserError
from ..sites.models import REMOVED, SETTLED, Outcome, Site, Source, TakedownRequest

OUTCOMES = list(Outcome)  # the published order: deleted, partly deleted, still online, on hold, ongoing
PUBLIC_MIN_SETTLED = 10  # below this a host's figures could point to a single case
SECONDS_PER_DAY = 86400


def desk_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def fiscal_year_of(moment: datetime) -> int:
    local = moment.astimezone(desk_zone())
    return local.year if local.month >= 4 else local.year - 1


def fiscal_year_start(year: int) -> datetime:
    return datetime(year, 4, 1, tzinfo=desk_zone())


# ---------------------------------------------------------------- shares


@dataclass(frozen=True)
class Share:
    """A percentage as the organisation prints it: one decimal, two below 1 % (0.36 %, 56.7 %)."""

    count: int
    total: int

    @property
    def places(self) -> int:
        return 2 if self.count and self.count * 100 < self.total else 1

    @property
    def percent(self) -> Decimal | None:
        if not self.total:
            return None
        exact = Decimal(self.count * 100) / Decimal(self.total)
        return exact.quantize(Decimal(1).scaleb(-self.places), rounding=ROUND_HALF_UP)

    def __str__(self) -> str:
        """Localised ("56.7"), without the % sign; "" when there is nothing to divide by."""
        return "" if self.percent is None else number_format(self.percent, self.places)

    def plain(self) -> str:
        """For CSV: always a dot, never a thousands separator."""
        return "" if self.percent is None else str(self.percent)


def days_text(days: float | None) -> str:
    return "" if days is None else number_format(round(days, 1), 1)


# ---------------------------------------------------------------- the median in the database


def percentile_cont(values: list, fraction: float):
    """PostgreSQL's percentile_cont: linear interpolation between the two nearest ranks."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = fraction * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _sqlite_aggregate(fraction: float):
    """percentile_cont as an SQLite aggregate; takes microseconds (Django's datetime difference there)."""

    class Percentile:
        def __init__(self):
            self.values = []

        def step(self, value):
            if value is not None:
                self.values.append(value)

        def finalize(self):
            found = percentile_cont(self.values, fraction)
            return None if found is None else found / 1e6

    return Percentile


class PercentileSeconds(Aggregate):
    """A percentile (``fraction``: 0.5 the median) of a duration expression, in seconds (float); NULL when empty."""

    function = "percentile_cont"
    output_field = FloatField()

    def __init__(self, expression, fraction: float = 0.5, **extra):
        self.fraction = fraction
        self.template = (f"percentile_cont({fraction}) WITHIN GROUP "
                         "(ORDER BY EXTRACT(EPOCH FROM %(expressions)s)::double precision)")  # fmt: skip
        super().__init__(expression, **extra)

    def as_sqlite(self, compiler, connection, **extra):
        name = f"kesu_percentile_{round(self.fraction * 100)}"
        connection.ensure_connection()
        connection.connection.create_aggregate(name, 1, _sqlite_aggregate(self.fraction))
        sqlite = self.copy()
        sqlite.template = f"{name}(%(expressions)s)"
        return sqlite.as_sql(compiler, connection, **extra)


def duration(start: str, end: str):
    return ExpressionWrapper(F(end) - F(start), output_field=DurationField())


def _removal_seconds(fraction: float = 0.5) -> PercentileSeconds:
    removed = Q(outcome__in=REMOVED, resolved_at__isnull=False)
    return PercentileSeconds(duration("sent_at", "resolved_at"), fraction, filter=removed)


# ---------------------------------------------------------------- fiscal-year table


def _fiscal_year():
    zone = desk_zone()
    year = ExtractYear("sent_at", tzinfo=zone)
    return Case(When(LessThan(ExtractMonth("sent_at", tzinfo=zone), 4), then=year - 1), default=year)


def _outcome_counts() -> dict:
    counts = {f"n_{o.value}": Count("pk", filter=Q(outcome=o)) for o in OUTCOMES}
    return {"total": Count("pk"), **counts}


@dataclass
class YearLine:
    """One fiscal year (and case type, in the per-type table): requests by published category."""

    fiscal_year: int
    case_type: str
    total: int
    counts: dict[str, int]

    @property
    def cells(self) -> list[tuple[str, int, Share]]:
        return [(o.value, self.counts[o.value], Share(self.counts[o.value], self.total)) for o in OUTCOMES]

    def share(self, outcome: str) -> Share:
        return Share(self.counts[outcome], self.total)

    @property
    def case_type_label(self) -> str:
        from ..cases.models import CaseType

        return dict(CaseType.choices).get(self.case_type, self.case_type)


def in_fiscal_years(requests: QuerySet, first: int | None = None, last: int | None = None, case_type: str = ""):
    """Requests sent in fiscal years ``first``..``last`` (inclusive), of one case type if given.

    Filters on ``sent_at`` bounds, not on the computed year, so the index on ``sent_at`` serves it.
    """
    if first is not None and last is not None and first > last:
        raise UserError(f"the first fiscal year ({first}) is after the last ({last})")
    if first is not None:
        requests = requests.filter(sent_at__gte=fiscal_year_start(first))
    if last is not None:
        requests = requests.filter(sent_at__lt=fiscal_year_start(last + 1))
    if case_type:
        from ..cases.models import CaseType

        if case_type not in CaseType.values:
            raise UserError(f"unknown case type {case_type!r} (one of {', '.join(CaseType.values)})")
        requests = requests.filter(case_type=case_type)
    return requests


def fiscal_year_table(requests: QuerySet, *, by_case_type: bool = False) -> list[YearLine]:
    """Counts of every outcome per fiscal year (and per case type), oldest year first."""
    keys = ["fy", "case_type"] if by_case_type else ["fy"]
    rows = requests.order_by().annotate(fy=_fiscal_year()).values(*keys).annotate(**_outcome_counts()).order_by(*keys)
    return [
        YearLine(
            fiscal_year=row["fy"],
            case_type=row.get("case_type", ""),
            total=row["total"],
            counts={o.value: row[f"n_{o.value}"] for o in OUTCOMES},
        )
        for row in rows
    ]


def per_year(lines: list[YearLine]) -> list[YearLine]:
    """The lines of a by-case-type table added up per fiscal year (the by-year table without a second scan)."""
    years: dict[int, YearLine] = {}
    for line in lines:
        year = years.setdefault(line.fiscal_year, YearLine(line.fiscal_year, "", 0, {o.value: 0 for o in OUTCOMES}))
        year.total += line.total
        for key, n in line.counts.items():
            year.counts[key] += n
    return [years[year] for year in sorted(years)]


def year_span(lines: list[YearLine], first: int | None = None, last: int | None = None, now=None) -> list[YearLine]:
    """Every fiscal year from ``first`` (else the first with requests) to ``last`` (else the current one), a year
    without requests as a line of zeros: the page, its download and the CLI list the same years."""
    if not lines and first is None:
        return []
    known = {line.fiscal_year: line for line in lines}
    start = first if first is not None else min(known)
    end = last if last is not None else max(fiscal_year_of(now or timezone.now()), max(known, default=start))
    empty = {o.value: 0 for o in OUTCOMES}
    return [known.get(year) or YearLine(year, "", 0, dict(empty)) for year in range(start, end + 1)]


def total_line(lines: list[YearLine]) -> YearLine | None:
    """All years together (for a range, the sum of its years)."""
    if not lines:
        return None
    counts = {o.value: sum(line.counts[o.value] for line in lines) for o in OUTCOMES}
    return YearLine(fiscal_year=0, case_type="", total=sum(line.total for line in lines), counts=counts)


# ---------------------------------------------------------------- compliance


GROUPINGS = ("regime", "host", "site", "country")
STILL_ONLINE_DAYS = 42  # the share still online this long after the request (six weeks, as the desk reports it)
ORDERS = {  # the sort keys a page or CSV can ask for; a leading "-" reverses
    "name": "name",
    "requests": "requests",
    "settled": "settled",
    "removed": "removed",
    "rate": "rate",
    "days": "median_seconds",
    "clock": "kept_rate",
}


@dataclass
class ComplianceLine:
    """Compliance of one regime, host, site or country. ``rate`` is removed / settled (not / all requests).

    ``clocked``: requests with a legal clock that ran out or that are settled; ``kept`` those removed by the
    clock's end. ``aged``: requests sent at least 42 days ago; ``online_42`` those not removed within 42 days.
    ``reuploaded``: removed requests whose copy was found again, ``reupload_days`` the median time from
    removal to that.
    """

    key: str
    name: str
    country: str
    requests: int
    settled: int
    removed: int
    median_days: float | None
    p90_days: float | None = None
    clocked: int = 0
    kept: int = 0
    aged: int = 0
    online_42: int = 0
    reuploaded: int = 0
    reupload_days: float | None = None

    @property
    def rate(self) -> Share:
        return Share(self.removed, self.settled)

    @property
    def kept_clock(self) -> Share:
        return Share(self.kept, self.clocked)

    @property
    def still_online(self) -> Share:
        return Share(self.online_42, self.aged)

    @property
    def reupload_rate(self) -> Share:
        return Share(self.reuploaded, self.removed)

    @property
    def median_text(self) -> str:
        return days_text(self.median_days)

    @property
    def p90_text(self) -> str:
        return days_text(self.p90_days)

    @property
    def reupload_text(self) -> str:
        return days_text(self.reupload_days)


def _group_fields(by: str) -> dict:
    if by == "regime":  # the regime's key; its label is the line's name (``compliance_lines``)
        return {"key": F("legal_basis"), "name": F("legal_basis"), "country": Value("")}
    if by == "site":
        return {"key": Cast("site_id", output_field=CharField()), "name": F("site__domain"), "country": _country()}
    if by == "host":
        return {"key": Cast("site__host_id", output_field=CharField()), "name": F("site__host__name"),
                "country": F("site__host__country")}  # fmt: skip
    if by == "country":
        return {"key": _country(), "name": _country(), "country": _country()}
    raise UserError(f"group by one of {', '.join(GROUPINGS)}, not {by!r}")


def _country():
    """Where the content is served from, else the country whose law binds the operator; "" if unknown."""
    return Coalesce(NullIf("site__server_country", Value("")), NullIf("site__jurisdiction", Value("")), Value(""))


def _compliance_measures(now: datetime) -> dict:
    removed = Q(outcome__in=REMOVED)
    aged = Q(sent_at__lte=now - timedelta(days=STILL_ONLINE_DAYS))
    gone_in_time = removed & Q(resolved_at__lte=F("sent_at") + timedelta(days=STILL_ONLINE_DAYS))
    clocked = Q(clock_due_at__isnull=False) & (Q(clock_due_at__lte=now) | Q(outcome__in=SETTLED))
    back = removed & Q(reuploaded_at__isnull=False, resolved_at__isnull=False)
    return {
        "requests": Count("pk"),
        "settled": Count("pk", filter=Q(outcome__in=SETTLED)),
        "removed": Count("pk", filter=removed),
        "median_seconds": _removal_seconds(),
        "p90_seconds": _removal_seconds(0.9),
        "clocked": Count("pk", filter=clocked),
        "kept": Count("pk", filter=clocked & removed & Q(resolved_at__lte=F("clock_due_at"))),
        "aged": Count("pk", filter=aged),
        "online_42": Count("pk", filter=aged & ~gone_in_time),
        "reuploaded": Count("pk", filter=back),
        "reupload_seconds": PercentileSeconds(duration("resolved_at", "reuploaded_at"), 0.5, filter=back),
    }


def _ratio(part: str, whole: str):
    return Cast(part, FloatField()) / NullIf(Cast(whole, FloatField()), Value(0.0))


def compliance(
    requests: QuerySet, by: str = "host", *, min_settled: int = 0, order: str = "-requests", now: datetime | None = None
) -> QuerySet:
    """One row (a dict) per regime, site, host or country: requests, settled, removed, rate, median and p90,
    the legal clock kept, still online after 42 days, re-uploads (see ``ComplianceLine``).

    Requests to sites whose host (or country) is unknown have no row by host (or country); see
    ``unattributed``.
    ``min_settled`` keeps the groups with at least that many settled requests.
    """
    fields = _group_fields(by)
    if by == "host":
        requests = requests.filter(site__host__isnull=False)
    elif by == "country":
        requests = requests.exclude(site__server_country="", site__jurisdiction="")
    elif by == "regime":
        requests = requests.exclude(legal_basis="")
    rows = (
        requests.order_by()
        .annotate(**fields)
        .values(*fields)
        .annotate(**_compliance_measures(now or timezone.now()))
        .annotate(rate=_ratio("removed", "settled"), kept_rate=_ratio("kept", "clocked"))
    )
    if min_settled:
        rows = rows.filter(settled__gte=min_settled)
    return rows.order_by(*_ordering(order))


def _ordering(order: str) -> list:
    descending = order.startswith("-")
    name = ORDERS.get(order.lstrip("-"))
    if name is None:
        raise UserError(f"sort by one of {', '.join(ORDERS)}, not {order!r}")
    column = F(name).desc(nulls_last=True) if descending else F(name).asc(nulls_last=True)
    return [column, F("name").asc(), F("key").asc()]


def unattributed(requests: QuerySet, by: str) -> int:
    """How many requests have no row in the table grouped ``by`` (unknown host or country)."""
    if by == "host":
        return requests.filter(site__host__isnull=True).count()
    if by == "country":
        return requests.filter(site__server_country="", site__jurisdiction="").count()
    if by == "regime":
        return requests.filter(legal_basis="").count()
    return 0


def _regime_name(key: str) -> str:
    regime = regimes.REGIMES.get(key)
    return regime.short if regime else key  # imported history may name a law in its own words


def _days(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / SECONDS_PER_DAY


def compliance_lines(rows, by: str = "") -> list[ComplianceLine]:
    """Rows of ``compliance`` (a page of them, or all) as lines the pages and exports print."""
    return [
        ComplianceLine(
            key=row["key"] or "",
            name=_regime_name(row["name"]) if by == "regime" else row["name"] or "",
            country=row["country"] or "",
            requests=row["requests"],
            settled=row["settled"],
            removed=row["removed"],
            median_days=_days(row["median_seconds"]),
            p90_days=_days(row["p90_seconds"]),
            clocked=row["clocked"],
            kept=row["kept"],
            aged=row["aged"],
            online_42=row["online_42"],
            reuploaded=row["reuploaded"],
            reupload_days=_days(row["reupload_seconds"]),
        )
        for row in rows
    ]


def public_league(requests: QuerySet) -> list[ComplianceLine]:
    """The per-host league table for advocacy: only hosts with enough settled requests, best first.

    Host name, its country and the aggregates: no case, site, URL or person.
    """
    rows = compliance(requests, "host", min_settled=PUBLIC_MIN_SETTLED, order="-rate")
    return compliance_lines(rows)


def public_kept_clock(line: ComplianceLine) -> Share | None:
    """The league table's "kept the legal clock": only over enough requests with a clock, like the rate."""
    return line.kept_clock if line.clocked >= PUBLIC_MIN_SETTLED else None


# ---------------------------------------------------------------- re-uploads


@dataclass
class ReuploadSummary:
    sites: int  # sites with a re-upload
    reuploads: int
    removed: int
    hits: int
    reupload_hits: int

    @property
    def per_removal(self) -> Share:
        return Share(self.reuploads, self.removed)

    @property
    def hit_share(self) -> Share:
        return Share(self.reupload_hits, self.hits)


def reupload_sites(requests: QuerySet, order: str = "-reuploads") -> QuerySet:
    """Per site with a request in ``requests``: re-uploads seen against its requests removed.

    Only sites with a re-upload have a row (thousands of sites that removed and never re-uploaded would
    fill pages with zeros; the summary counts their removals). Re-uploads are the site's running total
    (``Site.reuploads``), removals those among ``requests``.
    """
    orders = {"reuploads": "reuploads", "removed": "removed", "rate": "rate", "name": "domain"}
    name = orders.get(order.lstrip("-"))
    if name is None:
        raise UserError(f"sort by one of {', '.join(orders)}, not {order!r}")
    column = F(name).desc(nulls_last=True) if order.startswith("-") else F(name).asc(nulls_last=True)
    return (
        requests.order_by()
        .values(domain=F("site__domain"), reuploads=F("site__reuploads"))
        .annotate(removed=Count("pk", filter=Q(outcome__in=REMOVED)))
        .annotate(rate=Cast("reuploads", FloatField()) / NullIf(Cast("removed", FloatField()), Value(0.0)))
        .filter(reuploads__gt=0)
        .order_by(column, "domain")
    )


def reupload_summary(requests: QuerySet, sites: int | None = None) -> ReuploadSummary:
    """The totals above the table; ``sites`` is the table's row count when the caller has it already."""
    from ..matching.models import Hit

    reuploads = Site.objects.filter(pk__in=requests.values("site_id")).aggregate(n=Sum("reuploads"))["n"]
    return ReuploadSummary(
        sites=reupload_sites(requests).count() if sites is None else sites,
        reuploads=reuploads or 0,
        removed=requests.filter(outcome__in=REMOVED).count(),
        # two counts the indexes answer (all hits; those with a re-upload link), not one scan with a filter
        hits=Hit.objects.count(),
        reupload_hits=Hit.objects.filter(reupload_of__isnull=False).count(),
    )


# ---------------------------------------------------------------- by country, for the chart


def median_days_by_country(requests: QuerySet, limit: int = 12) -> list[ComplianceLine]:
    """The countries with the most removals (known country only), with their median days to removal."""
    rows = compliance(requests, "country", order="-removed")
    return [line for line in compliance_lines(rows[:limit]) if line.median_days is not None]


def includes_synthetic(requests: QuerySet) -> bool:
    return requests.filter(source=Source.SYNTHETIC).exists()


def all_requests() -> QuerySet:
    return TakedownRequest.objects.all()


def integer(value: str | None, name: str, *, minimum: int = 0, maximum: int = 10**6) -> int | None:
    """A whole number typed by staff (query string or CLI), or None when left empty."""
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except ValueError:
        raise UserError(f"{name} must be a whole number") from None
    if not minimum <= number <= maximum:
        raise UserError(f"{name} must be between {minimum} and {maximum}")
    return number
