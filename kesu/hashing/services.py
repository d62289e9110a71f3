"""Hashing links: made by staff for one case, bound to the first device that gives consent, spent page by
page through nonces; what the page sends becomes the case's hash-only references.

A link is a bearer secret: only SHA-256 of its token is stored, and of the device cookie and of each nonce.
Every step is audited with ids and counts, never a hash of hers nor a token."""

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from ..audit.services import Actor, log_action
from ..cases import references
from ..cases.models import Case, ReferenceItem
from ..exchange.hashes import Hash
from ..exchange.services import add_hash_reference
from ..lib.errors import UserError
from .models import HashingLink, PageNonce
from .payload import Submission

ACTOR = Actor("victim:hashing-link")  # she has no account; the audit names the link instead


class Refused(UserError):
    """A link that cannot be used (any more, or from here); the message is one line for her."""


@dataclass(frozen=True)
class NewLink:
    link: HashingLink
    token: str

    @property
    def path(self) -> str:
        return reverse("hashing:start", args=[self.token])

    @property
    def url(self) -> str:
        return settings.KESU_BASE_URL.rstrip("/") + self.path


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_link(actor, case: Case) -> NewLink:
    """A new link for her case, valid KESU_HASHING_LINK_DAYS. The token is shown once, here."""
    if case.status == Case.Status.CLOSED:
        raise UserError("the case is closed: no hashing link can be made for it")
    token = secrets.token_urlsafe(32)
    expires = timezone.now() + timedelta(days=settings.KESU_HASHING_LINK_DAYS)
    with transaction.atomic():
        link = HashingLink.objects.create(
            case=case, token_hash=digest(token), created_by=Actor.of(actor).label, expires_at=expires
        )
        log_action(actor, "hashing.link_create", link, case_id=case.pk, days=settings.KESU_HASHING_LINK_DAYS)
    return NewLink(link, token)


def revoke(actor, case: Case) -> int:
    """End every live link of the case; how many were live."""
    with transaction.atomic():
        live = list(live_links(case).select_for_update())
        for link in live:
            link.revoked_at = timezone.now()
            link.save(update_fields=["revoked_at"])
            log_action(actor, "hashing.link_revoke", link, case_id=case.pk)
    return len(live)


def live_links(case: Case):
    return HashingLink.objects.filter(case=case, revoked_at__isnull=True, expires_at__gt=timezone.now())


def link_for(token: str) -> HashingLink:
    """The link of a token, or `Refused` with why it cannot be used."""
    link = HashingLink.objects.select_related("case").filter(token_hash=digest(token or "")).first()
    if link is None:
        raise Refused(_("This link is not valid. Please ask the desk for a new one."))
    if link.revoked_at is not None:
        raise Refused(_("This link was ended by the desk. Please ask the desk for a new one."))
    if link.expires_at <= timezone.now() or link.case.status == Case.Status.CLOSED:
        raise Refused(_("This link has expired. Please ask the desk for a new one."))
    return link


def check_device(link: HashingLink, cookie: str) -> None:
    """A bound link works only on the device that bound it."""
    if not link.device_hash:
        raise Refused(_("Please read and accept the explanation first."))
    if not cookie or not secrets.compare_digest(link.device_hash, digest(cookie)):
        raise Refused(_("This link was already opened on another device. Please ask the desk for a new one."))


def consent(link: HashingLink, cookie: str) -> str | None:
    """She accepted: the link binds to this device. Returns the new device secret (for her cookie), or None
    when this device already holds the link. Binding happens here and not on the first GET: a messenger's
    link preview fetches the page too, and must not take the link from her."""
    with transaction.atomic():
        link = HashingLink.objects.select_for_update().get(pk=link.pk)
        if link.device_hash:
            check_device(link, cookie)
            return None
        secret = secrets.token_urlsafe(32)
        link.device_hash, link.consented_at = digest(secret), timezone.now()
        link.save(update_fields=["device_hash", "consented_at"])
        log_action(ACTOR, "hashing.consent", link, case_id=link.case_id)
    return secret


def issue_nonce(link: HashingLink) -> str:
    nonce = secrets.token_urlsafe(24)
    PageNonce.objects.create(link=link, nonce_hash=digest(nonce))
    return nonce


def receive(link: HashingLink, submission: Submission) -> int:
    """Her hashes become hash-only references of the case, her keywords keyword references, all in one
    transaction that also spends the page's nonce: a replay, or any failure, changes nothing. Returns the
    number of files received."""
    with transaction.atomic():
        spent = PageNonce.objects.filter(link=link, nonce_hash=digest(submission.nonce), spent_at__isnull=True).update(
            spent_at=timezone.now()
        )
        if not spent:
            raise Refused(_("These hashes were already sent (or the page is out of date). Please reload the page."))
        for item in submission.files:
            _bank(link.case, item)
        for word in submission.keywords:
            references.add_text(ACTOR, link.case, ReferenceItem.Kind.KEYWORD, word)
        HashingLink.objects.filter(pk=link.pk).update(
            submissions=F("submissions") + 1, files_received=F("files_received") + len(submission.files)
        )
        frames = sum(len(item.frames) for item in submission.files)
        log_action(
            ACTOR, "hashing.receive", link, case_id=link.case_id,
            files=len(submission.files), frames=frames, keywords=len(submission.keywords),
        )  # fmt: skip
    return len(submission.files)


def _bank(case: Case, item) -> None:
    """One file's hashes as a hash-only reference of the case (the exchange's, issue 21)."""
    add_hash_reference(ACTOR, case, _hashes(item), HASHED_ON_HER_DEVICE)


HASHED_ON_HER_DEVICE = "hashed on her device"


def _hashes(item) -> list:
    """The exchange's `Hash` values of one file: its MD5, SHA-256 and PDQ, or its frames as one vPDQ."""
    hashes = [Hash("md5", item.md5), Hash("sha256", item.sha256)]
    if item.kind == "image":
        hashes.append(Hash("pdq", f"{item.pdq},{item.quality}"))
    elif item.frames:
        frames = [f"{frame.pdq},{frame.quality},{frame.t:g}" for frame in item.frames]
        hashes.append(Hash("vpdq", json.dumps(frames)))
    return hashes
