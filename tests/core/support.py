"""Calendars and instant helpers shared by the core tests.

Expected instants in the tests are written in UTC and hand-computed; the comment beside each gives the
local wall time. Berlin is UTC+1 (CET) in winter and UTC+2 (CEST) from 2026-03-29 01:00 UTC to
2026-10-25 01:00 UTC; New York is UTC-5 (EST) in winter and UTC-4 (EDT) from 2026-03-08 07:00 UTC to
2026-11-01 06:00 UTC.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sitekeeper.core.calendar import BusinessCalendar

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
WORKDAYS = ("mon", "tue", "wed", "thu", "fri")
DE = {"country": "DE", "subdivision": None}


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, second: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)


def berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, fold: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=BERLIN, fold=fold)


def new_york(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, fold: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=NEW_YORK, fold=fold)


def hours(n: float) -> dt.timedelta:
    return dt.timedelta(hours=n)


def office() -> BusinessCalendar:
    """Berlin, Mon-Fri 09:00-18:00 (9 h), German national holidays, closed 2026-12-31."""
    return BusinessCalendar.from_spec(
        "Europe/Berlin", dict.fromkeys(WORKDAYS, ("09:00-18:00",)), holidays=DE, closures=["2026-12-31"]
    )


def lunch() -> BusinessCalendar:
    """Berlin, Mon-Fri 09:00-12:00 + 13:00-18:00 (8 h), German national holidays, closed 2026-12-31."""
    return BusinessCalendar.from_spec(
        "Europe/Berlin",
        dict.fromkeys(WORKDAYS, ("09:00-12:00", "13:00-18:00")),
        holidays=DE,
        closures=["2026-12-31"],
    )


def ny_office() -> BusinessCalendar:
    """New York, Mon-Fri 09:00-17:00 (8 h), no holidays."""
    return BusinessCalendar.from_spec("America/New_York", dict.fromkeys(WORKDAYS, ("09:00-17:00",)))


def all_sunday(zone: str) -> BusinessCalendar:
    """Open only on Sundays, the whole day: a DST Sunday is a 23- or 25-hour business day."""
    return BusinessCalendar.from_spec(zone, {"sun": ["00:00-24:00"]})


def night_sunday(zone: str) -> BusinessCalendar:
    """Open only on Sundays 01:00-05:00, spanning the switch hour: 3 h in spring, 5 h in autumn."""
    return BusinessCalendar.from_spec(zone, {"sun": ["01:00-05:00"]})
