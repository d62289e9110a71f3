"""Reading an import file, the desk's site list or request history: its rows become what each domain and
each request wants (``Wanted``, ``WantedRequest``), with every bad row kept as a ``Problem``.

Words are read in Japanese or English (``STATUS_WORDS`` ...), URLs and subdomains folded to registrable
domains, duplicate rows merged. Nothing here reads or writes the database: kesu.sites.importer compares the
result with it and applies the plan.
"""

import hashlib
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from ..lib.errors import UserError
from . import names
from .domains import BadDomain, host_of, registrable
from .models import Outcome, Role, Site
from .table import Sheet

STATUS_WORDS = {
    Site.Status.DEAD: (
        "dead",
        "閉鎖",
        "閉鎖済",
        "閉鎖済み",
        "消滅",
        "×",
        "x",
        "down",
        "offline",
        "停止",
        "死亡",
        "no longer resolves",
    ),
    Site.Status.ACTIVE: ("active", "online", "稼働", "稼働中", "○", "o", "alive", "live", "生存"),
    Site.Status.UNKNOWN: ("unknown", "不明", "?", "？", "未確認", "not checked yet"),
}
RELATION_WORDS = {
    Site.Relation.MIRROR: ("mirror", "ミラー", "ミラーサイト"),
    Site.Relation.ALIAS: ("alias", "別名", "転送", "リダイレクト"),
    Site.Relation.MAIN: ("main", "本体", "main site", "メイン"),
}
OUTCOME_WORDS = {
    Outcome.DELETED: ("deleted", "removed", "削除", "削除済", "削除済み", "削除完了", "対応済み"),
    Outcome.PARTLY_DELETED: ("partly deleted", "partly_deleted", "partial", "一部削除", "一部削除済み"),
    Outcome.STILL_ONLINE: (
        "still online",
        "still_online",
        "refused",
        "ignored",
        "未削除",
        "残存",
        "削除されず",
        "拒否",
        "無視",
        "無回答",
    ),
    Outcome.ON_HOLD: ("on hold", "on_hold", "保留"),
    Outcome.ONGOING: ("ongoing", "pending", "対応中", "継続", "継続中", "回答待ち"),
}
CASE_TYPE_WORDS = {
    "ncii": ("ncii", "revenge porn", "リベンジポルノ", "私事性的画像", "私事性的画像記録", "リベポ"),
    "csam": ("csam", "child sexual abuse material", "児童ポルノ", "児童性的虐待", "児童"),
    "av": ("av", "av出演強要", "av強要", "出演強要", "av出演被害"),
    "voyeurism": ("voyeurism", "voyeur", "盗撮"),
    "sextortion": ("sextortion", "セクストーション", "性的脅迫"),
    "deepfake": ("deepfake", "ディープフェイク", "性的ディープフェイク"),
}
ROLE_WORDS = {
    Role.OPERATOR: ("operator", "site", "サイト", "運営者", "サイト運営者", "管理者"),
    Role.HOST: ("host", "hosting", "hosting provider", "ホスティング", "サーバー", "サーバ", "プロバイダ"),
    Role.CDN: ("cdn", "cloudflare"),
    Role.REGISTRAR: ("registrar", "レジストラ"),
    Role.SEARCH_ENGINE: ("search engine", "search_engine", "検索エンジン", "google", "bing"),
    Role.HOTLINE: ("hotline", "ホットライン", "inhope"),
    Role.LAWYER: ("lawyer", "弁護士"),
    Role.PLATFORM: ("platform", "プラットフォーム"),
}
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
_ORG_SUFFIX = re.compile(
    r"[,.]?\s*(inc|llc|ltd|limited|co|corp|corporation|gmbh|b\.?v|s\.?a|株式会社|合同会社|有限会社)\.?$"
)


class ImportError_(UserError):
    pass


def _words(table: dict) -> dict[str, str]:
    return {_fold(word): key for key, words in table.items() for word in (key, *words)}


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").strip().lower()


_STATUS, _RELATION, _OUTCOME = _words(STATUS_WORDS), _words(RELATION_WORDS), _words(OUTCOME_WORDS)
_CASE_TYPE, _ROLE = _words(CASE_TYPE_WORDS), _words(ROLE_WORDS)


def org_key(name: str) -> str:
    """``'CloudFlare, Inc.'`` and ``'cloudflare'`` are one organisation."""
    text = _fold(name)
    for _ in range(2):
        text = _ORG_SUFFIX.sub("", text).strip(" ,.")
    return re.sub(r"[\s_.,/]+", "-", text).strip("-")[:120]


@dataclass
class Problem:
    sheet: str
    line: int
    message: str

    def __str__(self):
        return f"{self.sheet}:{self.line}: {self.message}"


