"""Monthly uptime: month lengths in the contract's zone (DST months included), exclusions, month edges."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

from sitekeeper.core.calendar import CalendarError
from sitekeeper.core.uptime import clip, merge, month_bounds, monthly_uptime, subtract, total
from tests.core.support import BERLIN, NEW_YORK, hours, utc


@pytest.mark.parametrize(
    ("year", "month", "zone", "start", "end", "length"),
    [
        # Berlin, March 2026: 1 Mar 00:00 CET = 28 Feb 23:00 UTC; 1 Apr 00:00 CEST = 31 Mar 22:00 UTC.
        (2026, 3, BERLIN, utc(2026, 2, 28, 23), utc(2026, 3, 31, 22), hours(31 * 24 - 1)),  # 743 h
        # Berlin, October 2026: 1 Oct 00:00 CEST = 30 Sep 22:00 UTC; 1 Nov 00:00 CET = 31 Oct 23:00 UTC.
        (2026, 10, BERLIN, utc(2026, 9, 30, 22), utc(2026, 10, 31, 23), hours(31 * 24 + 1)),  # 745 h
        (2026, 11, BERLIN, utc(2026, 10, 31, 23), utc(2026, 11, 30, 23), hours(720)),
        (2026, 12, BERLIN, utc(2026, 11, 30, 23), utc(2026, 12, 31, 23), hours(744)),  # across the year
        (2026, 2, BERLIN, utc(2026, 1, 31, 23), utc(2026, 2, 28, 23), hours(672)),
        # New York, March 2026: 1 Mar 00:00 EST = 05:00 UTC; 1 Apr 00:00 EDT = 04:00 UTC.
        (2026, 3, NEW_YORK, utc(2026, 3, 1, 5), utc(2026, 4, 1, 4), hours(743)),
        # New York, November 2026: 1 Nov 00:00 EDT = 04:00 UTC; 1 Dec 00:00 EST = 05:00 UTC.
        (2026, 11, NEW_YORK, utc(2026, 11, 1, 4), utc(2026, 12, 1, 5), hours(721)),
        (2028, 2, ZoneInfo("UTC"), utc(2028, 2, 1), utc(2028, 3, 1), hours(29 * 24)),  # leap year
    ],
)
def test_month_bounds(year, month, zone, start, end, length):  # noqa: PLR0917 - one table row
    bounds = month_bounds(year, month, zone)
    assert bounds == (start, end)
    assert bounds[1] - bounds[0] == length


def test_no_outage_is_full_uptime():
    assert monthly_uptime(2026, 3, BERLIN, []) == 100


def test_dst_month_uses_its_real_length():
    # One hour down in Berlin's March 2026 (743 h): 100 × 742/743, not 100 × 743/744.
    outage = [(utc(2026, 3, 10, 10), utc(2026, 3, 10, 11))]
    uptime = monthly_uptime(2026, 3, BERLIN, outage)
    assert uptime == Fraction(74200, 743)
    assert uptime != 100 * (1 - Fraction(1, 744))
    # October is 745 h long.
    assert monthly_uptime(2026, 10, BERLIN, [(utc(2026, 10, 10, 10), utc(2026, 10, 10, 11))]) == Fraction(
        74400, 745
    )


def test_exact_fraction():
    # 72 minutes in a 720-hour November: 72/43 200 = 1/600 → 100 − 1/6 = 599/6 = 99.8333… %.
    outage = [(utc(2026, 11, 10, 10), utc(2026, 11, 10, 11, 12))]
    assert monthly_uptime(2026, 11, BERLIN, outage) == Fraction(599, 6)
    # One second: 100 × (1 − 1/2 592 000).
    second = [(utc(2026, 11, 10, 10), utc(2026, 11, 10, 10, second=1))]
    assert monthly_uptime(2026, 11, BERLIN, second) == 100 * (1 - Fraction(1, 2_592_000))


def test_outages_overlapping_the_month_edges_are_clipped():
    # 31 Oct 22:00-24:00 UTC: Berlin's November begins at 23:00 UTC, so each month gets one hour.
    outage = [(utc(2026, 10, 31, 22), utc(2026, 11, 1, 0))]
    assert monthly_uptime(2026, 11, BERLIN, outage) == 100 * (1 - Fraction(1, 720))  # 3595/36
    assert monthly_uptime(2026, 11, BERLIN, outage) == Fraction(3595, 36)
    assert monthly_uptime(2026, 10, BERLIN, outage) == Fraction(14880, 149)  # 100 × 744/745
    # An outage longer than the month leaves nothing up.
    assert monthly_uptime(2026, 11, BERLIN, [(utc(2026, 10, 1), utc(2027, 1, 1))]) == 0
    # Outages entirely in other months count for nothing.
    assert monthly_uptime(2026, 11, BERLIN, [(utc(2026, 10, 31, 21), utc(2026, 10, 31, 23))]) == 100


def test_exclusions_are_subtracted():
    outage = [(utc(2026, 11, 10, 10), utc(2026, 11, 10, 12))]
    # Maintenance 11:00-13:00 covers the second hour: one hour counts.
    window = [(utc(2026, 11, 10, 11), utc(2026, 11, 10, 13))]
    assert monthly_uptime(2026, 11, BERLIN, outage, window) == Fraction(3595, 36)
    # Covering the whole outage: full uptime.
    assert monthly_uptime(2026, 11, BERLIN, outage, [(utc(2026, 11, 10, 9), utc(2026, 11, 10, 13))]) == 100
    # Elsewhere: no effect (2 h → 100 × 718/720).
    elsewhere = [(utc(2026, 11, 11, 9), utc(2026, 11, 11, 13))]
    assert monthly_uptime(2026, 11, BERLIN, outage, elsewhere) == Fraction(3590, 36)
    # An exclusion reaching over the month's start only covers its own overlap with the outage.
    edge_outage = [(utc(2026, 10, 31, 22), utc(2026, 11, 1, 1))]  # 2 h of it in November
    edge_window = [(utc(2026, 10, 31, 20), utc(2026, 11, 1, 0))]  # excludes November's first hour
    assert monthly_uptime(2026, 11, BERLIN, edge_outage, edge_window) == Fraction(3595, 36)


def test_overlapping_outages_count_once():
    # 10-12 and 11-13 UTC: three hours down, not four → 100 × 717/720 = 1195/12.
    outages = [(utc(2026, 11, 10, 10), utc(2026, 11, 10, 12)), (utc(2026, 11, 10, 11), utc(2026, 11, 10, 13))]
    assert monthly_uptime(2026, 11, BERLIN, outages) == Fraction(1195, 12)


def test_span_helpers():
    a, b, c, d = utc(2026, 1, 1, 1), utc(2026, 1, 1, 2), utc(2026, 1, 1, 3), utc(2026, 1, 1, 4)
    assert merge([(c, d), (a, b), (b, c), (d, d), (d, c)]) == [(a, d)]  # touching merge, empty dropped
    assert subtract([(a, d)], [(b, c)]) == [(a, b), (c, d)]
    assert subtract([(a, b), (c, d)], [(a, d)]) == []
    assert subtract([(a, c)], []) == [(a, c)]
    assert clip([(a, c), (c, d)], (b, c)) == [(b, c)]
    assert clip([(a, b)], (c, d)) == []
    assert total([(a, c), (b, d)]) == hours(3)


def test_spans_keep_their_instant_whatever_the_zone():
    # 11:00-12:00 CET is 10:00-11:00 UTC.
    berlin_span = (dt.datetime(2026, 11, 10, 11, tzinfo=BERLIN), dt.datetime(2026, 11, 10, 12, tzinfo=BERLIN))
    assert merge([berlin_span]) == [(utc(2026, 11, 10, 10), utc(2026, 11, 10, 11))]


def test_naive_spans_are_refused():
    naive = (dt.datetime(2026, 11, 10, 10), dt.datetime(2026, 11, 10, 11))  # noqa: DTZ001 - the point
    with pytest.raises(CalendarError):
        monthly_uptime(2026, 11, BERLIN, [naive])
