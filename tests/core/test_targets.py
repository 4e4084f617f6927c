"""The SLA target grammar, monthly update batches, deadlines and counted lengths."""

from __future__ import annotations

import datetime as dt

import pytest

from sitekeeper.core.calendar import WALL, BusinessCalendar
from sitekeeper.core.targets import (
    DEFAULT_BATCH,
    MonthlyBatch,
    Target,
    TargetError,
    counted_length,
    deadline,
    next_batch_day,
    parse_target,
)
from tests.core.support import WORKDAYS, all_sunday, berlin, hours, lunch, office, utc

# --- grammar -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "amount", "wall"),
    [
        ("30m", "m", 30, True),
        ("4h", "h", 4, True),
        ("8bh", "bh", 8, False),
        ("2bd", "bd", 2, False),
        (" 1bd ", "bd", 1, False),
        ("999999m", "m", 999999, True),
        ("same_bd", "same_bd", 0, False),
        ("next_bd", "next_bd", 0, False),
        ("next_cycle", "next_cycle", 0, False),
    ],
)
def test_parse_target(text, kind, amount, wall):
    target = parse_target(text)
    assert (target.kind, target.amount, target.is_wall_clock) == (kind, amount, wall)
    assert target.text == text.strip()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0m",
        "0bh",
        "-4h",
        "4",
        "4d",
        "4 bh",
        "4BH",
        "1000000m",
        "1.5h",
        "bh",
        "same-bd",
        "next_day",
        "4bhx",
    ],
)
def test_parse_target_rejects(text):
    with pytest.raises(TargetError, match="expected Nm, Nh, Nbh, Nbd"):
        parse_target(text)


@pytest.mark.parametrize(
    ("text", "description"),
    [
        ("1m", "1 minute (24/7)"),
        ("30m", "30 minutes (24/7)"),
        ("1h", "1 hour (24/7)"),
        ("4bh", "4 business hours"),
        ("1bd", "1 business day"),
        ("3bd", "3 business days"),
        ("same_bd", "same business day"),
        ("next_bd", "next business day"),
        ("next_cycle", "next monthly cycle"),
    ],
)
def test_describe(text, description):
    assert parse_target(text).describe() == description


# --- monthly update batches ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2nd tue", MonthlyBatch(nth=2, weekday=1)),
        ("2nd Tuesday", MonthlyBatch(nth=2, weekday=1)),
        ("1st MON", MonthlyBatch(nth=1, weekday=0)),
        ("last fri", MonthlyBatch(nth=-1, weekday=4)),
        ("day 15", MonthlyBatch(nth=0, day=15)),
        ("day 28", MonthlyBatch(nth=0, day=28)),
    ],
)
def test_batch_parse(text, expected):
    assert MonthlyBatch.parse(text) == expected


@pytest.mark.parametrize(
    "text", ["", "tuesday", "5th mon", "2nd xyz", "day 0", "day 29", "day x", "2nd tue 3"]
)
def test_batch_parse_rejects(text):
    with pytest.raises(TargetError, match="update batch"):
        MonthlyBatch.parse(text)


@pytest.mark.parametrize(
    ("text", "year", "month", "expected"),
    [
        ("2nd tue", 2026, 11, dt.date(2026, 11, 10)),  # Tuesdays: 3, 10, ...
        ("2nd tue", 2026, 12, dt.date(2026, 12, 8)),  # Tuesdays: 1, 8, ...
        ("2nd tue", 2027, 1, dt.date(2027, 1, 12)),  # Tuesdays: 5, 12, ...
        ("last fri", 2026, 10, dt.date(2026, 10, 30)),
        ("last fri", 2026, 7, dt.date(2026, 7, 31)),  # a fifth Friday
        ("1st mon", 2026, 6, dt.date(2026, 6, 1)),  # the 1st itself
        ("4th thu", 2026, 11, dt.date(2026, 11, 26)),  # Thursdays: 5, 12, 19, 26
        ("last thu", 2026, 12, dt.date(2026, 12, 31)),
        ("day 15", 2026, 8, dt.date(2026, 8, 15)),  # a Saturday: in_month does not roll
    ],
)
def test_batch_in_month(text, year, month, expected):
    assert MonthlyBatch.parse(text).in_month(year, month) == expected


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (dt.date(2026, 11, 9), dt.date(2026, 11, 10)),
        (dt.date(2026, 11, 10), dt.date(2026, 12, 8)),  # strictly after the given date
        (dt.date(2026, 12, 31), dt.date(2027, 1, 12)),  # across the year
    ],
)
def test_batch_next_after(day, expected):
    assert DEFAULT_BATCH.next_after(day) == expected


