"""Business calendars: opening intervals in UTC, holidays, closures, counting and adding time, DST."""

from __future__ import annotations

import datetime as dt

import pytest

from sitekeeper.core.calendar import WALL, BusinessCalendar, CalendarError, parse_interval
from tests.core.support import (
    BERLIN,
    WORKDAYS,
    all_sunday,
    berlin,
    hours,
    lunch,
    new_york,
    night_sunday,
    ny_office,
    office,
    utc,
)

# --- parsing the specification -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("09:00-18:00", (dt.time(9), dt.time(18))),
        (" 13:30-17:45 ", (dt.time(13, 30), dt.time(17, 45))),
        ("00:00-24:00", (dt.time(0), None)),  # 24:00 = the midnight after
        ("22:00-24:00", (dt.time(22), None)),
    ],
)
def test_parse_interval(text, expected):
    assert parse_interval(text) == expected


@pytest.mark.parametrize(
    "text",
    ["9:00-18:00", "09:00–18:00", "18:00-09:00", "09:00-09:00", "25:00-26:00", "09:60-10:00", "09:00-24:30"],
)
def test_parse_interval_rejects(text):
    with pytest.raises(CalendarError):
        parse_interval(text)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timezone": "Europe/Nowhere", "hours": {"mon": ["09:00-18:00"]}}, "IANA"),
        ({"timezone": "Europe/Berlin", "hours": {"monday": ["09:00-18:00"]}}, "unknown weekday"),
        ({"timezone": "Europe/Berlin", "hours": {"mon": []}}, "no weekday"),
        ({"timezone": "Europe/Berlin", "hours": {"mon": "09:00-18:00"}}, "got a string"),
        ({"timezone": "Europe/Berlin", "hours": {"mon": ["09:00-13:00", "12:00-18:00"]}}, "overlap"),
        ({"timezone": "Europe/Berlin", "hours": {"mon": ["00:00-24:00", "10:00-11:00"]}}, "overlap"),
        (
            {"timezone": "Europe/Berlin", "hours": {"mon": ["09:00-18:00"]}, "closures": ["31.12.2026"]},
            "ISO date",
        ),
        (
            {
                "timezone": "Europe/Berlin",
                "hours": {"mon": ["09:00-18:00"]},
                "closures": [dt.datetime(2026, 12, 31, tzinfo=dt.UTC)],
            },
            "not a date and time",
        ),
        (
            {"timezone": "Europe/Berlin", "hours": {"mon": ["09:00-18:00"]}, "holidays": {"country": "XX"}},
            "unknown country 'XX'",
        ),
        (
            {
                "timezone": "Europe/Berlin",
                "hours": {"mon": ["09:00-18:00"]},
                "holidays": {"country": "DE", "subdivision": "ZZ"},
            },
            "no subdivision 'ZZ'",
        ),
        (
            {"timezone": "Europe/Berlin", "hours": {"mon": ["09:00-18:00"]}, "business_day_minutes": -60},
            "negative",
        ),
    ],
)
def test_from_spec_rejects(kwargs, message):
    with pytest.raises(CalendarError, match=message):
        BusinessCalendar.from_spec(**kwargs)


def test_touching_intervals_are_allowed():
    cal = BusinessCalendar.from_spec("Europe/Berlin", {"mon": ["09:00-12:00", "12:00-18:00"]})
    # Monday 2026-11-23, CET: 09:00-12:00 = 08:00-11:00 UTC, 12:00-18:00 = 11:00-17:00 UTC.
    assert cal.intervals(dt.date(2026, 11, 23)) == (
        (utc(2026, 11, 23, 8), utc(2026, 11, 23, 11)),
        (utc(2026, 11, 23, 11), utc(2026, 11, 23, 17)),
    )


def test_naive_instants_are_refused():
    naive = dt.datetime(2026, 11, 24, 10)  # noqa: DTZ001 - the point of the test
    with pytest.raises(CalendarError, match="no time zone"):
        office().measure(naive, utc(2026, 11, 25))
    with pytest.raises(CalendarError, match="no time zone"):
        office().add(naive, hours(1))
    with pytest.raises(CalendarError, match="no time zone"):
        WALL.measure(utc(2026, 11, 25), naive)


