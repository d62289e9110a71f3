"""Report pages: aggregate figures only, open to every staff member. Views parse, call services, render.

``?format=csv`` (or ``xlsx``) on any page downloads its table; every download is audited.
"""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from ..audit.services import log_action
from ..cases.models import CaseType
from ..lib.errors import UserError
from . import charts, dsa, exports, services

PER_PAGE = 50


def _download(request, report: str, columns, rows, filename: str) -> HttpResponse:
    fmt = request.GET.get("format", "csv")
    try:
        body = exports.audited(request.user, report, columns, rows, fmt)
    except UserError as error:
        return _bad(request, error)
    response = HttpResponse(body, content_type=exports.FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="kesu-{filename}.{fmt}"'
    return response


def _wants_file(request) -> bool:
    return bool(request.GET.get("format"))


def _year_filters(request) -> dict:
    get = request.GET
    return {
        "first": services.integer(get.get("from"), _("From fiscal year"), minimum=1990, maximum=2100),
        "last": services.integer(get.get("to"), _("To fiscal year"), minimum=1990, maximum=2100),
        "case_type": get.get("type", ""),
    }


def _bad(request, error: UserError) -> HttpResponse:
    return HttpResponseBadRequest(str(error), content_type="text/plain; charset=utf-8")


@login_required
def home(request):
    try:
        filters = _year_filters(request)
        requests = services.in_fiscal_years(services.all_requests(), **filters)
    except UserError as error:
        return _bad(request, error)
    by_type = services.fiscal_year_table(requests, by_case_type=True)
    # one scan of the history for both tables; the same years on the page and in its download
    years = services.year_span(services.per_year(by_type), filters["first"], filters["last"])
    if _wants_file(request):
        table = request.GET.get("table", "years")
        lines = by_type if table == "types" else [*years, *filter(None, [services.total_line(years)])]
        columns = exports.year_columns(by_case_type=table == "types")
        report = "fiscal_years_by_type" if table == "types" else "fiscal_years"
        return _download(request, report, columns, lines, f"fy-{table}")
    countries = services.median_days_by_country(requests)
    context = {
        "years": years,
        "total": services.total_line(years),
        "by_type": by_type,
        "countries": countries,
        "fy_chart": charts.outcome_bars(years) if years else "",
        "days_chart": charts.value_bars(
            countries, lambda line: line.median_days, _("days"), _("Median days to removal by country"), "days-chart"
        ),
        "synthetic": services.includes_synthetic(requests),
        "case_types": CaseType.choices,
        "filters": filters,
        "outcomes": services.OUTCOMES,
        "query": request.GET.urlencode(),
        "last_year": timezone.localdate().year - 1,
    }
    return render(request, "reports/home.html", context)


@login_required
def compliance(request):
    by = request.GET.get("by", "host")
    order = request.GET.get("sort", "-requests")
    try:
        minimum = services.integer(request.GET.get("min"), _("Minimum settled requests")) or 0
        rows = services.compliance(services.all_requests(), by, min_settled=minimum, order=order)
    except UserError as error:
        return _bad(request, error)
    if _wants_file(request):
        lines = services.compliance_lines(rows, by)
        return _download(request, f"compliance_by_{by}", exports.compliance_columns(by), lines, f"compliance-{by}")
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    lines = services.compliance_lines(page.object_list, by)
    context = {
        "by": by,
        "group_name": exports.GROUP_NAMES[by],
        "order": order,
        "minimum": minimum,
        "page": page,
        "lines": lines,
        "unattributed": services.unattributed(services.all_requests(), by),
        "chart": charts.value_bars(
            lines,
            lambda line: float(line.rate.percent) if line.settled else None,
            "%",
            _("Compliance rate (removed / settled) of the rows on this page"),
            "rate-chart",
        ),  # fmt: skip
        **_legal_charts(by, lines),
        "synthetic": services.includes_synthetic(services.all_requests()),
        "groupings": [(key, exports.GROUP_NAMES[key]) for key in services.GROUPINGS],
        "sorts": _compliance_sorts(),
    }
    return render(request, "reports/compliance.html", context)


def _legal_charts(by: str, lines: list[services.ComplianceLine]) -> dict:
    """Charts of the legal measures: per regime always (over every request), and the page's first rows."""
    if by == "regime":
        return {"regime_charts": charts.legal(lines, True, "regime"), "row_charts": []}
    regimes = services.compliance_lines(services.compliance(services.all_requests(), "regime"), "regime")
    return {"regime_charts": charts.legal(regimes, True, "regime"), "row_charts": charts.legal(lines, False, "rows")}


def _compliance_sorts() -> list[tuple[str, str]]:
    return [
        ("-requests", _("Most requests")),
        ("-rate", _("Highest compliance rate")),
        ("rate", _("Lowest compliance rate")),
        ("days", _("Fastest removal")),
        ("-days", _("Slowest removal")),
        ("-settled", _("Most settled requests")),
        ("-clock", _("Most often within the legal clock")),
        ("clock", _("Least often within the legal clock")),
        ("name", _("Name (A–Z)")),
    ]


@login_required
def reuploads(request):
    requests = services.all_requests()
    try:
        rows = services.reupload_sites(requests, request.GET.get("sort", "-reuploads"))
    except UserError as error:
        return _bad(request, error)
    if _wants_file(request):
        return _download(request, "reuploads", exports.reupload_columns(), rows, "reuploads")
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "summary": services.reupload_summary(requests, sites=page.paginator.count),
        "synthetic": services.includes_synthetic(requests),
        "sort": request.GET.get("sort", "-reuploads"),
    }
    return render(request, "reports/reuploads.html", context)


@login_required
def public(request):
    """The advocacy table: per-host compliance, hosts with few settled requests left out. Audited either way."""
    requests = services.all_requests()
    lines = services.public_league(requests)
    if _wants_file(request):
        # A file people publish: when invented demo rows are counted, its very name says so.
        name = "public-hosts-SYNTHETIC" if services.includes_synthetic(requests) else "public-hosts"
        return _download(request, "public_hosts", exports.public_columns(), lines, name)
    log_action(request.user, "reports.export", None, report="public_hosts", format="html")
    context = {
        "lines": [(line, services.public_kept_clock(line)) for line in lines],
        "minimum": services.PUBLIC_MIN_SETTLED,
        "synthetic": services.includes_synthetic(requests),
    }
    return render(request, "reports/public.html", context)


@login_required
def dsa_art22(request):
    """The trusted flagger's yearly report (DSA Art. 22(3)), as a download only: aggregates, no case data."""
    try:
        year = services.integer(request.GET.get("year"), _("Year"), minimum=2000, maximum=2100)
        if year is None:
            raise UserError(_("Choose the year of the report."))
        lines = dsa.art22_lines(dsa.notices_of_year(year))
    except UserError as error:
        return _bad(request, error)
    return _download(request, "dsa_art22", dsa.columns(), lines, f"dsa-art22-{year}")