@pytest.mark.parametrize(
    ("batch", "day", "expected"),
    [
        # 'day 15' in August 2026 is a Saturday: that batch closes on Monday 17 Aug, so a request received
        # up to Sunday 16 Aug makes it; one received on the 17th waits for Tuesday 15 Sep.
        ("day 15", dt.date(2026, 8, 14), dt.date(2026, 8, 17)),
        ("day 15", dt.date(2026, 8, 15), dt.date(2026, 8, 17)),
        ("day 15", dt.date(2026, 8, 16), dt.date(2026, 8, 17)),
        ("day 15", dt.date(2026, 8, 17), dt.date(2026, 9, 15)),
        # '1st fri' in May 2026 is Labour Day: the batch closes Monday 4 May.
        ("1st fri", dt.date(2026, 5, 2), dt.date(2026, 5, 4)),
        # 'last thu' of December 2026 is the closure on the 31st; New Year and a weekend follow, so December's
        # batch closes on Monday 4 Jan 2027 - after a receipt on Saturday 2 Jan.
        ("last thu", dt.date(2026, 12, 30), dt.date(2027, 1, 4)),
        ("last thu", dt.date(2027, 1, 2), dt.date(2027, 1, 4)),
        ("last thu", dt.date(2027, 1, 4), dt.date(2027, 1, 28)),
        # An ordinary business batch day.
        ("2nd tue", dt.date(2026, 11, 24), dt.date(2026, 12, 8)),
    ],
)
def test_next_batch_day_rolls_to_a_business_day(batch, day, expected):
    assert next_batch_day(lunch(), MonthlyBatch.parse(batch), day) == expected


# --- deadlines -----------------------------------------------------------------------------------------
# The lunch calendar: Berlin, Mon-Fri 09:00-12:00 + 13:00-18:00, German holidays, closed 31 Dec 2026.
# November 2026 is CET (UTC+1): close of business 18:00 = 17:00 UTC.


@pytest.mark.parametrize(
    ("kind", "received", "expected"),
    [
        ("same_bd", berlin(2026, 11, 24, 7, 30), utc(2026, 11, 24, 17)),  # before opening: that day
        ("same_bd", berlin(2026, 11, 24, 12, 30), utc(2026, 11, 24, 17)),  # during lunch: that day
        ("same_bd", berlin(2026, 11, 24, 17, 59), utc(2026, 11, 24, 17)),  # a minute before close
        ("same_bd", berlin(2026, 11, 24, 18), utc(2026, 11, 25, 17)),  # exactly at close: Wednesday
        ("same_bd", berlin(2026, 11, 24, 21), utc(2026, 11, 25, 17)),  # after close: Wednesday
        ("same_bd", berlin(2026, 12, 25, 10), utc(2026, 12, 28, 17)),  # Christmas Day: Mon 28 Dec
        ("same_bd", berlin(2026, 11, 28, 10), utc(2026, 11, 30, 17)),  # Saturday: Monday
        ("next_bd", berlin(2026, 11, 24, 7, 30), utc(2026, 11, 25, 17)),  # always the day after the date
        ("next_bd", berlin(2026, 11, 24, 12, 30), utc(2026, 11, 25, 17)),
        ("next_bd", berlin(2026, 11, 24, 18), utc(2026, 11, 25, 17)),
        ("next_bd", berlin(2026, 11, 24, 23, 59), utc(2026, 11, 25, 17)),
        ("next_bd", berlin(2026, 11, 27, 10), utc(2026, 11, 30, 17)),  # Friday: Monday
        ("next_bd", berlin(2026, 12, 30, 10), utc(2027, 1, 4, 17)),  # closure, New Year, weekend
        ("next_cycle", berlin(2026, 11, 9, 10), utc(2026, 11, 10, 17)),  # the day before the batch
        ("next_cycle", berlin(2026, 11, 10, 8), utc(2026, 12, 8, 17)),  # on the batch day: the next one
        ("next_cycle", berlin(2026, 11, 24, 12, 30), utc(2026, 12, 8, 17)),
        ("next_cycle", berlin(2026, 12, 25, 10), utc(2027, 1, 12, 17)),
    ],
)
def test_deadline(kind, received, expected):
    assert deadline(parse_target(kind), lunch(), received, DEFAULT_BATCH) == expected