# --- opening intervals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        # Monday in winter (CET, UTC+1): 09:00-18:00 = 08:00-17:00 UTC.
        (dt.date(2026, 11, 23), ((utc(2026, 11, 23, 8), utc(2026, 11, 23, 17)),)),
        # Monday in summer (CEST, UTC+2): 09:00-18:00 = 07:00-16:00 UTC.
        (dt.date(2026, 7, 6), ((utc(2026, 7, 6, 7), utc(2026, 7, 6, 16)),)),
        (dt.date(2026, 11, 28), ()),  # Saturday
        (dt.date(2026, 11, 29), ()),  # Sunday
        (dt.date(2026, 4, 3), ()),  # Good Friday
        (dt.date(2026, 4, 6), ()),  # Easter Monday
        (dt.date(2026, 5, 1), ()),  # Labour Day, a Friday
        (dt.date(2026, 12, 25), ()),  # Christmas Day, a Friday
        (dt.date(2026, 12, 31), ()),  # the closure, a Thursday
        (dt.date(2027, 1, 1), ()),  # New Year's Day
        # Thursday 2026-12-24 is not a national holiday in Germany: open.
        (dt.date(2026, 12, 24), ((utc(2026, 12, 24, 8), utc(2026, 12, 24, 17)),)),
        # Tuesday 2026-01-06 (Epiphany) is a holiday in Bavaria only: open under national holidays.
        (dt.date(2026, 1, 6), ((utc(2026, 1, 6, 8), utc(2026, 1, 6, 17)),)),
    ],
)
def test_office_intervals(day, expected):
    cal = office()
    assert cal.intervals(day) == expected
    assert cal.is_business_day(day) == bool(expected)


def test_lunch_break_intervals():
    # Tuesday 2026-11-24, CET: 09:00-12:00 = 08:00-11:00 UTC and 13:00-18:00 = 12:00-17:00 UTC.
    assert lunch().intervals(dt.date(2026, 11, 24)) == (
        (utc(2026, 11, 24, 8), utc(2026, 11, 24, 11)),
        (utc(2026, 11, 24, 12), utc(2026, 11, 24, 17)),
    )


def test_subdivision_holidays():
    bavaria = BusinessCalendar.from_spec(
        "Europe/Berlin",
        dict.fromkeys(WORKDAYS, ("09:00-18:00",)),
        holidays={"country": "DE", "subdivision": "BY"},
    )
    assert not bavaria.is_business_day(dt.date(2026, 1, 6))  # Epiphany in Bavaria
    assert not bavaria.is_business_day(dt.date(2026, 6, 4))  # Corpus Christi, a Thursday
    assert bavaria.is_business_day(dt.date(2026, 1, 7))


def test_closures_accept_dates_and_iso_strings():
    cal = BusinessCalendar.from_spec(
        "Europe/Berlin",
        dict.fromkeys(WORKDAYS, ("09:00-18:00",)),
        closures=[dt.date(2026, 11, 23), "2026-11-24"],
    )
    assert not cal.is_business_day(dt.date(2026, 11, 23))
    assert not cal.is_business_day(dt.date(2026, 11, 24))
    assert cal.is_business_day(dt.date(2026, 11, 25))


def test_close_of_business():
    # Tuesday 2026-11-24 18:00 CET = 17:00 UTC; Saturday has none.
    assert lunch().close_of_business(dt.date(2026, 11, 24)) == utc(2026, 11, 24, 17)
    # Summer: 18:00 CEST = 16:00 UTC.
    assert lunch().close_of_business(dt.date(2026, 7, 7)) == utc(2026, 7, 7, 16)
    assert lunch().close_of_business(dt.date(2026, 11, 28)) is None


