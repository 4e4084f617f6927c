"""The SLA target grammar and each target's counted length.

    Nm, Nh      wall-clock minutes / hours, 24/7
    Nbh         N business hours
    Nbd         N business days = N × the calendar's business-day length, counted in business time
    same_bd     close of business on the day of receipt (at/after close or on a non-business day: close of
                the next business day; before opening on a business day: close of that day)
    next_bd     close of business of the first business day after the local date of receipt
    next_cycle  close of business on the day of the next monthly update batch after the local date of receipt
                (a batch day that is not a business day rolls to the next business day first)

Every target reduces to (measure, counted length): the due instant is where counted time since receipt,
pauses excluded, reaches that length. For deadline targets the length is the business time from receipt to
the unpaused deadline, so a pause pushes a deadline by exactly the business time it paused.
"""

from __future__ import annotations

import calendar as stdcal
import datetime as dt
import functools
import re
from dataclasses import dataclass
from typing import Protocol

from sitekeeper.core.calendar import WALL, WEEKDAYS, BusinessCalendar, CalendarError

_AMOUNT = re.compile(r"^([1-9]\d{0,5})(m|h|bh|bd)$")
DEADLINES = ("same_bd", "next_bd", "next_cycle")


class TargetError(ValueError):
    """A target string outside the grammar."""


class Measure(Protocol):
    def measure(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta: ...
    def add(self, start: dt.datetime, amount: dt.timedelta) -> dt.datetime: ...


@dataclass(frozen=True)
class Target:
    kind: str  # m, h, bh, bd, same_bd, next_bd, next_cycle
    amount: int = 0
    text: str = ""

    @property
    def is_wall_clock(self) -> bool:
        return self.kind in {"m", "h"}

    def describe(self) -> str:
        n = self.amount
        plural = "" if n == 1 else "s"
        return {
            "m": f"{n} minute{plural} (24/7)",
            "h": f"{n} hour{plural} (24/7)",
            "bh": f"{n} business hour{plural}",
            "bd": f"{n} business day{plural}",
            "same_bd": "same business day",
            "next_bd": "next business day",
            "next_cycle": "next monthly cycle",
        }[self.kind]


@functools.lru_cache(maxsize=256)  # a handful of distinct texts, parsed for every clock of every request
def parse_target(text: str) -> Target:
    raw = str(text).strip()
    if raw in DEADLINES:
        return Target(kind=raw, text=raw)
    match = _AMOUNT.match(raw)
    if not match:
        raise TargetError(
            f"SLA target {text!r}: expected Nm, Nh, Nbh, Nbd (N ≥ 1), same_bd, next_bd or next_cycle"
        )
    return Target(kind=match.group(2), amount=int(match.group(1)), text=raw)


@dataclass(frozen=True)
class MonthlyBatch:
    """The day of the monthly update batch: 'Nth weekday' (1st..4th, last) or 'day N' of the month.

    When that day is not a business day, the batch's close of business is the next business day's.
    """

    nth: int  # 1..4, or -1 for last; 0 when `day` is used
    weekday: int = 0
    day: int = 0

    @classmethod
    def parse(cls, text: str) -> MonthlyBatch:
        words = str(text).strip().lower().split()
        ordinals = {"1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "last": -1}
        if len(words) == 2 and words[0] == "day" and words[1].isdigit() and 1 <= int(words[1]) <= 28:
            return cls(nth=0, day=int(words[1]))
        if len(words) == 2 and words[0] in ordinals and words[1][:3] in WEEKDAYS:
            return cls(nth=ordinals[words[0]], weekday=WEEKDAYS.index(words[1][:3]))
        raise TargetError(f"update batch {text!r}: expected e.g. '2nd tue', 'last fri' or 'day 15' (1..28)")

    def in_month(self, year: int, month: int) -> dt.date:
        if self.nth == 0:
            return dt.date(year, month, self.day)
        first_weekday, length = stdcal.monthrange(year, month)
        first = 1 + (self.weekday - first_weekday) % 7  # day of the month of the first such weekday
        if self.nth == -1:
            return dt.date(year, month, first + 7 * ((length - first) // 7))
        return dt.date(year, month, first + 7 * (self.nth - 1))  # 4th at most: day 28 at most

    def next_after(self, day: dt.date) -> dt.date:
        year, month = day.year, day.month
        for _ in range(3):
            candidate = self.in_month(year, month)
            if candidate > day:
                return candidate
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        raise AssertionError("unreachable: a monthly batch day exists every month")


DEFAULT_BATCH = MonthlyBatch.parse("2nd tue")


def next_batch_day(cal: BusinessCalendar, batch: MonthlyBatch, day: dt.date) -> dt.date:
    """The business day on which the first monthly batch after local date `day` closes.

    A batch whose day is not a business day closes on the next business day, so it is that business day,
    not the nominal day, that must fall after the date of receipt: with the batch on 'day 15', a Saturday,
    a request received on Sunday the 16th makes the batch closing on Monday the 17th. The previous month's
    batch is looked at too, since a closure can push it into this month.
    """
    year, month = (day.year - 1, 12) if day.month == 1 else (day.year, day.month - 1)
    while True:  # next month's batch day is after `day`, so this ends by the third month
        closing = cal.next_business_day(batch.in_month(year, month), include_self=True)
        if closing > day:
            return closing
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def deadline(
    target: Target, cal: BusinessCalendar, received: dt.datetime, batch: MonthlyBatch
) -> dt.datetime:
    """The unpaused deadline instant of a deadline target."""
    day = cal.local_date(received)
    if target.kind == "same_bd":
        close = cal.close_of_business(day)
        if close is not None and received < close:
            return close
        target_day = cal.next_business_day(day)
    elif target.kind == "next_bd":
        target_day = cal.next_business_day(day)
    elif target.kind == "next_cycle":
        target_day = next_batch_day(cal, batch, day)
    else:
        raise TargetError(f"{target.text!r} is not a deadline target")
    close = cal.close_of_business(target_day)
    if close is None:  # next_business_day only returns days with hours
        raise CalendarError(f"{target_day} has no business hours")
    return close


def counted_length(
    target: Target, cal: BusinessCalendar, received: dt.datetime, batch: MonthlyBatch = DEFAULT_BATCH
) -> tuple[Measure, dt.timedelta]:
    """Which clock counts this target, and how much of it must pass."""
    if target.kind == "m":
        return WALL, dt.timedelta(minutes=target.amount)
    if target.kind == "h":
        return WALL, dt.timedelta(hours=target.amount)
    if target.kind == "bh":
        return cal, dt.timedelta(hours=target.amount)
    if target.kind == "bd":
        return cal, cal.business_day_length() * target.amount
    return cal, cal.measure(received, deadline(target, cal, received, batch))
