"""CSV and XLSX files Kesu writes, with cells no spreadsheet runs as formulas.

Text in them comes from outside: a site's own name, a host or registrar as
RDAP or WHOIS gave it (chosen by whoever registered it), notes from an
imported list. Excel, LibreOffice and Google Sheets take a cell starting with
= + - @, a tab or a CR as a formula, so such text gets a leading apostrophe,
as OWASP advises; the full-width forms ＝＋－＠ common in Japanese text too,
since whether a spreadsheet folds them to ASCII varies and the apostrophe
costs little. :func:`unescape` takes it off again when a file comes back.
Numbers stay numbers: ints, floats and text that is only a decimal number
("-3", "12.5") are written as they are.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from decimal import Decimal

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
# XML 1.0 has no place for these; openpyxl refuses the whole file when a cell holds one.
_NOT_IN_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def safe_cell(value) -> str | int | float | Decimal:
    """The value as a cell: numbers unchanged, text that could start a formula behind an apostrophe."""
    if isinstance(value, int | float | Decimal):
        return value
    text = "" if value is None else str(value)
    if text[:1] in FORMULA_START and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def unescape(text: str) -> str:
    """Undo :func:`safe_cell`, so an exported file imports back unchanged."""
    return text[1:] if text[:1] == "'" and text[1:2] in FORMULA_START else text


def csv_bytes(headers: Iterable, rows: Iterable[Iterable]) -> bytes:
    """UTF-8 with a BOM (so Excel reads Japanese), CRLF line ends, every cell through safe_cell."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(header) for header in headers])
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)
    return out.getvalue().encode("utf-8-sig")


def xlsx_bytes(headers: Iterable, rows: Iterable[Iterable], title: str) -> bytes:
    """One sheet; text is typed as text, so not even a cell starting with = is read as a formula."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title)
    sheet.append([_xlsx_cell(sheet, header) for header in headers])
    for row in rows:
        sheet.append([_xlsx_cell(sheet, cell) for cell in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx_cell(sheet, value):
    from openpyxl.cell import WriteOnlyCell

    if isinstance(value, int | float | Decimal):
        return value
    cell = WriteOnlyCell(sheet, value=safe_cell(_NOT_IN_XML.sub("", "" if value is None else str(value))))
    cell.data_type = "s"
    return cell