@dataclass
class Wanted:
    """What the file says about one registrable domain, after merging its rows."""

    domain: str
    lines: list[int] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)  # status, relation, jurisdiction, server_country, notes
    orgs: dict[str, str] = field(default_factory=dict)  # role -> organisation name
    site_name: str = ""
    mirror_of: str = ""
    emails: list[str] = field(default_factory=list)
    forms: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class Report:
    dry_run: bool = True
    rows: int = 0
    problems: list[Problem] = field(default_factory=list)
    domains: int = 0
    duplicates: dict[str, int] = field(default_factory=dict)  # domain -> rows merged into it
    subdomains: int = 0
    conflicts: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    updated: dict[str, list[str]] = field(default_factory=dict)  # domain -> "field: old -> new"
    unchanged: int = 0
    organisations_created: list[str] = field(default_factory=list)
    contacts_created: int = 0
    contacts_proposed: int = 0  # of those, for organisations that already had a confirmed contact
    requests_created: int = 0
    requests_updated: int = 0
    requests_unchanged: int = 0

    @property
    def changes(self) -> int:
        return (
            len(self.created)
            + len(self.updated)
            + len(self.organisations_created)
            + self.contacts_created
            + self.requests_created
            + self.requests_updated
        )

    def summary(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "rows": self.rows,
            "errors": len(self.problems),
            "domains": self.domains,
            "duplicate_rows_merged": sum(self.duplicates.values()),
            "subdomains_folded": self.subdomains,
            "conflicts": len(self.conflicts),
            "sites_created": len(self.created),
            "sites_updated": len(self.updated),
            "sites_unchanged": self.unchanged,
            "organisations_created": len(self.organisations_created),
            "contacts_created": self.contacts_created,
            "contacts_proposed": self.contacts_proposed,
            "requests_created": self.requests_created,
            "requests_updated": self.requests_updated,
            "requests_unchanged": self.requests_unchanged,
        }

    def as_dict(self) -> dict:
        return {
            **self.summary(),
            "problems": [str(p) for p in self.problems],
            "conflicts_detail": self.conflicts,
            "created": self.created,
            "updated": self.updated,
            "organisations": self.organisations_created,
        }


# --- reading the file -------------------------------------------------------------------------


def _emails(text: str, problems: list[str]) -> list[str]:
    out = []
    for part in names.split_list(text.replace(" ", ",")):
        address = unicodedata.normalize("NFKC", part).strip("<>()[]").removeprefix("mailto:").strip()
        local, _, domain = address.rpartition("@")
        address = f"{local}@{domain.lower()}"
        if _EMAIL.match(address) and len(address) <= 254:
            out.append(address)
        else:
            problems.append(f"{part[:60]!r} is not an e-mail address")
    return out


def _form(text: str, problems: list[str]) -> str:
    url = unicodedata.normalize("NFKC", text).strip()
    if not re.match(r"^https?://", url, re.I):
        url = "https://" + url
    try:
        host_of(url)
    except BadDomain:
        problems.append(f"contact form {text[:60]!r} is not a URL")
        return ""
    return url


def _site_row(known: dict[str, str], problems: list[str]) -> tuple[dict, dict, list, list, list]:
    values, orgs = {}, {}
    for key, table in (("status", _STATUS), ("relation", _RELATION)):
        if key in known:
            word = _fold(known[key])
            if word in table:
                values[key] = table[word]
            else:
                problems.append(f"unknown {key} {known[key][:40]!r}")
    for key in ("jurisdiction", "server_country"):
        if key in known:
            try:
                values[key] = names.country_code(known[key])
            except UserError as error:
                problems.append(str(error))
    if "notes" in known:
        values["notes"] = known["notes"]
    for role in ("operator", "host", "cdn", "registrar"):
        if known.get(role) and org_key(known[role]):
            orgs[role] = known[role].strip()[:200]
    languages = []
    if "languages" in known:
        try:
            languages = names.language_codes(known["languages"])
        except UserError as error:
            problems.append(str(error))
    emails = _emails(known.get("abuse_email", ""), problems)
    forms = [url for url in [_form(known["contact_form"], problems)] if url] if "contact_form" in known else []
    return values, orgs, emails, forms, languages


def _merge(wanted: Wanted, values: dict, orgs: dict, report: Report, line: int) -> None:
    for target, incoming in ((wanted.values, values), (wanted.orgs, orgs)):
        for key, value in incoming.items():
            if key not in target:
                target[key] = value
            elif target[key] != value and org_key(target[key]) != org_key(value):
                report.conflicts.append(
                    f"{wanted.domain}: {key} {target[key]!r} (line {wanted.lines[0]}) kept, "
                    f"{value!r} (line {line}) ignored"
                )


def _domain_of(cell: str) -> tuple[str, str]:
    """(host, registrable domain) of a cell; words after the first are the writer's notes ("example.com 閉鎖")."""
    words = unicodedata.normalize("NFKC", cell).split()
    token = words[0] if words else ""
    try:
        return host_of(token), registrable(token)
    except BadDomain as error:
        if len(words) > 1:
            raise BadDomain(f"{error} (in {cell.strip()[:80]!r})") from None
        raise


