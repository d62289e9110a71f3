"""Import of the desk's existing site list and request history: plan (dry run), then apply.

``plan()`` reads every row (kesu.sites.import_rows: URLs and subdomains folded
to registrable domains, duplicates merged) and compares the result with the
database; nothing is written. ``apply()`` writes exactly that plan in one transaction. Importing
the same file again plans no change. A bad row is reported with its line and
skipped; the rest of the file goes on.
"""

from dataclasses import dataclass, field

from django.db import transaction

from .domains import own_operator_key
from .import_rows import Problem, Report, Wanted, WantedRequest, org_key, read_requests, read_sites
from .models import Contact, Organisation, Role, Site, Source, TakedownRequest, provenance
from .table import read_table

SITE_FIELDS = ("status", "relation", "jurisdiction", "server_country", "notes")
LINKS = ("operator", "host", "cdn", "registrar")  # Site foreign keys to Organisation

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
