"""Business calendars: weekly hours in a time zone, public holidays, closures; counting and adding time.

All instants are aware datetimes and come back in UTC. Each local date's opening intervals are converted to
UTC once and cached, so counting across DST switches is exact: a 09:00–18:00 day is nine real hours whether
the clocks changed that night or not.

Counting is done on integer microseconds against a running total of business time per local date (built
lazily over the dates asked about), so measuring or adding a month costs the same as an hour.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import re
import threading
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = dt.UTC
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_INTERVAL = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
_SEARCH_DAYS = 3700  # a calendar with no business day in ten years is broken, not slow

Interval = tuple[dt.datetime, dt.datetime]
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
_ZERO = dt.timedelta()
_GROW_DAYS = 64  # the running total grows forward by this many dates when adding runs past its end


class CalendarError(ValueError):
    """A calendar specification or an instant the calendar cannot work with."""


def as_utc(instant: dt.datetime) -> dt.datetime:
    if instant.tzinfo is UTC:  # the common case: everything this package returns
        return instant
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise CalendarError(f"instant {instant.isoformat()} has no time zone offset")
    return instant.astimezone(UTC)


def parse_interval(text: str) -> tuple[dt.time, dt.time | None]:
    """'09:00-18:00' → (09:00, 18:00); an end of '24:00' is returned as None (midnight after)."""
    match = _INTERVAL.match(text.strip())
    if not match:
        raise CalendarError(f"business hours {text!r}: expected HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
        raise CalendarError(f"business hours {text!r}: not a time of day")
    start = dt.time(h1, m1)
    end = None if h2 == 24 else dt.time(h2, m2)
    if end is not None and end <= start:
        raise CalendarError(f"business hours {text!r}: the end must be after the start")
    return start, end


def _micros(instant: dt.datetime) -> int:
    """Microseconds since 1970 of a UTC instant (exact, unlike `timestamp()`)."""
    delta = instant - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class _RunningTotal:
    """Business microseconds before each local date, over a contiguous range of dates that only grows.

    `state` is (first, before): before[i] is the business time of the dates with ordinals first .. first+i-1
    (plus an arbitrary constant; only differences are used). Entries never change once written: the list
    grows at its end in place, and growth at the front swaps in a new (first, before) pair in one step, so a
    reader that took `state` once always sees a consistent pair. Writers take the lock.
    """

    __slots__ = ("lock", "state")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.state: tuple[int, list[int]] = (0, [])


@dataclass(frozen=True, eq=False)
class BusinessCalendar:
    tz: ZoneInfo
    weekly: tuple[tuple[tuple[dt.time, dt.time | None], ...], ...]  # index 0 = Monday
    holidays: Container[dt.date] = frozenset()
    closures: frozenset[dt.date] = frozenset()
    business_day: dt.timedelta | None = None
    _days: dict[dt.date, tuple[Interval, ...]] = field(default_factory=dict, repr=False)
    _micro_days: dict[int, tuple[tuple[int, int], ...]] = field(default_factory=dict, repr=False)
    _running: _RunningTotal = field(default_factory=_RunningTotal, repr=False)

    @classmethod
    def from_spec(
        cls,
        timezone: str,
        hours: Mapping[str, Iterable[str]],
        holidays: Mapping[str, str | None] | None = None,
        closures: Iterable[dt.date | str] = (),
        business_day_minutes: int | None = None,
    ) -> BusinessCalendar:
        try:
            tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise CalendarError(f"time zone {timezone!r} is not an IANA zone name") from exc
        unknown = set(hours) - set(WEEKDAYS)
        if unknown:
            raise CalendarError(f"business hours: unknown weekday {sorted(unknown)[0]!r} (use mon..sun)")
        weekly = tuple(_day_intervals(day, hours.get(day, ())) for day in WEEKDAYS)
        if not any(weekly):
            raise CalendarError("business hours: no weekday has any hours")
        if business_day_minutes is not None and business_day_minutes < 0:
            raise CalendarError(f"business day length {business_day_minutes} min: must not be negative")
        return cls(
            tz=tz,
            weekly=weekly,
            holidays=_holidays(holidays),
            closures=frozenset(_as_date(d) for d in closures),
            business_day=dt.timedelta(minutes=business_day_minutes) if business_day_minutes else None,
        )

    # --- days -------------------------------------------------------------------------------------------
    def local_date(self, instant: dt.datetime) -> dt.date:
        return as_utc(instant).astimezone(self.tz).date()

    def is_business_day(self, day: dt.date) -> bool:
        return bool(self.intervals(day))

    def intervals(self, day: dt.date) -> tuple[Interval, ...]:
        """Opening intervals of a local date, as UTC instants (empty on weekends, holidays, closures)."""
        cached = self._days.get(day)
        if cached is None:
            cached = self._compute_intervals(day)
            self._days[day] = cached
        return cached

    def _compute_intervals(self, day: dt.date) -> tuple[Interval, ...]:
        if day in self.closures or day in self.holidays:
            return ()
        spans = []
        for start, end in self.weekly[day.weekday()]:
            begin = self._to_utc(dt.datetime.combine(day, start))
            if end is None:
                finish = self._to_utc(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0)))
            else:
                finish = self._to_utc(dt.datetime.combine(day, end))
            if finish > begin:  # an interval swallowed by a DST gap vanishes
                spans.append((begin, finish))
        return tuple(spans)

    def _to_utc(self, wall: dt.datetime) -> dt.datetime:
        """A local wall-clock time (naive) as a UTC instant.

        A repeated time (clocks going back) is its first occurrence. A time the clocks skip (clocks going
        forward) is the instant of the switch: an opening at 02:30 on a night that jumps from 02:00 to 03:00
        opens at 03:00. Reading a skipped time with the offset before the switch, as `fold=0` does, would
        open at 03:30 instead and could make one day's intervals overlap (02:00-02:45 became 03:00-03:45).
        """
        instant = wall.replace(tzinfo=self.tz).astimezone(UTC)
        if instant.astimezone(self.tz).replace(tzinfo=None) == wall:
            return instant
        # Skipped: the switch lies between the reading with the offset after it (`fold=1`, earlier) and
        # `instant` (later). Offsets change on whole seconds; find the first second with the later offset.
        after = instant.astimezone(self.tz).utcoffset()
        lo = int(wall.replace(tzinfo=self.tz, fold=1).astimezone(UTC).timestamp())
        hi = int(instant.timestamp())
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if dt.datetime.fromtimestamp(mid, self.tz).utcoffset() == after:
                hi = mid
            else:
                lo = mid
        return dt.datetime.fromtimestamp(hi, UTC)

    def close_of_business(self, day: dt.date) -> dt.datetime | None:
        spans = self.intervals(day)
        return spans[-1][1] if spans else None

    def next_business_day(self, day: dt.date, *, include_self: bool = False) -> dt.date:
        candidate = day if include_self else day + dt.timedelta(days=1)
        for _ in range(_SEARCH_DAYS):
            if self.intervals(candidate):
                return candidate
            candidate += dt.timedelta(days=1)
        raise CalendarError(f"no business day within {_SEARCH_DAYS} days after {day}")

    def business_day_length(self) -> dt.timedelta:
        """Length of one business day for `Nbd` targets: the configured one, else Monday's hours."""
        if self.business_day is not None:
            return self.business_day
        reference = dt.date(2001, 1, 1)  # a Monday; local wall lengths, unaffected by DST
        for offset, spans in enumerate(self.weekly):
            if spans:
                day = reference + dt.timedelta(days=offset)
                return sum(
                    (_wall_length(day, start, end) for start, end in spans),
                    dt.timedelta(),
                )
        raise CalendarError("business hours: no weekday has any hours")

    # --- counting ---------------------------------------------------------------------------------------
    def measure(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        """Business time between two instants (zero if end is not after start)."""
        start, end = as_utc(start), as_utc(end)
        if end <= start:
            return _ZERO
        ahead = self._position(_micros(end), end.astimezone(self.tz).toordinal())
        behind = self._position(_micros(start), start.astimezone(self.tz).toordinal())
        return dt.timedelta(microseconds=ahead - behind)

    def add(self, start: dt.datetime, amount: dt.timedelta) -> dt.datetime:
        """The earliest instant at which `amount` of business time has passed since `start`."""
        start = as_utc(start)
        if amount <= _ZERO:
            return start
        ordinal = start.astimezone(self.tz).toordinal()
        goal = self._position(_micros(start), ordinal) + amount // dt.timedelta(microseconds=1)
        first, before = self._running.state
        while before[-1] < goal:  # the running total must reach the goal within the search horizon
            end = first + len(before) - 1
            if end > ordinal + _SEARCH_DAYS * 2:
                raise CalendarError(
                    "business time could not be added: the calendar runs out of business days"
                )
            first, before = self._cover(end, end + _GROW_DAYS)
        # The first date whose running total (dates before it and itself) reaches the goal holds the instant.
        index = bisect.bisect_left(before, goal, ordinal - 1 - first)
        done = before[index - 1]
        for begin, finish in self._micro_spans(first + index - 1):
            if done + (finish - begin) >= goal:
                return _EPOCH + dt.timedelta(microseconds=begin + goal - done)
            done += finish - begin
        raise AssertionError("unreachable: the running total says this date reaches the goal")

    def _micro_spans(self, ordinal: int) -> tuple[tuple[int, int], ...]:
        spans = self._micro_days.get(ordinal)
        if spans is None:
            day = dt.date.fromordinal(ordinal)
            spans = tuple((_micros(begin), _micros(finish)) for begin, finish in self.intervals(day))
            self._micro_days[ordinal] = spans
        return spans

    def _day_total(self, ordinal: int) -> int:
        return sum(finish - begin for begin, finish in self._micro_spans(ordinal))

    def _cover(self, lo: int, hi: int) -> tuple[int, list[int]]:
        """The running total, grown so that it is known before every date lo..hi (as ordinals)."""
        first, before = self._running.state
        if before and first <= lo and hi < first + len(before):
            return first, before
        with self._running.lock:
            first, before = self._running.state
            if not before:
                first, before = lo, [0]
            elif lo < first:  # grow at the front by a year or more: it copies the list
                front = min(lo, first - 366)
                prefix = [0]
                for ordinal in range(front, first):
                    prefix.append(prefix[-1] + self._day_total(ordinal))
                shift = before[0] - prefix[-1]
                first, before = front, [value + shift for value in prefix[:-1]] + before
            self._running.state = (first, before)
            for ordinal in range(first + len(before) - 1, hi):
                before.append(before[-1] + self._day_total(ordinal))
        return first, before

    def _position(self, micros: int, ordinal: int) -> int:
        """Business time up to an instant (as microseconds, on the running total's scale).

        `ordinal` is the instant's local date. Opening intervals of a date lie within that date, give or
        take a DST shift, so only the dates either side of it can be cut by the instant.
        """
        first, before = self._cover(ordinal - 1, ordinal + 2)
        position = before[ordinal - 1 - first]
        for day in (ordinal - 1, ordinal, ordinal + 1):
            for begin, finish in self._micro_spans(day):
                if micros <= begin:
                    return position
                position += (finish if finish < micros else micros) - begin
        return position


class WallClock:
    """Counts every second (24/7): the measure for `Nm`/`Nh` targets."""

    def measure(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        return max(as_utc(end) - as_utc(start), dt.timedelta())

    def add(self, start: dt.datetime, amount: dt.timedelta) -> dt.datetime:
        return as_utc(start) + max(amount, dt.timedelta())


WALL = WallClock()


def _wall_length(day: dt.date, start: dt.time, end: dt.time | None) -> dt.timedelta:
    finish = (
        dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0))
        if end is None
        else dt.datetime.combine(day, end)
    )
    return finish - dt.datetime.combine(day, start)


