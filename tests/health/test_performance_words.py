"""The Lighthouse pages in words: the trend under each chart, budgets and breaches, measures."""

from __future__ import annotations

from sitekeeper.health.views_performance import _metric_text, budget_lines, trend_lines


def point(month: str, score: float | None) -> dict:
    return {"month": month, "count": 0 if score is None else 1, "performance": score}


def test_trend_lines_name_the_latest_month_and_the_change():
    series = {
        "mobile": [point("2026-10", 90), point("2026-11", 86), point("2026-12", 38)],
        "desktop": [point("2026-10", 91), point("2026-11", None), point("2026-12", 90)],
    }
    assert trend_lines(series) == [
        "Mobile: 38 in Dec 2026, down 48 points from 86 in Nov 2026.",
        "Desktop: 90 in Dec 2026, down 1 point from 91 in Oct 2026.",  # a month without results is skipped
    ]


def test_trend_lines_without_a_previous_month_or_any_result():
    series = {"mobile": [point("2026-11", None), point("2026-12", 71)], "desktop": [point("2026-12", None)]}
    assert trend_lines(series) == ["Mobile: 71 in Dec 2026.", "Desktop: not measured in the last 1 months."]


def test_budget_and_measures_in_words():
    assert budget_lines({"performance": 80, "lcp_ms": 2500}) == [
        "min performance score (0-100): 80",
        "max Largest Contentful Paint (ms): 2500",
    ]
    assert budget_lines(None) == []
    assert _metric_text(7400, "ms") == "7.4 s"
    assert _metric_text(180, "ms") == "180 ms"
    assert _metric_text(None, "ms") == "—"
    assert _metric_text(0.02, "") == "0.02"
    assert _metric_text(1_468_006, "bytes") == "1.4\xa0MB"
