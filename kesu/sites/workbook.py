"""What an XLSX really holds, found before openpyxl reads it.

openpyxl believes a sheet's declared ``<dimension>`` and pads every row up to
it, and every gap between rows: a 1.5 KB workbook claiming A1:GR500000 made
it produce 100 million empty cells (1 GB, 74 s). So each sheet's XML is
streamed once through expat, counting its cells and where they really are,
and openpyxl is then asked for exactly that range. The workbook's part list
is counted too, since openpyxl builds an object per sheet and compares every
sheet's title with every other's.

The reader (table.py) sets the limits; what breaks one raises ``Refused`` with a line that says which.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from xml.parsers import expat

from openpyxl.xml.constants import ARC_CONTENT_TYPES, ARC_WORKBOOK, XLSM, XLSX, XLTM, XLTX

from ..lib import archives

WORKBOOK_TYPES = {XLSX, XLSM, XLTX, XLTM}
_REFERENCE = re.compile(r"\$?([A-Za-z]{1,3})\$?(\d{1,7})")


class Refused(Exception):
    """The workbook is past a limit, or is not what an XLSX is; the message is one line, safe to show."""


@dataclass(frozen=True)
class Limits:
    unpacked: int  # bytes of XML in one part
    sheets: int
    cells: int  # in one sheet, as openpyxl would fill them in
    rows: int
    columns: int


def _column(letters: str) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - 64
    return number


def _corner(reference: str) -> tuple[int, int] | None:
    """(row, column) of a cell reference like GR500000, or None."""
    match = _REFERENCE.fullmatch(reference or "")
    return (int(match[2]), _column(match[1])) if match else None


def _parse(archive: zipfile.ZipFile, name: str, on_start, limits: Limits) -> None:
    """Stream one XML part through expat, calling ``on_start(local_name, attributes)``; no DTDs (XLSX has none)."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler = lambda tag, attributes: on_start(tag.rpartition(" ")[2], attributes)
    parser.StartDoctypeDeclHandler = _no_doctype
    for chunk in archives.stream_member(archive, archive.getinfo(name), limits.unpacked):
        parser.Parse(chunk, False)
    parser.Parse(b"", True)


def _no_doctype(*_args) -> None:
    raise Refused("the workbook's XML declares a DTD, which XLSX never does")


def count_sheets(archive: zipfile.ZipFile, limits: Limits) -> None:
    """Refuse a workbook listing more sheets than anyone keeps a site list in."""
    for part in _workbook_parts(archive, limits):
        sheets = 0

        def on_start(tag, _attributes):
            nonlocal sheets
            sheets += tag == "sheet"
            if sheets > limits.sheets:
                raise Refused(f"the workbook lists more than {limits.sheets} sheets")

        _parse(archive, part, on_start, limits)


def _workbook_parts(archive: zipfile.ZipFile, limits: Limits) -> set[str]:
    """Where [Content_Types].xml says the workbook is (openpyxl looks there, then at xl/workbook.xml)."""
    names = set(archive.namelist())
    parts = {ARC_WORKBOOK} & names

    def on_start(tag, attributes):
        if tag == "Override" and attributes.get("ContentType") in WORKBOOK_TYPES:
            parts.add(attributes.get("PartName", "").lstrip("/"))

    if ARC_CONTENT_TYPES in names:
        _parse(archive, ARC_CONTENT_TYPES, on_start, limits)
    return parts & names


@dataclass
class SheetScan:
    """The cells one sheet's XML really holds, counted as openpyxl places them."""

    title: str
    limits: Limits
    declared: str = ""  # the <dimension ref="...">, as written
    cells: int = 0
    rows: int = 0  # last row holding a cell
    columns: int = 0  # last column holding a cell
    _at_row: int = 0  # where the parse is, as openpyxl counts
    _at_column: int = 0

    def start(self, tag: str, attributes: dict) -> None:
        if tag == "c":
            self._cell(attributes.get("r"))
        elif tag == "row":
            self._at_row = int(attributes["r"]) if attributes.get("r", "").isdigit() else self._at_row + 1
            self._at_column = 0
        elif tag == "dimension":
            self.declared = attributes.get("ref", "")[:40]

    def _cell(self, reference: str | None) -> None:
        self.cells += 1
        if self.cells > self.limits.cells:
            raise Refused(f"sheet {self.title[:40]!r} holds more than {self.limits.cells:,} cells: split the file")
        corner = _corner(reference) if reference else None
        self._at_column = corner[1] if corner else self._at_column + 1
        self.rows, self.columns = max(self.rows, self._at_row), max(self.columns, self._at_column)

    def check(self) -> None:
        declared = self._declared_cells()
        if declared > self.limits.cells:
            raise Refused(
                f"sheet {self.title[:40]!r}: declared {self.declared} ({declared:,} cells) but holds "
                f"{self.cells:,} cells; at most {self.limits.cells:,} are read"
            )
        if self.rows > self.limits.rows:
            raise Refused(f"more than {self.limits.rows:,} rows: split the file")
        columns = min(self.columns, self.limits.columns)  # openpyxl is asked for no more
        if self.rows * columns > self.limits.cells:
            raise Refused(
                f"sheet {self.title[:40]!r}: {self.cells:,} cells spread over {self.rows:,} rows and "
                f"{columns:,} columns ({self.rows * columns:,} cells); at most {self.limits.cells:,} are read"
            )

    def _declared_cells(self) -> int:
        corners = [_corner(end) for end in self.declared.split(":")]
        if not corners or None in corners:
            return 0
        rows = max(corner[0] for corner in corners) - min(corner[0] for corner in corners) + 1
        columns = max(corner[1] for corner in corners) - min(corner[1] for corner in corners) + 1
        return rows * columns


def scan_sheet(archive: zipfile.ZipFile, part: str, title: str, limits: Limits) -> SheetScan:
    scan = SheetScan(title, limits)
    _parse(archive, part, scan.start, limits)
    scan.check()
    return scan