@pytest.mark.parametrize(
    ("day", "include_self", "expected"),
    [
        (dt.date(2026, 11, 24), False, dt.date(2026, 11, 25)),  # Tue → Wed
        (dt.date(2026, 11, 27), False, dt.date(2026, 11, 30)),  # Fri → Mon
        (dt.date(2026, 11, 28), True, dt.date(2026, 11, 30)),  # Sat (itself closed) → Mon
        (dt.date(2026, 11, 30), True, dt.date(2026, 11, 30)),  # Mon itself
        # Thu 24 Dec → Fri 25 (Christmas), Sat 26 (2nd day), Sun 27 → Mon 28 Dec.
        (dt.date(2026, 12, 24), False, dt.date(2026, 12, 28)),
        # Wed 30 Dec → Thu 31 (closure), Fri 1 Jan (New Year), Sat, Sun → Mon 4 Jan 2027.
        (dt.date(2026, 12, 30), False, dt.date(2027, 1, 4)),
        # Thu 2 Apr → Good Friday, Sat, Easter Sunday, Easter Monday → Tue 7 Apr.
        (dt.date(2026, 4, 2), False, dt.date(2026, 4, 7)),
    ],
)
def test_next_business_day(day, include_self, expected):
    assert office().next_business_day(day, include_self=include_self) == expected


def test_a_calendar_without_business_days_fails_loudly():
    # Every Monday for 21 years closed: more than either search (ten years of days, twenty for adding).
    mondays = [dt.date(2026, 1, 5) + dt.timedelta(weeks=n) for n in range(1100)]
    cal = BusinessCalendar.from_spec("Europe/Berlin", {"mon": ["09:00-18:00"]}, closures=mondays)
    with pytest.raises(CalendarError, match="no business day"):
        cal.next_business_day(dt.date(2026, 1, 1))
    with pytest.raises(CalendarError, match="runs out"):
        cal.add(utc(2026, 1, 1), hours(1))


def test_business_day_length():
    assert office().business_day_length() == hours(9)
    assert lunch().business_day_length() == hours(8)
    assert ny_office().business_day_length() == hours(8)
    configured = BusinessCalendar.from_spec(
        "Europe/Berlin", dict.fromkeys(WORKDAYS, ("09:00-18:00",)), business_day_minutes=450
    )
    assert configured.business_day_length() == hours(7.5)
    # Monday's hours are the default, even when other days are longer.
    short_monday = BusinessCalendar.from_spec(
        "Europe/Berlin", {"mon": ["09:00-13:00"], "tue": ["09:00-18:00"]}
    )
    assert short_monday.business_day_length() == hours(4)
    # No Monday hours: the first weekday that has hours.
    wednesday = BusinessCalendar.from_spec("Europe/Berlin", {"wed": ["10:00-16:00"]})
    assert wednesday.business_day_length() == hours(6)
    # Wall-clock length of the weekly pattern: 24 h, whatever a DST Sunday measures.
    assert all_sunday("Europe/Berlin").business_day_length() == hours(24)


# --- measuring -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (berlin(2026, 11, 24, 10), berlin(2026, 11, 24, 15), hours(5)),  # within one day
        (berlin(2026, 11, 24, 7), berlin(2026, 11, 24, 20), hours(9)),  # the whole day
        (berlin(2026, 11, 27, 17), berlin(2026, 11, 30, 10), hours(2)),  # Fri 17-18 + Mon 09-10
        (berlin(2026, 11, 28, 10), berlin(2026, 11, 29, 20), hours(0)),  # a weekend
        (berlin(2026, 12, 24, 17), berlin(2026, 12, 28, 10), hours(2)),  # Thu 17-18 + Mon 09-10
        (berlin(2026, 12, 30, 17), berlin(2027, 1, 4, 10), hours(2)),  # Wed 17-18 + Mon 09-10
        (berlin(2026, 4, 2, 17), berlin(2026, 4, 7, 10), hours(2)),  # Thu 17-18 + Tue 09-10 (Easter)
        (berlin(2026, 11, 23), berlin(2026, 11, 30), hours(45)),  # a full week: 5 × 9 h
        (berlin(2026, 11, 24, 15), berlin(2026, 11, 24, 10), hours(0)),  # end before start
        (berlin(2026, 11, 24, 15), berlin(2026, 11, 24, 15), hours(0)),  # empty
    ],
)
def test_office_measure(start, end, expected):
    assert office().measure(start, end) == expected


