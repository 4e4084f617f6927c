"""Which way a score went: the arrow beside a figure that is measured again and again (Lighthouse scores).

Pure arithmetic, no Django. A change smaller than `steady` points either way reads as steady, so the noise of
one audit run to the next does not show as a trend.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

UP, DOWN, STEADY, UNKNOWN = "up", "down", "steady", "unknown"

Number = int | float | Decimal | Fraction


def direction(before: Number | None, now: Number | None, steady: Number = 3) -> str:
    """UP or DOWN when `now` lies at least `steady` points above or below `before`, else STEADY; UNKNOWN when
    either figure is missing (nothing to compare — never shown as steady)."""
    if steady < 0:
        raise ValueError(f"direction: steady must be zero or more points, not {steady}")
    if before is None or now is None:
        return UNKNOWN
    change = Fraction(now) - Fraction(before)
    if change >= steady and change != 0:
        return UP
    if -change >= steady and change != 0:
        return DOWN
    return STEADY


def change(before: Number | None, now: Number | None) -> Fraction | None:
    """now − before, exactly; None when either is missing."""
    if before is None or now is None:
        return None
    return Fraction(now) - Fraction(before)
