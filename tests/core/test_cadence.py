"""The update cadence as dates: worked examples, then properties on generated rules and dates."""

from __future__ import annotations

import datetime as dt
import itertools
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sitekeeper.core.cadence import (
    CADENCES,
    CadenceError,
    allows_emergency,
    batch_dates,
    latest_batch,
    next_batch,
)
from sitekeeper.core.targets import MonthlyBatch

PROPERTY = settings(
    max_examples=int(os.environ.get("SITEKEEPER_PROPERTY_EXAMPLES", "200")), deadline=None, database=None
)
D = dt.date
SECOND_TUE = MonthlyBatch.parse("2nd tue")
DAY_15 = MonthlyBatch.parse("day 15")


def test_monthly_batch_is_the_batch_day_each_month() -> None:
    dates = batch_dates("monthly_batch", SECOND_TUE, D(2026, 1, 1), D(2026, 1, 1), D(2026, 4, 30))
    assert dates == [D(2026, 1, 13), D(2026, 2, 10), D(2026, 3, 10), D(2026, 4, 14)]


def test_no_batch_before_the_contract_start() -> None:
    # Started on the 20th: January's batch (13th) was before the contract.
    dates = batch_dates("monthly_batch", SECOND_TUE, D(2026, 1, 20), D(2026, 1, 1), D(2026, 2, 28))
    assert dates == [D(2026, 2, 10)]
    assert latest_batch("monthly_batch", SECOND_TUE, D(2026, 1, 20), D(2026, 2, 9)) is None


def test_weekly_uses_the_rule_weekday() -> None:
    # 2026-01-01 is a Thursday; the first Tuesday on/after it is the 6th.
    dates = batch_dates("weekly", SECOND_TUE, D(2026, 1, 1), D(2026, 1, 1), D(2026, 1, 31))
    assert dates == [D(2026, 1, 6), D(2026, 1, 13), D(2026, 1, 20), D(2026, 1, 27)]
    assert batch_dates("weekly_emergency", SECOND_TUE, D(2026, 1, 1), D(2026, 1, 1), D(2026, 1, 31)) == dates


def test_weekly_with_a_day_rule_uses_the_start_weekday() -> None:
    # Contract started Thursday 2026-01-01 with a 'day 15' batch: every Thursday.
    dates = batch_dates("weekly", DAY_15, D(2026, 1, 1), D(2026, 1, 1), D(2026, 1, 20))
    assert dates == [D(2026, 1, 1), D(2026, 1, 8), D(2026, 1, 15)]


def test_biweekly_counts_from_the_contract_start() -> None:
    dates = batch_dates("biweekly", SECOND_TUE, D(2026, 1, 1), D(2026, 1, 10), D(2026, 2, 28))
    assert dates == [D(2026, 1, 20), D(2026, 2, 3), D(2026, 2, 17)]


def test_next_and_latest() -> None:
    assert next_batch("monthly_batch", SECOND_TUE, D(2025, 6, 1), D(2026, 1, 13)) == D(2026, 2, 10)
    assert next_batch("monthly_batch", SECOND_TUE, D(2025, 6, 1), D(2026, 1, 12)) == D(2026, 1, 13)
    assert next_batch("weekly", SECOND_TUE, D(2026, 3, 1), D(2025, 1, 1)) == D(2026, 3, 3)
    assert latest_batch("biweekly", SECOND_TUE, D(2026, 1, 1), D(2026, 1, 19)) == D(2026, 1, 6)
    assert latest_batch("biweekly", SECOND_TUE, D(2026, 1, 1), D(2026, 1, 20)) == D(2026, 1, 20)


def test_emergency_only_on_weekly_emergency() -> None:
    assert [c for c in CADENCES if allows_emergency(c)] == ["weekly_emergency"]
    with pytest.raises(CadenceError, match="daily"):
        batch_dates("daily", SECOND_TUE, D(2026, 1, 1), D(2026, 1, 1), D(2026, 2, 1))


# Properties ---------------------------------------------------------------------------------------------

rules = st.one_of(
    st.builds(MonthlyBatch, nth=st.sampled_from([1, 2, 3, 4, -1]), weekday=st.integers(0, 6), day=st.just(0)),
    st.builds(MonthlyBatch, nth=st.just(0), weekday=st.just(0), day=st.integers(1, 28)),
)
dates = st.dates(min_value=D(2024, 1, 1), max_value=D(2029, 12, 31))
cadences = st.sampled_from(CADENCES)


@PROPERTY
@given(cadences, rules, dates, dates, st.integers(0, 400))
def test_dates_are_sorted_in_range_and_after_start(
    cadence: str, rule: MonthlyBatch, start: dt.date, first: dt.date, days: int
) -> None:
    last = first + dt.timedelta(days=days)
    found = batch_dates(cadence, rule, start, first, last)
    assert found == sorted(set(found))
    assert all(first <= d <= last and d >= start for d in found)


@PROPERTY
@given(cadences, rules, dates, dates, st.integers(0, 400))
def test_spacing_matches_the_cadence(
    cadence: str, rule: MonthlyBatch, start: dt.date, first: dt.date, days: int
) -> None:
    found = batch_dates(cadence, rule, start, first, first + dt.timedelta(days=days))
    gaps = {(b - a).days for a, b in itertools.pairwise(found)}
    if cadence == "monthly_batch":
        assert gaps <= set(range(28, 36))
        assert all(d == rule.in_month(d.year, d.month) for d in found)
    else:
        assert gaps <= {14 if cadence == "biweekly" else 7}
        weekday = start.weekday() if rule.nth == 0 else rule.weekday
        assert all(d.weekday() == weekday for d in found)


@PROPERTY
@given(cadences, rules, dates, dates)
def test_next_batch_is_the_first_date_after(
    cadence: str, rule: MonthlyBatch, start: dt.date, after: dt.date
) -> None:
    nxt = next_batch(cadence, rule, start, after)
    assert nxt > after
    assert nxt >= start
    assert batch_dates(cadence, rule, start, after + dt.timedelta(days=1), nxt) == [nxt]
    assert latest_batch(cadence, rule, start, nxt) == nxt
    before = latest_batch(cadence, rule, start, after)
    assert before is None or before <= after
    if before is not None:
        assert batch_dates(cadence, rule, start, before, nxt) == [before, nxt]


@PROPERTY
@given(cadences, rules, dates, dates, st.tuples(st.integers(1, 200), st.integers(1, 200)))
def test_split_ranges_add_up(
    cadence: str, rule: MonthlyBatch, start: dt.date, first: dt.date, lengths: tuple[int, int]
) -> None:
    a, b = lengths
    middle, last = first + dt.timedelta(days=a), first + dt.timedelta(days=a + b)
    whole = batch_dates(cadence, rule, start, first, last)
    left = batch_dates(cadence, rule, start, first, middle)
    right = batch_dates(cadence, rule, start, middle + dt.timedelta(days=1), last)
    assert whole == left + right
