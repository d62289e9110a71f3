"""The sites knowledge base as the desk uses it: find a site, see its record, edit it, import and export.

Nothing here holds a victim's personal data, so any verified staff member may
read and edit it; every change is audited. Importing a whole list at once is
for supervisors, since it can change thousands of records.
"""

import re
from dataclasses import dataclass
from statistics import median

from django.db import transaction
from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from ..audit.services import log_action
from ..lib.errors import NotFound, UserError
from . import exporter, importer
from .domains import BadDomain, own_operator_key, registrable, to_unicode
from .models import REMOVED, SETTLED, Contact, Organisation, Role, Site, Source, TakedownRequest


class NotAllowed(UserError):
    pass


def site_for(text: str) -> Site:
    """The site a URL, host or domain belongs to (subdomains and mirrors' own domains included)."""
    try:
        domain = registrable(text)
    except BadDomain as error:
        raise NotFound(str(error)) from None
    site = Site.objects.select_related("operator", "host", "cdn", "registrar").filter(domain=domain).first()
    if site is None:
        raise NotFound(f"{to_unicode(domain)} is not in the knowledge base")
    return site


def find_sites(query: str = "", status: str = "", country: str = "", cdn: str = "") -> QuerySet:
    # Per-row subqueries, not a join with GROUP BY: a page shows 50 sites, and grouping all requests of
    # every matching site first cost ~200 ms with 20,000 requests (bench/desk_bench.py).
    sites = Site.objects.select_related("operator", "host", "cdn").annotate(
        request_count=Coalesce(_per_site(Count("pk")), 0),
        removed_count=Coalesce(_per_site(Count("pk"), outcome__in=REMOVED), 0),
        last_request=_per_site(Max("sent_at")),
    )
    if query:
        sites = sites.filter(_matching(query))
    if status:
        sites = sites.filter(status=status)
    if country:
        sites = sites.filter(Q(server_country=country.upper()) | Q(jurisdiction=country.upper()))
    if cdn == "none":
        sites = sites.filter(cdn__isnull=True)
    elif cdn:
        sites = sites.filter(cdn__key=cdn)
    return sites.order_by("domain")


def _per_site(aggregate, **conditions) -> Subquery:
    requests = TakedownRequest.objects.filter(site=OuterRef("pk"), **conditions).order_by()
    return Subquery(requests.values("site").annotate(value=aggregate).values("value")[:1])


def _matching(query: str) -> Q:
    """Search by domain as typed (Unicode or punycode, URL or bare) or by operator/host name."""
    text = query.strip()
    condition = Q(operator__name__icontains=text) | Q(host__name__icontains=text) | Q(notes__icontains=text)
    try:
        condition |= Q(domain=registrable(text))
    except BadDomain:
        pass
    ascii_part = re.sub(r"[^a-z0-9.-]", "", text.lower())
    if ascii_part:
        condition |= Q(domain__icontains=ascii_part)
    return condition


@dataclass
class HistoryLine:
    """How one kind of request to one role has gone for a site."""

    case_type: str
    role: str
    requests: int
    settled: int
    removed: int
    median_days: float | None

    @property
    def removal_rate(self) -> float | None:
        return self.removed / self.settled if self.settled else None


def history_summary(site: Site) -> list[HistoryLine]:
    groups: dict[tuple[str, str], list[TakedownRequest]] = {}
    for request in site.requests.only("case_type", "role", "outcome", "sent_at", "resolved_at"):
        groups.setdefault((request.case_type, request.role), []).append(request)
    lines = []
    for (case_type, role), requests in sorted(groups.items()):
        days = [r.days_to_resolution for r in requests if r.removed and r.days_to_resolution is not None]
        lines.append(
            HistoryLine(
                case_type=case_type,
                role=role,
                requests=len(requests),
                settled=sum(r.outcome in SETTLED for r in requests),
                removed=sum(r.removed for r in requests),
                median_days=round(median(days), 1) if days else None,
            )
        )
    return lines


def group_of(site: Site) -> list[Site]:
    """The other domains of the same operator (mirrors, aliases)."""
    if not site.operator_id:
        return []
    return list(Site.objects.filter(operator_id=site.operator_id).exclude(pk=site.pk).order_by("domain")[:200])


EDITABLE = ("status", "relation", "jurisdiction", "server_country", "notes")


@transaction.atomic
def update_site(actor, site: Site, changes: dict) -> list[str]:
    """Apply staff edits to the plain fields of a site; returns the names of the fields that changed."""
    changed = [key for key in EDITABLE if key in changes and getattr(site, key) != changes[key]]
    for key in changed:
        setattr(site, key, changes[key])
    if changed:
        site.save(update_fields=[*changed, "updated_at"])
        log_action(actor, "sites.edit", site, fields=changed, domain=site.domain)
    return changed


def operator_of(site: Site) -> Organisation:
    """The site's operator; a site without one gets its own, so contacts have somewhere to live."""
    if site.operator_id is None:
        site.operator, _ = Organisation.objects.get_or_create(
            role=Role.OPERATOR, key=own_operator_key(site.domain), defaults={"name": site.unicode_domain[:200]}
        )
        site.save(update_fields=["operator", "updated_at"])
    return site.operator


@transaction.atomic
def add_contact(actor, site: Site, channel: str, address: str, languages: list[str] | None = None) -> Contact:
    address = address.strip()
    if channel == Contact.Channel.EMAIL and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", address):
        raise UserError(f"{address[:80]!r} is not an e-mail address")
    if channel in (Contact.Channel.FORM, Contact.Channel.API) and not re.match(r"^https?://\S+$", address):
        raise UserError(f"{address[:80]!r} is not an http(s) URL")
    operator = operator_of(site)
    contact, created = Contact.objects.get_or_create(
        organisation=operator,
        channel=channel,
        address=address,
        defaults={"languages": languages or [], "source": Source.STAFF, "priority": 5},
    )
    if not created and contact.bounced_at:
        contact.bounced_at = None
        contact.save(update_fields=["bounced_at", "updated_at"])
    log_action(actor, "sites.contact_add", site, domain=site.domain, channel=channel)
    return contact


@transaction.atomic
def set_bounced(actor, contact: Contact, bounced: bool = True) -> None:
    """A bounced address stays on record but routing moves on to the next contact."""
    contact.bounced_at = timezone.now() if bounced else None
    contact.save(update_fields=["bounced_at", "updated_at"])
    log_action(actor, "sites.contact_bounced" if bounced else "sites.contact_restored", contact.organisation)


def import_file(actor, data: bytes, filename: str, *, dry_run: bool) -> importer.Report:
    if not dry_run and not getattr(actor, "sees_all_cases", False):
        raise NotAllowed("only supervisors import site lists (a dry run is open to all staff)")
    return importer.run(data, filename, actor, dry_run=dry_run)


def export_file(actor, fmt: str = "csv", language: str = "ja", *, requests: bool = False) -> bytes:
    if fmt not in ("csv", "xlsx") or language not in ("ja", "en"):
        raise UserError("export as csv or xlsx, with ja or en headers")
    data = exporter.export(fmt, language, requests=requests)
    log_action(actor, "sites.export", None, format=fmt, what="requests" if requests else "sites")
    return data
