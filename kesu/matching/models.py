from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class SignalQuerySet(models.QuerySet):
    def in_use(self):
        """Without the signals of a deleted reference waiting out its undo window: those never match."""
        return self.filter(models.Q(reference__isnull=True) | models.Q(reference__deleted_at__isnull=True))


class Signal(models.Model):
    """A value derived from a medium of a case (a hash, features, a face), kept in the case's bank.

    Signals are all that is kept of CSAM references. They come from the
    victim's references or from hits staff confirmed (`source`), and are
    deleted with their case. Values that could describe the person are
    `sealed` with the case key.
    """

    class Source(models.TextChoices):
        REFERENCE = "reference", _("Reference")
        HIT = "hit", _("Confirmed hit")

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="signals")
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.REFERENCE)
    reference = models.ForeignKey("cases.ReferenceItem", on_delete=models.CASCADE, null=True, related_name="signals")
    hit = models.ForeignKey("matching.Hit", on_delete=models.CASCADE, null=True, related_name="banked_signals")
    kind = models.CharField(max_length=32)
    value = models.CharField(max_length=128, blank=True)
    sealed = models.BinaryField(null=True)
    quality = models.SmallIntegerField(null=True, blank=True)
    meta = models.JSONField(default=dict, blank=True)  # region, frame time, face box: never personal data
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SignalQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["kind", "value"])]

    @property
    def owner(self) -> int:
        """The item the signal stands for: a reference (id) or a confirmed hit (-id)."""
        return self.reference_id if self.reference_id else -self.hit_id


class Hit(models.Model):
    """A found medium that matched a case's bank, with the raw evidence and its probability."""

    class Status(models.TextChoices):
        NEW = "new", _("New")
        CONFIRMED = "confirmed", _("Confirmed")
        REJECTED = "rejected", _("Rejected")

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="hits")
    reference = models.ForeignKey("cases.ReferenceItem", on_delete=models.SET_NULL, null=True, related_name="hits")
    matched_hit = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, related_name="+")
    sha256 = models.CharField(max_length=64)
    media_type = models.CharField(max_length=64, blank=True)
    blob = models.ForeignKey("vault.VaultBlob", on_delete=models.SET_NULL, null=True, related_name="+")
    source_url_sealed = models.BinaryField(null=True, help_text="where it was found (sealed: it leads to her images)")
    source_key = models.CharField(max_length=64, blank=True, help_text="keyed hash of the source URL")
    # Only the host name stays in the clear, like on the patrol's pages: staff filter the review queue by
    # site without opening every sealed URL, and a host alone does not lead to her images.
    host = models.CharField(max_length=253, blank=True, db_index=True)
    reupload_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="reuploads",
        help_text="the removed copy this one re-uploads",
    )  # fmt: skip
    signal = models.CharField(max_length=32)
    probability = models.FloatField()
    nudity = models.FloatField(null=True)
    evidence = models.JSONField(default=dict)  # distances, inliers, time ranges: numbers only
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    decided_at = models.DateTimeField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-probability", "-created_at"]
        indexes = [
            models.Index(fields=["status", "case"], name="hit_status_case"),  # the review queue and its filter
            models.Index(fields=["status", "-created_at", "-id"], name="hit_status_newest"),  # patrol's new hits
        ]
        constraints = [
            models.UniqueConstraint(fields=["case", "sha256", "source_key"], name="one_hit_per_medium_place_and_case")
        ]

    @property
    def pink(self) -> bool:
        from .calibration import PINK

        return self.probability >= PINK
