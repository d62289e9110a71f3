"""The sites knowledge base as the desk uses it: find a site, see its record, edit it, import and export.

Nothing here holds a victim's personal data, so any verified staff member may
read and edit it; every change is audited. Importing a whole list at once is
for supervisors, since it can change thousands of records.
"""

import logging
import re
from dataclasses import dataclass
from functools import reduce
from operator import or_
from statistics import median

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from ..audit.services import Actor, log_action
from ..lib.errors import NotFound, UserError
from . import exporter, importer
from .domains import BadDomain, own_operator_key, registrable, to_unicode
from .models import REMOVED, SETTLED, Contact, Organisation, Role, Site, SiteChange, Source, TakedownRequest

log = logging.getLogger(__name__)


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
        tell_supervisors(actor, "sites.edit", site=site)
    return changed


def operator_of(site: Site) -> Organisation:
    """The site's operator; a site without one gets its own, so contacts have somewhere to live."""
    if site.operator_id is None:
        site.operator, _ = Organisation.objects.get_or_create(
            role=Role.OPERATOR, key=own_operator_key(site.domain), defaults={"name": site.unicode_domain[:200]}
        )
        site.save(update_fields=["operator", "updated_at"])
    return site.operator


def _checked_address(channel: str, address: str) -> str:
    address = address.strip()
    if channel == Contact.Channel.EMAIL and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", address):
        raise UserError(f"{address[:80]!r} is not an e-mail address")
    if channel in (Contact.Channel.FORM, Contact.Channel.API) and not re.match(r"^https?://\S+$", address):
        raise UserError(f"{address[:80]!r} is not an http(s) URL")
    return address


@transaction.atomic
def add_contact(actor, site: Site, channel: str, address: str, languages: list[str] | None = None) -> Contact:
    """Propose a new way to reach the site's operator (staff, supervisors and the CLI alike).

    A proposed contact is never routed to: a supervisor other than the proposer confirms it first
    (``decide_contact``). An address already on file keeps its status; a rejected one is proposed again,
    by this actor. Re-adding a bounced address marks it working again, as before.
    """
    address = _checked_address(channel, address)
    operator = operator_of(site)
    label, now = Actor.of(actor).label, timezone.now()
    proposal = {"status": Contact.Status.PROPOSED, "created_by": label, "created_at": now, "decided_by": "",
                "decided_at": None, "source": Source.STAFF}  # fmt: skip
    contact, created = Contact.objects.get_or_create(
        organisation=operator,
        channel=channel,
        address=address,
        defaults={"languages": languages or [], "priority": 5, **proposal},
    )
    if not created and contact.status == Contact.Status.REJECTED:
        for name, value in proposal.items():
            setattr(contact, name, value)
        contact.save()
        created = True
    if created:
        log_action(actor, "contact.propose", contact, domain=site.domain, channel=channel, organisation=operator.pk)
        tell_supervisors(actor, "contact.propose", site=site, organisation=operator, contact=contact)
    elif contact.bounced_at:
        set_bounced(actor, contact, bounced=False, site=site)
    return contact


@transaction.atomic
def decide_contact(actor, contact: Contact, decision: str, site: Site | None = None) -> Contact:
    """A supervisor confirms or rejects a proposed contact; never the person who proposed it."""
    if decision not in DECISIONS:
        raise UserError(f"unknown decision {decision!r} (confirm or reject)")
    if not getattr(actor, "sees_all_cases", False):
        raise NotAllowed("only a supervisor confirms or rejects a contact")
    contact = Contact.objects.select_for_update().select_related("organisation").get(pk=contact.pk)
    if contact.status != Contact.Status.PROPOSED:
        raise UserError(f"this contact is {contact.get_status_display().lower()}, not waiting for a decision")
    label = Actor.of(actor).label
    if contact.created_by == label:
        raise NotAllowed("you proposed this contact: another supervisor confirms or rejects it")
    contact.status, contact.decided_by, contact.decided_at = DECISIONS[decision], label, timezone.now()
    contact.save(update_fields=["status", "decided_by", "decided_at", "updated_at"])
    action = f"contact.{decision}"
    log_action(actor, action, contact, domain=site.domain if site else "", organisation=contact.organisation_id,
               proposed_by=contact.created_by)  # fmt: skip
    tell_supervisors(actor, action, site=site, organisation=contact.organisation, contact=contact)
    return contact


DECISIONS = {"confirm": Contact.Status.CONFIRMED, "reject": Contact.Status.REJECTED}


