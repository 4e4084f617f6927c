"""The trend arrow beside a repeated score: up, down, steady within the band, unknown without a figure."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sitekeeper.core.trend import DOWN, STEADY, UNKNOWN, UP, change, direction

scores = st.integers(min_value=0, max_value=100)


@pytest.mark.parametrize(
    ("before", "now", "expected"),
    [(90, 42, DOWN), (42, 90, UP), (90, 89, STEADY), (90, 93, UP), (90, 87, DOWN), (None, 50, UNKNOWN),
     (50, None, UNKNOWN), (None, None, UNKNOWN), (88.5, 88.5, STEADY)],
)  # fmt: skip
def test_direction(before, now, expected):
    assert direction(before, now) == expected


def test_negative_band_is_refused():
    with pytest.raises(ValueError, match="steady must be zero or more"):
        direction(1, 2, steady=-1)


@given(scores, scores, st.integers(min_value=0, max_value=20))
def test_direction_is_antisymmetric_and_agrees_with_the_change(before, now, band):
    way, back = direction(before, now, band), direction(now, before, band)
    assert {way, back} in ({UP, DOWN}, {STEADY})
    delta = change(before, now)
    assert (way == UP) == (delta > 0 and delta >= band)
    assert (way == STEADY) == (delta == 0 or abs(delta) < band)


@given(scores)
def test_no_figure_is_never_steady(score):
    assert direction(None, score) == UNKNOWN
    assert direction(score, None) == UNKNOWN
    assert change(score, None) is None
