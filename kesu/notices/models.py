"""Notices: the requests Kesu writes, sends, follows up and hears back about.

A notice's text names the URLs of her images, so its subject, body and URLs
are sealed with the case key; so is every outgoing message and every reply.
What stays in clear is what the desk needs to sort and schedule: the
recipient organisation, its address (a public abuse contact), the regime,
statuses, times and SMTP result codes. The history row every notice creates
is a ``sites.TakedownRequest`` (no personal data), so compliance figures
survive the shredding of a case.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from ..sites.models import Outcome


class NoticeTemplate(models.Model):
    """One template slot: a regime in one language, optionally narrowed to a case type and/or recipient role.

    The most specific slot wins (case type and role, then case type, then role, then neither), so the
    shipped regime × language templates cover every combination and supervisors can override any of them.
    """

    regime = models.CharField(_("legal regime"), max_length=32)
    language = models.CharField(_("language"), max_length=8)
    case_type = models.CharField(_("case type"), max_length=16, blank=True)
    role = models.CharField(_("recipient role"), max_length=16, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["regime", "language", "case_type", "role"], name="notices_template_slot")
        ]
        ordering = ["regime", "language", "case_type", "role"]

    def __str__(self):
        return "/".join(part or "*" for part in (self.regime, self.language, self.case_type, self.role))


class TemplateVersion(models.Model):
    """Every saved text of a template; a sent notice points to the version it was written from."""

    class Source(models.TextChoices):
        SHIPPED = "shipped", _("Shipped with Kesu")
        STAFF = "staff", _("Edited by staff")

    template = models.ForeignKey(NoticeTemplate, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    subject = models.TextField(_("subject"))
    body = models.TextField(_("body"))
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.STAFF)
    provenance = models.TextField(_("who wrote or translated it, and how it was checked"), blank=True)
    digest = models.CharField(max_length=64)
    created_by = models.CharField(max_length=160)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["template", "number"], name="notices_template_version")]
        ordering = ["template", "-number"]


class IdentityConsent(models.Model):
    """She agreed that this recipient may be given her name and address (where a law requires them)."""

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="identity_consents")
    recipient = models.ForeignKey("sites.Organisation", on_delete=models.CASCADE, related_name="+")
    recorded_by = models.CharField(max_length=160)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "recipient"], name="notices_identity_consent")]


class Notice(models.Model):
    """One request to one recipient about every URL of a case it can act on."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        QUEUED = "queued", _("Being sent")
        FORM = "form", _("Waiting for the web form")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Could not be delivered")
        CLOSED = "closed", _("Closed")
        CANCELLED = "cancelled", _("Cancelled")

    class Channel(models.TextChoices):
        EMAIL = "email", _("E-mail")
        FORM = "form", _("Web form")

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="notices")
    recipient = models.ForeignKey("sites.Organisation", on_delete=models.PROTECT, related_name="notices")
    site = models.ForeignKey("sites.Site", on_delete=models.SET_NULL, null=True, related_name="notices")
    request = models.OneToOneField(
        "sites.TakedownRequest", on_delete=models.SET_NULL, null=True, blank=True, related_name="notice"
    )
    role = models.CharField(_("recipient role"), max_length=16)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    address = models.CharField(_("address"), max_length=500, help_text=_("abuse e-mail or form URL"))
    # The contact the address was taken from when the notice was composed (None: the shipped knowledge base).
    # Sending uses ``address`` as stored, never a fresh lookup; the contact says where it came from.
    contact = models.ForeignKey("sites.Contact", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    regime = models.CharField(_("legal regime"), max_length=32)
    language = models.CharField(_("language"), max_length=8)
    step = models.PositiveSmallIntegerField(default=1, help_text=_("rung of the escalation ladder"))
    deadline_hours = models.PositiveIntegerField(null=True, blank=True)
    flags = models.JSONField(default=list, blank=True)  # from the ladder: do_not_forward_to_operator, ...
    token = models.CharField(max_length=16, unique=True, help_text=_("reference in the subject, threads replies"))
    urls_sealed = models.BinaryField()
    url_count = models.PositiveIntegerField(default=0)
    hits = models.ManyToManyField("matching.Hit", blank=True, related_name="notices")
    template_version = models.ForeignKey(TemplateVersion, on_delete=models.PROTECT, null=True, related_name="+")
    subject_sealed = models.BinaryField(null=True)
    body_sealed = models.BinaryField(null=True)
    identity_included = models.BooleanField(default=False)
    evidence = models.JSONField(default=list, blank=True, help_text=_("evidence bundle ids preserved before sending"))
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT, db_index=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)
    escalated_from = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, related_name="escalations")
    created_by = models.CharField(max_length=160)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    resend_at = models.DateTimeField(null=True, blank=True, db_index=True)
    escalate_at = models.DateTimeField(null=True, blank=True, db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # The law's clock for this notice (kesu.law): when it started (receipt, confirmation or an authority's
    # notice, as the regime says) and the instant it runs out. ``escalate_at`` is the desk's own next step.
    clock_started_at = models.DateTimeField(null=True, blank=True)
    clock_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    form_reference = models.CharField(_("reference given by the form"), max_length=120, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    # Drafts and notices still going (queued, waiting for a form, sent and not settled).
    LIVE = (Status.DRAFT, Status.QUEUED, Status.FORM, Status.SENT)

    def __str__(self):
        return f"notice {self.token}"

    @property
    def was_sent(self) -> bool:
        """Only a notice that left the desk can have an outcome: a draft is closed, not settled."""
        return self.sent_at is not None

    @property
    def open(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.SENT, self.Status.FORM)


class NoticeUrl(models.Model):
    """The blind index (``vault.blind_index``) of each URL a notice names: staff find a notice by a URL
    without the URL being kept, logged or compared in clear."""

    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="url_keys")
    key = models.CharField(max_length=64, db_index=True)


class NoticeEvent(models.Model):
    """The notice's own timeline: prepared, evidence kept, sent, reminded, answered, escalated, settled."""

    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(auto_now_add=True)
    kind = models.CharField(max_length=24)
    actor = models.CharField(max_length=160)
    detail = models.JSONField(default=dict, blank=True)  # codes and counts only, never text from the notice

    class Meta:
        ordering = ["at", "pk"]


class OutboxMessage(models.Model):
    """One e-mail to send exactly once: sealed bytes, a fixed Message-ID and the SMTP result.

    ``key`` makes queueing idempotent (``notice:12:1`` is the first sending of notice 12, ``notice:12:2``
    the first reminder); a worker claims a row before it talks to the server, so a second worker never
    sends it too, and a claim whose worker died is settled against the desk's archive copy before the
    message may go again.
    """

    class Kind(models.TextChoices):
        NOTICE = "notice", _("Notice")
        REMINDER = "reminder", _("Reminder")
        RECEIPT = "receipt", _("Receipt to the victim")
        VICTIM = "victim", _("Message to the victim")
        DIGEST = "digest", _("Message to staff")

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        UNCERTAIN = "uncertain", _("Perhaps sent (a worker stopped mid-send)")
        CANCELLED = "cancelled", _("Cancelled")

    key = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, null=True, related_name="outbox")
    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, null=True, related_name="messages")
    message_id = models.CharField(max_length=250, unique=True)
    to_domain = models.CharField(max_length=253, blank=True, db_index=True)
    message_sealed = models.BinaryField()
    recipients_sealed = models.BinaryField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    claim = models.CharField(max_length=32, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    smtp_code = models.PositiveSmallIntegerField(null=True, blank=True)
    smtp_reply = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]


