"""Resolving a site: where it points (DNS), who hosts it (IP -> AS -> organisation), which CDN fronts it,
and who registered it (RDAP, WHOIS when RDAP fails), written back to the knowledge base.

Lookups go through the cache (kesu.sites.resolvers.cache) and never raise:
each failure becomes one line in ``Resolution.errors``. What staff or an import
wrote is not overwritten: organisations and contacts of source rdap/whois are
refreshed, others only have blanks filled; a site's host, CDN and registrar are
replaced only when they point to a row the lookups made (or to nothing).
"""

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..audit.services import log_action
from ..lib import taskqueue
from .importer import org_key
from .models import Contact, Organisation, Role, Site, Source, provenance
from .resolvers import Resolver, cdn, records
from .resolvers.cache import Answer, answer
from .services import tell_supervisors

ACTOR = "system:resolver"
# Rows the lookups made: a site's link to one of these may be replaced by a newer answer.
LOOKED_UP = (Source.RDAP, Source.WHOIS, Source.KNOWLEDGE)
# Rows whose fields the lookups may rewrite; every other row only has its blanks filled.
REWRITABLE = (Source.RDAP, Source.WHOIS)
# Staff contacts default to 100: one found by a lookup is tried after them.
LOOKED_UP_PRIORITY = 150
# Site fields whose change is written to the audit log.
TRACKED = ("status", "addresses", "host_id", "cdn_id", "registrar_id", "server_country")


@dataclass
class Party:
    """An organisation the lookups point to, before it is matched to an Organisation row."""

    role: str
    key: str
    name: str
    country: str = ""
    asn: int | None = None
    iana_id: int | None = None
    website: str = ""
    source: str = Source.RDAP
    abuse_email: str = ""
    abuse_source: str = Source.RDAP
    evidence: list[str] = field(default_factory=list)


@dataclass
class Resolution:
    domain: str
    status: str = ""  # Site.Status value; "" when DNS gave no verdict (a timeout), and the site keeps its own
    addresses: list[str] = field(default_factory=list)
    cname: list[str] = field(default_factory=list)
    ns: list[str] = field(default_factory=list)
    mx: list[str] = field(default_factory=list)
    cdn: Party | None = None
    host: Party | None = None
    registrar: Party | None = None
    server_country: str = ""
    registrant_country: str = ""
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


class _Run:
    """One resolution: which resolvers to use, whether to bypass the cache, and the errors met."""

    def __init__(self, found: Resolution, force: bool, resolvers: Mapping[str, Resolver]):
        self.found, self.force, self.resolvers = found, force, resolvers

    def ask(self, kind: str, key: str) -> Answer:
        result = answer(kind, key, force=self.force, resolver=self.resolvers.get(kind))
        if not result.ok:
            self.found.errors.append(f"{kind}: {result.error}")
        return result


def resolve_site(site: Site, *, force: bool = False, resolvers: Mapping[str, Resolver] | None = None) -> Resolution:
    """Look the site up, update its row (and refresh ``site``); never raises for a lookup that fails.

    Failures are in Resolution.errors, one line each, prefixed with the resolver kind.

    ``force`` ignores cached answers; ``resolvers`` replaces resolvers by kind
    (e.g. a HeadersResolver asking other ports).
    """
    found = Resolution(domain=site.domain)
    run = _Run(found, force, resolvers or {})
    _dns(run, found)
    if found.addresses:
        _network(run, found)
    _registrar(run, found)
    _save(site, found)
    site.refresh_from_db()
    return found


def _dns(run: _Run, found: Resolution) -> None:
    result = run.ask("dns", found.domain)
    if result.ok:
        found.addresses = records.addresses(result.result)
        found.cname = records.names(result.result)
        found.ns, found.mx = result.result.get("ns", []), result.result.get("mx", [])
        found.status = Site.Status.ACTIVE if found.addresses else Site.Status.DEAD
    elif result.reason == "nxdomain":
        found.status = Site.Status.DEAD


def _network(run: _Run, found: Resolution) -> None:
    """Host and CDN from the first address; every address, the CNAME chain and the headers for CDN clues."""
    address = found.addresses[0]
    origin = run.ask("asn", address)
    owner, where = None, ""
    # An address no network announces (private, parked, sinkholed) has no holder for RDAP to name.
    if origin.ok or origin.reason not in ("unrouted", "bad_key"):
        owner, where = _owner(origin, run.ask("rdap_ip", address))
    clues = [_range_clue(run, a) for a in found.addresses]
    clues += [cdn.by_asn(owner.asn if owner else None), cdn.by_names(found.cname)]
    headers = run.ask("headers", found.domain)
    if headers.ok:
        clues.append(cdn.by_headers(headers.result.get("headers", {})))
    clues = [clue for clue in clues if clue is not None]
    if clues:
        found.cdn = _cdn_party(clues)
    if found.cdn and any(clue.kind in ("range", "asn") and clue.cdn.key == found.cdn.key for clue in clues):
        # The addresses are the CDN's own: the network owner is the CDN, the real host is hidden behind it.
        found.notes.append(f"the hosting provider is hidden behind {found.cdn.name}")
        if owner:
            found.cdn.asn, found.cdn.abuse_email = owner.asn, owner.abuse_email
    elif owner:
        found.host, found.server_country = owner, where


