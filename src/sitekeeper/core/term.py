"""A contract's term in dates: minimum term, notice, the day a cancellation takes effect, the transition.

Readings (DESIGN.md "Term", agreement 7):
- Minimum term: `months` from the start date, counted in: it ends the day before the same day-of-month that
  many months later; where that day does not exist, on the last day of the shorter month (31 January + 1
  month ends 28/29 February). A 3-month term from 1 January ends at the end of 31 March.
- Client cancellation: notice at any time; the notice period ends `notice_days` (30) calendar days after the
  notice day. The cancellation is effective at the end of the calendar month in which the notice period ends
  (`cycle_of_notice_end`) — or of the month after it (`cycle_after_notice_end`) — never before the end of
  the month in which the minimum term ends, and for an annual contract not before the end of its annual term.
- Transition: `transition_days` (30) calendar days from the effective date.
Every service runs up to and including the effective date.
"""

from __future__ import annotations

import calendar as stdcal
import datetime as dt
from dataclasses import dataclass

READINGS = ("cycle_of_notice_end", "cycle_after_notice_end")
NOTICE_DAYS = 30
# Every contract date lies in this range: the arithmetic adds up to ten years of minimum term, notice and
# transition to a start, and a start in year 9999 overflows Python's dates. The contract file (schema.py)
# and the admin's contract form both refuse dates outside it.
EARLIEST_DATE = dt.date(2000, 1, 1)
LATEST_DATE = dt.date(2100, 12, 31)
TRANSITION_DAYS = 30


class TermError(ValueError):
    """A term figure the arithmetic cannot use."""


def add_months(day: dt.date, months: int) -> dt.date:
    """Same day `months` later, clamped to that month's last day (31 Jan + 1 month → 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, stdcal.monthrange(year, month)[1]))


def month_end(day: dt.date) -> dt.date:
    return day.replace(day=stdcal.monthrange(day.year, day.month)[1])


def term_end(start: dt.date, months: int) -> dt.date:
    """Last day (counted in) of a term of `months` months from `start`; `months` = 0 ends the day before."""
    if months < 0:
        raise TermError(f"a term of {months} months: must not be negative")
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    last = stdcal.monthrange(year, month)[1]
    if start.day > last:
        return dt.date(year, month, last)
    return dt.date(year, month, start.day) - dt.timedelta(days=1)


def minimum_term_end(start: dt.date, months: int) -> dt.date:
    return term_end(start, months)


def annual_term_end(start: dt.date, on: dt.date) -> dt.date:
    """End of the annual term (12 months from `start`, renewing) that contains `on`."""
    years = max(1, on.year - start.year)
    while years > 1 and term_end(start, 12 * (years - 1)) >= on:
        years -= 1
    while term_end(start, 12 * years) < on:
        years += 1
    return term_end(start, 12 * years)


def notice_period_end(notice: dt.date, notice_days: int = NOTICE_DAYS) -> dt.date:
    if notice_days < 0:
        raise TermError(f"notice period of {notice_days} days: must not be negative")
    return notice + dt.timedelta(days=notice_days)


@dataclass(frozen=True)
class Cancellation:
    minimum_term_end: dt.date
    notice_period_end: dt.date
    effective_date: dt.date  # last day of service
    transition_end: dt.date

    def as_json(self) -> dict[str, str]:
        return {
            "minimum_term_end": self.minimum_term_end.isoformat(),
            "notice_period_end": self.notice_period_end.isoformat(),
            "effective_date": self.effective_date.isoformat(),
            "transition_end": self.transition_end.isoformat(),
        }


def cancellation(
    start: dt.date,
    minimum_months: int,
    notice: dt.date,
    *,
    notice_days: int = NOTICE_DAYS,
    reading: str = "cycle_of_notice_end",
    annual: bool = False,
    transition_days: int = TRANSITION_DAYS,
) -> Cancellation:
    """The dates a client's notice given on `notice` leads to (nothing is changed by computing them)."""
    if reading not in READINGS:
        raise TermError(f"cancellation reading {reading!r}: expected one of {', '.join(READINGS)}")
    minimum = minimum_term_end(start, minimum_months)
    period_end = notice_period_end(notice, notice_days)
    effective = month_end(period_end)
    if reading == "cycle_after_notice_end":
        effective = month_end(effective + dt.timedelta(days=1))
    effective = max(effective, month_end(minimum))
    if annual:
        effective = max(effective, annual_term_end(start, effective))
    return Cancellation(
        minimum_term_end=minimum,
        notice_period_end=period_end,
        effective_date=effective,
        transition_end=effective + dt.timedelta(days=transition_days),
    )
