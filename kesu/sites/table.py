"""Reading the desk's site list (CSV or XLSX), with the columns people really use.

Headers are matched after NFKC normalisation, case folding and dropping of
spaces and punctuation, against the names below (Japanese and English).
Columns Kesu does not know are kept per site and written back on export.
"""

import csv
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..lib import archives, spreadsheet
from ..lib.errors import UserError


class BadTable(UserError):
    pass


# The desk's list has ~17,000 rows; a file with far more is a mistake or a decompression bomb (XLSX is zipped XML).
MAX_ROWS = 500_000
MAX_COLUMNS = 200
MAX_CELL = 100_000  # characters; checked by Kesu itself, since csv.field_size_limit is process-wide state
MAX_UNPACKED = 100 << 20  # bytes of XML inside an XLSX; the desk's 17,000-row list is about 13 MB
MAX_CELLS = 5_000_000  # per sheet, counting the blanks openpyxl fills in; the desk's list has about 250,000
MAX_SHEETS = 200
MAX_PARTS = 10_000  # members of the XLSX zip; a workbook has a dozen or so, plus one per sheet, image or chart
MAX_RATIO = 200  # unpacked / packed per part; sheet XML packs about 10:1


# field -> header names it is known by (normalised when compared).
SITE_COLUMNS = {
    "domain": ("domain", "domainname", "ドメイン", "ドメイン名", "url", "siteurl", "サイトurl", "アドレス", "対象url"),
    "site_name": ("sitename", "name", "サイト名", "サイト", "名称"),
    "status": ("status", "state", "状態", "ステータス", "稼働状況", "生死"),
    "relation": ("relation", "種別", "区分"),
    "mirror_of": ("mirrorof", "aliasof", "mainsite", "ミラー元", "本体", "本体サイト", "ミラー"),
    "operator": ("operator", "運営者", "運営", "運営会社"),
    "jurisdiction": ("jurisdiction", "operatorcountry", "運営国", "管轄", "国", "country"),
    "abuse_email": (
        "abuseemail",
        "email",
        "e-mail",
        "mail",
        "contactemail",
        "連絡先",
        "メール",
        "メールアドレス",
        "削除依頼先",
        "連絡先メール",
    ),
    "contact_form": (
        "contactform",
        "form",
        "formurl",
        "問い合わせフォーム",
        "お問い合わせフォーム",
        "フォーム",
        "窓口url",
    ),
    "languages": ("languages", "language", "言語", "対応言語"),
    "host": ("host", "hosting", "hostingprovider", "ホスティング", "ホスティング会社", "サーバー", "サーバ"),
    "server_country": ("servercountry", "hostcountry", "サーバー国", "サーバ国", "サーバー所在国"),
    "cdn": ("cdn",),
    "registrar": ("registrar", "レジストラ", "登録業者"),
    "notes": ("notes", "note", "memo", "備考", "メモ", "コメント"),
}

# Columns of a request history: one row per request.
REQUEST_COLUMNS = {
    "domain": SITE_COLUMNS["domain"],
    "sent_at": ("sentat", "date", "requestdate", "依頼日", "削除依頼日", "送信日", "日付"),
    "case_type": ("casetype", "type", "category", "被害類型", "類型", "種類", "カテゴリ"),
    "role": ("recipientrole", "role", "recipienttype", "依頼先種別", "送付先種別"),
    "recipient": ("recipient", "sentto", "依頼先", "送付先"),
    "outcome": ("outcome", "result", "結果", "対応結果", "削除結果"),
    "resolved_at": ("resolvedat", "removedat", "deletedat", "削除日", "完了日", "対応日"),
    "url_count": ("urls", "urlcount", "url数", "件数"),
    "legal_basis": ("legalbasis", "根拠", "法的根拠"),
    "reference": ("reference", "ref", "id", "requestid", "依頼番号", "管理番号"),
}

_PUNCT = re.compile(r"[\s_\-\.・:：()（）\[\]【】「」/]+")


def normalise_header(name: str) -> str:
    return _PUNCT.sub("", unicodedata.normalize("NFKC", str(name or "")).lower())


def _lookup(columns: dict) -> dict[str, str]:
    return {normalise_header(alias): key for key, aliases in columns.items() for alias in (key, *aliases)}


_SITE_LOOKUP = _lookup(SITE_COLUMNS)
_REQUEST_LOOKUP = _lookup(REQUEST_COLUMNS)


@dataclass
class Sheet:
    """One table: which known field each column holds, and its rows as lists of strings."""

    name: str
    kind: str  # "sites" or "requests"
    headers: list[str]
    fields: list[str | None]  # known field per column, None for a column Kesu keeps as extra
    rows: list[tuple[int, list[str]]] = field(default_factory=list)  # (line number in the file, cells)

    def records(self) -> Iterator[tuple[int, dict[str, str], dict[str, str]]]:
        """(line, known fields, extra columns) per non-blank row; the first column of a field wins."""
        for line, cells in self.rows:
            known: dict[str, str] = {}
            extra: dict[str, str] = {}
            for header, key, cell in zip(self.headers, self.fields, cells, strict=False):
                value = spreadsheet.unescape(cell.strip())
                if key is None:
                    if value and header:
                        extra[header] = value
                elif value and key not in known:
                    known[key] = value
            if known or extra:
                yield line, known, extra