def test_measure_is_independent_of_the_input_zone():
    # 10:00 CET = 09:00 UTC = 04:00 EST.
    start_berlin, end_berlin = berlin(2026, 11, 24, 10), berlin(2026, 11, 25, 10)
    start_ny, end_ny = new_york(2026, 11, 24, 4), new_york(2026, 11, 25, 4)
    assert office().measure(start_berlin, end_berlin) == office().measure(start_ny, end_ny) == hours(9)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (berlin(2026, 11, 24, 11), berlin(2026, 11, 24, 14), hours(2)),  # 11-12 + 13-14
        (berlin(2026, 11, 24, 12), berlin(2026, 11, 24, 13), hours(0)),  # the lunch hour itself
        (berlin(2026, 11, 24, 12, 15), berlin(2026, 11, 24, 12, 45), hours(0)),
        (berlin(2026, 11, 23), berlin(2026, 11, 30), hours(40)),  # a full week: 5 × 8 h
    ],
)
def test_lunch_measure(start, end, expected):
    assert lunch().measure(start, end) == expected


# --- adding --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "amount", "expected"),
    [
        # Tue 09:00 + 3 h: 12:00 CET, the earliest instant (the start of lunch, not 13:00) = 11:00 UTC.
        (berlin(2026, 11, 24, 9), hours(3), utc(2026, 11, 24, 11)),
        # Tue 09:00 + 8 h: 18:00 CET (the close, not Wednesday's opening) = 17:00 UTC.
        (berlin(2026, 11, 24, 9), hours(8), utc(2026, 11, 24, 17)),
        # Tue 11:30 + 1 h: 30 min before lunch, 30 min after → 13:30 CET = 12:30 UTC.
        (berlin(2026, 11, 24, 11, 30), hours(1), utc(2026, 11, 24, 12, 30)),
        # Tue 12:30 (lunch) + 1 h: counting from 13:00 → 14:00 CET = 13:00 UTC.
        (berlin(2026, 11, 24, 12, 30), hours(1), utc(2026, 11, 24, 13)),
        # Tue 07:00 (before opening) + 1 h → 10:00 CET = 09:00 UTC.
        (berlin(2026, 11, 24, 7), hours(1), utc(2026, 11, 24, 9)),
        # Tue 18:00 (at close) + 1 h → Wed 10:00 CET = 09:00 UTC.
        (berlin(2026, 11, 24, 18), hours(1), utc(2026, 11, 25, 9)),
        # Fri 17:00 + 2 h: Fri 17-18, Mon 09-10 → Mon 10:00 CET = 09:00 UTC.
        (berlin(2026, 11, 27, 17), hours(2), utc(2026, 11, 30, 9)),
        # Saturday + 1 h → Mon 10:00 CET = 09:00 UTC.
        (berlin(2026, 11, 28, 10), hours(1), utc(2026, 11, 30, 9)),
        # Thu 24 Dec 17:00 + 2 h: 17-18, then Christmas and the weekend → Mon 28 Dec 10:00 CET = 09:00 UTC.
        (berlin(2026, 12, 24, 17), hours(2), utc(2026, 12, 28, 9)),
        # On Good Friday + 1 h: Easter Monday closed too → Tue 7 Apr 10:00 CEST = 08:00 UTC.
        (berlin(2026, 4, 3, 10), hours(1), utc(2026, 4, 7, 8)),
        # Wed 30 Dec 17:00 + 2 h: 17-18, closure, New Year, weekend → Mon 4 Jan 10:00 CET = 09:00 UTC.
        (berlin(2026, 12, 30, 17), hours(2), utc(2027, 1, 4, 9)),
        # Zero and negative amounts add nothing.
        (berlin(2026, 11, 28, 10), hours(0), utc(2026, 11, 28, 9)),
        (berlin(2026, 11, 24, 10), hours(-3), utc(2026, 11, 24, 9)),
    ],
)
def test_lunch_add(start, amount, expected):
    result = lunch().add(start, amount)
    assert result == expected
    assert result.tzinfo is dt.UTC