def read_sites(sheet: Sheet, report: Report, wanted: dict[str, Wanted]) -> None:
    for line, known, extra in sheet.records():
        report.rows += 1
        cell = known.get("domain", "")
        if not cell:
            report.problems.append(Problem(sheet.name, line, "no domain or URL in this row"))
            continue
        try:
            host, domain = _domain_of(cell)
        except BadDomain as error:
            report.problems.append(Problem(sheet.name, line, str(error)))
            continue
        if host != domain and host != "www." + domain:
            report.subdomains += 1
        problems: list[str] = []
        values, orgs, emails, forms, languages = _site_row(known, problems)
        report.problems.extend(Problem(sheet.name, line, message) for message in problems)
        if domain in wanted:
            report.duplicates[domain] = report.duplicates.get(domain, 0) + 1
        item = wanted.setdefault(domain, Wanted(domain=domain))
        item.lines.append(line)
        _merge(item, values, orgs, report, line)
        item.site_name = item.site_name or known.get("site_name", "").strip()[:200]
        if known.get("mirror_of") and not item.mirror_of:
            try:
                item.mirror_of = registrable(known["mirror_of"])
            except BadDomain as error:
                report.problems.append(Problem(sheet.name, line, f"mirror of: {error}"))
        for target, incoming in ((item.emails, emails), (item.forms, forms), (item.languages, languages)):
            target.extend(value for value in incoming if value not in target)
        for key, value in extra.items():
            item.extra.setdefault(key, value)


def _parse_date(text: str) -> datetime | None:
    value = unicodedata.normalize("NFKC", text or "").strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)  # what Kesu exports, with its UTC offset
        return timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed
    except ValueError:
        pass
    value = re.sub(r"[年月/.]", "-", value).replace("日", "").strip()
    for pattern in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            parsed = datetime.strptime(value[:19], pattern)
        except ValueError:
            continue
        return timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed
    raise ImportError_(f"{text[:40]!r} is not a date (use 2024-03-31 or 2024/3/31)")


@dataclass
class WantedRequest:
    line: int
    domain: str
    sent_at: datetime
    case_type: str
    role: str
    recipient: str
    outcome: str
    resolved_at: datetime | None
    url_count: int
    legal_basis: str
    reference: str
    recipient_key: tuple[str, str] | None = None


def _word(table: dict, text: str, what: str, default: str | None = None) -> str:
    word = _fold(text)
    if not word and default is not None:
        return default
    if word not in table:
        raise ImportError_(f"unknown {what} {text[:40]!r}")
    return table[word]


def _request_row(line: int, known: dict[str, str]) -> WantedRequest:
    _host, domain = _domain_of(known.get("domain", ""))
    sent_at = _parse_date(known.get("sent_at", ""))
    if sent_at is None:
        raise ImportError_("no date the request was sent")
    count = re.sub(r"\D", "", known.get("url_count", ""))[:6] or "1"
    return WantedRequest(
        line=line,
        domain=domain,
        sent_at=sent_at,
        case_type=_word(_CASE_TYPE, known.get("case_type", ""), "case type"),
        role=_word(_ROLE, known.get("role", ""), "recipient role", default=Role.OPERATOR),
        recipient=known.get("recipient", "").strip()[:200],
        outcome=_word(_OUTCOME, known.get("outcome", ""), "outcome"),
        resolved_at=_parse_date(known.get("resolved_at", "")),
        url_count=max(1, min(int(count), 100000)),
        legal_basis=known.get("legal_basis", "").strip()[:32],
        reference=known.get("reference", "").strip()[:100],
    )


_OWN_REFERENCE = re.compile(r"^(synthetic:[\w:.-]+|import:[\w:.-]+|kesu:\d+)$")


def read_requests(sheet: Sheet, report: Report, out: list[WantedRequest]) -> None:
    seen: Counter = Counter()
    lines_of: dict[str, int] = {}
    for line, known, _extra in sheet.records():
        report.rows += 1
        try:
            item = _request_row(line, known)
        except UserError as error:
            report.problems.append(Problem(sheet.name, line, str(error)))
            continue
        if item.reference:
            # An exported file carries Kesu's own references ("synthetic:…", "import:…", "kesu:<id>") as they are;
            # anything else a spreadsheet calls a reference is the desk's own numbering.
            if not _OWN_REFERENCE.match(item.reference):
                item.reference = f"import:{item.reference}"
            if item.reference in lines_of:
                message = f"reference {item.reference!r} is also on line {lines_of[item.reference]}"
                report.problems.append(Problem(sheet.name, line, message))
                continue
            lines_of[item.reference] = line
        else:
            # The same request twice in a file is two requests; the n-th copy keeps its own key.
            basis = "|".join(
                [item.domain, item.sent_at.isoformat(), item.case_type, item.role, org_key(item.recipient)]
            )
            seen[basis] += 1
            digest = hashlib.sha256(f"{basis}|{seen[basis]}".encode()).hexdigest()[:40]
            item.reference = f"import:{digest}"
        out.append(item)
