"""How much of her material each person has looked at today, and the gentle limit.

The limit does not lock anyone out: past it, a reveal asks once more and suggests a pause or a colleague.
Every reveal of sensitive media (a hit, a reference) counts; blurred previews do not.
"""

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ..audit.services import log_action
from ..lib.errors import UserError
from .models import Exposure, ExposureLimit


@dataclass(frozen=True)
class Today:
    count: int
    limit: int

    @property
    def reached(self) -> bool:
        return self.count >= self.limit


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) and getattr(actor, "pk", None) else None


def count(actor, n: int = 1) -> None:
    """Add ``n`` reveals to the person's counter for today (system actors are not counted)."""
    user = _user(actor)
    if user is None:
        return
    day = timezone.localdate()
    with transaction.atomic():
        row, _created = Exposure.objects.get_or_create(user=user, day=day)
        Exposure.objects.filter(pk=row.pk).update(count=F("count") + n)


def limit_for(user) -> int:
    row = ExposureLimit.objects.filter(user=user).first()
    return row.daily if row else settings.KESU_EXPOSURE_DAILY_LIMIT


def today(actor) -> Today:
    user = _user(actor)
    if user is None:
        return Today(0, settings.KESU_EXPOSURE_DAILY_LIMIT)
    row = Exposure.objects.filter(user=user, day=timezone.localdate()).first()
    return Today(row.count if row else 0, limit_for(user))


def set_limit(actor, user, daily: int | None) -> None:
    """A supervisor sets (or with None clears) a person's daily limit."""
    if not getattr(actor, "sees_all_cases", False):
        raise UserError("only supervisors and admins set exposure limits")
    if daily is not None and not 1 <= daily <= 10_000:
        raise UserError(f"the daily limit must be between 1 and 10000, not {daily}")
    with transaction.atomic():
        if daily is None:
            ExposureLimit.objects.filter(user=user).delete()
        else:
            ExposureLimit.objects.update_or_create(user=user, defaults={"daily": daily, "set_by": str(actor)})
        log_action(actor, "exposure.limit", user, daily=daily)


def overview(actor, days: int = 7) -> list[dict]:
    """Per person: today's count, the last ``days`` days' total and the limit. Supervisors and admins see the
    team; anyone else only her own row (how much a colleague has looked at is not hers to know)."""
    from ..accounts.models import User

    users = User.objects.filter(is_active=True).order_by("username")
    if not getattr(actor, "sees_all_cases", False):
        user = _user(actor)
        users = users.filter(pk=user.pk if user else None)
    users = list(users)
    since = timezone.localdate() - timezone.timedelta(days=days - 1)
    rows = Exposure.objects.filter(day__gte=since, user__in=users).values_list("user_id", "day", "count")
    today_, totals, todays = timezone.localdate(), {}, {}
    for user_id, day, n in rows:
        totals[user_id] = totals.get(user_id, 0) + n
        if day == today_:
            todays[user_id] = n
    limits = dict(ExposureLimit.objects.filter(user__in=users).values_list("user_id", "daily"))
    return [
        {
            "user": user,
            "today": todays.get(user.pk, 0),
            "week": totals.get(user.pk, 0),
            "limit": limits.get(user.pk, settings.KESU_EXPOSURE_DAILY_LIMIT),
            "own_limit": user.pk in limits,
        }
        for user in users
    ]
