"""The report tables as CSV: UTF-8 with a BOM (so Excel reads Japanese), headers in the active language.

Numbers are written plainly (no thousands separator, a dot for decimals) so a spreadsheet reads
them as numbers whatever its locale; percentages are rounded as on the page.
"""

from collections.abc import Callable, Iterable

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..lib.spreadsheet import csv_bytes
from ..sites.models import Outcome
from .services import OUTCOMES, ComplianceLine, YearLine

Columns = list[tuple[object, Callable]]


def to_csv(columns: Columns, rows: Iterable) -> bytes:
    """Host and site names come from RDAP/WHOIS, chosen by whoever registered them: cells go through safe_cell."""
    headers = [str(header) for header, _value in columns]
    return csv_bytes(headers, ([value(row) for _header, value in columns] for row in rows))


def audited_csv(actor, report: str, columns: Columns, rows: Iterable) -> bytes:
    """The table as CSV, with the download written to the audit log (report name only, no figures)."""
    from ..audit.services import log_action

    body = to_csv(columns, rows)
    log_action(actor, "reports.export", None, report=report, format="csv")
    return body


def _days(line: ComplianceLine) -> str:
    return "" if line.median_days is None else f"{line.median_days:.1f}"


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


def compliance_columns(by: str) -> Columns:
    names = {"site": gettext_lazy("Site"), "host": gettext_lazy("Hosting provider"), "country": gettext_lazy("Country")}
    columns: Columns = [(names[by], lambda line: line.name)]
    if by != "country":
        columns.append((gettext_lazy("Country"), lambda line: line.country))
    return columns + [
        (gettext_lazy("Requests"), lambda line: line.requests),
        (gettext_lazy("Settled"), lambda line: line.settled),
        (gettext_lazy("Removed"), lambda line: line.removed),
        (gettext_lazy("Compliance rate (%)"), lambda line: line.rate.plain()),
        (gettext_lazy("Median days to removal"), _days),
    ]


def public_columns() -> Columns:
    return [
        (gettext_lazy("Hosting provider"), lambda line: line.name),
        (gettext_lazy("Country"), lambda line: line.country),
        (gettext_lazy("Requests"), lambda line: line.requests),
        (gettext_lazy("Compliance rate (%)"), lambda line: line.rate.plain()),
        (gettext_lazy("Median days to removal"), _days),
    ]


def reupload_columns() -> Columns:
    return [
        (gettext_lazy("Site"), lambda row: row["domain"]),
        (gettext_lazy("Re-uploads seen"), lambda row: row["reuploads"]),
        (gettext_lazy("Requests removed"), lambda row: row["removed"]),
        (gettext_lazy("Re-uploads per removal"), lambda row: "" if row["rate"] is None else f"{row['rate']:.2f}"),
    ]
