"""core.retention.to_forget: which snapshots a plan's "kept N days" lets go — table cases and properties."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sitekeeper.core.retention import Snap, cutoff, to_forget

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


def days_ago(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


@pytest.mark.parametrize(
    ("ages", "keep_days", "forgotten"),
    [
        ([], 30, set()),
        ([1, 10, 29], 30, set()),  # all inside the window
        ([1, 31, 60], 30, {"s1", "s2"}),  # older than 30 days: let go
        ([30], 30, set()),  # exactly at the cutoff is kept
        ([30.0001, 31], 30, {"s1"}),  # just past it is not — except the newest
        ([100, 200, 300], 30, {"s1", "s2"}),  # backups stopped: the newest stays, however old
        ([5, 400], 365, {"s1"}),
        ([5, 364, 366], 365, {"s2"}),
    ],
)
def test_table(ages: list[float], keep_days: int, forgotten: set[str]) -> None:
    snaps = [Snap(f"s{i}", days_ago(age), "data/db") for i, age in enumerate(ages)]
    assert to_forget(snaps, NOW, keep_days) == forgotten


def test_series_are_independent() -> None:
    snaps = [
        Snap("db-old", days_ago(100), ("data", "db")),
        Snap("db-new", days_ago(1), ("data", "db")),
        Snap("code-only", days_ago(100), ("code", "code")),  # the only code snapshot: kept
    ]
    assert to_forget(snaps, NOW, 30) == {"db-old"}


def test_same_time_newest_is_chosen_by_id() -> None:
    at = days_ago(50)
    snaps = [Snap("a", at, "x"), Snap("b", at, "x")]
    assert to_forget(snaps, NOW, 30) == {"a"}


@pytest.mark.parametrize("bad", [0, -1])
def test_retention_below_one_day_is_refused(bad: int) -> None:
    with pytest.raises(ValueError, match="at least 1 day"):
        to_forget([], NOW, bad)


# -- properties ---------------------------------------------------------------------------------------------
snapshots = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=500 * 24 * 60),  # minutes before NOW
        st.sampled_from(["data/db", "data/uploads", "code/code"]),
    ),
    max_size=40,
).map(lambda items: [Snap(f"id{i}", NOW - dt.timedelta(minutes=m), s) for i, (m, s) in enumerate(items)])
keeps = st.sampled_from([1, 7, 30, 60, 90, 365])


@given(snapshots, keeps)
def test_newest_of_each_series_is_never_forgotten(snaps: list[Snap], keep_days: int) -> None:
    forgotten = to_forget(snaps, NOW, keep_days)
    for series in {s.series for s in snaps}:
        newest = max((s for s in snaps if s.series == series), key=lambda s: (s.time, s.id))
        assert newest.id not in forgotten


@given(snapshots, keeps)
def test_nothing_at_or_after_the_cutoff_is_forgotten(snaps: list[Snap], keep_days: int) -> None:
    limit = cutoff(NOW, keep_days)
    forgotten = to_forget(snaps, NOW, keep_days)
    assert not {s.id for s in snaps if s.time >= limit} & forgotten


@given(snapshots, keeps)
def test_everything_else_older_is_forgotten(snaps: list[Snap], keep_days: int) -> None:
    limit = cutoff(NOW, keep_days)
    newest = {
        series: max((s for s in snaps if s.series == series), key=lambda s: (s.time, s.id)).id
        for series in {s.series for s in snaps}
    }
    expected = {s.id for s in snaps if s.time < limit and s.id != newest[s.series]}
    assert to_forget(snaps, NOW, keep_days) == expected


@given(snapshots, keeps)
def test_idempotent(snaps: list[Snap], keep_days: int) -> None:
    forgotten = to_forget(snaps, NOW, keep_days)
    remaining = [s for s in snaps if s.id not in forgotten]
    assert to_forget(remaining, NOW, keep_days) == set()