def test_wall_clock():
    # Sat 28 Mar 23:00 CET = 22:00 UTC; 4 real hours later is 02:00 UTC = Sun 04:00 CEST (the clocks
    # skipped an hour, so the local clock shows five hours later).
    start = berlin(2026, 3, 28, 23)
    assert WALL.add(start, hours(4)) == utc(2026, 3, 29, 2)
    assert WALL.add(start, hours(4)).astimezone(BERLIN) == berlin(2026, 3, 29, 4)
    assert WALL.measure(start, berlin(2026, 3, 29, 4)) == hours(4)
    assert WALL.measure(berlin(2026, 3, 29, 4), start) == hours(0)
    assert WALL.add(start, hours(-1)) == utc(2026, 3, 28, 22)


# --- daylight saving time ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "expected"),
    [
        # Berlin, spring: Sun 00:00 CET = Sat 23:00 UTC; Mon 00:00 CEST = Sun 22:00 UTC → 23 h.
        ("Europe/Berlin", dt.date(2026, 3, 29), (utc(2026, 3, 28, 23), utc(2026, 3, 29, 22))),
        # An ordinary Berlin Sunday a week earlier: 23:00 → 23:00 UTC, 24 h.
        ("Europe/Berlin", dt.date(2026, 3, 22), (utc(2026, 3, 21, 23), utc(2026, 3, 22, 23))),
        # Berlin, autumn: Sun 00:00 CEST = Sat 22:00 UTC; Mon 00:00 CET = Sun 23:00 UTC → 25 h.
        ("Europe/Berlin", dt.date(2026, 10, 25), (utc(2026, 10, 24, 22), utc(2026, 10, 25, 23))),
        # New York, spring: Sun 00:00 EST = 05:00 UTC; Mon 00:00 EDT = Mon 04:00 UTC → 23 h.
        ("America/New_York", dt.date(2026, 3, 8), (utc(2026, 3, 8, 5), utc(2026, 3, 9, 4))),
        # New York, autumn: Sun 00:00 EDT = 04:00 UTC; Mon 00:00 EST = Mon 05:00 UTC → 25 h.
        ("America/New_York", dt.date(2026, 11, 1), (utc(2026, 11, 1, 4), utc(2026, 11, 2, 5))),
    ],
)
def test_whole_day_across_dst(zone, day, expected):
    cal = all_sunday(zone)
    assert cal.intervals(day) == (expected,)
    start, end = expected
    assert cal.measure(start - hours(5), end + hours(5)) == end - start


@pytest.mark.parametrize(
    ("zone", "day", "expected", "length"),
    [
        # Berlin: 01:00 CET = 00:00 UTC; 05:00 CEST = 03:00 UTC → 3 h.
        ("Europe/Berlin", dt.date(2026, 3, 29), (utc(2026, 3, 29, 0), utc(2026, 3, 29, 3)), hours(3)),
        # Berlin: 01:00 CEST = Sat 23:00 UTC; 05:00 CET = 04:00 UTC → 5 h.
        ("Europe/Berlin", dt.date(2026, 10, 25), (utc(2026, 10, 24, 23), utc(2026, 10, 25, 4)), hours(5)),
        # New York: 01:00 EST = 06:00 UTC; 05:00 EDT = 09:00 UTC → 3 h.
        ("America/New_York", dt.date(2026, 3, 8), (utc(2026, 3, 8, 6), utc(2026, 3, 8, 9)), hours(3)),
        # New York: 01:00 EDT (the first 01:00) = 05:00 UTC; 05:00 EST = 10:00 UTC → 5 h.
        ("America/New_York", dt.date(2026, 11, 1), (utc(2026, 11, 1, 5), utc(2026, 11, 1, 10)), hours(5)),
    ],
)
def test_hours_spanning_the_switch_hour(zone, day, expected, length):
    cal = night_sunday(zone)
    assert cal.intervals(day) == (expected,)
    assert cal.measure(expected[0] - hours(1), expected[1] + hours(1)) == length


