"""Inline SVG charts, drawn on the server: no JavaScript, nothing fetched from elsewhere.

Every chart is an ``<svg role="img">`` with a ``<title>`` and a ``<desc>`` that states the numbers,
and the page shows the same numbers in a table next to it. Categories differ by colour *and* by
pattern, keep the published order, and are named in a text legend, so the chart reads in greyscale
and for colour-blind staff. All colours have a contrast of at least 4.5:1 against white.
"""

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
