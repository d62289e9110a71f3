"""Legal clocks: when a period starts, how long it runs, and when it ends, as an exact instant.

A clock runs either in elapsed hours (TAKE IT DOWN's 48 h: a DST change does not lengthen it) or in days
counted in a named time zone and calendar. Day clocks follow the Japanese Civil Code's way of counting
(民法 140条: the first day is not counted; 141条: the period ends at the end of its last day; 142条: a last
day that falls on a Sunday, a national holiday or another customary day off moves to the next day), which
is also the conservative reading elsewhere: the desk never says a recipient missed a clock that it may
still have had. Business-day clocks skip weekends and the calendar's holidays.

Holidays come from the ``holidays`` package (data installed with it; nothing is fetched at run time).
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays

# What starts a clock. The desk knows the moment it handed the request over (SMTP accepted it, or staff
# submitted the web form); a regime whose clock starts later waits for staff to record that moment.
RECEIVED = "received"  # the recipient received a valid request
CONFIRMED = "confirmed"  # the recipient confirmed receipt (DSA 16(4))
AUTHORITY = "authority"  # an authority acted (eSafety gave a removal notice)
STARTS = {
    RECEIVED: "receipt of a valid request",
    CONFIRMED: "the recipient's confirmation of receipt",
    AUTHORITY: "the authority's own notice to the recipient",
}

# Days off beyond the national holidays, per calendar. Japan: 年末年始 29 Dec – 3 Jan, the days off of
# public bodies (行政機関の休日に関する法律 1条1項3号) and customary for businesses (民法 142条).
EXTRA_DAYS_OFF = {"JP": ((12, 29), (12, 30), (12, 31), (1, 1), (1, 2), (1, 3))}


@cache
def _holidays(calendar: str, year: int):
    return holidays.country_holidays(calendar, years=year)


def is_day_off(day: date, calendar: str) -> bool:
    """A Saturday, a Sunday, a public holiday of ``calendar`` (ISO country code) or a customary day off."""
    if day.weekday() >= 5 or (day.month, day.day) in EXTRA_DAYS_OFF.get(calendar, ()):
        return True
    return bool(calendar) and day in _holidays(calendar, day.year)


@dataclass(frozen=True)
class Clock:
    """A period the law (or, when ``statutory`` is False, the desk's practice) gives a recipient.

    Exactly one of ``hours`` (elapsed) and ``days`` is set. ``business`` counts only working days of
    ``calendar``; otherwise calendar days, with a last day off moved to the next working day.
    ``case_types``/``roles`` narrow the clock (empty: any). ``source`` cites statute and article.
    """

    starts: str
    source: str
    hours: int | None = None
    days: int | None = None
    business: bool = False
    zone: str = "UTC"
    calendar: str = ""
    case_types: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()
    statutory: bool = True
    verified: bool = True
    note: str = ""

    def __post_init__(self):
        if (self.hours is None) == (self.days is None):
            raise ValueError(f"a clock runs in hours or in days, not both or neither ({self.source})")
        if self.starts not in STARTS:
            raise ValueError(f"unknown clock start {self.starts!r}")

    def fits(self, case_type: str, role: str) -> bool:
        return (not self.case_types or case_type in self.case_types) and (not self.roles or role in self.roles)

    @property
    def nominal_hours(self) -> int:
        """Its length as hours, for the ladder's rough schedule; the exact end is ``ends_at``."""
        return self.hours if self.hours is not None else self.days * 24

    @property
    def length(self) -> str:
        if self.hours is not None:
            return f"{self.hours} h"
        return f"{self.days} {'business ' if self.business else ''}day{'s' if self.days != 1 else ''}"

    def ends_at(self, start: datetime) -> datetime:
        """The instant (aware, UTC) the period runs out, for a start given as an aware datetime."""
        if start.tzinfo is None:
            raise ValueError("a clock starts at an aware datetime")
        if self.hours is not None:
            return (start + timedelta(hours=self.hours)).astimezone(ZoneInfo("UTC"))
        zone = ZoneInfo(self.zone)
        last = self._last_day(start.astimezone(zone).date())
        # The period runs to the end of its last day: midnight at the start of the next, in that zone.
        return datetime.combine(last + timedelta(days=1), time(0), zone).astimezone(ZoneInfo("UTC"))

    def _last_day(self, first: date) -> date:
        day, left = first, self.days  # the day it starts is not counted (民法 140条)
        while left:
            day += timedelta(days=1)
            if not self.business or not is_day_off(day, self.calendar):
                left -= 1
        while self.calendar and is_day_off(day, self.calendar):  # 民法 142条
            day += timedelta(days=1)
        return day


@dataclass(frozen=True)
class Standing:
    """Where a running clock stands at ``now``: time left, or how long ago it was missed."""

    missed: bool
    amount: int
    unit: str  # "h" under two days, else "d" (whole days, rounded down)

    @classmethod
    def at(cls, due: datetime, now: datetime) -> "Standing":
        seconds = (due - now).total_seconds()
        hours = int(abs(seconds) // 3600)
        if hours < 48:
            return cls(seconds < 0, hours, "h")
        return cls(seconds < 0, hours // 24, "d")
