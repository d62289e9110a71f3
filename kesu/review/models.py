"""What staff decided about hits, how much they had to look at, and the blurred previews of found media."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Decision(models.Model):
    """One decision on one hit, kept even when it is undone: the record the matcher's calibration learns from.

    ``features`` are the raw scores of the signal that gave the hit its probability (numbers only).
    """

    class Kind(models.TextChoices):
        CONFIRM = "confirm", _("Confirmed")
        REJECT = "reject", _("Rejected")
        SAME = "same", _("Same content elsewhere")
        UNDO = "undo", _("Undone")

    hit = models.ForeignKey("matching.Hit", on_delete=models.CASCADE, related_name="decisions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    signal = models.CharField(max_length=32)
    probability = models.FloatField()
    features = models.JSONField(default=list)
    undone = models.BooleanField(default=False)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["signal", "undone"])]


class Exposure(models.Model):
    """How many sensitive media one person revealed on one day (the counter behind the gentle limit)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "day"], name="one_exposure_row_per_user_and_day")]


class ExposureLimit(models.Model):
    """A supervisor's daily limit for one person (without one, KESU_EXPOSURE_DAILY_LIMIT applies)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="exposure_limit")
    daily = models.PositiveIntegerField(_("daily limit"))
    set_by = models.CharField(max_length=160)
    set_at = models.DateTimeField(auto_now=True)


class HitPreview(models.Model):
    """The blurred greyscale thumbnail of a hit's medium, made once and kept sealed with the case key."""

    hit = models.OneToOneField("matching.Hit", on_delete=models.CASCADE, related_name="preview")
    blob = models.ForeignKey("vault.VaultBlob", on_delete=models.SET_NULL, null=True, related_name="+")


class PlayableCopy(models.Model):
    """A video as the browser plays it (fragmented MP4), made once from a found or reference video and kept
    sealed with the same key as its source. Deleted with the source blob; shredded with the case's key."""

    source = models.OneToOneField("vault.VaultBlob", on_delete=models.CASCADE, related_name="playable")
    copy = models.ForeignKey("vault.VaultBlob", on_delete=models.SET_NULL, null=True, related_name="+")
