"""Partner platforms and the API they fetch her hashes from (issue 21, item 3).

A partner holds a token (Kesu keeps its SHA-256). Its delta is a ledger (`SharedHash` rows of destination
``partner:<name>``) brought up to date at each fetch from who consents now: a hash of a case that consents to
``partners`` or to this partner by name is added; one whose consent was withdrawn (or whose reference was
deleted, or whose case closed) is marked removed. Each change raises the row's ``version``: the partner's
checkpoint is the highest version it has read. Each case is named by an opaque label per partner
(``kesu-`` and 16 hex digits of a keyed hash), never its number. Feedback ("removed_here", "false_positive",
"disputed") lands on the timeline of every case whose shared hash it names.
"""

import hashlib
import hmac
import secrets

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from ..audit.services import Actor, log_action
from ..cases.models import Case
from ..lib.errors import NotFound, UserError
from .models import DESTINATIONS, Partner, SharedHash
from .services import consenting, note_feedback, shareable_lines

PAGE = 1000
OPINIONS = ("removed_here", "false_positive", "disputed")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def partner_named(name: str) -> Partner:
    partner = Partner.objects.filter(name=name.strip().lower()).first()
    if partner is None:
        raise UserError(f"unknown destination {name!r}: stopncii, ncmec, partners or a partner's name")
    return partner


def add_partner(actor, name: str, rate_per_minute: int = 60) -> tuple[Partner, str]:
    """A new partner and its token (shown once: only its digest is kept)."""
    name = name.strip().lower()
    if not name.replace("-", "").replace("_", "").isalnum() or len(name) > 64 or name in DESTINATIONS:
        raise UserError(f"a partner's name is 1 to 64 letters, digits, - or _, and not {', '.join(DESTINATIONS)}")
    if Partner.objects.filter(name=name).exists():
        raise UserError(f"partner {name!r} exists already")
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        partner = Partner.objects.create(
            name=name, token_digest=digest(token), rate_per_minute=rate_per_minute, created_by=Actor.of(actor).label
        )
        log_action(actor, "exchange.partner.add", partner, name=name)
    return partner, token


def revoke(actor, name: str) -> None:
    partner = partner_named(name)
    with transaction.atomic():
        Partner.objects.filter(pk=partner.pk).update(revoked_at=timezone.now())
        log_action(actor, "exchange.partner.revoke", partner, name=partner.name)


def authenticate(token: str) -> Partner:
    """The live partner holding this token; NotFound (the API answers 401) otherwise."""
    partner = Partner.objects.filter(token_digest=digest(token), revoked_at__isnull=True).first() if token else None
    if partner is None:
        raise NotFound("unknown or revoked token")
    return partner


def within_rate(partner: Partner) -> bool:
    """At most ``rate_per_minute`` requests a minute (counted in the cache: shared when CACHES is Redis)."""
    key = f"exchange.rate.{partner.pk}.{int(timezone.now().timestamp() // 60)}"
    cache.add(key, 0, timeout=120)
    return cache.incr(key) <= partner.rate_per_minute


def label_of(partner: Partner, case_id: int) -> str:
    return label_for(partner.name, case_id)


def label_for(name: str, case_id: int) -> str:
    mac = hmac.new(settings.SECRET_KEY.encode(), f"exchange:{name}:{case_id}".encode(), hashlib.sha256)
    return "kesu-" + mac.hexdigest()[:16]


def delta(partner: Partner, checkpoint: int) -> dict:
    """What changed in the partner's share since ``checkpoint``: added and removed hashes, oldest first, at most
    ``PAGE``; ``more`` says to ask again from the returned checkpoint."""
    sync(partner)
    rows = list(
        SharedHash.objects.filter(destination=partner.destination, version__gt=checkpoint).order_by("version")[
            : PAGE + 1
        ]
    )
    more, rows = len(rows) > PAGE, rows[:PAGE]
    updates = [
        {"signal_type": r.signal_type, "signal": r.signal, "label": r.label or label_of(partner, r.case_id),
         "removed": r.removed_at is not None}
        for r in rows
    ]  # fmt: skip
    log_action(partner_actor(partner), "exchange.partner.fetch", partner, since=checkpoint, updates=len(updates))
    return {"checkpoint": rows[-1].version if rows else checkpoint, "more": more, "updates": updates}


def partner_actor(partner: Partner) -> str:
    return f"partner:{partner.name}"


def sync(partner: Partner) -> None:
    """Bring the partner's ledger up to date with who consents now (one transaction)."""
    wanted = set()
    for case in Case.objects.filter(pk__in=consenting(partner.name)).select_related("data_key"):
        wanted |= {(case.pk, *line.split(" ", 1)) for line in shareable_lines(case)}
    with transaction.atomic():
        ledger = SharedHash.objects.select_for_update().filter(destination=partner.destination)
        live = {(r.case_id, r.signal_type, r.signal): r for r in ledger.filter(removed_at__isnull=True)}
        version = ledger.aggregate(top=Max("version"))["top"] or 0
        now, added = timezone.now(), {}
        for case_id, kind, signal in sorted(wanted - set(live)):
            version += 1
            SharedHash.objects.create(case_id=case_id, destination=partner.destination, signal_type=kind,
                                      signal=signal, shared_at=now, version=version)  # fmt: skip
            added[case_id] = added.get(case_id, 0) + 1
        gone: dict[int, int] = {}
        for key in sorted(set(live) - wanted):
            version += 1
            SharedHash.objects.filter(pk=live[key].pk).update(removed_at=now, version=version)
            gone[key[0]] = gone.get(key[0], 0) + 1
        actor = partner_actor(partner)
        for case_id, count in added.items():
            log_action(actor, "exchange.share", None, case_id=case_id, destination=partner.name, hashes=count)
        for case_id, count in gone.items():
            log_action(actor, "exchange.unshare", None, case_id=case_id, destination=partner.name, hashes=count)


def take_back_all(actor, case: Case) -> None:
    """Her case closes or is deleted: each partner's ledger marks her live hashes removed now (its next delta says
    so) and keeps its opaque label on every row of hers, so the rows outlive the case as tombstones."""
    names = SharedHash.objects.filter(case=case, destination__startswith="partner:").values_list(
        "destination", flat=True
    )
    for destination in sorted(set(names)):
        name = destination.removeprefix("partner:")
        ledger = SharedHash.objects.select_for_update().filter(destination=destination)
        version = ledger.aggregate(top=Max("version"))["top"] or 0
        ledger.filter(case=case).update(label=label_for(name, case.pk))
        live = list(ledger.filter(case=case, removed_at__isnull=True).order_by("pk").values_list("pk", flat=True))
        now = timezone.now()
        for pk in live:
            version += 1
            SharedHash.objects.filter(pk=pk).update(removed_at=now, version=version)
        if live:
            log_action(actor, "exchange.unshare", case, case_id=case.pk, destination=name, hashes=len(live))


def feedback(partner: Partner, signal_type: str, signal: str, opinion: str) -> int:
    """A partner's word on a hash it fetched; returns how many of its cases' hashes it named."""
    if opinion not in OPINIONS:
        raise UserError(f"opinion must be one of {', '.join(OPINIONS)}")
    rows = SharedHash.objects.filter(destination=partner.destination, signal_type=signal_type, signal=signal)
    rows = list(rows.filter(case__isnull=False).select_related("case"))  # a deleted case's tombstone hears nothing
    for row in rows:
        note_feedback(partner_actor(partner), row, partner.name, opinion)
    return len(rows)
