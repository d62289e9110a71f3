"""Reference material: the victim's images, videos, face photos, known URLs
and titles. Media go into the vault sealed under the case's key; CSAM cases
keep only the derived signals."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..audit.services import Actor, log_action
from ..lib import taskqueue
from ..lib.errors import NotFound, UserError
from ..matching import media
from ..matching.services import bank_reference
from ..vault import services as vault
from .models import Case, ReferenceItem

KIND_HINTS = ("face", "media")
MAX_TEXT = 2000


@dataclass
class Added:
    """Outcome of one file of a batch: an item, or the one-line reason it failed."""

    name: str
    item: ReferenceItem | None = None
    error: str = ""


def add_file(actor, case: Case, name: str, data: bytes, kind_hint: str | None = None, signals=None) -> ReferenceItem:
    """One of her files as a reference; ``signals``, when given, were computed from these bytes before."""
    if kind_hint not in (None, *KIND_HINTS):
        raise UserError(f"kind must be face or media, not {kind_hint!r}")
    info = media.inspect(data)
    if kind_hint == "face" and info.kind != "image":
        raise UserError("a face photo must be an image")
    image = info.image
    kind = ReferenceItem.Kind.FACE if kind_hint == "face" else info.kind
    with transaction.atomic():
        item = ReferenceItem(
            case=case,
            kind=kind,
            label_sealed=vault.seal_text(case.data_key, name, "reference.label"),
            media_type=info.mime,
            size=len(data),
            width=info.width,
            height=info.height,
            created_by=Actor.of(actor).label,
        )
        if case.keeps_media:
            item.blob = vault.store_blob(case.data_key, data)
            if image is not None:
                item.preview = vault.store_blob(case.data_key, media.blurred_preview(image))
        item.save()
        signals = bank_reference(case, item, data, info, signals)
        log_action(
            actor,
            "reference.create",
            item,
            case_id=case.pk,
            kind=kind,
            size=len(data),
            media_kept=case.keeps_media,
            signals=sorted({s.kind for s in signals}),
        )
    return item


def add_files(actor, case: Case, files: list[tuple[str, bytes]], kind_hint: str | None = None) -> list[Added]:
    """Add a batch; a bad file is reported and the rest still go in."""
    results = []
    for name, data in files:
        try:
            results.append(Added(name, item=add_file(actor, case, name, data, kind_hint)))
        except UserError as exc:
            results.append(Added(name, error=str(exc)))
    return results


def add_text(actor, case: Case, kind: str, text: str) -> ReferenceItem:
    text = text.strip()
    if kind not in (ReferenceItem.Kind.URL, ReferenceItem.Kind.KEYWORD):
        raise UserError("a text reference is a url or a keyword")
    if not text or len(text) > MAX_TEXT:
        raise UserError(f"{kind} must be 1 to {MAX_TEXT} characters")
    if kind == ReferenceItem.Kind.URL:
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UserError("a known URL must start with http:// or https:// and name a host")
    with transaction.atomic():
        item = ReferenceItem.objects.create(
            case=case,
            kind=kind,
            label_sealed=vault.seal_text(case.data_key, text, "reference.label"),
            created_by=Actor.of(actor).label,
        )
        log_action(actor, "reference.create", item, case_id=case.pk, kind=kind)
    return item


def label(case: Case, item: ReferenceItem) -> str:
    """File name, URL or keyword. Callers show it only on audited views."""
    return vault.open_text(case.data_key, item.label_sealed, "reference.label")


def reference_for(case: Case, reference_id) -> ReferenceItem:
    try:
        return case.references.get(pk=int(reference_id))
    except (ReferenceItem.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"no reference {reference_id} on this case") from None


def preview(actor, case: Case, item: ReferenceItem, strength: float = 1.0) -> bytes:
    """The blurred greyscale thumbnail (still audited: it is her picture). The kept one is blurred heavily; a
    lighter ``strength`` the reviewer chose for her session is made from her picture each time, kept nowhere."""
    if item.preview is None:
        raise NotFound("this reference has no preview")
    log_action(actor, "media.preview", item, case_id=case.pk, blur=strength)
    if strength < 1.0 and item.blob is not None and item.kind != ReferenceItem.Kind.VIDEO:
        try:
            return media.blurred_preview(media.open_image(vault.read_blob(item.blob)), strength=strength)
        except UserError:
            pass  # the kept preview still shows that there is a picture
    return vault.read_blob(item.preview)


def reveal(actor, case: Case, item: ReferenceItem, *, first: bool = True) -> tuple[bytes, str]:
    """The medium itself, for a user who chose to look (audited, counted once a look: ``first``); a video as
    the browser plays it. UserError, and nothing counted, when it cannot be decoded."""
    if item.blob is None:
        raise NotFound("this case keeps no media for this reference")
    from ..review import exposure, playback

    if item.kind == ReferenceItem.Kind.VIDEO:
        shown = playback.playable(item.blob), playback.CONTENT_TYPE
    else:
        shown = media.display_copy(vault.read_blob(item.blob))
    if first:
        log_action(actor, "media.view", item, case_id=case.pk)
        exposure.count(actor)  # her reference counts towards the person's daily exposure like a hit
    return shown


# --- deletion: hidden at once, restorable for KESU_REFERENCE_UNDO_MINUTES, then shredded -----------------


def undo_deadline(item: ReferenceItem) -> datetime:
    return item.deleted_at + timedelta(minutes=settings.KESU_REFERENCE_UNDO_MINUTES)


def delete(actor, case: Case, item: ReferenceItem) -> None:
    """Take the reference out of use now: hidden from the case, out of the bank (it stops matching), its keyword
    out of searches. Its sealed media stay until ``shred`` runs after the undo window."""
    with transaction.atomic():
        now = timezone.now()
        if not ReferenceItem.objects.filter(pk=item.pk).update(deleted_at=now, deleted_by=Actor.of(actor).label):
            raise NotFound(f"no reference {item.pk} on this case")
        item.deleted_at = now
        minutes = settings.KESU_REFERENCE_UNDO_MINUTES
        log_action(actor, "reference.delete", item, case_id=case.pk, pending=True, undo_minutes=minutes)
        # One second past the window: the task refuses to shred inside it. The beat's sweep catches a lost message.
        taskqueue.after_commit("cases.shred_references", [item.pk], countdown=minutes * 60 + 1)


@dataclass
class Deleted:
    """A deleted reference that can still be restored, as the case page lists it."""

    item: ReferenceItem
    label: str
    until: datetime


def pending(case: Case) -> list[Deleted]:
    """The case's deleted references still in their undo window."""
    since = timezone.now() - timedelta(minutes=settings.KESU_REFERENCE_UNDO_MINUTES)
    rows = ReferenceItem.pending.filter(case=case, deleted_at__gt=since).order_by("-deleted_at", "-pk")
    return [Deleted(item, label(case, item), undo_deadline(item)) for item in rows]


