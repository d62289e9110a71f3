"""The report tables as CSV: UTF-8 with a BOM (so Excel reads Japanese), headers in the active language.

Numbers are written plainly (no thousands separator, a dot for decimals) so a spreadsheet reads
them as numbers whatever its locale; percentages are rounded as on the page.
"""

from collections.abc import Callable, Iterable

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..lib.errors import UserError
from ..lib.spreadsheet import csv_bytes, xlsx_bytes
from ..sites.models import Outcome
from .services import OUTCOMES, ComplianceLine, YearLine, public_kept_clock

Columns = list[tuple[object, Callable]]


def to_csv(columns: Columns, rows: Iterable) -> bytes:
    """Host and site names come from RDAP/WHOIS, chosen by whoever registered them: cells go through safe_cell."""
    headers = [str(header) for header, _value in columns]
    return csv_bytes(headers, ([value(row) for _header, value in columns] for row in rows))


def to_xlsx(columns: Columns, rows: Iterable, title: str) -> bytes:
    headers = [str(header) for header, _value in columns]
    return xlsx_bytes(headers, ([value(row) for _header, value in columns] for row in rows), title[:31])


FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def audited(actor, report: str, columns: Columns, rows: Iterable, fmt: str = "csv") -> bytes:
    """The table as CSV or XLSX, with the download written to the audit log (report name only, no figures)."""
    from ..audit.services import log_action

    if fmt not in FORMATS:
        raise UserError(f"download as one of {', '.join(FORMATS)}, not {fmt!r}")
    body = to_xlsx(columns, rows, report) if fmt == "xlsx" else to_csv(columns, rows)
    log_action(actor, "reports.export", None, report=report, format=fmt)
    return body


def audited_csv(actor, report: str, columns: Columns, rows: Iterable) -> bytes:
    return audited(actor, report, columns, rows, "csv")


def _number(days: float | None) -> str:
    return "" if days is None else f"{days:.1f}"


def _days(line: ComplianceLine) -> str:
    return _number(line.median_days)


def year_columns(*, by_case_type: bool = False) -> Columns:
    columns: Columns = [(gettext_lazy("Fiscal year"), lambda line: line.fiscal_year or _("Total"))]
    if by_case_type:
        columns.append((gettext_lazy("Case type"), lambda line: line.case_type_label))
    columns.append((gettext_lazy("Requests"), lambda line: line.total))
    for outcome in OUTCOMES:
        columns.append((Outcome(outcome).label, _count(outcome)))
        columns.append((_("%(category)s (%%)") % {"category": Outcome(outcome).label}, _share(outcome)))
    return columns


def _count(outcome) -> Callable[[YearLine], int]:
    return lambda line: line.counts[outcome.value]


def _share(outcome) -> Callable[[YearLine], str]:
    return lambda line: line.share(outcome.value).plain()


GROUP_NAMES = {
    "regime": gettext_lazy("Legal regime"),
    "site": gettext_lazy("Site"),
    "host": gettext_lazy("Hosting provider"),
    "country": gettext_lazy("Country"),
}


def compliance_columns(by: str) -> Columns:
    columns: Columns = [(GROUP_NAMES[by], lambda line: line.name)]
    if by in ("site", "host"):
        columns.append((gettext_lazy("Country"), lambda line: line.country))
    return columns + [
        (gettext_lazy("Requests"), lambda line: line.requests),
        (gettext_lazy("Settled"), lambda line: line.settled),
        (gettext_lazy("Removed"), lambda line: line.removed),
        (gettext_lazy("Compliance rate (%)"), lambda line: line.rate.plain()),
        (gettext_lazy("Median days to removal"), _days),
        (gettext_lazy("90th percentile days to removal"), lambda line: _number(line.p90_days)),
        (gettext_lazy("Requests with a legal clock"), lambda line: line.clocked),
        (gettext_lazy("Removed within the legal clock (%)"), lambda line: line.kept_clock.plain()),
        (gettext_lazy("Still online after 42 days (%)"), lambda line: line.still_online.plain()),
        (gettext_lazy("Re-uploaded after removal (%)"), lambda line: line.reupload_rate.plain()),
        (gettext_lazy("Median days to re-upload"), lambda line: _number(line.reupload_days)),
    ]


def public_columns() -> Columns:
    return [
        (gettext_lazy("Hosting provider"), lambda line: line.name),
        (gettext_lazy("Country"), lambda line: line.country),
        (gettext_lazy("Requests"), lambda line: line.requests),
        (gettext_lazy("Compliance rate (%)"), lambda line: line.rate.plain()),
        (gettext_lazy("Median days to removal"), _days),
        (gettext_lazy("Kept the legal clock (%)"), _public_kept),
    ]


def _public_kept(line: ComplianceLine) -> str:
    kept = public_kept_clock(line)
    return "" if kept is None else kept.plain()


def reupload_columns() -> Columns:
    return [
        (gettext_lazy("Site"), lambda row: row["domain"]),
        (gettext_lazy("Re-uploads seen"), lambda row: row["reuploads"]),
        (gettext_lazy("Requests removed"), lambda row: row["removed"]),
        (gettext_lazy("Re-uploads per removal"), lambda row: "" if row["rate"] is None else f"{row['rate']:.2f}"),
    ]
