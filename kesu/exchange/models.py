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

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="shared_hashes")
    destination = models.CharField(max_length=64)
    signal_type = models.CharField(max_length=32)
    signal = models.TextField()
    shared_at = models.DateTimeField()
    removed_at = models.DateTimeField(null=True, blank=True)
    feedback = models.JSONField(default=dict, blank=True)  # who (a platform's name) -> its latest opinion

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["destination", "signal_type"], name="shared_hash_destination")]
