"""Inline SVG charts, drawn on the server: no JavaScript, nothing fetched from elsewhere.

Every chart is an ``<svg role="img">`` with a ``<title>`` and a ``<desc>`` that states the numbers,
and the page shows the same numbers in a table next to it. Categories differ by colour *and* by
pattern, keep the published order, and are named in a text legend, so the chart reads in greyscale
and for colour-blind staff. All colours have a contrast of at least 4.5:1 against white.
"""

import itertools

from django.utils.formats import number_format
from django.utils.html import escape, format_html, mark_safe
from django.utils.translation import gettext as _

from ..sites.models import Outcome
from .services import ComplianceLine, YearLine

# (fill colour, pattern id or "", what the pattern looks like) in the published order.
STYLES = {
    Outcome.DELETED: ("#1f4e8c", ""),  # solid dark blue
    Outcome.PARTLY_DELETED: ("#1f4e8c", "kesu-hatch"),  # blue diagonal hatching
    Outcome.STILL_ONLINE: ("#a03c00", ""),  # solid dark orange
    Outcome.ON_HOLD: ("#5b2a86", "kesu-dots"),  # purple dots
    Outcome.ONGOING: ("#4a4a4a", "kesu-cross"),  # grey cross-hatching
}
PATTERNS = """<defs>
<pattern id="kesu-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
<rect width="6" height="6" fill="#ffffff"/><rect width="3" height="6" fill="#1f4e8c"/></pattern>
<pattern id="kesu-dots" width="6" height="6" patternUnits="userSpaceOnUse">
<rect width="6" height="6" fill="#5b2a86"/><circle cx="3" cy="3" r="1.4" fill="#ffffff"/></pattern>
<pattern id="kesu-cross" width="6" height="6" patternUnits="userSpaceOnUse">
<rect width="6" height="6" fill="#ffffff"/><path d="M0 0L6 6M6 0L0 6" stroke="#4a4a4a" stroke-width="1.6"/></pattern>
</defs>"""
INK = "#1a1a1a"
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def _fill(outcome) -> str:
    colour, pattern = STYLES[outcome]
    return f"url(#{pattern})" if pattern else colour


def _svg(width: int, height: int, title: str, desc: str, body: str, ident: str) -> str:
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        'class="chart" aria-labelledby="{i}-t {i}-d" {font}><title id="{i}-t">{t}</title>'
        '<desc id="{i}-d">{d}</desc>{body}</svg>',
        w=width,
        h=height,
        i=ident,
        t=title,
        d=desc,
        body=mark_safe(body),  # noqa: S308 - built below from escaped parts only
        font=mark_safe(FONT),  # noqa: S308 - a constant
    )