def _day_intervals(day: str, texts: Iterable[str]) -> tuple[tuple[dt.time, dt.time | None], ...]:
    if isinstance(texts, str):
        raise CalendarError(f"business hours for {day}: expected a list of 'HH:MM-HH:MM', got a string")
    spans = sorted((parse_interval(text) for text in texts), key=lambda span: span[0])
    for (_, end), (start, _) in itertools.pairwise(spans):
        if end is None or end > start:
            raise CalendarError(f"business hours for {day}: intervals overlap")
    return tuple(spans)


def _as_date(value: dt.date | str) -> dt.date:
    if isinstance(value, dt.datetime):
        raise CalendarError(f"closure {value!r}: expected a date, not a date and time")
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise CalendarError(f"closure {value!r}: expected an ISO date (YYYY-MM-DD)") from exc


def _holidays(spec: Mapping[str, str | None] | None) -> Container[dt.date]:
    if not spec or not spec.get("country"):
        return frozenset()
    import holidays as holidays_lib

    country, subdivision = str(spec["country"]), spec.get("subdivision") or None
    try:
        return holidays_lib.country_holidays(country, subdiv=subdivision)
    except NotImplementedError as exc:  # raised for an unknown country and an unknown subdivision alike
        subdivisions = holidays_lib.list_supported_countries().get(country)
        if subdivisions is None:
            raise CalendarError(f"holidays: unknown country {country!r}") from exc
        raise CalendarError(
            f"holidays: country {country!r} has no subdivision {subdivision!r}"
            f" (known: {', '.join(subdivisions)})"
        ) from exc
    except ValueError as exc:  # the library says which subdivision codes exist
        raise CalendarError(f"holidays: {exc}") from exc