def _range_clue(run: _Run, address: str) -> cdn.Clue | None:
    result = run.ask("cdn", address)
    if not result.ok or not result.result.get("cdn"):
        return None
    match = next(c for c in cdn.catalogue() if c.key == result.result["cdn"])
    return cdn.Clue(match, result.result["evidence"], "range")


def _cdn_party(clues: list[cdn.Clue]) -> Party:
    """The CDN with the strongest clue (range, then AS, then CNAME, then header), with all clues that name it."""
    strength = {"range": 0, "asn": 1, "cname": 2, "header": 3}
    best = min(clues, key=lambda clue: strength[clue.kind]).cdn
    evidence = list(dict.fromkeys(clue.evidence for clue in clues if clue.cdn.key == best.key))
    return Party(Role.CDN, best.key, best.name, country=best.country, website=best.website,
                 source=Source.KNOWLEDGE, evidence=evidence)  # fmt: skip


def _owner(asn: Answer, network: Answer) -> tuple[Party | None, str]:
    """Who holds the address (the AS, named as the RDAP record of the network names its holder), and the
    country the network is registered in (what "server country" can honestly mean without geolocation)."""
    if not asn.ok and not network.ok:
        return None, ""
    origin, net = asn.result if asn.ok else {}, network.result if network.ok else {}
    holder = net.get("org", {})
    number = origin.get("asn")
    key = f"as{number}" if number else f"net:{(holder.get('handle') or net.get('handle') or '?').lower()}"
    name = holder.get("name") or origin.get("organisation") or origin.get("as_name") or net.get("name") or key
    party = Party(
        Role.HOST,
        key,
        name[:200],
        country=origin.get("as_country") or holder.get("country", ""),
        asn=number,
        # Team Cymru's data are the RIRs' WHOIS data; RDAP is the source when it answered.
        source=Source.RDAP if network.ok else Source.WHOIS,
        abuse_email=net.get("abuse_email", ""),
        evidence=[f"{asn.key} in {origin.get('prefix') or ', '.join(net.get('cidr', [])) or '?'} ({key.upper()})"],
    )
    return party, net.get("country") or origin.get("country", "")


def _registrar(run: _Run, found: Resolution) -> None:
    info, source = {}, Source.RDAP
    rdap = run.ask("rdap_domain", found.domain)
    if rdap.ok:
        info = rdap.result
    else:
        whois = run.ask("whois", found.domain)
        info, source = (whois.result, Source.WHOIS) if whois.ok else ({}, source)
    registrar = info.get("registrar") or {}
    found.registrant_country = info.get("registrant_country", "")
    if not (registrar.get("name") or registrar.get("iana_id")):
        return
    iana = registrar.get("iana_id")
    name = registrar.get("name") or f"IANA registrar {iana}"
    found.registrar = Party(
        Role.REGISTRAR, f"iana:{iana}" if iana else org_key(name), name, country=registrar.get("country", ""),
        iana_id=iana, source=source, abuse_email=registrar.get("abuse_email", ""), abuse_source=source,
        evidence=[f"{'RDAP' if source == Source.RDAP else 'WHOIS'} {info.get('server', '')}".strip()],
    )  # fmt: skip


def _save(site: Site, found: Resolution) -> None:
    with transaction.atomic():
        site = Site.objects.select_for_update().get(pk=site.pk)
        before = {name: getattr(site, name) for name in TRACKED}
        host_was_looked_up = site.host is not None and site.host.source in LOOKED_UP
        if found.status:
            site.status, site.addresses, site.resolved_at = found.status, found.addresses, timezone.now()
        for link in ("host", "cdn", "registrar"):
            party = getattr(found, link)
            if party is not None:
                _link(site, link, _organisation(party), found)
        _server_country(site, found, host_was_looked_up)
        found.changed = [name for name, value in before.items() if getattr(site, name) != value]
        site.save()
        if found.changed:
            log_action(
                ACTOR, "sites.resolve", site, status=site.status, changed=found.changed, errors=len(found.errors)
            )
        if {"host_id", "cdn_id", "registrar_id"} & set(found.changed):
            tell_supervisors(ACTOR, "sites.resolve", site=site)


