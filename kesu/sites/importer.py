"""Import of the desk's existing site list and request history: plan (dry run), then apply.

``plan()`` reads every row, folds URLs and subdomains to registrable domains,
merges duplicates, and compares the result with the database; nothing is
written. ``apply()`` writes exactly that plan in one transaction. Importing
the same file again plans no change. A bad row is reported with its line and
skipped; the rest of the file goes on.
"""

import hashlib
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from ..lib.errors import UserError
from . import names
from .domains import BadDomain, host_of, own_operator_key, registrable
from .models import Contact, Organisation, Outcome, Role, Site, Source, TakedownRequest, provenance
from .table import Sheet, read_table

SITE_FIELDS = ("status", "relation", "jurisdiction", "server_country", "notes")
LINKS = ("operator", "host", "cdn", "registrar")  # Site foreign keys to Organisation

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
    values: dict[str, str] = field(default_factory=dict)  # SITE_FIELDS
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


# --- comparing with the database ----------------------------------------------------------------


@dataclass
class Plan:
    """Everything an import would write, computed without writing."""

    report: Report
    new_orgs: dict[tuple[str, str], dict] = field(default_factory=dict)  # (role, key) -> fields
    new_sites: dict[str, dict] = field(default_factory=dict)  # domain -> fields (links as (role, key))
    site_updates: dict[str, dict] = field(default_factory=dict)  # domain -> changed fields
    org_languages: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    # (operator key, channel, address, languages, priority, status)
    new_contacts: list[tuple[tuple[str, str], str, str, list[str], int, str]] = field(default_factory=list)
    new_requests: list[WantedRequest] = field(default_factory=list)
    request_updates: dict[str, dict] = field(default_factory=dict)
    contact_keys: set = field(default_factory=set)


class _Database:
    """The current state, read once: sites, organisations and contacts as plain values."""

    def __init__(self):
        rows = Organisation.objects.values("id", "role", "key", "name", "languages")
        self.orgs = {(o["role"], o["key"]): o for o in rows}
        self.org_by_id = {o["id"]: o for o in self.orgs.values()}
        # An organisation found by RDAP ("as13335") is the same one a file names "CLOUDFLARENET".
        self.by_name = {(o["role"], org_key(o["name"])): (o["role"], o["key"]) for o in self.orgs.values()}
        self.sites = {
            s["domain"]: s
            for s in Site.objects.values("id", "domain", *SITE_FIELDS, "extra", *(f"{link}_id" for link in LINKS))
        }
        self.contacts = set(Contact.objects.values_list("organisation_id", "channel", "address"))
        confirmed = Contact.objects.filter(status=Contact.Status.CONFIRMED)
        self.confirmed_orgs = set(confirmed.values_list("organisation_id", flat=True))

    def named(self, role: str, name: str) -> tuple[str, str]:
        key = (role, org_key(name))
        return key if key in self.orgs else self.by_name.get(key, key)

    def link_key(self, site: dict, link: str) -> tuple[str, str] | None:
        org = self.org_by_id.get(site.get(f"{link}_id"))
        return (org["role"], org["key"]) if org else None


def _operator(domain: str, wanted: dict[str, Wanted], db: _Database, depth: int = 0) -> tuple[tuple[str, str], str]:
    """The operator a site belongs to: named in the file, else its main site's, else the one it has, else its own."""
    item = wanted[domain]
    if item.orgs.get("operator"):
        return db.named(Role.OPERATOR, item.orgs["operator"]), item.orgs["operator"]
    main = item.mirror_of
    if main and main != domain and depth < 5:
        if main in wanted:
            return _operator(main, wanted, db, depth + 1)
        existing = db.sites.get(main)
        if existing and db.link_key(existing, "operator"):
            return db.link_key(existing, "operator"), ""
    existing = db.sites.get(domain)
    if existing and db.link_key(existing, "operator"):
        return db.link_key(existing, "operator"), ""
    return (Role.OPERATOR, own_operator_key(domain)), (item.site_name or domain)[:200]


def _want_org(plan: Plan, db: _Database, key: tuple[str, str], name: str) -> None:
    if key not in db.orgs and key not in plan.new_orgs:
        plan.new_orgs[key] = {"role": key[0], "key": key[1], "name": name or key[1], "source": Source.IMPORT}
        plan.report.organisations_created.append(f"{key[0]}: {name or key[1]}")


def _site_target(item: Wanted, plan: Plan, db: _Database, wanted: dict[str, Wanted]) -> dict:
    target = dict(item.values)
    if item.mirror_of and "relation" not in target:
        target["relation"] = Site.Relation.MIRROR
    operator, name = _operator(item.domain, wanted, db)
    _want_org(plan, db, operator, name)
    target["operator"] = operator
    for role in ("host", "cdn", "registrar"):
        if item.orgs.get(role):
            key = db.named(role, item.orgs[role])
            _want_org(plan, db, key, item.orgs[role])
            target[role] = key
    return target