def _text(x: float, y: float, text: str, anchor: str = "start", extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{INK}" {extra}>{escape(text)}</text>'


def outcome_bars(lines: list[YearLine], ident: str = "fy-chart") -> str:
    """One horizontal bar per fiscal year, 100 % wide, split into the five categories in order."""
    label_w, bar_w, row_h, top = 70, 520, 28, 10
    legend_y = top + row_h * len(lines) + 16
    height = legend_y + 24 * len(STYLES) + 4
    parts = [PATTERNS]
    for row, line in enumerate(lines):
        y = top + row * row_h
        parts.append(_text(label_w - 8, y + 15, _("FY%(year)s") % {"year": line.fiscal_year}, "end"))
        x = float(label_w)
        for outcome, count, share in line.cells:
            width = bar_w * count / line.total if line.total else 0
            if width > 0:
                parts.append(
                    f'<rect x="{x:.2f}" y="{y}" width="{width:.2f}" height="20" fill="{_fill(outcome)}" '
                    f'stroke="{INK}" stroke-width="0.5"><title>{escape(Outcome(outcome).label)}: '
                    f"{number_format(count, force_grouping=True)} ({share} %)</title></rect>"
                )
            x += width
        parts.append(_text(label_w + bar_w + 6, y + 15, number_format(line.total, force_grouping=True)))
    for i, outcome in enumerate(STYLES):
        y = legend_y + i * 24
        parts.append(f'<rect x="{label_w}" y="{y}" width="28" height="16" fill="{_fill(outcome)}" stroke="{INK}"/>')
        parts.append(_text(label_w + 36, y + 12, f"{i + 1}. {Outcome(outcome).label}"))
    desc = "; ".join(
        _("FY%(year)s") % {"year": line.fiscal_year}
        + ": "
        + ", ".join(f"{Outcome(o).label} {number_format(c, force_grouping=True)} ({s} %)" for o, c, s in line.cells)
        for line in lines
    )
    title = _("Outcome of takedown requests by fiscal year (share of all requests of the year)")
    return _svg(label_w + bar_w + 70, height, title, desc, "".join(parts), ident)


def value_bars(lines: list[ComplianceLine], value, unit: str, title: str, ident: str) -> str:
    """A horizontal bar per line; ``value(line)`` gives the number (float) or None, skipped."""
    shown = [(line, value(line)) for line in lines if value(line) is not None]
    label_w, bar_w, row_h, top = 190, 360, 24, 8
    biggest = max((v for _l, v in shown), default=0) or 1
    parts = []
    for row, (line, number) in enumerate(shown):
        y = top + row * row_h
        name = line.name if len(line.name) <= 28 else line.name[:27] + "…"
        parts.append(_text(label_w - 8, y + 13, name, "end"))
        parts.append(f'<rect x="{label_w}" y="{y}" width="{bar_w * number / biggest:.2f}" height="16" fill="#1f4e8c"/>')
        parts.append(_text(label_w + bar_w * number / biggest + 6, y + 13, f"{number_format(number, 1)} {unit}"))
    desc = "; ".join(f"{line.name}: {number_format(number, 1)} {unit}" for line, number in shown)
    return _svg(label_w + bar_w + 90, top + row_h * max(len(shown), 1) + 8, title, desc, "".join(parts), ident)


# ---------------------------------------------------------------- the legal measures

TOP_ROWS = 12  # a chart of the first rows: beyond a dozen bars it no longer reads at a glance
LABEL_W, LEGAL_BAR_W, ROW_H, AXIS_H = 190, 300, 24, 22
GRID = "#b0b0b0"  # decorative grid lines; every number is written out in ink as well


def _name(text: str) -> str:
    return text if len(text) <= 28 else text[:27] + "…"


def _hatch(ident: str) -> str:
    """The hatching of the median-to-p90 stretch, under an id of this chart's own (ids are unique per page)."""
    return (
        f'<defs><pattern id="{ident}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/>'
        f'<rect width="3" height="6" fill="#1f4e8c"/></pattern></defs>'
    )


def _axis(ticks: list[tuple[float, str]], rows: int) -> str:
    """Grid lines at ``ticks`` (x offset within the bar area, label) above and through ``rows`` bars."""
    bottom = AXIS_H + rows * ROW_H
    parts = []
    for x, label in ticks:
        parts.append(f'<line x1="{LABEL_W + x:.1f}" y1="{AXIS_H - 4}" x2="{LABEL_W + x:.1f}" y2="{bottom}" '
                     f'stroke="{GRID}" stroke-width="0.5"/>')  # fmt: skip
        parts.append(_text(LABEL_W + x, AXIS_H - 8, label, "middle"))
    return "".join(parts)


def clock_bars(lines: list[ComplianceLine], title: str, ident: str) -> str:
    """Per line with a clocked request (the first ``TOP_ROWS``), the share removed within the legal clock on a
    fixed 0–100 % axis: a solid bar inside an outlined track (the whole 100 %), the share and counts beside it."""
    shown = [line for line in lines if line.clocked][:TOP_ROWS]
    if not shown:
        return ""
    parts = [_axis([(LEGAL_BAR_W * p / 100, f"{p} %") for p in (0, 25, 50, 75, 100)], len(shown))]
    for row, line in enumerate(shown):
        y = AXIS_H + row * ROW_H + 4
        parts.append(_text(LABEL_W - 8, y + 13, _name(line.name), "end"))
        parts.append(f'<rect x="{LABEL_W}" y="{y}" width="{LEGAL_BAR_W}" height="16" fill="#ffffff" '
                     f'stroke="{INK}" stroke-width="0.5"/>')  # fmt: skip
        parts.append(f'<rect x="{LABEL_W}" y="{y}" width="{LEGAL_BAR_W * line.kept / line.clocked:.2f}" height="16" '
                     f'fill="{STYLES[Outcome.DELETED][0]}"/>')  # fmt: skip
        parts.append(_text(LABEL_W + LEGAL_BAR_W + 6, y + 13, _clock_text(line)))
    desc = "; ".join(f"{line.name}: {_clock_text(line)}" for line in shown)
    height = AXIS_H + ROW_H * len(shown) + 8
    return _svg(LABEL_W + LEGAL_BAR_W + 150, height, title, desc, "".join(parts), ident)


def _clock_text(line: ComplianceLine) -> str:
    kept, clocked = number_format(line.kept, force_grouping=True), number_format(line.clocked, force_grouping=True)
    return f"{line.kept_clock} % ({kept} / {clocked})"


def _step(longest: float) -> float:
    """A round tick step (0.1, 0.2, 0.5, 1, 2, 5, 10, …) that reaches ``longest`` days in at most six steps."""
    step, factors = 0.1, itertools.cycle((2, 2.5, 2))
    while longest / step > 6:
        step *= next(factors)
    return step


def removal_spans(lines: list[ComplianceLine], title: str, ident: str) -> str:
    """Per line with removals (the first ``TOP_ROWS``), days from the request to the removal on one axis for all:
    a solid bar to the median, hatched on to the 90th percentile, each end marked and both numbers beside it."""
    shown = [line for line in lines if line.median_days is not None][:TOP_ROWS]
    if not shown:
        return ""
    longest = max(max(line.median_days, line.p90_days or 0) for line in shown) or 1
    step = _step(longest)
    scale = LEGAL_BAR_W / (step * -(-longest // step))  # pixels per day; the axis ends on a tick
    ticks = [(step * k * scale, number_format(step * k, 1 if step < 1 else 0)) for k in range(int(longest // step) + 2)]
    parts = [_hatch(ident), _axis([t for t in ticks if t[0] <= LEGAL_BAR_W + 0.01], len(shown))]
    parts.append(_text(LABEL_W + LEGAL_BAR_W + 16, AXIS_H - 8, _("days")))
    for row, line in enumerate(shown):
        y = AXIS_H + row * ROW_H + 4
        median = line.median_days * scale
        p90 = (line.p90_days if line.p90_days is not None else line.median_days) * scale
        parts.append(_text(LABEL_W - 8, y + 13, _name(line.name), "end"))
        parts.append(f'<rect x="{LABEL_W}" y="{y}" width="{median:.2f}" height="16" fill="#1f4e8c"/>')
        parts.append(f'<rect x="{LABEL_W + median:.2f}" y="{y}" width="{p90 - median:.2f}" height="16" '
                     f'fill="url(#{ident}-hatch)" stroke="{INK}" stroke-width="0.5"/>')  # fmt: skip
        for x in (median, p90):
            parts.append(f'<line x1="{LABEL_W + x:.2f}" y1="{y - 3}" x2="{LABEL_W + x:.2f}" y2="{y + 19}" '
                         f'stroke="{INK}" stroke-width="2"/>')  # fmt: skip
        parts.append(_text(LABEL_W + LEGAL_BAR_W + 6, y + 13, _span_text(line)))
    legend_y = AXIS_H + ROW_H * len(shown) + 10
    legend = (("#1f4e8c", _("Median days to removal")),
              (f"url(#{ident}-hatch)", _("From the median to the 90th percentile")))  # fmt: skip
    for i, (fill, label) in enumerate(legend):
        y = legend_y + i * 22
        parts.append(f'<rect x="{LABEL_W}" y="{y}" width="28" height="16" fill="{fill}" stroke="{INK}"/>')
        parts.append(_text(LABEL_W + 36, y + 12, label))
    desc = "; ".join(f"{line.name}: {_span_text(line)}" for line in shown)
    return _svg(LABEL_W + LEGAL_BAR_W + 260, legend_y + 48, title, desc, "".join(parts), ident)


def _span_text(line: ComplianceLine) -> str:
    return _("median %(median)s, 90th percentile %(p90)s days") % {
        "median": line.median_text,
        "p90": line.p90_text or line.median_text,
    }


def legal(lines: list[ComplianceLine], per_regime: bool, ident: str) -> list[str]:
    """The compliance page's two charts of the legal measures over ``lines``: per legal regime, or the first
    rows of the page; a chart with nothing to draw is left out."""
    if per_regime:
        titles = (
            _("Share removed within the legal clock, per legal regime"),
            _("Days from the request to the removal, per legal regime: median and 90th percentile"),
        )
    else:
        titles = (
            _("Share removed within the legal clock, first rows of this page"),
            _("Days from the request to the removal, first rows of this page: median and 90th percentile"),
        )
    drawn = [clock_bars(lines, titles[0], f"{ident}-clock"), removal_spans(lines, titles[1], f"{ident}-days")]
    return [chart for chart in drawn if chart]
