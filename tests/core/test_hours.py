"""The hours a client buys (core/hours.py): billing units, prorated included hours, buckets, month close."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sitekeeper.core.hours import (
    Bucket,
    HoursError,
    billable_minutes,
    close,
    included_minutes,
    month,
    would_exceed,
)

units = st.sampled_from([1, 5, 6, 10, 15, 30, 60])
days_in_month = st.sampled_from([28, 29, 30, 31])


@pytest.mark.parametrize(
    ("minutes", "unit", "billed"), [(1, 15, 15), (15, 15, 15), (16, 15, 30), (61, 60, 120)]
)
def test_an_entry_is_rounded_up_to_the_billing_unit(minutes, unit, billed):
    assert billable_minutes(minutes, unit) == billed


@given(st.integers(min_value=1, max_value=10_000), units)
def test_rounding_up_is_the_least_whole_number_of_units(minutes, unit):
    billed = billable_minutes(minutes, unit)
    assert billed % unit == 0
    assert minutes <= billed < minutes + unit


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: billable_minutes(0), "at least one minute"),
        (lambda: billable_minutes(10, 0), "billing unit 0"),
        (lambda: included_minutes(-1, 30, 30), "must not be negative"),
        (lambda: included_minutes(4, 32, 1), "28 to 31 days"),
        (lambda: included_minutes(4, 30, 31), "between 0 and 30"),
        (lambda: would_exceed(month(60, []), -5), "must not be negative"),
        (lambda: close(month(60, []), -1), "carry-over cap -1"),
    ],
)
def test_bad_figures_are_named(call, message):
    with pytest.raises(HoursError, match=message):
        call()


def test_a_month_starting_on_the_16th_of_a_30_day_month_gets_half():
    assert included_minutes(4, 30, 15) == 120  # 4 h × 15/30
    assert included_minutes(4, 31, 17) == 4 * 60 * 17 // 31  # 131 min, rounded down
    assert included_minutes(4, 30, 15, prorate=False) == 240
    assert included_minutes(4, 30, 0, prorate=False) == 0  # a month the contract does not cover


@given(st.integers(min_value=0, max_value=40), days_in_month, st.data())
def test_proration_is_monotone_and_never_more_than_the_plan(hours, days, data):
    covered = data.draw(st.integers(min_value=0, max_value=days))
    minutes = included_minutes(hours, days, covered)
    assert 0 <= minutes <= hours * 60
    assert included_minutes(hours, days, days) == hours * 60
    if covered < days:
        assert minutes <= included_minutes(hours, days, covered + 1)
    # Rounded down to the whole minute: within one minute of the exact share, never above it.
    assert minutes * days <= hours * 60 * covered < (minutes + 1) * days


def test_entries_fall_into_their_buckets():
    current = month(
        240,
        [(Bucket.INCLUDED, 90), (Bucket.EXTRA, 30), (Bucket.INCLUDED, 60), (Bucket.NOT_BILLABLE, 15)],
        carried_in=30,
    )
    assert (current.used, current.extra, current.out_of_scope, current.not_billable) == (150, 30, 0, 15)
    assert (current.available, current.left) == (270, 120)


def test_work_beyond_what_is_left_waits_for_approval_of_the_excess():
    current = month(120, [(Bucket.INCLUDED, 105)])
    assert would_exceed(current, 15) == 0
    assert would_exceed(current, 45) == 30  # the figure the client is asked to approve as extra


def test_without_a_package_everything_left_is_forfeited():
    assert close(month(240, [(Bucket.INCLUDED, 60)])) == close(month(240, [(Bucket.INCLUDED, 60)]), 0)
    result = close(month(240, [(Bucket.INCLUDED, 60)]))
    assert (result.carried, result.forfeited) == (0, 180)
    package = close(month(240, [(Bucket.INCLUDED, 60)]), carry_cap=120)
    assert (package.carried, package.forfeited) == (120, 60)


entries = st.lists(
    st.tuples(st.sampled_from(list(Bucket)), st.integers(min_value=0, max_value=600)), max_size=20
)


@given(st.integers(min_value=0, max_value=2400), st.integers(min_value=0, max_value=600), entries, st.data())
def test_the_close_accounts_for_every_minute_left(included, carried_in, booked, data):
    current = month(included, booked, carried_in)
    cap = data.draw(st.integers(min_value=0, max_value=3000))
    result = close(current, cap)
    assert result.carried + result.forfeited == current.left
    assert 0 <= result.carried <= cap
    assert current.left == max(0, included + carried_in - current.used)
    assert current.used + current.extra + current.out_of_scope + current.not_billable == sum(
        m for _, m in booked
    )
    # What would exceed plus what fits is the whole request.
    ask = data.draw(st.integers(min_value=0, max_value=3000))
    assert would_exceed(current, ask) == max(0, ask - current.left)
