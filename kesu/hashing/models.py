"""A hashing link and the page loads it served. Only hashes of secrets are stored: the link's token, the device
cookie that bound it, each page's nonce."""

from django.db import models

from ..cases.models import Case


class HashingLink(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="hashing_links")
    token_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the link's token")
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    device_hash = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the cookie of the device it is bound to"
    )
    consented_at = models.DateTimeField(null=True, blank=True)
    submissions = models.PositiveIntegerField(default=0)
    files_received = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]


class PageNonce(models.Model):
    """One per load of the hashing page; a submission spends it, so a replayed one is refused."""

    link = models.ForeignKey(HashingLink, on_delete=models.CASCADE, related_name="nonces")
    nonce_hash = models.CharField(max_length=64, unique=True)
    issued_at = models.DateTimeField(auto_now_add=True)
    spent_at = models.DateTimeField(null=True, blank=True)
