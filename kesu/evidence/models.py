import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


class EvidenceBundle(models.Model):
    """One preserved capture of a URL for a case: the signed bundle, sealed in the vault.

    The URL and the error lines are sealed with the case key (a URL leads to
    her images); the bundle itself is one vault blob (a zip of its files).
    """

    class Reason(models.TextChoices):
        NOTICE = "notice", _("Before a notice")
        STAFF = "staff", _("Requested by staff")
        PATROL = "patrol", _("Patrol")
        CLI = "cli", _("Command line")

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        DONE = "done", _("Preserved")
        FAILED = "failed", _("Failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="evidence")
    url_sealed = models.BinaryField()
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    outcome = models.CharField(_("outcome"), max_length=16, blank=True)  # complete / partial / failed
    errors_sealed = models.BinaryField(null=True)
    blob = models.ForeignKey("vault.VaultBlob", on_delete=models.SET_NULL, null=True, related_name="+")
    manifest_sha256 = models.CharField(max_length=64, blank=True)
    signer = models.CharField(max_length=64, blank=True, help_text="fingerprint of the signing key")
    timestamped_at = models.DateTimeField(null=True, blank=True)
    media_count = models.PositiveIntegerField(default=0)
    size = models.PositiveBigIntegerField(default=0)
    requested_by = models.CharField(max_length=160, blank=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    claim = models.CharField(max_length=32, blank=True, help_text="the capture worker holding it (kesu.lib.workrows)")
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self):
        return f"evidence {self.id} for case #{self.case_id}"
