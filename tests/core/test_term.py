"""A contract's term in dates (core/term.py): hand-checked cases, then properties over generated dates."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sitekeeper.core.term import (
    TermError,
    annual_term_end,
    cancellation,
    minimum_term_end,
    month_end,
    term_end,
)
from tests.core.test_properties import PROPERTY

D = dt.date


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (D(2026, 1, 1), 3, D(2026, 3, 31)),  # 12.10: the portal said "until 1 April"
        (D(2026, 1, 15), 3, D(2026, 4, 14)),
        (D(2026, 1, 31), 1, D(2026, 2, 28)),  # no 31 February: the shorter month's last day
        (D(2028, 1, 31), 1, D(2028, 2, 29)),
        (D(2026, 3, 31), 1, D(2026, 4, 30)),
        (D(2026, 11, 30), 3, D(2027, 2, 28)),
        (D(2026, 12, 1), 12, D(2027, 11, 30)),
    ],
)
def test_minimum_term_end(start, months, end):
    assert minimum_term_end(start, months) == end


def test_negative_terms_are_refused():
    with pytest.raises(TermError, match="must not be negative"):
        term_end(D(2026, 1, 1), -1)


@pytest.mark.parametrize(
    ("notice", "reading", "effective"),
    [
        # Notice period ends 30 days later; effective at the end of that month …
        (D(2026, 5, 10), "cycle_of_notice_end", D(2026, 6, 30)),
        (D(2026, 5, 1), "cycle_of_notice_end", D(2026, 5, 31)),
        # … or of the month after it under the alternative reading.
        (D(2026, 5, 10), "cycle_after_notice_end", D(2026, 7, 31)),
        # Never before the end of the month in which the minimum term (ends 31 March) ends.
        (D(2026, 1, 5), "cycle_of_notice_end", D(2026, 3, 31)),
    ],
)
def test_effective_date(notice, reading, effective):
    dates = cancellation(D(2026, 1, 1), 3, notice, reading=reading)
    assert dates.effective_date == effective
    assert dates.transition_end == effective + dt.timedelta(days=30)
    assert dates.notice_period_end == notice + dt.timedelta(days=30)


def test_an_annual_contract_runs_to_the_end_of_its_annual_term():
    dates = cancellation(D(2026, 3, 15), 3, D(2026, 6, 1), annual=True)
    assert dates.effective_date == D(2027, 3, 14)
    assert dates.as_json() == {
        "minimum_term_end": "2026-06-14",
        "notice_period_end": "2026-07-01",
        "effective_date": "2027-03-14",
        "transition_end": "2027-04-13",
    }


def test_unknown_reading_is_named():
    with pytest.raises(TermError, match="'end_of_year'"):
        cancellation(D(2026, 1, 1), 3, D(2026, 2, 1), reading="end_of_year")


dates = st.dates(min_value=D(2020, 1, 1), max_value=D(2035, 12, 31))


@PROPERTY
@given(start=dates, months=st.integers(1, 36))
def test_term_is_months_long_and_the_next_starts_the_day_after(start, months):
    end = term_end(start, months)
    assert start <= end
    nxt = end + dt.timedelta(days=1)
    # The next term starts on the same day-of-month (or the 1st after a clamped short month).
    assert nxt.day == start.day or (nxt.day == 1 and start.day > 28)
    assert (nxt.year - start.year) * 12 + nxt.month - start.month in {months, months + 1}


@PROPERTY
@given(start=dates, months=st.integers(0, 24), offset=st.integers(0, 900), annual=st.booleans())
def test_effective_date_properties(start, months, offset, annual):
    notice = start + dt.timedelta(days=offset)
    for reading in ("cycle_of_notice_end", "cycle_after_notice_end"):
        got = cancellation(start, months, notice, reading=reading, annual=annual)
        assert got.effective_date == month_end(got.effective_date) or annual
        assert got.effective_date >= got.notice_period_end
        assert got.effective_date >= month_end(got.minimum_term_end)
        if annual:
            assert got.effective_date >= annual_term_end(start, got.notice_period_end)
        assert got.transition_end - got.effective_date == dt.timedelta(days=30)


@PROPERTY
@given(start=dates, on=dates)
def test_annual_term_contains_the_day(start, on):
    end = annual_term_end(start, on)
    assert end >= on
    years = next(k for k in range(1, 40) if term_end(start, 12 * k) == end)
    assert years == 1 or term_end(start, 12 * (years - 1)) < on
