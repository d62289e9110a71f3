"""The knowledge base shipped as data: who can remove what, through which channel, under which law, how fast.

One JSON file per topic under ``kesu/sites/data`` (``FILES``). Every file names its sources, the date it
was compiled and, in its ``note``, that it was transcribed by hand from public pages and must be checked
by staff; every entry carries its own ``source``. ``load()`` validates all of them: a bad file stops with
one line naming the file and the entry. Nothing is downloaded at run time.

``sync()`` writes the organisations (search engines, CDNs, hotlines, platforms) and their contacts into
the database as ``source=knowledge`` rows, idempotently. Rows staff own (any other source) keep every
field staff wrote; sync only adds the contacts they lack. A contact the data no longer lists is retired
to the end of the queue (``RETIRED_PRIORITY``) rather than deleted, since notices may point at it.
"""

import functools
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from django.db import transaction

from ..cases.models import CaseType
from ..lib.errors import UserError
from .domains import BadDomain, registrable
from .models import Contact, Organisation, Role, Source, provenance

DATA_DIR = Path(__file__).resolve().parent / "data"
ORGANISATION_FILES = {
    "search_engines.json": Role.SEARCH_ENGINE,
    "cloudflare.json": Role.CDN,
    "inhope_hotlines.json": Role.HOTLINE,
    "platforms.json": Role.PLATFORM,
}
FILES = (*ORGANISATION_FILES, "stopncii_partners.json", "jurisdictions.json")
CASE_TYPES = frozenset(CaseType.values)
REQUIREMENTS = frozenset({"victim_holds_copyright"})
RETIRED_PRIORITY = 900
# Recipients of a notice; a regime that does not bind one of them is worth naming in the reason.
NOTICE_ROLES = frozenset({Role.OPERATOR, Role.PLATFORM, Role.HOST, Role.CDN, Role.REGISTRAR})

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,119}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
_URL = re.compile(r"^https?://[a-z0-9.-]+\.[a-z]{2,}(/\S*)?$", re.I)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.I)
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class KnowledgeError(UserError):
    """A data file is missing, not JSON, or an entry in it is malformed."""


# --- validation -----------------------------------------------------------------------------------
# A checker returns None when the value is fine, else what is wrong with it (the field name is added).


def _text(value):
    return None if isinstance(value, str) and value.strip() else "must be non-empty text"


def _slug(value):
    return None if isinstance(value, str) and _SLUG.match(value) else "must be a slug (a-z, 0-9, - or _)"


def _url(value):
    return None if isinstance(value, str) and _URL.match(value) else "must be an http(s) URL"


def _country(value):
    return None if isinstance(value, str) and _COUNTRY.match(value) else "must be an ISO 3166 code like 'JP'"


def _int(value):
    return None if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else "must be a whole number"


def _iso_date(value):
    try:
        date.fromisoformat(value)
    except (TypeError, ValueError):
        return "must be a date like 2026-11-21"
    return None


def _month(value):
    return None if isinstance(value, str) and _MONTH.match(value) else "must be a month like 2024-03"


def _list_of(check, *, empty=False):
    def checker(value):
        if not isinstance(value, list) or (not value and not empty):
            return "must be a list" if empty else "must be a non-empty list"
        for item in value:
            problem = check(item)
            if problem:
                return f"item {str(item)[:60]!r} {problem}"
        return None

    return checker


def _member(allowed):
    def checker(value):
        return None if value in allowed else f"must be one of {', '.join(sorted(allowed))}"

    return checker


def _language(value):
    return None if isinstance(value, str) and _LANGUAGE.match(value) else "must be a language code like 'ja'"


def _domain(value):
    try:
        ok = isinstance(value, str) and registrable(value) == value
    except BadDomain:
        ok = False
    return None if ok else "must be a registrable domain in lower-case ASCII"


