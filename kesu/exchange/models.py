"""Her consent to share her hashes, per destination (issue 21, item 1)."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

STOPNCII, NCMEC, PARTNERS = "stopncii", "ncmec", "partners"
DESTINATIONS = {
    STOPNCII: _("StopNCII"),
    NCMEC: _("NCMEC"),
    PARTNERS: _("Partner platforms"),
}


class ShareConsent(models.Model):
    """She (or her representative) consented to share her hashes with one destination: ``stopncii``, ``ncmec``,
    ``partners`` (every partner platform) or one partner's name. Live while ``withdrawn_at`` is empty; a
    withdrawal keeps the row (when her hashes were shared matters to what must be taken back)."""

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="share_consents")
    destination = models.CharField(max_length=64)
    given_at = models.DateTimeField()
    given_by = models.CharField(max_length=160, help_text="the staff member who recorded it")
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.CharField(max_length=160, blank=True)

    class Meta:
        ordering = ["given_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "destination"], condition=Q(withdrawn_at__isnull=True), name="one_live_share_consent"
            )
        ]


class SharedHash(models.Model):
    """One of her hashes as sent to (or served to) a destination: what must be taken back when she withdraws,
    and where the destination's feedback on it lands. ``signal_type`` and ``signal`` are threatexchange's."""

    # Empty once her case is deleted: the row stays as a tombstone so that partners' next delta says "removed"
    # (under ``label``, the opaque name they knew it by) and a StopNCII withdrawal still pending is retried.
    case = models.ForeignKey("cases.Case", on_delete=models.SET_NULL, null=True, related_name="shared_hashes")
    label = models.CharField(
        max_length=32, blank=True, help_text="a partner's opaque label of the case, kept at its deletion"
    )
    destination = models.CharField(max_length=64)
    signal_type = models.CharField(max_length=32)
    signal = models.TextField()
    shared_at = models.DateTimeField()
    removed_at = models.DateTimeField(null=True, blank=True)
    feedback = models.JSONField(default=dict, blank=True)  # who (a platform's name) -> its latest opinion
    version = models.BigIntegerField(default=0, help_text="a partner's checkpoint: raised at each add or removal")
    # StopNCII: taken back on Kesu's side, not yet told to StopNCII (it failed or was not tried yet): the beat retries.
    withdraw_pending = models.BooleanField(default=False)
    withdraw_attempts = models.PositiveIntegerField(default=0)
    withdraw_error = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["pk"]
        indexes = [
            models.Index(fields=["destination", "signal_type"], name="shared_hash_destination"),
            models.Index(fields=["withdraw_pending"], condition=Q(withdraw_pending=True), name="shared_hash_pending"),
        ]


class Checkpoint(models.Model):
    """Where Kesu stopped reading a far side's stream (StopNCII's FetchHashes: its ``nextSetTimestamp``)."""

    name = models.CharField(max_length=64, unique=True)
    value = models.BigIntegerField()


class Partner(models.Model):
    """A platform that fetches the hashes victims consented to share with partners (or with it by name), with a
    token Kesu keeps only the SHA-256 of. Revoked partners get nothing."""

    name = models.SlugField(max_length=64, unique=True)
    token_digest = models.CharField(max_length=64, unique=True)
    rate_per_minute = models.PositiveIntegerField(default=60)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=160)
    revoked_at = models.DateTimeField(null=True, blank=True)

    @property
    def destination(self) -> str:
        """Its name in SharedHash.destination (a partner's own ledger)."""
        return f"partner:{self.name}"