@transaction.atomic
def set_bounced(actor, contact: Contact, bounced: bool = True, site: Site | None = None) -> None:
    """A bounced address stays on record but routing moves on to the next contact."""
    contact.bounced_at = timezone.now() if bounced else None
    contact.save(update_fields=["bounced_at", "updated_at"])
    action = "sites.contact_bounced" if bounced else "sites.contact_restored"
    log_action(actor, action, contact.organisation)
    tell_supervisors(actor, action, site=site, organisation=contact.organisation, contact=contact)


# --- telling supervisors ------------------------------------------------------------------------------------


def open_notices(site: Site | None = None, organisation: Organisation | None = None) -> int:
    """Notices not yet settled (drafts included) about this site or to this organisation."""
    from ..notices.compose import OPEN
    from ..notices.models import Notice

    about = [Q(site=site)] if site is not None else []
    about += [Q(recipient=organisation)] if organisation is not None else []
    if not about:
        return 0
    return Notice.objects.filter(reduce(or_, about), status__in=OPEN).count()


def tell_supervisors(actor, action: str, *, site=None, organisation=None, contact=None) -> SiteChange | None:
    """Record a change to where a site's notices go (or to the site) while notices to it are open, and mail
    every supervisor with an address. Nothing is recorded when no notice is open. Names no address, no case."""
    count = open_notices(site, organisation)
    if not count:
        return None
    change = SiteChange.objects.create(site=site, organisation=organisation, contact=contact, action=action,
                                       actor=Actor.of(actor).label, open_notices=count)  # fmt: skip
    _mail_supervisors(change)
    return change


def change_text(change: SiteChange) -> tuple[str, str]:
    """Subject and body of the mail about a change, in the desk's language."""
    where = change.site.unicode_domain if change.site else change.organisation.name if change.organisation else ""
    what = change.label
    subject = _("[Kesu] %(where)s: %(who)s %(what)s") % {"where": where, "who": change.actor, "what": what}
    page = f"/sites/{change.site.domain}/" if change.site else "/sites/changes/"
    body = "\n".join([
        subject.removeprefix("[Kesu] ") + ".",
        _("Open notices to this site or organisation (drafts included): %(n)d.") % {"n": change.open_notices},
        _("A proposed contact is not used until a second person confirms it; a draft keeps the address it "
          "was composed with."),
        "",
        _("See it in Kesu: %(url)s") % {"url": settings.KESU_BASE_URL.rstrip("/") + page},
        "",
        _("This message names no address and no case."),
    ])  # fmt: skip
    return subject, body


def _mail_supervisors(change: SiteChange) -> int:
    from ..accounts.models import User
    from ..notices import mail, outbox
    from ..notices.models import OutboxMessage

    supervisors = User.objects.filter(is_active=True, role__in=(User.Role.SUPERVISOR, User.Role.ADMIN))
    queued = 0
    with translation.override(settings.LANGUAGE_CODE):
        subject, body = change_text(change)
    for user in supervisors.exclude(email="").order_by("pk"):
        message_id = mail.new_message_id("site-change")
        try:
            data = mail.build(to=user.email, subject=subject, body=body, message_id=message_id,
                              language=settings.LANGUAGE_CODE)  # fmt: skip
        except UserError:  # an address mail cannot use: the change is still on the pages
            log.warning("supervisor %s has an address mail cannot use; site change %s not mailed", user.pk, change.pk)
            continue
        outbox.queue(key=f"site-change:{change.pk}:{user.pk}", kind=OutboxMessage.Kind.DIGEST, case=None,
                     to=user.email, data=data, message_id=message_id)  # fmt: skip
        queued += 1
    return queued


def unseen_changes(actor, site: Site | None = None) -> QuerySet:
    """The changes no supervisor has marked seen yet (supervisors only: a change hints at open notices)."""
    if not getattr(actor, "sees_all_cases", False):
        return SiteChange.objects.none()
    changes = SiteChange.objects.filter(seen_at__isnull=True).select_related("site", "organisation")
    return changes.filter(site=site) if site is not None else changes


@transaction.atomic
def mark_seen(actor, change_ids: list[int]) -> int:
    if not getattr(actor, "sees_all_cases", False):
        raise NotAllowed("only a supervisor marks site changes seen")
    marked = SiteChange.objects.filter(pk__in=change_ids, seen_at__isnull=True).update(
        seen_by=Actor.of(actor).label, seen_at=timezone.now()
    )
    if marked:
        log_action(actor, "sites.change_seen", None, changes=sorted(change_ids)[:100], count=marked)
    return marked


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
