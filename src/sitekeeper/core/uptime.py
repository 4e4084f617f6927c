"""Monthly uptime: 100 × (1 − counted downtime / length of the calendar month in the contract's zone)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from fractions import Fraction
from zoneinfo import ZoneInfo

from sitekeeper.core.calendar import UTC, as_utc

Span = tuple[dt.datetime, dt.datetime]


def month_bounds(year: int, month: int, tz: ZoneInfo) -> Span:
    """The calendar month as UTC instants (a DST month is an hour shorter or longer)."""
    start = dt.datetime(year, month, 1, tzinfo=tz)
    end = dt.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def merge(spans: Iterable[Span]) -> list[Span]:
    ordered = sorted((as_utc(a), as_utc(b)) for a, b in spans if b > a)
    merged: list[Span] = []
    for start, end in ordered:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def subtract(spans: Iterable[Span], holes: Iterable[Span]) -> list[Span]:
    """The parts of `spans` not covered by any hole."""
    result = []
    hole_list = merge(holes)
    for start, end in merge(spans):
        cursor = start
        for hole_start, hole_end in hole_list:
            if hole_end <= cursor or hole_start >= end:
                continue
            if hole_start > cursor:
                result.append((cursor, hole_start))
            cursor = max(cursor, hole_end)
        if cursor < end:
            result.append((cursor, end))
    return result


def clip(spans: Iterable[Span], window: Span) -> list[Span]:
    lo, hi = window
    return [(max(a, lo), min(b, hi)) for a, b in merge(spans) if min(b, hi) > max(a, lo)]


def total(spans: Iterable[Span]) -> dt.timedelta:
    return sum((b - a for a, b in merge(spans)), dt.timedelta())


def monthly_uptime(
    year: int, month: int, tz: ZoneInfo, outages: Iterable[Span], exclusions: Iterable[Span] = ()
) -> Fraction:
    """Exact uptime percent for the month: outages minus excluded time, over the month's real length."""
    window = month_bounds(year, month, tz)
    counted = subtract(clip(outages, window), clip(exclusions, window))
    length = window[1] - window[0]
    return 100 * (
        1 - Fraction(total(counted) // dt.timedelta(microseconds=1), length // dt.timedelta(microseconds=1))
    )
