"""The plan's update cadence as dates: on which local dates a scheduled update batch is due.

    monthly_batch     the contract's batch day each month (MonthlyBatch: '2nd tue', 'last fri', 'day 15')
    weekly            every week on the batch rule's weekday ('2nd tue' -> every Tuesday); a 'day N' rule has
                      no weekday, so the weekday of the contract start is used
    biweekly          every other such week, counted from the contract start: the first such weekday on or
                      after the start is a batch date, then every 14 days
    weekly_emergency  weekly, plus emergency security releases at once (not a date: see `allows_emergency`)

No batch date falls before the contract start. Dates are local dates in the contract's zone; the caller turns
"today" into a local date. Pure arithmetic, no Django.
"""

from __future__ import annotations

import datetime as dt

from sitekeeper.core.targets import MonthlyBatch

CADENCES = ("monthly_batch", "biweekly", "weekly", "weekly_emergency")
WEEK = dt.timedelta(days=7)


class CadenceError(ValueError):
    """A cadence name outside CADENCES."""


def _check(cadence: str) -> None:
    if cadence not in CADENCES:
        raise CadenceError(f"update cadence {cadence!r}: expected one of {', '.join(CADENCES)}")


def allows_emergency(cadence: str) -> bool:
    """Whether a security package is released immediately rather than in the next batch."""
    _check(cadence)
    return cadence == "weekly_emergency"


def weekday(batch: MonthlyBatch, start: dt.date) -> int:
    """The weekday (Monday 0) of the weekly and bi-weekly batches."""
    return start.weekday() if batch.nth == 0 else batch.weekday


def period(cadence: str) -> dt.timedelta | None:
    """Days between batches for the weekly cadences; None for the monthly batch."""
    _check(cadence)
    return None if cadence == "monthly_batch" else (2 * WEEK if cadence == "biweekly" else WEEK)


def _first_weekly(batch: MonthlyBatch, start: dt.date) -> dt.date:
    return start + dt.timedelta(days=(weekday(batch, start) - start.weekday()) % 7)


def _weekly_dates(step: dt.timedelta, anchor: dt.date, first: dt.date, last: dt.date) -> list[dt.date]:
    lo = max(first, anchor)
    # The first occurrence on or after lo: anchor + k*step with k = ceil((lo - anchor) / step).
    k = -(-(lo - anchor).days // step.days)
    day = anchor + k * step
    out = []
    while day <= last:
        out.append(day)
        day += step
    return out


def _monthly_dates(batch: MonthlyBatch, start: dt.date, first: dt.date, last: dt.date) -> list[dt.date]:
    lo = max(first, start)
    year, month = lo.year, lo.month
    out = []
    while (year, month) <= (last.year, last.month):
        day = batch.in_month(year, month)
        if lo <= day <= last:
            out.append(day)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def batch_dates(
    cadence: str, batch: MonthlyBatch, start: dt.date, first: dt.date, last: dt.date
) -> list[dt.date]:
    """Every batch date d with first <= d <= last (and d >= the contract start), ascending."""
    step = period(cadence)
    if last < first:
        return []
    if step is None:
        return _monthly_dates(batch, start, first, last)
    return _weekly_dates(step, _first_weekly(batch, start), first, last)


def next_batch(cadence: str, batch: MonthlyBatch, start: dt.date, after: dt.date) -> dt.date:
    """The first batch date strictly after local date `after`."""
    span = period(cadence) or dt.timedelta(days=62)
    lo = max(after + dt.timedelta(days=1), start)
    found = batch_dates(cadence, batch, start, lo, lo + span)
    return found[0]  # a monthly rule has a date in each of the next two months; a weekly one within a step


def latest_batch(cadence: str, batch: MonthlyBatch, start: dt.date, on: dt.date) -> dt.date | None:
    """The last batch date on or before local date `on`; None before the first batch of the contract."""
    step = period(cadence)
    found = batch_dates(cadence, batch, start, on - (step or dt.timedelta(days=62)), on)
    return found[-1] if found else None