def _contact(value):
    if not isinstance(value, dict):
        return "must be an object"
    channel, address = value.get("channel"), value.get("address")
    if channel not in Contact.Channel.values:
        return f"channel must be one of {', '.join(Contact.Channel.values)}"
    if channel == Contact.Channel.EMAIL and not (isinstance(address, str) and _EMAIL.match(address)):
        return "address must be an e-mail address"
    if channel in (Contact.Channel.FORM, Contact.Channel.API) and _url(address):
        return "address must be an http(s) URL"
    if _text(address):
        return "address must be non-empty text"
    if "case_types" in value and _list_of(_member(CASE_TYPES))(value["case_types"]):
        return "case_types " + _list_of(_member(CASE_TYPES))(value["case_types"])
    if not isinstance(value.get("verified"), bool):
        return "verified must be true or false"
    return None


def _accepts(value):
    if not isinstance(value, dict) or not isinstance(value.get("csam"), bool):
        return "must say csam: true/false"
    return None if value.get("ncii", None) in (True, False, None) else "ncii must be true, false or null"


def _deadline(value):
    if not isinstance(value, dict) or _text(value.get("basis")):
        return "must have a non-empty 'basis'"
    hours = value.get("hours")
    if hours is None or (isinstance(hours, int) and hours > 0):
        return None
    return "hours must be a positive number or null"


def _deadlines(value):
    if not isinstance(value, dict):
        return "must be an object"
    for key, item in value.items():
        if key != "default" and key not in CASE_TYPES:
            return f"key {key!r} is not a case type or 'default'"
        problem = _deadline(item)
        if problem:
            return f"{key} {problem}"
    return None


def _categories(value):
    def category(item):
        if not isinstance(item, dict) or _text(item.get("name")):
            return "must have a name"
        if _list_of(_member(CASE_TYPES), empty=True)(item.get("case_types")):
            return "case_types must list case types"
        return None if isinstance(item.get("can_ask_not_to_forward_to_operator"), bool) else "needs a true/false flag"

    return _list_of(category)(value)


ORGANISATION = {
    "key": _slug,
    "name": _text,
    "country": _country,
    "website": _url,
    "source": _url,
    "languages": _list_of(_language),
    "contacts": _list_of(_contact),
}
ENTRY_FIELDS = {
    "search_engines.json": ORGANISATION,
    "cloudflare.json": {**ORGANISATION, "customer_response_hours": _int, "categories": _categories},
    "inhope_hotlines.json": {**ORGANISATION, "accepts": _accepts},
    "platforms.json": {**ORGANISATION, "domains": _list_of(_domain), "regimes": _list_of(_slug, empty=True)},
    "stopncii_partners.json": {"key": _slug, "name": _text, "source": _url, "announced": _month},
    "jurisdictions.json": {
        "key": _slug,
        "short": _text,
        "label": _text,
        "law": _text,
        "source": _url,
        "rank": _int,
        "countries": _list_of(_text),
        "roles": _list_of(_member(set(Role.values))),
        "case_types": _list_of(_member(CASE_TYPES)),
        "deadlines": _deadlines,
    },
}
OPTIONAL_FIELDS = {"in_force_from": _iso_date, "requires": _member(REQUIREMENTS), "results_from": _slug}


def _fail(name: str, index: int | None, entry, message: str):
    where = name if index is None else f"{name}: entry {index + 1}"
    if isinstance(entry, dict) and isinstance(entry.get("key"), str):
        where += f" ({entry['key']!r})"
    raise KnowledgeError(f"{where}: {message}")