def pending_for(case: Case, reference_id) -> ReferenceItem:
    try:
        return ReferenceItem.pending.get(case=case, pk=int(reference_id))
    except (ReferenceItem.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"no deleted reference {reference_id} on this case") from None


def restore(actor, case: Case, item: ReferenceItem) -> None:
    """Undo a deletion within its window: the reference is back on the case and in the bank."""
    with transaction.atomic():
        item = ReferenceItem.pending.select_for_update().filter(case=case, pk=item.pk).first()
        if item is None or timezone.now() >= undo_deadline(item):
            raise UserError("this reference can no longer be restored: its undo window has passed")
        ReferenceItem.pending.filter(pk=item.pk).update(deleted_at=None, deleted_by="")
        log_action(actor, "reference.restore", item, case_id=case.pk)


def shred(actor, reference_ids: list[int], now=None) -> int:
    """Remove deleted references whose undo window has passed, with their media and signals, for good.
    Idempotent: a reference restored, already shredded or still in its window is left alone."""
    from ..review import playback

    shredded = 0
    for reference_id in reference_ids:
        with transaction.atomic():
            item = ReferenceItem.pending.select_for_update().filter(pk=reference_id).first()
            if item is None or (now or timezone.now()) < undo_deadline(item):
                continue
            blobs = [b for b in (item.blob, item.preview) if b is not None]
            item.delete()  # its signals go with it
            for blob in blobs:
                playback.forget(blob)
                vault.delete_blob(blob)
            log_action(actor, "reference.shred", None, case_id=item.case_id, reference=reference_id)
            shredded += 1
    return shredded


def shred_due(actor, now=None) -> int:
    """Every deleted reference whose window has passed (the beat's safety net for lost task messages)."""
    before = (now or timezone.now()) - timedelta(minutes=settings.KESU_REFERENCE_UNDO_MINUTES)
    due = ReferenceItem.pending.filter(deleted_at__lte=before).order_by("pk").values_list("pk", flat=True)
    return shred(actor, list(due[:1000]), now=now)
