"""Politeness towards each host, shared by every worker on every machine through one database row.

A request reserves the host's next free slot (one every 60/rate seconds) and
a lease (at most ``concurrency`` at once). Leases expire, so a worker that
dies does not hold a host forever. A 429 or 503 with ``Retry-After`` pauses
the host for as long as it asked; three refusals in a row (403/429) pause it
for KESU_PATROL_BAN_PAUSE_SECONDS, doubling each time it goes on refusing.
Rows change only through a compare-and-set on ``version``: the same code is
safe on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from .limits import Limits
from .models import HostState

WAIT_INLINE = 3.0  # seconds a worker sleeps for its slot; longer waits go back to the queue
REFUSALS_TO_PAUSE = 3
MAX_PAUSE = timedelta(hours=24)


@dataclass
class Slot:
    host: str
    token: str


@dataclass
class Verdict:
    """What the host's answer means for the crawl."""

    paused_until: datetime | None = None
    banned: bool = False  # paused after refusals, not after a Retry-After
    note: str = ""


def _state(host: str) -> HostState:
    state = HostState.objects.filter(host=host).first()
    if state is None:
        try:
            with transaction.atomic():
                state = HostState.objects.create(host=host)
        except IntegrityError:
            state = HostState.objects.get(host=host)
    return state


def _live(leases: list, now: datetime) -> list:
    return [lease for lease in leases if datetime.fromisoformat(lease[1]) > now]


def acquire(host: str, rate_per_minute: int, concurrency: int, hold_seconds: float) -> tuple[Slot | None, float]:
    """A slot now (after sleeping at most WAIT_INLINE), or (None, seconds to wait before asking again)."""
    for _ in range(50):
        state, now = _state(host), timezone.now()
        if state.paused_until and state.paused_until > now:
            return None, (state.paused_until - now).total_seconds()
        leases = _live(state.leases, now)
        if len(leases) >= concurrency:
            soonest = min(datetime.fromisoformat(lease[1]) for lease in leases)
            return None, max(0.5, min((soonest - now).total_seconds(), WAIT_INLINE))
        slot = max(state.next_at or now, now)
        wait = (slot - now).total_seconds()
        if wait > WAIT_INLINE:
            return None, wait
        token = secrets.token_hex(8)
        expires = slot + timedelta(seconds=hold_seconds)
        taken = HostState.objects.filter(pk=state.pk, version=state.version).update(
            next_at=slot + timedelta(seconds=60.0 / max(1, rate_per_minute)),
            leases=[*leases, [token, expires.isoformat()]],
            version=F("version") + 1,
            requests=F("requests") + 1,
        )
        if taken:
            if wait > 0:
                time.sleep(wait)
            return Slot(host, token), 0.0
    return None, 1.0


def release(slot: Slot, status: int | None, retry_after: float | None = None) -> Verdict:
    """Give the lease back and learn from the answer (status None: no answer at all)."""
    for _ in range(50):
        state, now = _state(slot.host), timezone.now()
        verdict, changes = _judge(state, status, retry_after, now)
        leases = [lease for lease in _live(state.leases, now) if lease[0] != slot.token]
        done = HostState.objects.filter(pk=state.pk, version=state.version).update(
            leases=leases, version=F("version") + 1, **changes
        )
        if done:
            return verdict
    return Verdict()


def _judge(state: HostState, status: int | None, retry_after: float | None, now: datetime) -> tuple[Verdict, dict]:
    if status is None:
        return Verdict(), {}
    changes: dict = {"last_status": status}
    verdict = Verdict()
    refused = status in (403, 429)
    refusals = state.refusals + 1 if refused else 0
    changes["refusals"] = refusals
    if status in (429, 503) and retry_after is not None:
        verdict.paused_until = now + timedelta(seconds=retry_after)
        verdict.note = f"{state.host} answered {status} and asked us to wait {retry_after:g} s"
    if refusals >= REFUSALS_TO_PAUSE:
        pause = timedelta(seconds=settings.KESU_PATROL_BAN_PAUSE_SECONDS * 2 ** (refusals - REFUSALS_TO_PAUSE))
        verdict.paused_until = now + min(pause, MAX_PAUSE)
        verdict.banned = True
        verdict.note = (
            f"{state.host} refused {refusals} requests in a row ({status}); "
            f"paused until {timezone.localtime(verdict.paused_until):%Y-%m-%d %H:%M:%S}"
        )
    if verdict.paused_until and (state.paused_until is None or verdict.paused_until > state.paused_until):
        changes["paused_until"] = verdict.paused_until
        changes["note"] = verdict.note[:300]
    return verdict, changes


def get(host: str, url: str, limits: Limits, limit_bytes: int, referer: str = ""):
    """(response, 0, verdict) for a GET made within host's politeness, or (None, seconds to wait, None)."""
    from django.conf import settings

    from ..capture.policy import policy_from_settings
    from . import http

    slot, wait = acquire(host, limits.rate, limits.concurrency, settings.KESU_PATROL_LEASE_SECONDS)
    if slot is None:
        return None, wait, None
    response = None
    try:
        response = http.get(url, policy_from_settings(), limit=limit_bytes, seconds=settings.KESU_PATROL_FETCH_SECONDS,
                            referer=referer)  # fmt: skip
    finally:
        status = response.status if response is not None and response.status else None
        verdict = release(slot, status, response.retry_after() if response is not None else None)
    return response, 0.0, verdict


def paused(host: str) -> datetime | None:
    state = HostState.objects.filter(host=host).first()
    now = timezone.now()
    return state.paused_until if state and state.paused_until and state.paused_until > now else None