def classify(headers: list[str]) -> tuple[str, list[str | None]]:
    """Decide whether a header row opens a site list or a request history."""
    normalised = [normalise_header(h) for h in headers]
    request_fields = [_REQUEST_LOOKUP.get(h) for h in normalised]
    if "domain" in request_fields and "sent_at" in request_fields and "outcome" in request_fields:
        return "requests", request_fields
    site_fields = [_SITE_LOOKUP.get(h) for h in normalised]
    if "domain" not in site_fields:
        raise BadTable("no domain or URL column (looked for ドメイン, URL, domain ...)")
    return "sites", site_fields


def _header_row(rows: list[list[str]]) -> int:
    """Spreadsheets often carry a title line or two above the headers: take the first row naming a domain column."""
    for index, row in enumerate(rows[:10]):
        names = {normalise_header(cell) for cell in row}
        if names & set(_SITE_LOOKUP) and any(_SITE_LOOKUP.get(n) == "domain" for n in names):
            return index
    raise BadTable("no header row with a domain or URL column in the first 10 rows")


def _sheet(name: str, rows: list[list[str]]) -> Sheet:
    start = _header_row(rows)
    headers = [spreadsheet.unescape(str(h or "").strip())[:120] for h in rows[start]]
    kind, fields = classify(headers)
    sheet = Sheet(name=name, kind=kind, headers=headers, fields=fields)
    sheet.rows = [(start + offset + 2, row) for offset, row in enumerate(rows[start + 1 :])]
    return sheet


def decode_text(data: bytes) -> str:
    """CSV from Japanese Excel is often Shift_JIS (cp932); everything else UTF-8, with or without BOM."""
    if b"\x00" in data[:65536]:
        raise BadTable("the file is binary, not CSV text (neither UTF-8 nor Shift_JIS)")
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise BadTable("the file is neither UTF-8 nor Shift_JIS text")


def read_csv(data: bytes, name: str = "csv") -> list[Sheet]:
    text = decode_text(data)
    # csv.Sniffer misreads quoting on small files; only the delimiter varies in practice (Excel: comma, tab, semicolon).
    first = text.split("\n", 1)[0]
    delimiter = max((",", "\t", ";"), key=first.count)
    dialect = csv.excel_tab if delimiter == "\t" else csv.excel
    try:
        rows = _bounded(csv.reader(io.StringIO(text), dialect, delimiter=delimiter))
    except csv.Error as exc:
        raise BadTable(f"not readable as CSV: {exc}") from None
    if not rows:
        raise BadTable("the file is empty")
    return [_sheet(name, rows)]


def read_xlsx(data: bytes) -> list[Sheet]:
    import zipfile

    from openpyxl import load_workbook

    from . import workbook

    try:
        archive = archives.open_zip(data, _xlsx_limits())
        workbook.count_sheets(archive, _workbook_limits())
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        return _sheets(archive, book)
    except archives.ArchiveRefused as refusal:
        raise BadTable(f"the workbook: {refusal}") from None
    except workbook.Refused as refusal:
        raise BadTable(str(refusal)) from None
    except BadTable:
        raise
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise BadTable(f"not a readable XLSX workbook ({type(exc).__name__})") from None
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds (XML, zip, value) on a damaged file
        raise BadTable(f"not a readable XLSX workbook ({type(exc).__name__})") from None


def _xlsx_limits() -> archives.ZipLimits:
    return archives.ZipLimits(entries=MAX_PARTS, member=MAX_UNPACKED, total=MAX_UNPACKED, ratio=MAX_RATIO)


def _workbook_limits():
    from . import workbook

    return workbook.Limits(
        unpacked=MAX_UNPACKED, sheets=MAX_SHEETS, cells=MAX_CELLS, rows=MAX_ROWS, columns=MAX_COLUMNS
    )


def _sheets(archive, book) -> list[Sheet]:
    from . import workbook

    sheets, seen = [], set()
    for worksheet in book.worksheets:
        part = worksheet._worksheet_path  # noqa: SLF001 - openpyxl keeps no public name for a sheet's part
        if part in seen:
            continue  # two sheets naming one part: read it once
        seen.add(part)
        scan = workbook.scan_sheet(archive, part, worksheet.title, _workbook_limits())
        if not scan.cells:
            continue
        cells = worksheet.iter_rows(max_row=scan.rows, max_col=min(scan.columns, MAX_COLUMNS), values_only=True)
        rows = _bounded([_cell(value) for value in row] for row in cells)
        try:
            sheets.append(_sheet(worksheet.title, rows))
        except BadTable:
            continue  # a sheet of notes or charts: not a table of sites
    book.close()
    if not sheets:
        raise BadTable("no sheet has a header row with a domain or URL column")
    return sheets


def _bounded(rows) -> list[list[str]]:
    out = []
    for row in rows:
        if len(out) >= MAX_ROWS:
            raise BadTable(f"more than {MAX_ROWS:,} rows: split the file")
        row = row[:MAX_COLUMNS]
        if any(len(cell) > MAX_CELL for cell in row):
            raise BadTable(f"row {len(out) + 1} has a cell longer than {MAX_CELL:,} characters")
        out.append(row)
    return out


def _cell(value) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_table(data: bytes, filename: str) -> list[Sheet]:
    if data[:4] == b"PK\x03\x04" or filename.lower().endswith((".xlsx", ".xlsm")):
        return read_xlsx(data)
    return read_csv(data, filename)
