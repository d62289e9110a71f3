"""The life of a hit, owned here: its states, the only legal moves between them, and the one writer of
``Hit.status``.

    found → waiting → confirmed / rejected / same content elsewhere → in a notice → removed / back online

``waiting``, ``confirmed`` and ``rejected`` are stored (``Hit.status``); the others are read from what the desk
did with the hit, never stored twice: the decision that confirmed it (same content elsewhere), the live notices
that name it, what the re-checks saw at its URL. The review (web and CLI), the notice composer and patrol ask
``check`` before they act; a move that is not in ``TRANSITIONS`` is refused with a one-line ``UserError``.
Upper layers are reached through the hit's reverse relations only (this package sits below them).
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..lib.errors import UserError
from .models import Hit


class State(models.TextChoices):
    FOUND = "found", gettext_lazy("Found")  # before the hit exists
    WAITING = "waiting", gettext_lazy("Waiting for review")
    CONFIRMED = "confirmed", gettext_lazy("Confirmed")
    REJECTED = "rejected", gettext_lazy("Rejected")
    SAME = "same", gettext_lazy("Same content elsewhere")
    IN_NOTICE = "in_notice", gettext_lazy("In a notice")
    REMOVED = "removed", gettext_lazy("Removed")
    BACK_ONLINE = "back_online", gettext_lazy("Back online")


class Event(models.TextChoices):
    FIND = "find", gettext_lazy("recorded as found")
    CONFIRM = "confirm", gettext_lazy("confirmed")
    REJECT = "reject", gettext_lazy("rejected")
    SAME = "same", gettext_lazy("confirmed as the same content elsewhere")
    UNDO = "undo", gettext_lazy("taken back to review")
    NAME = "name", gettext_lazy("named in a notice")
    GONE = "gone", gettext_lazy("marked removed")
    BACK = "back", gettext_lazy("marked back online")


S, E = State, Event
_DECIDED = (S.CONFIRMED, S.SAME)
# (state, event) → the state after it. Anything else is refused. A decision may be corrected (confirmed ↔
# rejected) or taken back only while no notice names the hit.
TRANSITIONS: dict[tuple[str, str], str] = {
    (S.FOUND, E.FIND): S.WAITING,
    (S.WAITING, E.CONFIRM): S.CONFIRMED,
    (S.WAITING, E.REJECT): S.REJECTED,
    (S.WAITING, E.SAME): S.SAME,
    (S.REJECTED, E.CONFIRM): S.CONFIRMED,
    **{(state, E.REJECT): S.REJECTED for state in _DECIDED},
    **{(state, E.UNDO): S.WAITING for state in (*_DECIDED, S.REJECTED)},
    **{(state, E.NAME): S.IN_NOTICE for state in (*_DECIDED, S.IN_NOTICE, S.BACK_ONLINE)},
    **{(state, E.GONE): S.REMOVED for state in (S.IN_NOTICE, S.BACK_ONLINE)},
    (S.REMOVED, E.BACK): S.BACK_ONLINE,
}
DECISIONS = (E.CONFIRM, E.REJECT, E.SAME, E.UNDO)  # the events ``move`` writes; the others are derived
# What is stored for each state a decision leads to.
STORED = {S.WAITING: Hit.Status.NEW, S.CONFIRMED: Hit.Status.CONFIRMED, S.SAME: Hit.Status.CONFIRMED}
STORED |= {S.REJECTED: Hit.Status.REJECTED}


def state(hit: Hit) -> str:
    """Where the hit is in its life now (a few small queries)."""
    if hit.pk is None:
        return S.FOUND
    if hit.status == Hit.Status.NEW:
        return S.WAITING
    if hit.status == Hit.Status.REJECTED:
        return S.REJECTED
    notices = hit.notices.all()
    rechecks = notices.model._meta.get_field("rechecks").related_model  # patrol's, a layer above
    checked = list(rechecks.objects.filter(notice__hits=hit, url_key=hit.source_key).values_list("state", "gone_at"))
    if any(now in rechecks.GONE for now, _at in checked):
        return S.REMOVED
    if any(at is not None for _now, at in checked):
        return S.BACK_ONLINE
    if notices.filter(status__in=notices.model.LIVE).exists():
        return S.IN_NOTICE
    last = hit.decisions.filter(undone=False).exclude(kind="undo").values_list("kind", flat=True).first()
    return S.SAME if last == E.SAME else S.CONFIRMED


def refusal(hit: Hit, now: str, event: str) -> str:
    """The one line that says why ``event`` cannot happen to the hit in state ``now``."""
    if now == S.FOUND:
        return _("This hit is not recorded yet: it can only be recorded as found.")
    if now == S.IN_NOTICE and event in (E.UNDO, E.REJECT):
        return _("Hit #%(id)d is named in a notice: cancel the notice first.") % {"id": hit.pk}
    if now == S.WAITING and event == E.NAME:
        return _("Hit #%(id)d waits for review: confirm it before naming it in a notice.") % {"id": hit.pk}
    values = {"id": hit.pk, "state": State(now).label, "event": Event(event).label}
    return _("Hit #%(id)d is %(state)s: it cannot be %(event)s.") % values


def check(hit: Hit, event: str) -> str:
    """The state ``event`` leads the hit to, or UserError when the move is not legal."""
    now = state(hit)
    after = TRANSITIONS.get((now, event))
    if after is None:
        raise UserError(refusal(hit, now, event))
    return after


def check_all(hits, event: str) -> None:
    """UserError naming the first of ``hits`` that ``event`` cannot happen to."""
    for hit in hits:
        check(hit, event)


def move(actor, hit: Hit, event: str) -> str:
    """Apply a decision (confirm, reject, same, undo): the only place ``Hit.status`` is written after the hit
    was found. Call inside the caller's transaction (with the row locked where two people may race)."""
    if event not in DECISIONS:
        raise ValueError(f"{event!r} is read from what happened to the hit, never written")
    after = check(hit, event)
    hit.status = STORED[after]
    waiting = after == S.WAITING
    hit.decided_by = None if waiting else _user(actor)
    hit.decided_at = None if waiting else timezone.now()
    hit.save(update_fields=["status", "decided_by", "decided_at"])
    return after


def _user(actor):
    from ..accounts.models import User

    return actor if isinstance(actor, User) else None
