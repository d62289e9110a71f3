"""The files the field trades hashes in, read and written.

- ``threatexchange``'s local-file format (``LocalFileSignalExchangeAPI``): one ``<type> <signal>`` a line, the
  type being threatexchange's name (``pdq``, ``video_md5``, ``video_sha256``, ``vpdq``); each line is one
  picture's or video's hash, so each becomes one reference. Blank lines and ``#`` comments are skipped.
- CSV with a header, as NCMEC's and StopNCII's exports and partners' spreadsheets come: either a column per
  type (``pdq``, ``md5``, ``sha256``, ``vpdq``, ``video_md5``, …; ``pdq_quality`` / ``quality`` beside ``pdq``)
  or a pair of columns ``signal_type`` + ``signal`` (also ``hash_type`` + ``hash_value``, ``type`` + ``value``).
  A row is one picture or video; other columns (ids, SHA-1, dates, classifications) are ignored.
"""

import csv
import io
from dataclasses import dataclass

from ..lib.errors import UserError
from .hashes import ALIASES, FIELD_TYPES, Hash, field_name, values_of

MAX_LINES = 20000
TYPE_COLUMNS = ("signal_type", "hash_type", "type")
VALUE_COLUMNS = ("signal", "hash_value", "hash", "value")
QUALITY_COLUMNS = ("pdq_quality", "quality")


@dataclass(frozen=True)
class Row:
    """The hashes of one picture or video, with the line of the file they were on."""

    line: int
    hashes: list[Hash]


class BadLines(UserError):
    """Lines that cannot be read; ``errors`` holds (line, reason) for each."""

    def __init__(self, name: str, errors: list[tuple[int, str]]):
        self.errors = errors
        first = "; ".join(f"line {n}: {reason}" for n, reason in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        super().__init__(f"{name}: {len(errors)} bad line(s), nothing imported: {first}{more}")


def decode(name: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"{name}: not UTF-8 text (byte {exc.start})") from None


def read_rows(name: str, text: str) -> list[Row]:
    """Every row of a hash file, checked; BadLines naming every bad line, else the rows."""
    lines = text.splitlines()
    if len(lines) > MAX_LINES:
        raise UserError(f"{name}: {len(lines)} lines, more than the {MAX_LINES} one import takes")
    first = next((line for line in lines if line.strip() and not line.lstrip().startswith("#")), "")
    if not first:
        raise UserError(f"{name}: no hashes in the file")
    rows, errors = (_local_rows if _is_local(first) else _csv_rows)(lines)
    for row in rows:
        for given in row.hashes:
            try:
                values_of(given)
            except UserError as exc:
                errors.append((row.line, str(exc)))
                break
    if errors:
        raise BadLines(name, sorted(errors))
    return rows


def _is_local(line: str) -> bool:
    word = line.strip().split(" ", 1)[0].lower()
    return word in FIELD_TYPES or word in ALIASES


def _local_rows(lines: list[str]) -> tuple[list[Row], list[tuple[int, str]]]:
    rows, errors = [], []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        kind, _, signal = text.partition(" ")
        if not signal.strip():
            errors.append((number, f"expected '<type> <hash>', got {text[:40]!r}"))
            continue
        rows.append(Row(number, [Hash(kind, signal.strip())]))
    return rows, errors


def _csv_rows(lines: list[str]) -> tuple[list[Row], list[tuple[int, str]]]:
    reader = csv.reader(io.StringIO("\n".join(lines)))
    try:
        header = [cell.strip().lower() for cell in next(reader)]
        columns = _columns(header)
    except UserError as exc:
        return [], [(1, str(exc))]
    rows, errors = [], []
    try:
        for cells in reader:
            number = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            row = dict(zip(header, (cell.strip() for cell in cells), strict=False))
            hashes = columns(row)
            if hashes:
                rows.append(Row(number, hashes))
            else:
                errors.append((number, "no hash in this row"))
    except csv.Error as exc:
        errors.append((reader.line_num, f"not CSV: {exc}"))
    return rows, errors


def _columns(header: list[str]):
    """A function from a CSV row (column -> cell) to its hashes, for this header."""
    pair = next((c for c in TYPE_COLUMNS if c in header), None), next((c for c in VALUE_COLUMNS if c in header), None)
    if all(pair):
        type_column, value_column = pair
        return lambda row: [Hash(row[type_column], row[value_column])] if row.get(value_column) else []
    typed = []
    for column in header:
        try:
            typed.append((column, field_name(column)))
        except UserError:
            continue
    if not typed:
        known = ", ".join(sorted(FIELD_TYPES))
        raise UserError(f"not a hash file: no '<type> <hash>' line and no CSV column named {known}, md5 or sha256")
    quality = next((c for c in QUALITY_COLUMNS if c in header), None)

    def hashes(row: dict) -> list[Hash]:
        out = []
        for column, name in typed:
            text = row.get(column, "")
            if text and name == "pdq" and quality and row.get(quality):
                text = f"{text},{row[quality]}"
            if text:
                out.append(Hash(name, text))
        return out

    return hashes


def local_file(lines: list[str]) -> str:
    """The lines as a threatexchange local file (sorted, each once: the order says nothing about anyone)."""
    return "".join(f"{line}\n" for line in sorted(set(lines)))