def test_deadline_uses_the_local_date_of_receipt():
    # Tue 24 Nov 23:30 UTC is already Wed 25 Nov 00:30 in Berlin: next_bd is Thursday 26 Nov.
    assert deadline(parse_target("next_bd"), lunch(), utc(2026, 11, 24, 23, 30), DEFAULT_BATCH) == utc(
        2026, 11, 26, 17
    )


def test_deadline_in_summer_time():
    # Tue 7 Jul 2026 (CEST, UTC+2): close 18:00 = 16:00 UTC.
    assert deadline(parse_target("same_bd"), lunch(), berlin(2026, 7, 7, 10), DEFAULT_BATCH) == utc(
        2026, 7, 7, 16
    )


def test_deadline_rejects_amount_targets():
    with pytest.raises(TargetError, match="not a deadline"):
        deadline(parse_target("4bh"), lunch(), berlin(2026, 11, 24, 10), DEFAULT_BATCH)


# --- counted lengths -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "received", "wall", "length"),
    [
        ("30m", berlin(2026, 11, 24, 10), True, dt.timedelta(minutes=30)),
        ("4h", berlin(2026, 11, 24, 10), True, hours(4)),
        ("4bh", berlin(2026, 11, 24, 10), False, hours(4)),
        ("2bd", berlin(2026, 11, 24, 10), False, hours(16)),  # 2 × Monday's 8 h
        ("same_bd", berlin(2026, 11, 24, 7, 30), False, hours(8)),  # the whole Tuesday
        ("same_bd", berlin(2026, 11, 24, 12, 30), False, hours(5)),  # 13:00-18:00
        ("same_bd", berlin(2026, 11, 24, 10), False, hours(7)),  # 10-12 + 13-18
        ("same_bd", berlin(2026, 11, 24, 18), False, hours(8)),  # the whole Wednesday
        ("next_bd", berlin(2026, 11, 27, 10), False, hours(15)),  # Fri 10-12 + 13-18, Mon 8 h
        # Tue 24 Nov 12:30 → Tue 8 Dec close: 5 h + Wed-Fri 24 h + Mon-Fri 40 h + Mon-Tue 16 h = 85 h.
        ("next_cycle", berlin(2026, 11, 24, 12, 30), False, hours(85)),
    ],
)
def test_counted_length(text, received, wall, length):
    cal = lunch()
    measure, counted = counted_length(parse_target(text), cal, received)
    assert measure is (WALL if wall else cal)
    assert counted == length


def test_business_days_follow_the_calendar_day_length():
    received = berlin(2026, 11, 24, 10)
    assert counted_length(parse_target("2bd"), office(), received)[1] == hours(18)  # 2 × 9 h
    configured = BusinessCalendar.from_spec(
        "Europe/Berlin", dict.fromkeys(WORKDAYS, ("09:00-18:00",)), business_day_minutes=450
    )
    assert counted_length(parse_target("2bd"), configured, received)[1] == hours(15)  # 2 × 7.5 h


def test_deadline_length_on_a_dst_day():
    # Open all Sunday: received Sun 29 Mar 10:00 CEST (08:00 UTC); close is Mon 00:00 CEST = Sun 22:00 UTC.
    cal = all_sunday("Europe/Berlin")
    received = berlin(2026, 3, 29, 10)
    assert deadline(parse_target("same_bd"), cal, received, DEFAULT_BATCH) == utc(2026, 3, 29, 22)
    assert counted_length(parse_target("same_bd"), cal, received)[1] == hours(14)


def test_target_is_a_value():
    assert parse_target("4bh") == Target(kind="bh", amount=4, text="4bh")