def test_office_week_across_the_spring_switch():
    cal = office()
    # Fri 27 Mar 17:00 CET = 16:00 UTC → Mon 30 Mar 10:00 CEST = 08:00 UTC: Fri 17-18 + Mon 09-10.
    assert cal.measure(berlin(2026, 3, 27, 17), berlin(2026, 3, 30, 10)) == hours(2)
    assert cal.add(berlin(2026, 3, 27, 17), hours(2)) == utc(2026, 3, 30, 8)
    # New York, Fri 30 Oct 16:00 EDT = 20:00 UTC + 2 h: Fri 16-17, Mon 2 Nov 09-10 EST = 15:00 UTC.
    assert ny_office().add(new_york(2026, 10, 30, 16), hours(2)) == utc(2026, 11, 2, 15)


def test_adding_across_a_23_hour_day():
    cal = all_sunday("Europe/Berlin")
    start = berlin(2026, 3, 29)  # 00:00 CET = Sat 23:00 UTC
    # 23 h exhaust the day: Mon 00:00 CEST = Sun 22:00 UTC.
    assert cal.add(start, hours(23)) == utc(2026, 3, 29, 22)
    # A 24th hour comes from the next Sunday: 5 Apr 01:00 CEST = Sat 4 Apr 23:00 UTC.
    assert cal.add(start, hours(24)) == utc(2026, 4, 4, 23)


def test_adding_across_a_25_hour_day():
    cal = all_sunday("Europe/Berlin")
    start = berlin(2026, 10, 25)  # 00:00 CEST = Sat 22:00 UTC
    assert cal.add(start, hours(24)) == utc(2026, 10, 25, 22)  # 23:00 CET, one hour before midnight
    assert cal.add(start, hours(25)) == utc(2026, 10, 25, 23)  # Mon 00:00 CET


def test_an_opening_inside_the_spring_gap_moves_to_the_switch():
    # Sun 29 Mar 2026 in Berlin jumps from 02:00 CET to 03:00 CEST. An opening at 02:30 happens at the
    # switch (03:00 CEST = 01:00 UTC), closing at 10:00 CEST = 08:00 UTC: 7 h instead of 7.5 h.
    cal = BusinessCalendar.from_spec("Europe/Berlin", {"sun": ["02:30-10:00"]})
    assert cal.intervals(dt.date(2026, 3, 29)) == ((utc(2026, 3, 29, 1), utc(2026, 3, 29, 8)),)
    # A week earlier: 02:30 CET = 01:30 UTC to 10:00 CET = 09:00 UTC.
    assert cal.intervals(dt.date(2026, 3, 22)) == ((utc(2026, 3, 22, 1, 30), utc(2026, 3, 22, 9)),)
    # New York jumps 02:00 EST → 03:00 EDT on 8 Mar: opens 03:00 EDT = 07:00 UTC, closes 10:00 EDT = 14:00
    # UTC.
    ny = BusinessCalendar.from_spec("America/New_York", {"sun": ["02:30-10:00"]})
    assert ny.intervals(dt.date(2026, 3, 8)) == ((utc(2026, 3, 8, 7), utc(2026, 3, 8, 14)),)


def test_an_interval_inside_the_spring_gap_vanishes():
    # 02:00-02:45 does not exist on 29 Mar 2026 in Berlin; 03:00-04:00 CEST is 01:00-02:00 UTC. The day
    # holds one business hour, not 1 h 45 min (the two intervals must not overlap).
    cal = BusinessCalendar.from_spec("Europe/Berlin", {"sun": ["02:00-02:45", "03:00-04:00"]})
    assert cal.intervals(dt.date(2026, 3, 29)) == ((utc(2026, 3, 29, 1), utc(2026, 3, 29, 2)),)
    assert cal.measure(utc(2026, 3, 28, 12), utc(2026, 3, 29, 12)) == hours(1)
    assert cal.add(utc(2026, 3, 28, 12), hours(1)) == utc(2026, 3, 29, 2)


def test_a_repeated_time_in_autumn_is_its_first_occurrence():
    # 25 Oct 2026 in Berlin: 02:00-03:00 happens twice. 02:30 is read as the first (CEST) = 00:30 UTC;
    # 04:00 CET = 03:00 UTC: 2 h 30 min of real time.
    cal = BusinessCalendar.from_spec("Europe/Berlin", {"sun": ["02:30-04:00"]})
    assert cal.intervals(dt.date(2026, 10, 25)) == ((utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 3)),)
