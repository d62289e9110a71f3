"""kesu report ...: the published figures (fiscal years, compliance, the public league table)."""

from pathlib import Path

from django.utils import translation

from ..lib.errors import UserError
from ..reports import dsa, exports, services
from .output import emit_json, table


def register(commands) -> None:
    report = commands.add_parser("report", help="published figures: fiscal years, compliance, public league table")
    sub = report.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True

    p = sub.add_parser("fy", help="requests per fiscal year (April-March, Japan time) by outcome")
    p.add_argument("--from", dest="first", type=int, metavar="YEAR", help="first fiscal year")
    p.add_argument("--to", dest="last", type=int, metavar="YEAR", help="last fiscal year")
    p.add_argument("--type", dest="case_type", default="", help="one case type: ncii csam av voyeurism ...")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=fiscal_years)

    p = sub.add_parser("compliance", help="compliance rate (removed / settled) and median days to removal")
    p.add_argument("--by", choices=services.GROUPINGS, default="host")
    p.add_argument("--min", dest="minimum", type=int, default=0, metavar="N", help="at least N settled requests")
    p.add_argument("--sort", default="-requests", help=f"one of {', '.join(services.ORDERS)}; '-' first reverses")
    p.add_argument("--limit", type=int, default=0, help="print only the first N rows")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=compliance)

    p = sub.add_parser("public", help="write the public per-host league table (no case data) as CSV")
    p.add_argument("--out", metavar="FILE", required=True)
    p.add_argument("--lang", choices=("ja", "en"), default="ja", help="header language (default ja)")
    p.set_defaults(handler=public)

    p = sub.add_parser("dsa-art22", help="the DSA Art. 22 trusted-flagger yearly report (CSV or XLSX by --out's name)")
    p.add_argument("--year", type=int, required=True, help="calendar year (Brussels time)")
    p.add_argument("--out", metavar="FILE", required=True, help="FILE.csv or FILE.xlsx")
    p.add_argument("--lang", choices=("ja", "en"), default="en", help="header language (default en)")
    p.set_defaults(handler=dsa_art22)


def _warn_synthetic(requests) -> None:
    import sys

    if services.includes_synthetic(requests):
        print("WARNING: includes SYNTHETIC demo data (invented figures, never publish them)", file=sys.stderr)


def fiscal_years(args):
    requests = services.in_fiscal_years(services.all_requests(), args.first, args.last, args.case_type)
    _warn_synthetic(requests)
    lines = services.year_span(services.fiscal_year_table(requests), args.first, args.last)
    rows = [_year_row(line) for line in lines]
    if args.json:
        for row in rows:
            emit_json(row)
        return 0
    columns = ["fy", "requests"] + [f"{o.value}" for o in services.OUTCOMES]
    printable = [
        {"fy": row["fiscal_year"], "requests": row["requests"]}
        | {o.value: f"{row[o.value]} ({row[o.value + '_pct']} %)" for o in services.OUTCOMES}
        for row in rows
    ]
    table(printable, columns)
    return 0


def _year_row(line) -> dict:
    row = {"fiscal_year": line.fiscal_year, "requests": line.total}
    for outcome in services.OUTCOMES:
        row[outcome.value] = line.counts[outcome.value]
        row[f"{outcome.value}_pct"] = line.share(outcome.value).plain()
    return row


def compliance(args):
    requests = services.all_requests()
    _warn_synthetic(requests)
    rows = services.compliance(requests, args.by, min_settled=max(0, args.minimum), order=args.sort)
    if args.limit:
        rows = rows[: args.limit]
    lines = [_compliance_row(line) for line in services.compliance_lines(rows, args.by)]
    if args.json:
        for line in lines:
            emit_json(line)
        return 0
    table(lines, ["name", "country", "requests", "settled", "removed", "rate_pct", "median_days", "p90_days",
                  "kept_clock_pct", "online_42d_pct", "reupload_pct"])  # fmt: skip
    return 0


def _compliance_row(line) -> dict:
    return {
        "name": line.name,
        "country": line.country,
        "requests": line.requests,
        "settled": line.settled,
        "removed": line.removed,
        "rate_pct": line.rate.plain(),
        "median_days": _rounded(line.median_days),
        "p90_days": _rounded(line.p90_days),
        "clocked": line.clocked,
        "kept_clock_pct": line.kept_clock.plain(),
        "online_42d_pct": line.still_online.plain(),
        "reupload_pct": line.reupload_rate.plain(),
        "reupload_days": _rounded(line.reupload_days),
    }


def _rounded(days: float | None) -> float | None:
    return None if days is None else round(days, 1)


def public(args):
    requests = services.all_requests()
    _warn_synthetic(requests)
    with translation.override(args.lang):
        body = exports.audited_csv(
            args.principal, "public_hosts", exports.public_columns(), services.public_league(requests)
        )
    return _write(Path(args.out), body)


def _write(out: Path, body: bytes) -> int:
    try:
        out.write_bytes(body)
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror}") from None
    print(f"wrote {out} ({len(body)} bytes)")
    return 0


def dsa_art22(args):
    out = Path(args.out)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in exports.FORMATS:
        raise UserError(f"--out must end in .csv or .xlsx, not {out.name!r}")
    lines = dsa.art22_lines(dsa.notices_of_year(args.year))
    _warn_synthetic(dsa.notices_of_year(args.year))
    with translation.override(args.lang):
        body = exports.audited(args.principal, "dsa_art22", dsa.columns(), lines, fmt)
    return _write(out, body)
