"""Due instants of SLA clocks, with pauses.

Due instant = the earliest instant at which the counted time since receipt, excluding paused intervals,
reaches the target's counted length. A pause therefore never brings a due instant earlier, and pushes it by
exactly the counted time it covers. While a pause is still open the clock is stopped: there is no due instant.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from sitekeeper.core.calendar import WALL, BusinessCalendar, as_utc
from sitekeeper.core.targets import DEFAULT_BATCH, Measure, MonthlyBatch, Target, counted_length, parse_target


@dataclass(frozen=True)
class Pause:
    start: dt.datetime
    end: dt.datetime | None = None  # None: still paused
    reason: str = ""


def merge_pauses(
    pauses: Iterable[Pause], received: dt.datetime
) -> list[tuple[dt.datetime, dt.datetime | None]]:
    """Pauses clipped to after receipt, sorted and merged; an open pause swallows everything after it."""
    spans = []
    for pause in pauses:
        start = max(as_utc(pause.start), received)
        end = None if pause.end is None else as_utc(pause.end)
        if end is not None and end <= start:
            continue
        spans.append((start, end))
    spans.sort(key=lambda span: span[0])
    merged: list[tuple[dt.datetime, dt.datetime | None]] = []
    for start, end in spans:
        if merged:
            last_start, last_end = merged[-1]
            if last_end is None:
                break
            if start <= last_end:
                merged[-1] = (last_start, None if end is None else max(last_end, end))
                continue
        merged.append((start, end))
    return merged


def due_after(
    measure: Measure, length: dt.timedelta, received: dt.datetime, pauses: Sequence[Pause] = ()
) -> dt.datetime | None:
    received = as_utc(received)
    cursor, remaining = received, length
    for start, end in merge_pauses(pauses, received):
        if start > cursor:
            available = measure.measure(cursor, start)
            if available >= remaining:
                return measure.add(cursor, remaining)
            remaining -= available
        if end is None:
            return None
        cursor = max(cursor, end)
    return measure.add(cursor, remaining)


def due_instant(
    target: Target | str,
    cal: BusinessCalendar,
    received: dt.datetime,
    pauses: Sequence[Pause] = (),
    *,
    batch: MonthlyBatch = DEFAULT_BATCH,
    fraction: Fraction = Fraction(1),
) -> dt.datetime | None:
    """When the clock for `target` falls due (or reaches `fraction` of its length, e.g. 3/4 for warnings)."""
    parsed = parse_target(target) if isinstance(target, str) else target
    measure, length = counted_length(parsed, cal, received, batch)
    if fraction != 1:
        micro = length // dt.timedelta(microseconds=1)
        length = dt.timedelta(microseconds=int(micro * fraction))
    return due_after(measure, length, received, pauses)


def counted_so_far(
    target: Target | str,
    cal: BusinessCalendar,
    received: dt.datetime,
    now: dt.datetime,
    pauses: Sequence[Pause] = (),
) -> dt.timedelta:
    """Counted time from receipt to `now`, pauses excluded, in the target's measure."""
    parsed = parse_target(target) if isinstance(target, str) else target
    measure: Measure = WALL if parsed.is_wall_clock else cal
    received, now = as_utc(received), as_utc(now)
    total = measure.measure(received, now)
    for start, end in merge_pauses(pauses, received):
        if start >= now:
            break
        total -= measure.measure(start, min(end or now, now))
    return total


@dataclass(frozen=True)
class Clocks:
    response_due: dt.datetime | None
    resolution_due: dt.datetime | None
    recovery_due: dt.datetime | None


def plan_clocks(
    targets: dict[str, str | None],
    cal: BusinessCalendar,
    received: dt.datetime,
    pauses: Sequence[Pause] = (),
    batch: MonthlyBatch = DEFAULT_BATCH,
) -> Clocks:
    """The three clocks of one request; a clock whose plan sets no target has no due instant."""

    def one(key: str) -> dt.datetime | None:
        text = targets.get(key)
        return None if not text else due_instant(text, cal, received, pauses, batch=batch)

    return Clocks(one("response"), one("resolution"), one("recovery"))
