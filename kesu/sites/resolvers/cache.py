"""Answers of resolvers, kept in the Lookup table until they expire: good ones for KESU_RESOLVE_TTL_HOURS,
failures for KESU_RESOLVE_NEGATIVE_TTL_HOURS, so a dead RDAP server is not asked again on every run."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from ..models import Lookup
from .base import ResolveError, Resolver, get

log = logging.getLogger(__name__)

# What a parser did not foresee in a garbled answer; anything else is a bug and is raised.
GARBLED = (ValueError, TypeError, KeyError, IndexError, AttributeError, UnicodeError)


@dataclass
class Answer:
    kind: str
    key: str
    ok: bool
    result: dict
    error: str
    fetched_at: datetime
    cached: bool = False

    @property
    def reason(self) -> str:
        return "" if self.ok else str(self.result.get("reason", "error"))


def answer(kind: str, key: str, *, force: bool = False, resolver: Resolver | None = None) -> Answer:
    """The cached answer of (kind, key) if it has not expired (and force is False), else a fresh one, stored."""
    resolver = resolver or get(kind)
    now = timezone.now()
    if resolver.cached and not force:
        hit = Lookup.objects.filter(kind=kind, key=key, expires_at__gt=now).first()
        if hit is not None:
            return Answer(kind, key, hit.ok, hit.result or {}, hit.error, hit.fetched_at, cached=True)
    fresh = _ask(resolver, kind, key, now)
    if resolver.cached:
        hours = settings.KESU_RESOLVE_TTL_HOURS if fresh.ok else settings.KESU_RESOLVE_NEGATIVE_TTL_HOURS
        Lookup.objects.update_or_create(
            kind=kind, key=key,
            defaults={"ok": fresh.ok, "error": fresh.error, "result": fresh.result, "fetched_at": now,
                      "expires_at": now + timedelta(hours=hours)},
        )  # fmt: skip
    return fresh


def _ask(resolver: Resolver, kind: str, key: str, now: datetime) -> Answer:
    try:
        return Answer(kind, key, True, resolver.lookup(key), "", now)
    except ResolveError as exc:
        return Answer(kind, key, False, exc.detail, str(exc), now)
    except GARBLED as exc:
        log.warning("resolver %s could not read its answer for %s", kind, key, exc_info=True)
        error = f"{kind} answer for {key} could not be read ({type(exc).__name__})"
        return Answer(kind, key, False, {"reason": "garbage"}, error, now)


def forget(kind: str | None = None, key: str | None = None) -> int:
    """Drop cached answers (all, of one kind, or one key); the count dropped."""
    lookups = Lookup.objects.all()
    if kind:
        lookups = lookups.filter(kind=kind)
    if key:
        lookups = lookups.filter(key=key)
    return lookups.delete()[0]
