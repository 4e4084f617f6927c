"""Due instants of SLA clocks: every target kind at every awkward receipt time, DST, pauses, warnings."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest

from sitekeeper.core.sla import (
    Clocks,
    Pause,
    counted_so_far,
    due_after,
    due_instant,
    merge_pauses,
    plan_clocks,
)
from sitekeeper.core.targets import MonthlyBatch
from tests.core.support import (
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

# The lunch calendar: Berlin, Mon-Fri 09:00-12:00 + 13:00-18:00 (8 h a day), German holidays, closed on
# 31 Dec 2026; update batch on the 2nd Tuesday (10 Nov, 8 Dec 2026, 12 Jan 2027). November and December
# are CET (UTC+1), so 09:00 = 08:00 UTC, 12:00 = 11:00 UTC, 14:00 = 13:00 UTC, 18:00 = 17:00 UTC.
BEFORE_OPENING = berlin(2026, 11, 24, 7, 30)  # Tuesday
DURING_LUNCH = berlin(2026, 11, 24, 12, 30)
AT_CLOSE = berlin(2026, 11, 24, 18)
AFTER_CLOSE = berlin(2026, 11, 24, 21)
ON_HOLIDAY = berlin(2026, 12, 25, 10)  # Christmas Day, a Friday; the 26th is a Saturday
ON_WEEKEND = berlin(2026, 11, 28, 10)  # Saturday

RECEIPT_TABLE = [
    # same_bd: close of that day when received before close on a business day, else of the next one.
    ("same_bd", BEFORE_OPENING, utc(2026, 11, 24, 17)),  # Tue 18:00
    ("same_bd", DURING_LUNCH, utc(2026, 11, 24, 17)),  # Tue 18:00
    ("same_bd", AT_CLOSE, utc(2026, 11, 25, 17)),  # Wed 18:00
    ("same_bd", AFTER_CLOSE, utc(2026, 11, 25, 17)),  # Wed 18:00
    ("same_bd", ON_HOLIDAY, utc(2026, 12, 28, 17)),  # Mon 28 Dec 18:00
    ("same_bd", ON_WEEKEND, utc(2026, 11, 30, 17)),  # Mon 30 Nov 18:00
    # next_bd: close of the first business day after the local date of receipt.
    ("next_bd", BEFORE_OPENING, utc(2026, 11, 25, 17)),  # Wed 18:00
    ("next_bd", DURING_LUNCH, utc(2026, 11, 25, 17)),
    ("next_bd", AT_CLOSE, utc(2026, 11, 25, 17)),
    ("next_bd", AFTER_CLOSE, utc(2026, 11, 25, 17)),
    ("next_bd", ON_HOLIDAY, utc(2026, 12, 28, 17)),  # Mon 28 Dec 18:00
    ("next_bd", ON_WEEKEND, utc(2026, 11, 30, 17)),  # Mon 30 Nov 18:00
    # 4bh: 09-12 (3 h) + 13-14 (1 h) from the next opening.
    ("4bh", BEFORE_OPENING, utc(2026, 11, 24, 13)),  # Tue 14:00
    ("4bh", DURING_LUNCH, utc(2026, 11, 24, 16)),  # counted from 13:00: Tue 17:00
    ("4bh", AT_CLOSE, utc(2026, 11, 25, 13)),  # Wed 14:00
    ("4bh", AFTER_CLOSE, utc(2026, 11, 25, 13)),  # Wed 14:00
    ("4bh", ON_HOLIDAY, utc(2026, 12, 28, 13)),  # Mon 28 Dec 14:00
    ("4bh", ON_WEEKEND, utc(2026, 11, 30, 13)),  # Mon 30 Nov 14:00
    # 8bh = one whole day: due at the close (the earliest instant), not the next morning.
    ("8bh", BEFORE_OPENING, utc(2026, 11, 24, 17)),  # Tue 18:00
    ("8bh", DURING_LUNCH, utc(2026, 11, 25, 11)),  # Tue 13-18 (5 h) + Wed 09-12 (3 h) → Wed 12:00
    # 2bd = 16 business hours.
    ("2bd", BEFORE_OPENING, utc(2026, 11, 25, 17)),  # Tue 8 h + Wed 8 h → Wed 18:00
    ("2bd", DURING_LUNCH, utc(2026, 11, 26, 11)),  # Tue 5 h + Wed 8 h + Thu 09-12 → Thu 12:00
    ("2bd", AT_CLOSE, utc(2026, 11, 26, 17)),  # Wed + Thu → Thu 18:00
    ("2bd", AFTER_CLOSE, utc(2026, 11, 26, 17)),
    ("2bd", ON_HOLIDAY, utc(2026, 12, 29, 17)),  # Mon 28 + Tue 29 Dec → Tue 18:00
    ("2bd", ON_WEEKEND, utc(2026, 12, 1, 17)),  # Mon 30 Nov + Tue 1 Dec → Tue 18:00
    # next_cycle: close of the first batch day (2nd Tuesday) after the date of receipt.
    ("next_cycle", BEFORE_OPENING, utc(2026, 12, 8, 17)),  # Tue 8 Dec 18:00
    ("next_cycle", DURING_LUNCH, utc(2026, 12, 8, 17)),
    ("next_cycle", AT_CLOSE, utc(2026, 12, 8, 17)),
    ("next_cycle", AFTER_CLOSE, utc(2026, 12, 8, 17)),
    ("next_cycle", ON_HOLIDAY, utc(2027, 1, 12, 17)),  # Tue 12 Jan 2027 18:00
    ("next_cycle", ON_WEEKEND, utc(2026, 12, 8, 17)),
]


@pytest.mark.parametrize(("target", "received", "expected"), RECEIPT_TABLE)
def test_due_instant_by_receipt_time(target, received, expected):
    due = due_instant(target, lunch(), received)
    assert due == expected
    assert due.tzinfo is dt.UTC


@pytest.mark.parametrize(
    ("target", "received", "expected"),
    [
        # 9-hour office, Berlin; the 12-31 closure and New Year's Day.
        ("same_bd", berlin(2026, 12, 30, 18), utc(2027, 1, 4, 17)),  # at close Wed → Mon 4 Jan 18:00
        ("1bd", berlin(2026, 12, 30, 10), utc(2027, 1, 4, 9)),  # Wed 10-18 (8 h) + Mon 09-10 → 10:00
        ("9bh", berlin(2026, 4, 2, 9), utc(2026, 4, 2, 16)),  # Thu 9 h: 18:00 CEST = 16:00 UTC
        ("10bh", berlin(2026, 4, 2, 9), utc(2026, 4, 7, 8)),  # + 1 h after Easter: Tue 10:00 CEST
        ("next_bd", berlin(2026, 4, 30, 12), utc(2026, 5, 4, 16)),  # Thu → (May Day, weekend) Mon 18:00
    ],
)
def test_office_due_instants_around_holidays(target, received, expected):
    assert due_instant(target, office(), received) == expected


@pytest.mark.parametrize(
    ("batch", "received", "expected"),
    [
        # 'day 15' falls on Saturday 15 Aug 2026; that batch closes Monday 17 Aug 18:00 CEST = 16:00 UTC.
        ("day 15", berlin(2026, 8, 16, 10), utc(2026, 8, 17, 16)),
        ("day 15", berlin(2026, 8, 17, 10), utc(2026, 9, 15, 16)),  # received on the 17th: Tue 15 Sep
        # '1st fri' of May 2026 is Labour Day; the batch closes Monday 4 May 18:00 CEST = 16:00 UTC.
        ("1st fri", berlin(2026, 5, 2, 10), utc(2026, 5, 4, 16)),
        # December's 'last thu' is the closure on the 31st; it closes Mon 4 Jan 2027 18:00 CET = 17:00 UTC.
        ("last thu", berlin(2027, 1, 2, 10), utc(2027, 1, 4, 17)),
    ],
)
def test_next_cycle_with_a_batch_day_that_is_not_a_business_day(batch, received, expected):
    assert due_instant("next_cycle", lunch(), received, batch=MonthlyBatch.parse(batch)) == expected


# --- wall clock ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "received", "expected"),
    [
        # Fri 27 Nov 17:30 CET = 16:30 UTC; wall-clock targets ignore hours, weekends and holidays.
        ("90m", berlin(2026, 11, 27, 17, 30), utc(2026, 11, 27, 18)),
        ("4h", berlin(2026, 11, 27, 17, 30), utc(2026, 11, 27, 20, 30)),  # Fri 21:30
        ("72h", berlin(2026, 11, 27, 17, 30), utc(2026, 11, 30, 16, 30)),  # Mon 17:30
        ("1h", berlin(2026, 12, 25, 3), utc(2026, 12, 25, 3)),  # Christmas night 04:00
        # Across the spring switch: Sat 28 Mar 23:00 CET = 22:00 UTC + 4 h = 02:00 UTC = Sun 04:00 CEST.
        ("4h", berlin(2026, 3, 28, 23), utc(2026, 3, 29, 2)),
        # Across the autumn switch: Sun 25 Oct 01:30 CEST = Sat 23:30 UTC + 2 h = 01:30 UTC = 02:30 CET.
        ("2h", berlin(2026, 10, 25, 1, 30), utc(2026, 10, 25, 1, 30)),
        # New York: Sun 8 Mar 01:30 EST = 06:30 UTC + 1 h = 07:30 UTC = 03:30 EDT.
        ("60m", new_york(2026, 3, 8, 1, 30), utc(2026, 3, 8, 7, 30)),
        # New York: Sun 1 Nov 00:30 EDT = 04:30 UTC + 3 h = 07:30 UTC = 02:30 EST.
        ("3h", new_york(2026, 11, 1, 0, 30), utc(2026, 11, 1, 7, 30)),
    ],
)
def test_wall_clock_targets(target, received, expected):
    assert due_instant(target, lunch(), received) == expected


# --- business time across DST --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "target", "received", "expected"),
    [
        # Open all Sunday. Berlin 29 Mar is 23 h long: from 00:00 CET (Sat 23:00 UTC) 23bh end at Mon 00:00
        # CEST = Sun 22:00 UTC; 1bd (24 h, the weekly pattern's length) needs 1 h of the next Sunday:
        # 5 Apr 01:00 CEST = 4 Apr 23:00 UTC.
        ("Europe/Berlin", "23bh", berlin(2026, 3, 29), utc(2026, 3, 29, 22)),
        ("Europe/Berlin", "1bd", berlin(2026, 3, 29), utc(2026, 4, 4, 23)),
        # Berlin 25 Oct is 25 h long: from 00:00 CEST (Sat 22:00 UTC), 24bh end at 23:00 CET = 22:00 UTC
        # and 25bh at Mon 00:00 CET = 23:00 UTC; 1bd = 24 h fits inside the day.
        ("Europe/Berlin", "24bh", berlin(2026, 10, 25), utc(2026, 10, 25, 22)),
        ("Europe/Berlin", "25bh", berlin(2026, 10, 25), utc(2026, 10, 25, 23)),
        ("Europe/Berlin", "1bd", berlin(2026, 10, 25), utc(2026, 10, 25, 22)),
        # same_bd on the short day: close = Mon 00:00 CEST = Sun 22:00 UTC.
        ("Europe/Berlin", "same_bd", berlin(2026, 3, 29, 10), utc(2026, 3, 29, 22)),
        # New York 8 Mar: 00:00 EST = 05:00 UTC; 23bh → Mon 00:00 EDT = Mon 04:00 UTC.
        ("America/New_York", "23bh", new_york(2026, 3, 8), utc(2026, 3, 9, 4)),
        # New York 1 Nov: 00:00 EDT = 04:00 UTC; 25bh → Mon 00:00 EST = Mon 05:00 UTC.
        ("America/New_York", "25bh", new_york(2026, 11, 1), utc(2026, 11, 2, 5)),
        ("America/New_York", "same_bd", new_york(2026, 11, 1, 12), utc(2026, 11, 2, 5)),
    ],
)
def test_whole_day_calendar_across_dst(zone, target, received, expected):
    assert due_instant(target, all_sunday(zone), received) == expected


@pytest.mark.parametrize(
    ("zone", "target", "received", "expected"),
    [
        # Sundays 01:00-05:00. Berlin 29 Mar: 01:00 CET = 00:00 UTC to 05:00 CEST = 03:00 UTC (3 h), so 4bh
        # from Saturday take the whole night and 1 h of 5 Apr (01:00 CEST = Sat 23:00 UTC) → 5 Apr 00:00 UTC.
        ("Europe/Berlin", "3bh", berlin(2026, 3, 28, 12), utc(2026, 3, 29, 3)),
        ("Europe/Berlin", "4bh", berlin(2026, 3, 28, 12), utc(2026, 4, 5, 0)),
        # Berlin 25 Oct: 01:00 CEST = Sat 23:00 UTC to 05:00 CET = 04:00 UTC (5 h).
        ("Europe/Berlin", "5bh", berlin(2026, 10, 24, 12), utc(2026, 10, 25, 4)),
        ("Europe/Berlin", "same_bd", berlin(2026, 10, 25, 2, 30), utc(2026, 10, 25, 4)),
        # New York 8 Mar: 01:00 EST = 06:00 UTC to 05:00 EDT = 09:00 UTC (3 h).
        ("America/New_York", "3bh", new_york(2026, 3, 7, 12), utc(2026, 3, 8, 9)),
        # New York 1 Nov: 01:00 EDT = 05:00 UTC to 05:00 EST = 10:00 UTC (5 h).
        ("America/New_York", "5bh", new_york(2026, 10, 31, 12), utc(2026, 11, 1, 10)),
        ("America/New_York", "next_bd", new_york(2026, 10, 31, 12), utc(2026, 11, 1, 10)),
    ],
)
def test_night_calendar_across_dst(zone, target, received, expected):
    assert due_instant(target, night_sunday(zone), received) == expected


def test_office_hours_across_the_switch_weekend():
    # Fri 27 Mar 17:00 CET = 16:00 UTC: 2bh = Fri 17-18 + Mon 30 Mar 09-10 CEST → 08:00 UTC.
    assert due_instant("2bh", office(), berlin(2026, 3, 27, 17)) == utc(2026, 3, 30, 8)
    # next_bd: Mon 30 Mar 18:00 CEST = 16:00 UTC.
    assert due_instant("next_bd", office(), berlin(2026, 3, 27, 17)) == utc(2026, 3, 30, 16)
    # New York, Fri 30 Oct 16:00 EDT = 20:00 UTC: 2bh → Mon 2 Nov 10:00 EST = 15:00 UTC.
    assert due_instant("2bh", ny_office(), new_york(2026, 10, 30, 16)) == utc(2026, 11, 2, 15)
    # New York, Fri 6 Mar 16:00 EST = 21:00 UTC: 2bh → Mon 9 Mar 10:00 EDT = 14:00 UTC.
    assert due_instant("2bh", ny_office(), new_york(2026, 3, 6, 16)) == utc(2026, 3, 9, 14)


# --- pauses --------------------------------------------------------------------------------------------
# Received Tue 24 Nov 09:00 CET (08:00 UTC) on the lunch calendar: 4bh are due at 14:00 CET (13:00 UTC).
RECEIVED = berlin(2026, 11, 24, 9)


def test_unpaused_reference():
    assert due_instant("4bh", lunch(), RECEIVED) == utc(2026, 11, 24, 13)


@pytest.mark.parametrize(
    ("pauses", "expected"),
    [
        # Entirely before receipt: nothing.
        ([Pause(berlin(2026, 11, 23, 10), berlin(2026, 11, 23, 15))], utc(2026, 11, 24, 13)),
        # Begun the day before, ending Tue 10:00: clipped to 09:00-10:00, 1 h → 15:00 CET.
        ([Pause(berlin(2026, 11, 23, 10), berlin(2026, 11, 24, 10))], utc(2026, 11, 24, 14)),
        # Overlapping 09:30-10:30 and 10:00-11:00 merge into 1.5 h (not 2 h) → 15:30 CET.
        (
            [
                Pause(berlin(2026, 11, 24, 10), berlin(2026, 11, 24, 11)),
                Pause(berlin(2026, 11, 24, 9, 30), berlin(2026, 11, 24, 10, 30)),
            ],
            utc(2026, 11, 24, 14, 30),
        ),
        # One pause inside another: only the outer one counts (1 h) → 15:00 CET.
        (
            [
                Pause(berlin(2026, 11, 24, 10), berlin(2026, 11, 24, 11)),
                Pause(berlin(2026, 11, 24, 10, 15), berlin(2026, 11, 24, 10, 45)),
            ],
            utc(2026, 11, 24, 14),
        ),
        # Two separate pauses, 30 min each → 15:00 CET.
        (
            [
                Pause(berlin(2026, 11, 24, 9, 30), berlin(2026, 11, 24, 10)),
                Pause(berlin(2026, 11, 24, 11), berlin(2026, 11, 24, 11, 30)),
            ],
            utc(2026, 11, 24, 14),
        ),
        # During lunch only: no business time paused, nothing changes.
        ([Pause(berlin(2026, 11, 24, 12), berlin(2026, 11, 24, 13))], utc(2026, 11, 24, 13)),
        # 11:30-13:30 covers 30 min before and 30 min after lunch: 1 h → 15:00 CET.
        ([Pause(berlin(2026, 11, 24, 11, 30), berlin(2026, 11, 24, 13, 30))], utc(2026, 11, 24, 14)),
        # Starting exactly at the due instant: the target was reached first.
        ([Pause(berlin(2026, 11, 24, 14), berlin(2026, 11, 24, 15))], utc(2026, 11, 24, 13)),
        # Ending before it starts, or empty: ignored.
        ([Pause(berlin(2026, 11, 24, 11), berlin(2026, 11, 24, 10))], utc(2026, 11, 24, 13)),
        ([Pause(berlin(2026, 11, 24, 10), berlin(2026, 11, 24, 10))], utc(2026, 11, 24, 13)),
        # Paused until the next morning 10:00: Tue 09-10 counted (1 h) … 10:00 Wed + 3 h → Wed 14:00 CET.
        ([Pause(berlin(2026, 11, 24, 10), berlin(2026, 11, 25, 10))], utc(2026, 11, 25, 13)),
    ],
)
def test_pauses_push_by_the_paused_business_time(pauses, expected):
    assert due_instant("4bh", lunch(), RECEIVED, pauses) == expected


def test_open_pause_stops_the_clock():
    cal = lunch()
    assert due_instant("4bh", cal, RECEIVED, [Pause(berlin(2026, 11, 24, 10))]) is None
    # An open pause that began before receipt stops it from the start.
    assert due_instant("same_bd", cal, RECEIVED, [Pause(berlin(2026, 11, 20, 10))]) is None
    assert due_instant("4h", cal, RECEIVED, [Pause(berlin(2026, 11, 24, 10))]) is None
    # An open pause after a closed one that overlaps it.
    pauses = [
        Pause(berlin(2026, 11, 24, 9, 30), berlin(2026, 11, 24, 10, 30)),
        Pause(berlin(2026, 11, 24, 10)),
    ]
    assert due_instant("4bh", cal, RECEIVED, pauses) is None
    # Opened after the target was reached (14:00 CET): the due instant stands.
    assert due_instant("4bh", cal, RECEIVED, [Pause(berlin(2026, 11, 24, 16))]) == utc(2026, 11, 24, 13)


def test_pause_outside_business_hours_changes_nothing_for_business_targets():
    cal = lunch()
    evening = [Pause(berlin(2026, 11, 24, 18, 30), berlin(2026, 11, 25, 8, 30))]  # 14 h overnight
    # 2bd from Tue 09:00: Tue + Wed → Wed 18:00 CET, paused or not.
    assert (
        due_instant("2bd", cal, RECEIVED, evening)
        == due_instant("2bd", cal, RECEIVED)
        == utc(2026, 11, 25, 17)
    )
    weekend = [Pause(berlin(2026, 11, 27, 18), berlin(2026, 11, 30, 9))]
    assert due_instant("next_cycle", cal, RECEIVED, weekend) == utc(2026, 12, 8, 17)
    # The same overnight pause pushes a 24/7 target by its full 14 h: 24h → Wed 09:00 + 14 h = Wed 23:00 CET.
    assert due_instant("24h", cal, RECEIVED) == utc(2026, 11, 25, 8)
    assert due_instant("24h", cal, RECEIVED, evening) == utc(2026, 11, 25, 22)


def test_pauses_push_deadlines_by_the_paused_business_time():
    cal = lunch()
    # same_bd from Tue 09:00: counted length 8 h. Paused 10:00-11:30 (1.5 h): Tue gives 1 + 0.5 + 5 = 6.5 h,
    # the rest (1.5 h) Wed 09:00-10:30 → 09:30 UTC.
    pause = [Pause(berlin(2026, 11, 24, 10), berlin(2026, 11, 24, 11, 30))]
    assert due_instant("same_bd", cal, RECEIVED, pause) == utc(2026, 11, 25, 9, 30)
    # next_bd from Fri 27 Nov 10:00: counted length Fri 7 h + Mon 8 h = 15 h. Paused Fri 16:00 - Mon 10:00,
    # which covers Fri 16-18 + Mon 09-10 = 3 business hours → Mon close + 3 h = Tue 1 Dec 12:00 CET.
    received = berlin(2026, 11, 27, 10)
    pause = [Pause(berlin(2026, 11, 27, 16), berlin(2026, 11, 30, 10))]
    assert due_instant("next_bd", cal, received) == utc(2026, 11, 30, 17)
    assert due_instant("next_bd", cal, received, pause) == utc(2026, 12, 1, 11)
    # 4h wall clock paused 10:00-10:30: 13:00 → 13:30 CET.
    pause = [Pause(berlin(2026, 11, 24, 10), berlin(2026, 11, 24, 10, 30))]
    assert due_instant("4h", cal, RECEIVED, pause) == utc(2026, 11, 24, 12, 30)


def test_merge_pauses():
    received = utc(2026, 11, 24, 8)
    merged = merge_pauses(
        [
            Pause(utc(2026, 11, 24, 12), utc(2026, 11, 24, 13)),
            Pause(utc(2026, 11, 23, 8), utc(2026, 11, 24, 9)),  # clipped to receipt
            Pause(utc(2026, 11, 24, 12, 30), utc(2026, 11, 24, 14)),  # overlaps the first
            Pause(utc(2026, 11, 24, 14), utc(2026, 11, 24, 15)),  # touches the merged one
            Pause(utc(2026, 11, 22, 8), utc(2026, 11, 22, 9)),  # before receipt: dropped
            Pause(utc(2026, 11, 25, 8)),  # open
            Pause(utc(2026, 11, 26, 8), utc(2026, 11, 26, 9)),  # swallowed by the open pause
        ],
        received,
    )
    assert merged == [
        (utc(2026, 11, 24, 8), utc(2026, 11, 24, 9)),
        (utc(2026, 11, 24, 12), utc(2026, 11, 24, 15)),
        (utc(2026, 11, 25, 8), None),
    ]


def test_due_after_with_a_plain_measure():
    cal = lunch()
    # 2 business hours from Tue 11:00 CET (10:00 UTC): 11-12 + 13-14 → 14:00 CET = 13:00 UTC.
    assert due_after(cal, hours(2), utc(2026, 11, 24, 10)) == utc(2026, 11, 24, 13)
    assert due_after(cal, hours(0), utc(2026, 11, 24, 10)) == utc(2026, 11, 24, 10)


# --- warnings at 75 % ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "pauses", "expected"),
    [
        ("4bh", [], utc(2026, 11, 24, 11)),  # 3 of 4 h: 09-12 → 12:00 CET
        ("4h", [], utc(2026, 11, 24, 11)),  # 3 wall hours → 12:00 CET
        ("same_bd", [], utc(2026, 11, 24, 15)),  # 6 of 8 h: 09-12 + 13-16 → 16:00 CET
        ("2bd", [], utc(2026, 11, 25, 13)),  # 12 of 16 h: Tue 8 h + Wed 09-12, 13-14 → Wed 14:00 CET
        ("1bd", [], utc(2026, 11, 24, 15)),  # 6 of 8 h → 16:00 CET
        # Paused 10:00-11:00: 3 h counted at 09-10, 11-12, 13-14 → 14:00 CET.
        ("4bh", [Pause(berlin(2026, 11, 24, 10), berlin(2026, 11, 24, 11))], utc(2026, 11, 24, 13)),
    ],
)
def test_warning_at_three_quarters(target, pauses, expected):
    assert due_instant(target, lunch(), RECEIVED, pauses, fraction=Fraction(3, 4)) == expected


def test_warning_fraction_of_an_odd_length():
    # 1bd on the 9-hour office = 9 h; 3/4 of it = 6 h 45 min: Tue 09:00 → 15:45 CET = 14:45 UTC.
    assert due_instant("1bd", office(), RECEIVED, fraction=Fraction(3, 4)) == utc(2026, 11, 24, 14, 45)
    # 1/3 of 1 minute is 20 s exactly.
    assert due_instant("1m", office(), utc(2026, 11, 24, 8), fraction=Fraction(1, 3)) == utc(
        2026, 11, 24, 8, second=20
    )


# --- counted so far ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "now", "pauses", "expected"),
    [
        ("4bh", berlin(2026, 11, 24, 15), [], hours(5)),  # 09-12 + 13-15
        (
            "4bh",
            berlin(2026, 11, 24, 15),
            [Pause(berlin(2026, 11, 24, 10), berlin(2026, 11, 24, 11))],
            hours(4),
        ),
        # Open pause since 14:00 and one 10-11: 09-10, 11-12, 13-14 → 3 h.
        (
            "same_bd",
            berlin(2026, 11, 24, 15),
            [Pause(berlin(2026, 11, 24, 14)), Pause(berlin(2026, 11, 24, 10), berlin(2026, 11, 24, 11))],
            hours(3),
        ),
        # A pause from before receipt is clipped: 09:00-09:30 of it counts as paused.
        (
            "4bh",
            berlin(2026, 11, 24, 10),
            [Pause(berlin(2026, 11, 23, 9), berlin(2026, 11, 24, 9, 30))],
            hours(0.5),
        ),
        # A pause still to come does not count yet.
        (
            "4bh",
            berlin(2026, 11, 24, 10),
            [Pause(berlin(2026, 11, 24, 11), berlin(2026, 11, 24, 12))],
            hours(1),
        ),
        # Wall clock: 6 h elapsed minus 1 h paused.
        (
            "4h",
            berlin(2026, 11, 24, 15),
            [Pause(berlin(2026, 11, 24, 10), berlin(2026, 11, 24, 11))],
            hours(5),
        ),
        # Over the weekend: Tue-Fri 4 × 8 h + Mon 09-10 = 33 business hours.
        ("2bd", berlin(2026, 11, 30, 10), [], hours(33)),
        ("4bh", berlin(2026, 11, 24, 8), [], hours(0)),  # before receipt
    ],
)
def test_counted_so_far(target, now, pauses, expected):
    assert counted_so_far(target, lunch(), RECEIVED, now, pauses) == expected


def test_counted_so_far_reaches_the_length_at_the_due_instant():
    cal = lunch()
    pauses = [Pause(berlin(2026, 11, 24, 10), berlin(2026, 11, 25, 10))]
    due = due_instant("same_bd", cal, RECEIVED, pauses)
    assert due is not None
    assert counted_so_far("same_bd", cal, RECEIVED, due, pauses) == hours(8)  # Tuesday's whole length


# --- the three clocks ----------------------------------------------------------------------------------


def test_plan_clocks():
    clocks = plan_clocks({"response": "4bh", "resolution": "2bd", "recovery": None}, lunch(), RECEIVED)
    assert clocks == Clocks(
        response_due=utc(2026, 11, 24, 13),  # Tue 14:00 CET
        resolution_due=utc(2026, 11, 25, 17),  # Wed 18:00 CET
        recovery_due=None,
    )
    pauses = [Pause(berlin(2026, 11, 24, 10), berlin(2026, 11, 24, 11))]
    paused = plan_clocks({"response": "4bh", "recovery": "2h"}, lunch(), RECEIVED, pauses)
    assert paused == Clocks(utc(2026, 11, 24, 14), None, utc(2026, 11, 24, 11))  # 15:00 CET; 12:00 CET