def _read(path: Path) -> dict:
    name = path.name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KnowledgeError(f"{name}: missing from {path.parent}") from None
    except UnicodeDecodeError:
        raise KnowledgeError(f"{name}: not UTF-8 text") from None
    except OSError as exc:
        raise KnowledgeError(f"{name}: cannot read ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise KnowledgeError(f"{name}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    if not isinstance(data, dict):
        raise KnowledgeError(f"{name}: must hold one JSON object")
    _check_header(name, data)
    return data


def _check_header(name: str, data: dict) -> None:
    for key, check in (("source", _list_of(_url)), ("compiled_on", _iso_date), ("note", _text)):
        problem = check(data.get(key))
        if problem:
            _fail(name, None, None, f"top-level {key!r} {problem}")
    entries = data.get("entries")
    if not isinstance(entries, list) or not entries:
        _fail(name, None, None, "top-level 'entries' must be a non-empty list")
    seen = set()
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            _fail(name, index, entry, "must be a JSON object")
        _check_entry(name, index, entry)
        if entry["key"] in seen:
            _fail(name, index, entry, "key is used twice in this file")
        seen.add(entry["key"])


def _check_entry(name: str, index: int, entry: dict) -> None:
    for key, check in ENTRY_FIELDS[name].items():
        if key not in entry:
            _fail(name, index, entry, f"{key!r} is missing")
        problem = check(entry[key])
        if problem:
            _fail(name, index, entry, f"{key!r} {problem}")
    for key, check in OPTIONAL_FIELDS.items():
        if key in entry and check(entry[key]):
            _fail(name, index, entry, f"{key!r} {check(entry[key])}")


# --- the loaded knowledge ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Deadline:
    """How long the desk waits on a recipient before the next step; ``hours=None`` means no next step."""

    hours: int | None
    basis: str

    @property
    def delta(self) -> timedelta | None:
        return None if self.hours is None else timedelta(hours=self.hours)


@dataclass(frozen=True)
class Regime:
    key: str
    short: str
    label: str
    law: str
    source: str
    rank: int
    countries: frozenset[str]
    roles: frozenset[str]
    case_types: frozenset[str]
    deadlines: dict[str, Deadline]
    flags: tuple[str, ...] = ()
    requires: str = ""
    in_force_from: date | None = None
    note: str = ""

    def covers_country(self, country: str) -> bool:
        return "*" in self.countries or country in self.countries

    def in_force(self, when: datetime | None) -> bool:
        return self.in_force_from is None or when is None or when.date() >= self.in_force_from


@dataclass(frozen=True)
class RegimeChoice:
    """The regime a notice cites, the others that also fit, and why relevant ones were passed over."""

    regime: Regime
    also: tuple[Regime, ...] = ()
    passed_over: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return self.regime.key

    @property
    def label(self) -> str:
        return self.regime.label


@dataclass
class Knowledge:
    directory: Path
    files: dict[str, dict]
    regimes: dict[str, Regime] = field(default_factory=dict)

    def entries(self, name: str) -> list[dict]:
        return self.files[name]["entries"]

    def compiled_on(self, name: str) -> str:
        return self.files[name]["compiled_on"]

    @property
    def jurisdictions(self) -> dict:
        return self.files["jurisdictions.json"]

    @property
    def home_country(self) -> str:
        return self.jurisdictions["home_country"]

    def organisations(self):
        """(role, entry, file name) for every organisation the data describes."""
        for name, role in ORGANISATION_FILES.items():
            for entry in self.entries(name):
                yield role, entry, name

    # lookups

    def hotlines_for(self, country: str) -> list[dict]:
        return [e for e in self.entries("inhope_hotlines.json") if e["country"] == (country or "").upper()]

    def hotline_for(self, country: str, case_type: str = CaseType.CSAM) -> dict | None:
        """The first member hotline in ``country`` that takes ``case_type`` (adult cases: ``accepts.ncii``)."""
        bucket = "csam" if case_type == CaseType.CSAM else "ncii"
        return next((e for e in self.hotlines_for(country) if e["accepts"].get(bucket) is True), None)

    @property
    def hotline_fallback_country(self) -> str:
        return self.files["inhope_hotlines.json"]["fallback_country"]

    def search_engines(self) -> list[dict]:
        return list(self.entries("search_engines.json"))

    def cdn_process(self, organisation) -> dict | None:
        """The known abuse process of a CDN, matched on an Organisation (key, AS number, name) or a key."""
        if isinstance(organisation, str):
            key, asn, name = organisation.lower(), None, organisation.lower()
        else:
            key, asn, name = organisation.key.lower(), organisation.asn, organisation.name.lower()
        for entry in self.entries("cloudflare.json"):
            match = entry.get("match", {})
            if key == entry["key"] or key in match.get("keys", ()) or (asn and asn in match.get("asns", ())):
                return entry
            if any(word in name for word in match.get("name_contains", ())):
                return entry
        return None

    def platform_for_domain(self, domain: str) -> dict | None:
        """The big platform whose registrable domains include ``domain`` (a URL or host is reduced first)."""
        try:
            site = registrable(domain)
        except BadDomain:
            return None
        return next((e for e in self.entries("platforms.json") if site in e["domains"]), None)

    def stopncii_partners(self, platform_key: str = "") -> list[dict]:
        entries = self.entries("stopncii_partners.json")
        return [e for e in entries if not platform_key or e.get("platform") == platform_key]

    def escalation(self, name: str) -> dict:
        return self.jurisdictions["escalation"][name]

    def role_note(self, role: str) -> str:
        return self.jurisdictions.get("role_notes", {}).get(role, "")

    # law and time

    def regime_for(
        self,
        country: str,
        case_type: str,
        victim_holds_copyright: bool = False,
        *,
        role: str = Role.OPERATOR,
        bound_by: tuple[str, ...] = (),
        when: datetime | None = None,
    ) -> RegimeChoice:
        """The regime a notice to a ``role`` in ``country`` about ``case_type`` should cite.

        ``bound_by``: regime keys the recipient is known to be bound by wherever it is (platforms).
        Regimes are tried by rank; ``general`` when nothing specific fits.
        """
        country = (country or "").upper()
        fits, passed = [], []
        for regime in sorted(self.regimes.values(), key=lambda r: r.rank):
            relevant = regime.key in bound_by or (regime.covers_country(country) and "*" not in regime.countries)
            problem = self._misfit(regime, case_type, role, victim_holds_copyright, when)
            if relevant and problem and role in NOTICE_ROLES:
                passed.append(f"{regime.short} not used: {problem}")
            if problem is not None or not (relevant or "*" in regime.countries):
                continue
            fits.append(regime)
        specific = [r for r in fits if r.key != "general"]
        chosen = specific[0] if specific else self.regimes["general"]
        also = tuple(r for r in specific if r is not chosen)
        return RegimeChoice(chosen, also, tuple(passed))

    @staticmethod
    def _misfit(regime: Regime, case_type: str, role: str, copyright_: bool, when) -> str | None:
        """None when the regime fits; else why not, or "" when the reason is not worth telling
        (another case type; a role a regime needing the copyright would not bind anyway)."""
        unmet = regime.requires == "victim_holds_copyright" and not copyright_
        if case_type not in regime.case_types:
            return ""
        if role not in regime.roles:
            return "" if unmet else f"it binds {', '.join(sorted(regime.roles))}, not a {role}"
        if unmet:
            return "the victim does not hold the copyright (or it is not recorded)"
        if not regime.in_force(when):
            return f"in force only from {regime.in_force_from.isoformat()}"
        return None

    def deadline_for(self, role: str, regime_key: str, case_type: str, *, process: dict | None = None) -> Deadline:
        """How long to wait on this step: the regime's period for the case type, else a known recipient
        process (Cloudflare's 24 h), else the regime's default, else the role's, else the desk default."""
        regime = self.regimes.get(regime_key)
        deadlines = regime.deadlines if regime else {}
        if case_type in deadlines:
            return deadlines[case_type]
        if process and process.get("customer_response_hours"):
            hours = process["customer_response_hours"]
            return Deadline(hours, f"{process['name']} expects its customers to answer abuse reports within {hours} h")
        if "default" in deadlines:
            return deadlines["default"]
        table = self.jurisdictions["role_deadlines"]
        raw = table.get(role) or self.jurisdictions["default_deadline"]
        return Deadline(raw["hours"], raw["basis"])


def _regime(entry: dict) -> Regime:
    return Regime(
        key=entry["key"],
        short=entry["short"],
        label=entry["label"],
        law=entry["law"],
        source=entry["source"],
        rank=entry["rank"],
        countries=frozenset(entry["countries"]),
        roles=frozenset(entry["roles"]),
        case_types=frozenset(entry["case_types"]),
        deadlines={key: Deadline(value["hours"], value["basis"]) for key, value in entry["deadlines"].items()},
        flags=tuple(entry.get("flags", ())),
        requires=entry.get("requires", ""),
        in_force_from=date.fromisoformat(entry["in_force_from"]) if entry.get("in_force_from") else None,
        note=entry.get("note", ""),
    )


def _check_jurisdictions(data: dict) -> dict[str, Regime]:
    name = "jurisdictions.json"
    groups = data.get("country_groups", {})
    if _country(data.get("home_country")):
        _fail(name, None, None, "top-level 'home_country' " + _country(data.get("home_country")))
    for key in ("role_deadlines", "escalation"):
        if not isinstance(data.get(key), dict):
            _fail(name, None, None, f"top-level {key!r} must be an object")
    for role in Role.values:
        if _deadline(data["role_deadlines"].get(role)):
            _fail(name, None, None, f"role_deadlines.{role} {_deadline(data['role_deadlines'].get(role))}")
    if _deadline(data.get("default_deadline")):
        _fail(name, None, None, f"default_deadline {_deadline(data.get('default_deadline'))}")
    regimes = {}
    for index, entry in enumerate(data["entries"]):
        countries = set()
        for item in entry["countries"]:
            if item == "*" or not _country(item):
                countries.add(item)
            elif item in groups:
                countries.update(groups[item])
            else:
                _fail(name, index, entry, f"country {item!r} is neither a code nor a group in country_groups")
        regimes[entry["key"]] = _regime({**entry, "countries": sorted(countries)})
    if "general" not in regimes:
        _fail(name, None, None, "a 'general' regime is required (the fallback)")
    return regimes


def _cross_check(knowledge: Knowledge) -> None:
    platforms = {e["key"] for e in knowledge.entries("platforms.json")}
    for index, entry in enumerate(knowledge.entries("platforms.json")):
        unknown = [key for key in entry["regimes"] if key not in knowledge.regimes]
        if unknown:
            _fail("platforms.json", index, entry, f"regime {unknown[0]!r} is not in jurisdictions.json")
    for index, entry in enumerate(knowledge.entries("stopncii_partners.json")):
        if entry.get("platform") and entry["platform"] not in platforms:
            _fail("stopncii_partners.json", index, entry, f"platform {entry['platform']!r} is not in platforms.json")
    engines = {e["key"] for e in knowledge.entries("search_engines.json")}
    for index, entry in enumerate(knowledge.entries("search_engines.json")):
        if entry.get("results_from") and entry["results_from"] not in engines:
            _fail("search_engines.json", index, entry, f"results_from {entry['results_from']!r} is not an engine here")
    fallback = knowledge.files["inhope_hotlines.json"].get("fallback_country", "")
    if not knowledge.hotline_for(fallback):
        _fail("inhope_hotlines.json", None, None, f"fallback_country {fallback!r} has no hotline taking CSAM")


def load(directory: Path | str | None = None) -> Knowledge:
    """Read and validate every file; raises KnowledgeError naming the file and entry on the first problem."""
    directory = Path(directory) if directory else DATA_DIR
    files = {name: _read(directory / name) for name in FILES}
    knowledge = Knowledge(directory, files, _check_jurisdictions(files["jurisdictions.json"]))
    _cross_check(knowledge)
    return knowledge


@functools.cache
def current() -> Knowledge:
    """The shipped knowledge base, loaded once per process."""
    return load()


def hotline_for(country: str, case_type: str = CaseType.CSAM) -> dict | None:
    return current().hotline_for(country, case_type)


def search_engines() -> list[dict]:
    return current().search_engines()


def cdn_process(organisation) -> dict | None:
    return current().cdn_process(organisation)


def platform_for_domain(domain: str) -> dict | None:
    return current().platform_for_domain(domain)


def regime_for(country: str, case_type: str, victim_holds_copyright: bool = False, **kwargs) -> RegimeChoice:
    return current().regime_for(country, case_type, victim_holds_copyright, **kwargs)


def deadline_for(role: str, regime_key: str, case_type: str, *, process: dict | None = None) -> Deadline:
    return current().deadline_for(role, regime_key, case_type, process=process)


# --- writing it into the database ---------------------------------------------------------------------


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    kept: list[str] = field(default_factory=list)  # owned by staff or an import: fields left as they are
    contacts_created: int = 0
    contacts_updated: int = 0
    contacts_retired: int = 0

    @property
    def changes(self) -> int:
        contacts = self.contacts_created + self.contacts_updated + self.contacts_retired
        return len(self.created) + len(self.updated) + contacts

    def summary(self) -> dict:
        return {
            "organisations_created": len(self.created),
            "organisations_updated": len(self.updated),
            "organisations_unchanged": self.unchanged,
            "organisations_kept": len(self.kept),
            "contacts_created": self.contacts_created,
            "contacts_updated": self.contacts_updated,
            "contacts_retired": self.contacts_retired,
        }


def _organisation_fields(entry: dict, compiled_on: str) -> dict:
    notes = entry.get("notes", "").strip()
    provenance = (
        f"Source: {entry['source']} (knowledge base compiled {compiled_on}, transcribed by hand: verify before "
        "relying on it)."
    )
    return {
        "name": entry["name"][:200],
        "country": entry["country"],
        "languages": list(entry["languages"]),
        "website": entry["website"][:500],
        "notes": f"{notes}\n\n{provenance}" if notes else provenance,
    }


def _contact_fields(item: dict, index: int, compiled_on: str) -> dict:
    check = "" if item["verified"] else ", address not verified"
    return {
        "languages": list(item.get("languages", [])),
        "priority": 10 * (index + 1),
        "note": f"{item.get('note', '').strip()} (knowledge base {compiled_on}{check})".strip()[:300],
    }


def _sync_organisation(role: str, entry: dict, compiled_on: str, report: SyncReport) -> Organisation:
    wanted = _organisation_fields(entry, compiled_on)
    label = f"{role}:{entry['key']}"
    org = Organisation.objects.filter(role=role, key=entry["key"]).first()
    if org is None:
        report.created.append(label)
        return Organisation.objects.create(role=role, key=entry["key"], source=Source.KNOWLEDGE, **wanted)
    if org.source != Source.KNOWLEDGE:
        report.kept.append(label)
        return org
    changed = [name for name, value in wanted.items() if getattr(org, name) != value]
    if changed:
        for name in changed:
            setattr(org, name, wanted[name])
        org.save(update_fields=[*changed, "updated_at"])
        report.updated.append(label)
    else:
        report.unchanged += 1
    return org


def _sync_contacts(org: Organisation, entry: dict, compiled_on: str, report: SyncReport) -> None:
    existing = {(c.channel, c.address): c for c in org.contacts.all()}
    listed = set()
    for index, item in enumerate(entry["contacts"]):
        key = (item["channel"], item["address"])
        listed.add(key)
        wanted = _contact_fields(item, index, compiled_on)
        contact = existing.get(key)
        if contact is None:
            Contact.objects.create(organisation=org, channel=key[0], address=key[1], source=Source.KNOWLEDGE,
                                   **wanted, **provenance("system:knowledge"))  # fmt: skip
            report.contacts_created += 1
        elif contact.source == Source.KNOWLEDGE:
            changed = [name for name, value in wanted.items() if getattr(contact, name) != value]
            for name in changed:
                setattr(contact, name, wanted[name])
            if changed:  # bounced_at is the notices' to set, never the data's
                contact.save(update_fields=[*changed, "updated_at"])
                report.contacts_updated += 1
    for key, contact in existing.items():
        if key not in listed and contact.source == Source.KNOWLEDGE and contact.priority < RETIRED_PRIORITY:
            contact.priority = RETIRED_PRIORITY
            contact.note = f"no longer in the knowledge base; {contact.note}"[:300]
            contact.save(update_fields=["priority", "note", "updated_at"])
            report.contacts_retired += 1


def sync(actor=None, knowledge: Knowledge | None = None) -> SyncReport:
    """Create or update the knowledge-base organisations and contacts; a second run changes nothing."""
    from ..audit.services import Actor, log_action

    knowledge = knowledge or current()
    report = SyncReport()
    with transaction.atomic():
        for role, entry, name in knowledge.organisations():
            org = _sync_organisation(role, entry, knowledge.compiled_on(name), report)
            _sync_contacts(org, entry, knowledge.compiled_on(name), report)
        if report.changes:
            log_action(actor or Actor.system("knowledge"), "sites.knowledge_sync", None, **report.summary())
    return report