def _server_country(site: Site, found: Resolution, host_was_looked_up: bool) -> None:
    """Filled when blank; replaced only while the site's host is one the lookups set (the country is theirs)."""
    if not found.server_country or found.server_country == site.server_country:
        return
    if not site.server_country or host_was_looked_up:
        site.server_country = found.server_country
    else:
        found.notes.append(f"server country kept as {site.server_country} (lookup: {found.server_country})")


def _link(site: Site, link: str, org: Organisation, found: Resolution) -> None:
    """Point site.<link> at org unless it points at a row staff or an import made."""
    current = getattr(site, link)
    if current is None or current.pk == org.pk or current.source in LOOKED_UP:
        setattr(site, link, org)
    else:
        found.notes.append(f"{link} kept as {current.name!r} (lookup: {org.name!r})")


def _organisation(party: Party) -> Organisation:
    """The row for party: matched by key (or by the slug of its name for registrars, by AS number for hosts)."""
    org = Organisation.objects.filter(role=party.role, key=party.key).first()
    if org is None and party.role == Role.REGISTRAR and party.iana_id:
        org = Organisation.objects.filter(role=party.role, key=org_key(party.name)).first()
    if org is None and party.role == Role.HOST and party.asn:
        org = Organisation.objects.filter(role=party.role, asn=party.asn).first()
    if org is None:
        org, created = Organisation.objects.get_or_create(
            role=party.role, key=party.key,
            defaults={"name": party.name, "country": party.country, "asn": party.asn, "website": party.website,
                      "source": party.source},
        )  # fmt: skip
        if created:
            _contact(org, party)
            return org
    _refresh(org, party)
    _contact(org, party)
    return org


def _refresh(org: Organisation, party: Party) -> None:
    wanted = {"name": party.name, "country": party.country, "asn": party.asn, "website": party.website}
    rewrite = org.source in REWRITABLE
    changed = [
        name for name, value in wanted.items()
        if value and getattr(org, name) != value and (rewrite or not getattr(org, name))
    ]  # fmt: skip
    for name in changed:
        setattr(org, name, wanted[name])
    if changed:
        org.save(update_fields=[*changed, "updated_at"])


def _contact(org: Organisation, party: Party) -> None:
    """Add the abuse address the lookups found; an existing contact with that address is left as it is."""
    email = party.abuse_email.strip().lower()
    if not email or org.contacts.filter(channel=Contact.Channel.EMAIL, address__iexact=email).exists():
        return
    # Confirmed as written: the registry published it, nobody at the desk chose it (staff can ask for a lookup,
    # not for its answer), and it comes after the contacts people entered (LOOKED_UP_PRIORITY).
    contact, created = Contact.objects.get_or_create(
        organisation=org, channel=Contact.Channel.EMAIL, address=email,
        defaults={"source": party.abuse_source, "priority": LOOKED_UP_PRIORITY,
                  "note": f"abuse contact from {party.abuse_source}", **provenance(ACTOR)},
    )  # fmt: skip
    if created:
        tell_supervisors(ACTOR, "contact.lookup", organisation=org, contact=contact)


def resolve_site_id(site_id: int, *, force: bool = False) -> str:
    """resolve_site for a site id (what the task runs): the site's status afterwards, or "missing"."""
    site = Site.objects.filter(pk=site_id).first()
    if site is None:
        return "missing"
    resolve_site(site, force=force)
    return Site.objects.values_list("status", flat=True).get(pk=site_id)


def queue_resolution(site_ids: Iterable[int], *, force: bool = False) -> int:
    """Queue sites.resolve_site for each id once the current transaction commits; the number queued."""
    ids = list(dict.fromkeys(int(site_id) for site_id in site_ids))
    transaction.on_commit(lambda: [taskqueue.send("sites.resolve_site", site_id, force) for site_id in ids])
    return len(ids)


def stale_sites(limit: int, now=None) -> list[int]:
    """Ids of the sites to look up again: never resolved first, then the longest ago past the cache's lifetime.

    Synthetic demo sites (``.example``) are never looked up: the name is reserved and never resolves."""
    from datetime import timedelta

    from django.conf import settings
    from django.db.models import F

    cutoff = (now or timezone.now()) - timedelta(hours=settings.KESU_RESOLVE_TTL_HOURS)
    sites = Site.objects.exclude(domain__endswith=".example")
    sites = sites.filter(Q(resolved_at__isnull=True) | Q(resolved_at__lt=cutoff))
    return list(sites.order_by(F("resolved_at").asc(nulls_first=True), "pk").values_list("pk", flat=True)[:limit])