def _diff_site(item: Wanted, target: dict, plan: Plan, db: _Database) -> None:
    existing = db.sites.get(item.domain)
    if existing is None:
        plan.new_sites[item.domain] = {**target, "extra": item.extra}
        plan.report.created.append(item.domain)
        return
    changes, lines = {}, []
    for key, value in target.items():
        old = db.link_key(existing, key) if key in LINKS else existing[key]
        if old != value:
            changes[key] = value
            lines.append(f"{key}: {_show(old)} -> {_show(value)}")
    extra = {**(existing["extra"] or {}), **item.extra}
    if extra != (existing["extra"] or {}):
        changes["extra"] = extra
        lines.append("extra columns: " + ", ".join(sorted(set(item.extra) - set(existing["extra"] or {}))))
    if changes:
        plan.site_updates[item.domain] = changes
        plan.report.updated[item.domain] = lines
    else:
        plan.report.unchanged += 1


def _show(value) -> str:
    if isinstance(value, tuple):
        return value[1]
    return repr(value) if value not in (None, "") else "(empty)"


def _diff_contacts(item: Wanted, operator: tuple[str, str], plan: Plan, db: _Database) -> None:
    org = db.orgs.get(operator)
    org_id = org["id"] if org else None
    channels = [(Contact.Channel.EMAIL, a) for a in item.emails] + [(Contact.Channel.FORM, u) for u in item.forms]
    # A list fills in organisations nobody can reach yet; where notices already go, it only proposes: that
    # address changes only once a second person confirms it, as when staff add one.
    status = Contact.Status.PROPOSED if org_id in db.confirmed_orgs else Contact.Status.CONFIRMED
    for priority, (channel, address) in enumerate(channels, 1):
        planned = (operator, channel, address)  # a second site of the same operator adds it once
        if (org_id, channel, address) not in db.contacts and planned not in plan.contact_keys:
            plan.new_contacts.append((operator, channel, address, item.languages, priority * 10, status))
            plan.contact_keys.add(planned)
            plan.report.contacts_created += 1
            plan.report.contacts_proposed += status == Contact.Status.PROPOSED
    if item.languages:
        current = plan.org_languages.get(operator) or (org["languages"] if org else [])
        merged = list(current) + [code for code in item.languages if code not in current]
        if merged != list(current):
            plan.org_languages[operator] = merged


def plan_sites(wanted: dict[str, Wanted], plan: Plan, db: _Database) -> None:
    for item in wanted.values():
        target = _site_target(item, plan, db, wanted)
        _diff_site(item, target, plan, db)
        _diff_contacts(item, target["operator"], plan, db)
    plan.report.domains = len(wanted)


def plan_requests(items: list[WantedRequest], plan: Plan, db: _Database) -> None:
    fields = ("pk", "reference", "outcome", "resolved_at", "site__domain", "sent_at")
    existing = {
        r["reference"]: r
        for r in TakedownRequest.objects.filter(reference__in=[i.reference for i in items]).values(*fields)
    }
    own = [int(i.reference[5:]) for i in items if i.reference.startswith("kesu:") and i.reference[5:].isdigit()]
    existing.update({f"kesu:{r['pk']}": r for r in TakedownRequest.objects.filter(pk__in=own).values(*fields)})
    for item in list(items):
        old = existing.get(item.reference)
        if item.reference.startswith("kesu:") and (
            old is None or old["site__domain"] != item.domain or abs(old["sent_at"] - item.sent_at).days > 1
        ):
            # "kesu:<id>" names a request by its row id: only a row about the same site and date may change it.
            plan.report.problems.append(
                Problem("requests", item.line, f"{item.reference} is not a request about {item.domain} sent then")
            )
            continue
        if item.domain not in db.sites and item.domain not in plan.new_sites:
            operator = (Role.OPERATOR, own_operator_key(item.domain))
            plan.new_sites[item.domain] = {"operator": operator, "extra": {}}
            _want_org(plan, db, operator, item.domain[:200])
            plan.report.created.append(item.domain)
        if item.role != Role.OPERATOR and item.recipient:
            item.recipient_key = db.named(item.role, item.recipient)
            _want_org(plan, db, item.recipient_key, item.recipient)
        if old is None:
            plan.new_requests.append(item)
            plan.report.requests_created += 1
        elif old["outcome"] != item.outcome or old["resolved_at"] != item.resolved_at:
            plan.request_updates[item.reference] = {"outcome": item.outcome, "resolved_at": item.resolved_at}
            plan.report.requests_updated += 1
        else:
            plan.report.requests_unchanged += 1


