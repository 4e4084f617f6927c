"""Business calendars: weekly hours in a time zone, public holidays, closures; counting and adding time.

All instants are aware datetimes and come back in UTC. Each local date's opening intervals are converted to
UTC once and cached, so counting across DST switches is exact: a 09:00–18:00 day is nine real hours whether
the clocks changed that night or not.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = dt.UTC
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_INTERVAL = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
_SEARCH_DAYS = 3700  # a calendar with no business day in ten years is broken, not slow

Interval = tuple[dt.datetime, dt.datetime]


class CalendarError(ValueError):
    """A calendar specification or an instant the calendar cannot work with."""


def as_utc(instant: dt.datetime) -> dt.datetime:
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


@dataclass(frozen=True, eq=False)
class BusinessCalendar:
    tz: ZoneInfo
    weekly: tuple[tuple[tuple[dt.time, dt.time | None], ...], ...]  # index 0 = Monday
    holidays: Container[dt.date] = frozenset()
    closures: frozenset[dt.date] = frozenset()
    business_day: dt.timedelta | None = None
    _days: dict[dt.date, tuple[Interval, ...]] = field(default_factory=dict, repr=False)

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
            begin = dt.datetime.combine(day, start, tzinfo=self.tz).astimezone(UTC)
            if end is None:
                finish = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=self.tz)
            else:
                finish = dt.datetime.combine(day, end, tzinfo=self.tz)
            finish = finish.astimezone(UTC)
            if finish > begin:  # an interval swallowed by a DST gap vanishes
                spans.append((begin, finish))
        return tuple(spans)

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
        total = dt.timedelta()
        if end <= start:
            return total
        day, last = self.local_date(start), self.local_date(end)
        while day <= last:
            for begin, finish in self.intervals(day):
                lo, hi = max(begin, start), min(finish, end)
                if hi > lo:
                    total += hi - lo
            day += dt.timedelta(days=1)
        return total

    def add(self, start: dt.datetime, amount: dt.timedelta) -> dt.datetime:
        """The earliest instant at which `amount` of business time has passed since `start`."""
        start = as_utc(start)
        if amount <= dt.timedelta():
            return start
        day = self.local_date(start)
        for _ in range(_SEARCH_DAYS * 2):
            for begin, finish in self.intervals(day):
                if finish <= start:
                    continue
                lo = max(begin, start)
                available = finish - lo
                if available >= amount:
                    return lo + amount
                amount -= available
            day += dt.timedelta(days=1)
        raise CalendarError("business time could not be added: the calendar runs out of business days")


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
    except NotImplementedError as exc:
        raise CalendarError(f"holidays: unknown country {country!r}") from exc
    except ValueError as exc:  # the library says which subdivision codes exist
        raise CalendarError(f"holidays: {exc}") from exc