class Reply(models.Model):
    """A message fetched from the desk's mailbox, threaded to a notice (or a case) when it can be."""

    class Proposal(models.TextChoices):
        REMOVED = "removed", _("Removed")
        MORE_INFO = "more_info", _("Needs more information")
        REFUSED = "refused", _("Refused")
        AUTO_REPLY = "auto_reply", _("Automatic reply")
        BOUNCE = "bounce", _("Bounce (not delivered)")
        VICTIM = "victim", _("From the victim")
        UNKNOWN = "unknown", _("Read it")

    mailbox_uid = models.CharField(max_length=80, unique=True, help_text=_("UIDVALIDITY:UID in the mailbox"))
    message_id = models.CharField(max_length=250, blank=True, db_index=True)
    notice = models.ForeignKey(Notice, on_delete=models.SET_NULL, null=True, related_name="replies")
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, null=True, related_name="replies")
    threaded_by = models.CharField(max_length=16, blank=True)  # in-reply-to, references, token, bounce
    from_domain = models.CharField(max_length=253, blank=True)
    received_at = models.DateTimeField()
    data_key = models.ForeignKey("vault.DataKey", on_delete=models.PROTECT, related_name="+")
    sealed = models.BinaryField(help_text="from, subject and text, sealed")
    proposal = models.CharField(max_length=12, choices=Proposal.choices)
    decision = models.CharField(max_length=12, choices=Proposal.choices, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-pk"]


class MailboxState(models.Model):
    """Where the last fetch stopped, per mailbox, so a reply is read once."""

    mailbox = models.CharField(max_length=200, unique=True)
    uidvalidity = models.BigIntegerField(default=0)
    last_uid = models.BigIntegerField(default=0)
    fetched_at = models.DateTimeField(null=True)