# --- writing ----------------------------------------------------------------------------------

_BATCH = 2000


def _apply(plan: Plan, actor) -> None:
    from ..audit.services import Actor

    label = Actor.of(actor).label
    Organisation.objects.bulk_create([Organisation(**fields) for fields in plan.new_orgs.values()], batch_size=_BATCH)
    orgs = {(o.role, o.key): o for o in Organisation.objects.only("id", "role", "key", "languages")}
    Site.objects.bulk_create(
        [_site(domain, fields, orgs) for domain, fields in plan.new_sites.items()], batch_size=_BATCH
    )
    _update_sites(plan.site_updates, orgs)
    for key, languages in plan.org_languages.items():
        Organisation.objects.filter(pk=orgs[key].pk).update(languages=languages)
    Contact.objects.bulk_create(
        [
            Contact(organisation=orgs[op], channel=ch, address=ad, languages=langs, priority=prio, source=Source.IMPORT,
                    **provenance(label, status))
            for op, ch, ad, langs, prio, status in plan.new_contacts
        ],
        batch_size=_BATCH,
        ignore_conflicts=True,
    )  # fmt: skip
    _write_requests(plan, orgs)


def _site(domain: str, fields: dict, orgs: dict) -> Site:
    site = Site(domain=domain, extra=fields.get("extra") or {})
    _set_fields(site, fields, orgs)
    return site


def _set_fields(site: Site, fields: dict, orgs: dict) -> None:
    for key, value in fields.items():
        if key in LINKS:
            setattr(site, f"{key}_id", orgs[value].pk)
        elif key != "extra" or value:
            setattr(site, key, value)


def _update_sites(updates: dict[str, dict], orgs: dict) -> None:
    domains = list(updates)
    for start in range(0, len(domains), _BATCH):
        chunk = Site.objects.in_bulk(domains[start : start + _BATCH], field_name="domain")
        touched = set()
        for domain, site in chunk.items():
            _set_fields(site, updates[domain], orgs)
            touched.update(f"{k}_id" if k in LINKS else k for k in updates[domain])
        if chunk:
            Site.objects.bulk_update(list(chunk.values()), sorted(touched | {"updated_at"}), batch_size=_BATCH)


def _write_requests(plan: Plan, orgs: dict) -> None:
    if not plan.new_requests and not plan.request_updates:
        return
    sites = {s.domain: s for s in Site.objects.filter(domain__in={r.domain for r in plan.new_requests})}
    links = {"operator": "operator_id", "host": "host_id", "cdn": "cdn_id", "registrar": "registrar_id"}
    rows = []
    for item in plan.new_requests:
        site = sites[item.domain]
        recipient = orgs.get(item.recipient_key) if item.recipient_key else None
        recipient_id = recipient.pk if recipient else getattr(site, links.get(item.role, ""), None)
        rows.append(
            TakedownRequest(
                site=site,
                recipient_id=recipient_id,
                role=item.role,
                case_type=item.case_type,
                legal_basis=item.legal_basis,
                url_count=item.url_count,
                sent_at=item.sent_at,
                outcome=item.outcome,
                resolved_at=item.resolved_at,
                source=Source.IMPORT,
                reference=item.reference,
            )
        )
    TakedownRequest.objects.bulk_create(rows, batch_size=_BATCH)
    for reference, fields in plan.request_updates.items():
        match = {"pk": int(reference[5:])} if reference.startswith("kesu:") else {"reference": reference}
        TakedownRequest.objects.filter(**match).update(**fields)


# --- entry points -----------------------------------------------------------------------------


def plan(data: bytes, filename: str) -> Plan:
    """Read a CSV/XLSX file of sites and/or requests and compare it with the database. Writes nothing."""
    report = Report()
    wanted: dict[str, Wanted] = {}
    requests: list[WantedRequest] = []
    for sheet in read_table(data, filename):
        if sheet.kind == "sites":
            read_sites(sheet, report, wanted)
        else:
            read_requests(sheet, report, requests)
    result = Plan(report=report)
    db = _Database()
    plan_sites(wanted, result, db)
    plan_requests(requests, result, db)
    return result


def run(data: bytes, filename: str, actor, *, dry_run: bool = True) -> Report:
    """Plan the import; unless ``dry_run``, write it in one transaction and log it."""
    from ..audit.services import log_action

    with transaction.atomic():
        result = plan(data, filename)
        result.report.dry_run = dry_run
        if not dry_run:
            _apply(result, actor)
            log_action(actor, "sites.import", None, file=filename[-120:], **result.report.summary())
    return result.report
