import uuid

from django.db import models


class DataKey(models.Model):
    """A 256-bit data key, stored only wrapped by a master key.

    Deleting the row is crypto-shredding: whatever it sealed (fields, blobs,
    backups of either) can no longer be opened.
    """

    class Purpose(models.TextChoices):
        CASE = "case"
        VICTIM = "victim"
        AUDIT = "audit"
        INDEX = "index"  # the search bank saved on disk
        SIGNING = "signing"  # the installation's evidence signing key

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    kid = models.CharField(max_length=16, help_text="id of the master key that wraps it")
    wrapped = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.purpose} key {self.id}"


class VaultBlob(models.Model):
    """An encrypted file under KESU_VAULT_DIR/<data key>/<blob id>."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    data_key = models.ForeignKey(DataKey, on_delete=models.CASCADE, related_name="blobs")
    size = models.PositiveBigIntegerField(help_text="plaintext size in bytes")
    created_at = models.DateTimeField(auto_now_add=True)
