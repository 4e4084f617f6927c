"""The hours a client buys, per calendar month: billing units, included hours, the four buckets, month close.

Pure arithmetic in whole minutes (no Django; issue 16 builds the ledger and its pages on it). Readings
(DESIGN.md "Hours", agreement 1.3/1.4):
- an entry is recorded in the contract's minimum billing unit (default 15 min), rounded up per entry;
- included content hours are per calendar month; a contract that starts (or ends) inside a month gets that
  month's hours prorated by calendar days covered, rounded down to the whole minute (the client is never
  promised a fraction of a minute), when the contract prorates — otherwise the full month's hours;
- every entry counts in exactly one bucket: included, extra (approved, billed at the rate), out of scope
  (billed per its own quote) or not billable (the agency's own work);
- at month end the unused included minutes are forfeited, never rolled over — unless the contract buys an
  hour package whose carry-over cap says how many may pass to the next month.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

DEFAULT_UNIT_MINUTES = 15


class HoursError(ValueError):
    """A figure the hours arithmetic cannot use (named in the message)."""


class Bucket(enum.StrEnum):
    INCLUDED = "included"
    EXTRA = "extra"
    OUT_OF_SCOPE = "out_of_scope"
    NOT_BILLABLE = "not_billable"


def billable_minutes(minutes: int, unit: int = DEFAULT_UNIT_MINUTES) -> int:
    """An entry's minutes rounded up to the billing unit: 1 → 15, 15 → 15, 16 → 30 (unit 15)."""
    if unit < 1:
        raise HoursError(f"billing unit {unit!r}: must be at least one minute")
    if minutes < 1:
        raise HoursError(f"time entry of {minutes!r} minutes: must be at least one minute")
    return -(-minutes // unit) * unit


def included_minutes(hours: int, days_in_month: int, days_covered: int, *, prorate: bool = True) -> int:
    """The month's included minutes: the plan's hours, prorated by the calendar days the contract covers in
    that month (rounded down to the whole minute) when `prorate`, else the whole month's."""
    if hours < 0:
        raise HoursError(f"included hours {hours!r}: must not be negative")
    if not 28 <= days_in_month <= 31:
        raise HoursError(f"days in month {days_in_month!r}: a calendar month has 28 to 31 days")
    if not 0 <= days_covered <= days_in_month:
        raise HoursError(f"days covered {days_covered!r}: must be between 0 and {days_in_month}")
    full = hours * 60
    if not prorate or days_covered == days_in_month:
        return full if days_covered else 0
    return full * days_covered // days_in_month


@dataclass(frozen=True)
class Month:
    """One contract month's hours, in minutes. `carried_in`: minutes a package carried over from the month
    before (usable like included ones). `left` never goes below zero: included work beyond what is left is
    not allowed (it waits for the client's approval as extra), see `would_exceed`."""

    included: int
    carried_in: int = 0
    used: int = 0  # the included bucket
    extra: int = 0
    out_of_scope: int = 0
    not_billable: int = 0

    @property
    def available(self) -> int:
        return self.included + self.carried_in

    @property
    def left(self) -> int:
        return max(0, self.available - self.used)


def month(included: int, entries: Iterable[tuple[Bucket, int]], carried_in: int = 0) -> Month:
    """Sum a month's billable entries (bucket, minutes already in billing units) into its buckets."""
    totals = dict.fromkeys(Bucket, 0)
    for bucket, minutes in entries:
        if minutes < 0:
            raise HoursError(f"{bucket.value} entry of {minutes!r} minutes: must not be negative")
        totals[Bucket(bucket)] += minutes
    return Month(
        included=included,
        carried_in=carried_in,
        used=totals[Bucket.INCLUDED],
        extra=totals[Bucket.EXTRA],
        out_of_scope=totals[Bucket.OUT_OF_SCOPE],
        not_billable=totals[Bucket.NOT_BILLABLE],
    )


def would_exceed(current: Month, minutes: int) -> int:
    """How many of `minutes` of included work (an estimate or an entry) lie beyond what is left this month:
    0 when it fits; otherwise the figure the client must approve as extra before the work goes on (1.4)."""
    if minutes < 0:
        raise HoursError(f"{minutes!r} minutes: must not be negative")
    return max(0, minutes - current.left)


@dataclass(frozen=True)
class Close:
    carried: int  # to the next month (an hour package's carry-over, at most its cap)
    forfeited: int  # lapses at month end (1.4: never rolled over without a package)


def close(current: Month, carry_cap: int = 0) -> Close:
    """The month-end close: what is left passes on up to the package's cap (0 without a package); the rest
    is forfeited. carried + forfeited == left, always."""
    if carry_cap < 0:
        raise HoursError(f"carry-over cap {carry_cap!r}: must not be negative")
    carried = min(current.left, carry_cap)
    return Close(carried=carried, forfeited=current.left - carried)
