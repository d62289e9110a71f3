"""What the patrol forgets, and when. Of a stranger's medium Kesu keeps only the SHA-256 (to skip it when seen
again) and how much of the bank it was searched against (``Fingerprint.stranger_through``):

- a medium that matched nothing is forgotten in its match's own transaction (``pipeline.forget_stranger``);
- a medium that became a hit keeps its bytes ``KESU_PATROL_KEEP_MEDIA_HOURS`` (``forget_media``): the hit has
  its own copy under its case's key; its signal values stay, so the same bytes seen again are not
  fingerprinted twice;
- a medium that is nobody's after all (``forget_disowned``): every hit on it was rejected more than
  ``KESU_REJECTED_FORGET_HOURS`` ago (the reviewer's time to take the decision back), or its case was deleted.
  Its values (every face on the picture, a bystander's too) and bytes go, and each rejected hit loses its copy
  of the bytes; the rejected hit keeps its numbers, which the calibration learns from.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Q
from django.utils import timezone

from ..matching.models import Hit, Signal
from ..vault import services as vault
from ..vault.models import VaultBlob
from .models import Fingerprint, Sighting, Stage

BATCH = 1000
WORKING = (Stage.DOWNLOAD, Stage.FINGERPRINT, Stage.MATCH, Stage.ALERT)


def forget_media(now=None) -> int:
    before = (now or timezone.now()) - timedelta(hours=settings.KESU_PATROL_KEEP_MEDIA_HOURS)
    working = Sighting.objects.filter(stage__in=WORKING).values("fingerprint_id")
    old = Fingerprint.objects.filter(created_at__lt=before, blob__isnull=False).exclude(pk__in=working)
    forgotten = 0
    for item in old.select_related("blob")[:BATCH]:
        blob = item.blob
        Fingerprint.objects.filter(pk=item.pk).update(blob=None)
        vault.delete_blob(blob)
        forgotten += 1
    return forgotten


def _undecided_or_recent(cutoff) -> Q:
    """Hits that still claim a medium: not rejected, or rejected so recently that the decision may be undone."""
    return ~Q(status=Hit.Status.REJECTED) | Q(decided_at__isnull=True) | Q(decided_at__gt=cutoff)


def forget_disowned(now=None) -> int:
    """Forget media nobody claims any more; returns how many found media lost their values or bytes."""
    cutoff = (now or timezone.now()) - timedelta(hours=settings.KESU_REJECTED_FORGET_HOURS)
    claimed = Hit.objects.filter(_undecided_or_recent(cutoff), sha256=OuterRef("sha256"))
    working = Sighting.objects.filter(stage__in=WORKING, fingerprint_id=OuterRef("pk"))
    disowned = (
        Fingerprint.objects.filter(Q(computed__isnull=False) | Q(blob__isnull=False), stranger_through__isnull=True)
        .exclude(stage=Stage.FINGERPRINT)
        .exclude(Exists(claimed))
        .exclude(Exists(working))
    )
    through = Signal.objects.aggregate(last=Max("pk"))["last"] or 0
    forgotten = 0
    for pk in disowned.values_list("pk", flat=True)[:BATCH]:
        with transaction.atomic():  # checked again under the row's lock: a new hit may have claimed it meanwhile
            item = disowned.select_for_update().filter(pk=pk).first()
            if item is not None:
                _forget(item, through)
                forgotten += 1
    return forgotten + _forget_rejected_copies(cutoff)


def _forget(item: Fingerprint, through: int) -> None:
    """As pipeline.forget_stranger leaves a stranger's medium: searched up to ``through``, seen again only if the
    bank grows."""
    blobs = [item.blob_id, item.computed_id]
    Fingerprint.objects.filter(pk=item.pk).update(blob=None, computed=None, stranger_through=through)
    for blob in VaultBlob.objects.filter(pk__in=[b for b in blobs if b]):
        vault.delete_blob(blob)


def _forget_rejected_copies(cutoff) -> int:
    """A hit rejected long enough ago loses its copy of the stranger's bytes (its numbers stay)."""
    old = Hit.objects.filter(status=Hit.Status.REJECTED, decided_at__lte=cutoff, blob__isnull=False)
    forgotten = 0
    for hit in old.select_related("blob")[:BATCH]:
        with transaction.atomic():
            blob = hit.blob
            Hit.objects.filter(pk=hit.pk).update(blob=None)
            vault.delete_blob(blob)
        forgotten += 1
    return forgotten
