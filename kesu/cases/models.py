"""Victims, cases and what they brought us.

Personal data lives only in ``*_sealed`` fields, encrypted under a data key
in the vault; the rest of each row is safe to show to anyone on the case.
"""

from datetime import date

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from ..vault.models import DataKey, VaultBlob


class CaseType(models.TextChoices):
    NCII = "ncii", _("Non-consensual intimate images (revenge porn)")
    CSAM = "csam", _("Child sexual abuse material")
    AV = "av", _("Coerced adult-video appearance")
    VOYEURISM = "voyeurism", _("Voyeurism")
    SEXTORTION = "sextortion", _("Sextortion")
    DEEPFAKE = "deepfake", _("Deepfake")


class Consent(models.TextChoices):
    """What the victim allowed the desk to do, each recorded with its date."""

    SEARCH = "search", _("Search the web for her images")
    TAKEDOWN = "takedown", _("Request removal on her behalf")
    EVIDENCE = "evidence", _("Preserve evidence")
    NAME_IN_NOTICES = "name_in_notices", _("Give her name where a law requires it")
    POLICE = "police", _("Share with the police")
    HASH_SHARING = "hash_sharing", _("Share hashes with partner platforms")


class Victim(models.Model):
    class Receipt(models.TextChoices):
        EMAIL = "email", _("By e-mail")
        STAFF = "staff", _("Staff tell her (phone or meeting)")
        NONE = "none", _("No receipts")

    code = models.CharField(_("code"), max_length=16, unique=True)
    data_key = models.ForeignKey(DataKey, on_delete=models.PROTECT, related_name="+")
    name_sealed = models.BinaryField(null=True)
    contact_sealed = models.BinaryField(null=True)
    preferred_language = models.CharField(_("preferred language"), max_length=8, default="ja")
    receipt = models.CharField(_("receipts"), max_length=8, choices=Receipt.choices, default=Receipt.EMAIL)
    is_minor = models.BooleanField(_("minor"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.code


class Case(models.Model):
    class Status(models.TextChoices):
        INTAKE = "intake", _("Intake")
        ACTIVE = "active", _("Active")
        MONITORING = "monitoring", _("Monitoring")
        ON_HOLD = "on_hold", _("On hold")
        CLOSED = "closed", _("Closed")

    victim = models.ForeignKey(Victim, on_delete=models.PROTECT, related_name="cases")
    case_type = models.CharField(_("type"), max_length=16, choices=CaseType.choices)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.INTAKE)
    assignees = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="cases", blank=True)
    data_key = models.ForeignKey(DataKey, on_delete=models.PROTECT, related_name="+")
    notes_sealed = models.BinaryField(null=True)
    mandate_signed_on = models.DateField(_("mandate signed on"), null=True, blank=True)
    consent = models.JSONField(_("consent"), default=list, blank=True)
    consent_recorded_at = models.DateTimeField(null=True, blank=True)
    consent_recorded_by = models.CharField(max_length=160, blank=True)
    continuation_due_on = models.DateField(_("continuation due"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"#{self.pk} {self.victim.code}"

    @property
    def keeps_media(self) -> bool:
        """CSAM originals are never stored: only derived signals."""
        return self.case_type != CaseType.CSAM

    @property
    def consent_labels(self) -> list[str]:
        return [Consent(c).label for c in self.consent if c in Consent.values]

    def continuation_is_due(self, today: date) -> bool:
        return bool(self.continuation_due_on and self.continuation_due_on <= today and self.status != "closed")


class InUse(models.Manager):
    """References in use. A deleted one waits out its undo window hidden from every page, search and bank;
    ``ReferenceItem.pending`` reaches it (to restore or shred it). Related lookups (a hit's reference) still
    find it: they go through the base manager."""

    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)


class Pending(models.Manager):
    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=False)


class ReferenceItem(models.Model):
    class Kind(models.TextChoices):
        IMAGE = "image", _("Image")
        VIDEO = "video", _("Video")
        FACE = "face", _("Face photo")
        URL = "url", _("Known URL")
        KEYWORD = "keyword", _("Title or keyword")
        HASHES = "hashes", _("Hashes only")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="references")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    label_sealed = models.BinaryField(help_text="file name, URL or keyword, encrypted")
    blob = models.ForeignKey(VaultBlob, on_delete=models.SET_NULL, null=True, related_name="+")
    preview = models.ForeignKey(VaultBlob, on_delete=models.SET_NULL, null=True, related_name="+")
    media_type = models.CharField(max_length=64, blank=True)
    size = models.PositiveBigIntegerField(null=True)
    width = models.PositiveIntegerField(null=True)
    height = models.PositiveIntegerField(null=True)
    created_by = models.CharField(max_length=160)
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(
        null=True, blank=True, db_index=True, help_text="deleted: shredded once the undo window has passed"
    )
    deleted_by = models.CharField(max_length=160, blank=True)

    objects = InUse()
    pending = Pending()

    class Meta:
        ordering = ["created_at", "pk"]

    @property
    def is_media(self) -> bool:
        return self.kind in (self.Kind.IMAGE, self.Kind.VIDEO, self.Kind.FACE)


class ContactEntry(models.Model):
    """One contact with the victim: what was said stays sealed."""

    class Direction(models.TextChoices):
        IN = "in", _("From her")
        OUT = "out", _("To her")

    class Channel(models.TextChoices):
        PHONE = "phone", _("Phone")
        EMAIL = "email", _("E-mail")
        MEETING = "meeting", _("Meeting")
        CHAT = "chat", _("Chat")
        LETTER = "letter", _("Letter")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="contacts")
    at = models.DateTimeField()
    direction = models.CharField(max_length=4, choices=Direction.choices)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    note_sealed = models.BinaryField(null=True)
    staff = models.CharField(max_length=160)

    class Meta:
        ordering = ["-at"]
