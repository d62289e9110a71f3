"""The knowledge base shipped as data: who can remove what, through which channel, and the desk's own periods.

The law itself (regimes, their elements and clocks) is ``kesu.law``; ``regime_for`` and ``deadline_for``
read it, so routing and notices share one registry.

One JSON file per topic under ``kesu/sites/data`` (``FILES``). Every file names its sources, the date it
was compiled and, in its ``note``, that it was transcribed by hand from public pages and must be checked
by staff; every entry carries its own ``source``. ``load()`` validates all of them against the shapes in
kesu.sites.knowledge_schema: a bad file stops with one line naming the file and the entry. Nothing is
downloaded at run time.

``sync()`` writes the organisations (search engines, CDNs, hotlines, platforms) and their contacts into
the database as ``source=knowledge`` rows, idempotently. Rows staff own (any other source) keep every
field staff wrote; sync only adds the contacts they lack. A contact the data no longer lists is retired
to the end of the queue (``RETIRED_PRIORITY``) rather than deleted, since notices may point at it.
"""

import functools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from django.db import transaction

from ..cases.models import CaseType
from ..law import regimes
from .domains import BadDomain, registrable
from .knowledge_schema import check_jurisdictions, fail, read_file
from .models import Contact, Organisation, Role, Source, provenance

DATA_DIR = Path(__file__).resolve().parent / "data"
ORGANISATION_FILES = {
    "search_engines.json": Role.SEARCH_ENGINE,
    "cloudflare.json": Role.CDN,
    "inhope_hotlines.json": Role.HOTLINE,
    "platforms.json": Role.PLATFORM,
}
FILES = (*ORGANISATION_FILES, "stopncii_partners.json", "jurisdictions.json")
RETIRED_PRIORITY = 900

# --- the loaded knowledge ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Deadline:
    """How long the desk waits on a recipient before the next step; ``hours=None`` means no next step."""

    hours: int | None
    basis: str

    @property
    def delta(self) -> timedelta | None:
        return None if self.hours is None else timedelta(hours=self.hours)


@dataclass
class Knowledge:
    directory: Path
    files: dict[str, dict]

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
    ) -> regimes.Choice:
        """The regime a notice to a ``role`` in ``country`` about ``case_type`` should cite (kesu.law)."""
        return regimes.choose(country, case_type, victim_holds_copyright, role=role, bound_by=bound_by, when=when)

    def deadline_for(self, role: str, regime_key: str, case_type: str, *, process: dict | None = None) -> Deadline:
        """How long to wait on this step: the regime's clock for the case type and role, else a known recipient
        process (Cloudflare's 24 h), else the role's period, else the desk default. A clock counted in days
        is its nominal length here; the notice's own due time is computed exactly from the clock."""
        regime = regimes.REGIMES.get(regime_key)
        clock = regime.clock_for(case_type, role) if regime else None
        if clock is not None:
            return Deadline(clock.nominal_hours, clock.source)
        if process and process.get("customer_response_hours"):
            hours = process["customer_response_hours"]
            return Deadline(hours, f"{process['name']} expects its customers to answer abuse reports within {hours} h")
        table = self.jurisdictions["role_deadlines"]
        raw = table.get(role) or self.jurisdictions["default_deadline"]
        return Deadline(raw["hours"], raw["basis"])


def _cross_check(knowledge: Knowledge) -> None:
    platforms = {e["key"] for e in knowledge.entries("platforms.json")}
    for index, entry in enumerate(knowledge.entries("platforms.json")):
        unknown = [key for key in entry["regimes"] if key not in regimes.REGIMES]
        if unknown:
            fail("platforms.json", index, entry, f"regime {unknown[0]!r} is not a legal regime in kesu.law")
    for index, entry in enumerate(knowledge.entries("stopncii_partners.json")):
        if entry.get("platform") and entry["platform"] not in platforms:
            fail("stopncii_partners.json", index, entry, f"platform {entry['platform']!r} is not in platforms.json")
    engines = {e["key"] for e in knowledge.entries("search_engines.json")}
    for index, entry in enumerate(knowledge.entries("search_engines.json")):
        if entry.get("results_from") and entry["results_from"] not in engines:
            fail("search_engines.json", index, entry, f"results_from {entry['results_from']!r} is not an engine here")
    fallback = knowledge.files["inhope_hotlines.json"].get("fallback_country", "")
    if not knowledge.hotline_for(fallback):
        fail("inhope_hotlines.json", None, None, f"fallback_country {fallback!r} has no hotline taking CSAM")


def load(directory: Path | str | None = None) -> Knowledge:
    """Read and validate every file; raises KnowledgeError naming the file and entry on the first problem."""
    directory = Path(directory) if directory else DATA_DIR
    files = {name: read_file(directory / name) for name in FILES}
    check_jurisdictions(files["jurisdictions.json"])
    knowledge = Knowledge(directory, files)
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


def regime_for(country: str, case_type: str, victim_holds_copyright: bool = False, **kwargs) -> regimes.Choice:
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
