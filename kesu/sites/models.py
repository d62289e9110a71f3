"""The domain knowledge base: sites, who can remove from them, and what every request did.

Nothing here is personal data about a victim: sites, organisations and their
public contacts, and the bare history of requests (case type, recipient,
dates, outcome). Requests made for a case point to the case only by id, so
shredding a case keeps the compliance history of the site.
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..cases.models import CaseType


class Role(models.TextChoices):
    """Who can act on a copy, in the order the escalation ladder usually tries them."""

    OPERATOR = "operator", _("Site operator")
    HOST = "host", _("Hosting provider")
    CDN = "cdn", _("CDN")
    REGISTRAR = "registrar", _("Registrar")
    SEARCH_ENGINE = "search_engine", _("Search engine")
    HOTLINE = "hotline", _("Hotline")
    LAWYER = "lawyer", _("Lawyer")
    PLATFORM = "platform", _("Platform")


class Source(models.TextChoices):
    STAFF = "staff", _("Staff")
    IMPORT = "import", _("Import")
    RDAP = "rdap", _("RDAP")
    WHOIS = "whois", _("WHOIS")
    KNOWLEDGE = "knowledge", _("Knowledge base")
    SYNTHETIC = "synthetic", _("Synthetic (demo and tests)")
    NOTICE = "notice", _("Notice sent by Kesu")


class Organisation(models.Model):
    """Anyone a request can go to: an operator, a host, a CDN, a registrar, a search engine, a hotline, a lawyer.

    ``key`` identifies it within its role across imports and lookups: a slug for
    known organisations ("cloudflare", "google"), ``as13335`` for a network,
    ``iana:292`` for a registrar.
    """

    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    key = models.CharField(_("key"), max_length=120)
    name = models.CharField(_("name"), max_length=200)
    country = models.CharField(_("country"), max_length=2, blank=True, help_text=_("ISO 3166-1 alpha-2"))
    asn = models.PositiveBigIntegerField(_("AS number"), null=True, blank=True)
    languages = models.JSONField(_("languages it answers in"), default=list, blank=True)
    website = models.URLField(_("website"), max_length=500, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, default=Source.STAFF)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["role", "key"], name="sites_organisation_role_key")]
        ordering = ["role", "name"]

    def __str__(self):
        return self.name


class Contact(models.Model):
    """One way to reach an organisation. Routing uses the first confirmed one that has not bounced.

    Where notices go is shared knowledge, so it changes only with a second person: a contact staff add is
    proposed until a supervisor other than the proposer confirms it. Contacts the machinery writes (the
    shipped knowledge base, RDAP/WHOIS answers, a supervisor's import, the demo) are confirmed as they are
    written, and say so in ``decided_by``; every writer sets ``status`` itself.
    """

    class Channel(models.TextChoices):
        EMAIL = "email", _("E-mail")
        FORM = "form", _("Web form")
        API = "api", _("API")
        POSTAL = "postal", _("Postal address")
        PHONE = "phone", _("Phone")

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("Proposed")
        CONFIRMED = "confirmed", _("Confirmed")
        REJECTED = "rejected", _("Rejected")

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="contacts")
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    address = models.CharField(_("address"), max_length=500, help_text=_("e-mail address, form URL or API URL"))
    languages = models.JSONField(_("languages"), default=list, blank=True)
    priority = models.PositiveSmallIntegerField(_("priority"), default=100, help_text=_("lower is tried first"))
    bounced_at = models.DateTimeField(_("bounced at"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, default=Source.STAFF)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.CONFIRMED)
    created_by = models.CharField(max_length=160, blank=True)  # audit label: "user:hana", "system:resolver"
    created_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=160, blank=True)  # who confirmed or rejected it
    decided_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organisation", "channel", "address"], name="sites_contact_unique")
        ]
        ordering = ["priority", "pk"]

    def __str__(self):
        return f"{self.get_channel_display()}: {self.address}"

    @property
    def usable(self) -> bool:
        """Routing may send to it: confirmed and not bounced."""
        return self.status == self.Status.CONFIRMED and self.bounced_at is None


def provenance(label: str, status: str = Contact.Status.CONFIRMED) -> dict:
    """A new contact's provenance fields: written by ``label`` (an audit label) and, when confirmed as it is
    written (machinery, a supervisor's import into an organisation nobody could reach), confirmed by it too."""
    now = timezone.now()
    decided = {"decided_by": label, "decided_at": now} if status == Contact.Status.CONFIRMED else {}
    return {"status": status, "created_by": label, "created_at": now, **decided}


class Site(models.Model):
    """One registrable domain (Public Suffix List, ICANN section), stored in its ASCII (punycode) form.

    Mirrors and aliases are sites of their own grouped under one operator, so
    a request to the operator covers all of them.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", _("Online")
        DEAD = "dead", _("No longer resolves")
        UNKNOWN = "unknown", _("Not checked yet")

    class Relation(models.TextChoices):
        MAIN = "main", _("Main site")
        MIRROR = "mirror", _("Mirror")
        ALIAS = "alias", _("Alias (redirects to the main site)")

    domain = models.CharField(_("domain"), max_length=253, unique=True)
    operator = models.ForeignKey(
        Organisation, on_delete=models.SET_NULL, null=True, blank=True, related_name="sites", verbose_name=_("operator")
    )
    relation = models.CharField(_("relation"), max_length=8, choices=Relation.choices, default=Relation.MAIN)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.UNKNOWN)
    jurisdiction = models.CharField(
        _("jurisdiction"), max_length=2, blank=True, help_text=_("country whose law binds the operator (ISO code)")
    )
    host = models.ForeignKey(
        Organisation, on_delete=models.SET_NULL, null=True, blank=True, related_name="hosted_sites"
    )
    server_country = models.CharField(_("server country"), max_length=2, blank=True)
    cdn = models.ForeignKey(Organisation, on_delete=models.SET_NULL, null=True, blank=True, related_name="cdn_sites")
    registrar = models.ForeignKey(
        Organisation, on_delete=models.SET_NULL, null=True, blank=True, related_name="registered_sites"
    )
    addresses = models.JSONField(_("addresses"), default=list, blank=True, help_text=_("last resolved IPs"))
    notes = models.TextField(_("notes"), blank=True)
    extra = models.JSONField(default=dict, blank=True, help_text=_("imported columns Kesu does not use"))
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    reuploads = models.PositiveIntegerField(_("re-uploads seen"), default=0, help_text=_("removed copies found again"))
    last_reupload_at = models.DateTimeField(_("last re-upload"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["domain"]

    def __str__(self):
        return self.domain

    @property
    def unicode_domain(self) -> str:
        from .domains import to_unicode

        return to_unicode(self.domain)


class SiteChange(models.Model):
    """A change to who gets a site's notices (or to the site) while notices to it are open.

    Supervisors see each one (on the site page and the list of changes, and by e-mail) until one of them
    marks it seen. It names the change and who made it, never an address or a case.
    """

    site = models.ForeignKey(Site, on_delete=models.CASCADE, null=True, related_name="changes")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, null=True, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.SET_NULL, null=True, related_name="+")
    action = models.CharField(max_length=40)  # the audit action that made the change
    actor = models.CharField(max_length=160)
    open_notices = models.PositiveIntegerField()
    at = models.DateTimeField(auto_now_add=True)
    seen_by = models.CharField(max_length=160, blank=True)
    seen_at = models.DateTimeField(null=True, blank=True, db_index=True)

    LABELS = {
        "contact.propose": _("proposed a new contact"),
        "contact.confirm": _("confirmed a proposed contact"),
        "contact.reject": _("rejected a proposed contact"),
        "sites.contact_bounced": _("marked a contact bounced"),
        "sites.contact_restored": _("marked a bounced contact working"),
        "sites.edit": _("edited the site's record"),
        "contact.lookup": _("added a contact that RDAP or WHOIS published"),
        "sites.resolve": _("looked the site up again: its host, CDN or registrar changed"),
        "sites.admin_change": _("changed the site in the admin"),
    }

    class Meta:
        ordering = ["-at", "-pk"]

    @property
    def label(self) -> str:
        return str(self.LABELS.get(self.action, self.action))


class Outcome(models.TextChoices):
    """The organisation's published categories."""

    DELETED = "deleted", _("Deleted")
    PARTLY_DELETED = "partly_deleted", _("Partly deleted")
    STILL_ONLINE = "still_online", _("Still online")
    ON_HOLD = "on_hold", _("On hold")
    ONGOING = "ongoing", _("Ongoing")


REMOVED = (Outcome.DELETED, Outcome.PARTLY_DELETED)
SETTLED = (Outcome.DELETED, Outcome.PARTLY_DELETED, Outcome.STILL_ONLINE)


class Decision(models.TextChoices):
    """What a provider told the desk it decided (DSA Art. 16(5)), as the Art. 22 report counts it."""

    REMOVED = "removed", _("Removed")
    DISABLED = "disabled", _("Access disabled")
    REFUSED = "refused", _("Refused")
    OTHER = "other", _("Other")


class TakedownRequest(models.Model):
    """One request to one recipient about copies on one site, and what became of it.

    Imported history, requests Kesu sends (notices) and the synthetic history
    of the demo all land here; ``reference`` makes re-imports idempotent.
    """

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="requests")
    recipient = models.ForeignKey(
        Organisation, on_delete=models.SET_NULL, null=True, blank=True, related_name="requests"
    )
    role = models.CharField(_("recipient role"), max_length=16, choices=Role.choices, default=Role.OPERATOR)
    channel = models.CharField(_("channel"), max_length=8, choices=Contact.Channel.choices, blank=True)
    case_type = models.CharField(_("case type"), max_length=16, choices=CaseType.choices)
    case_id = models.PositiveBigIntegerField(null=True, blank=True, db_index=True)
    legal_basis = models.CharField(_("legal basis"), max_length=32, blank=True)
    url_count = models.PositiveIntegerField(_("URLs"), default=1)
    sent_at = models.DateTimeField(_("sent at"), db_index=True)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices, default=Outcome.ONGOING)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, default=Source.NOTICE)
    reference = models.CharField(max_length=120, null=True, blank=True, unique=True)
    # What the legal reports count, kept here because this row outlives the notice (a shredded case takes
    # its notices along): the law's clock end (copied from the notice when its clock starts), the DSA
    # 16(4) confirmation and 16(5) decision staff recorded, and when a removed copy was first found again.
    clock_due_at = models.DateTimeField(_("legal clock runs out"), null=True, blank=True)
    receipt_confirmed_at = models.DateTimeField(_("receipt confirmed"), null=True, blank=True)
    decision = models.CharField(_("decision"), max_length=12, choices=Decision.choices, blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    reuploaded_at = models.DateTimeField(_("first re-upload"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-sent_at", "-pk"]
        indexes = [models.Index(fields=["recipient", "case_type", "sent_at"])]

    @property
    def removed(self) -> bool:
        return self.outcome in REMOVED

    @property
    def days_to_resolution(self) -> float | None:
        if self.resolved_at is None:
            return None
        return (self.resolved_at - self.sent_at).total_seconds() / 86400


class Lookup(models.Model):
    """A cached answer of a resolver (DNS, RDAP, WHOIS, headers), good or bad, until it expires."""

    kind = models.CharField(max_length=24)
    key = models.CharField(max_length=300)
    ok = models.BooleanField(default=True)
    error = models.CharField(max_length=300, blank=True)
    result = models.JSONField(default=dict, blank=True)
    fetched_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "key"], name="sites_lookup_kind_key")]
