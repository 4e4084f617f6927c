"""Lighthouse's pure side: parsing stored reports (trimmed from real Lighthouse 12.8.2 runs), the median run,
budgets and the 2.1 regression rule — no browser needed. Plus locating the programs."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sitekeeper import proc
from sitekeeper.health import lighthouse as lh

DATA = Path(__file__).parent / "data"


def report(name: str = "lighthouse-mobile.json") -> bytes:
    return (DATA / name).read_bytes()


def fake_run(performance: int | None, lcp: int = 1000, accessibility: int | None = 90) -> lh.Run:
    scores = {"performance": performance, "accessibility": accessibility, "best_practices": 100, "seo": 90}
    metrics = dict.fromkeys(lh.METRICS, 0) | {"lcp_ms": lcp}
    return lh.Run(scores=scores, metrics=metrics, lighthouse_version="12.8.2", report_json=str(lcp).encode())


# -- parsing ---------------------------------------------------------------------------------------------
def test_parse_a_real_mobile_report():
    run = lh.parse_report(report())
    assert run.scores == {"performance": 56, "accessibility": 84, "best_practices": 96, "seo": 82}
    assert run.metrics == {
        "lcp_ms": 10635, "fcp_ms": 10635, "tbt_ms": 0, "speed_index_ms": 10635, "ttfb_ms": 6, "cls": 0.0,
        "page_weight_bytes": 1334,
    }  # fmt: skip
    assert run.lighthouse_version == "12.8.2"
    assert run.runtime_error == ""
    assert run.report_json == report()


def test_parse_a_report_of_a_page_that_did_not_load():
    run = lh.parse_report(report("lighthouse-error.json"))
    assert set(run.scores.values()) == {None}
    assert set(run.metrics.values()) == {None}
    assert "interstitial" in run.runtime_error
    measurement = lh.combine("http://127.0.0.1:9/", "mobile", [run])
    assert not measurement.ok
    assert measurement.run_scores == [None]
    assert lh.over_budget({"performance": 90, "lcp_ms": 2500}, measurement) == []


def test_a_score_of_zero_is_kept_and_a_missing_category_is_none():
    data = json.loads(report())
    data["categories"]["performance"]["score"] = 0
    del data["categories"]["seo"]
    run = lh.parse_report(json.dumps(data).encode())
    assert run.scores["performance"] == 0
    assert run.scores["seo"] is None


# -- median ----------------------------------------------------------------------------------------------
def test_median_of_three_takes_the_middle_runs_metrics_and_report():
    runs = [fake_run(70, lcp=3000), fake_run(95, lcp=1200), fake_run(88, lcp=1800, accessibility=80)]
    m = lh.combine("https://x.test/", "mobile", runs)
    assert m.run_scores == [70, 95, 88]
    assert m.scores["performance"] == 88
    assert m.metrics["lcp_ms"] == 1800  # the metrics of the run that scored 88, not a per-metric median
    assert m.report_json == b"1800"
    assert m.scores["accessibility"] == 90  # each category is its own median


def test_median_with_an_even_count_is_the_lower_middle_run():
    assert lh.median_index([90, 60, 80, 70]) == 3  # sorted 60, 70, 80, 90: the lower middle is 70


def test_a_run_without_a_score_counts_as_the_lowest():
    assert lh.median_index([None, 50, 90]) == 1
    assert lh.median_index([None, None, 90]) == 1


@given(st.lists(st.one_of(st.none(), st.integers(0, 100)), min_size=1, max_size=9))
def test_the_median_run_has_as_many_runs_at_or_below_as_at_or_above(scores):
    index = lh.median_index(scores)
    key = [-1 if s is None else s for s in scores]
    below = sum(1 for k in key if k <= key[index])
    above = sum(1 for k in key if k >= key[index])
    assert below >= len(scores) / 2
    assert above >= (len(scores) + 1) // 2


@given(st.lists(st.integers(0, 100), min_size=1, max_size=9))
def test_the_median_score_is_one_of_the_runs_and_between_min_and_max(scores):
    value = lh.median_score(scores)
    assert value in scores
    assert min(scores) <= value <= max(scores)


# -- budgets ---------------------------------------------------------------------------------------------
def test_budget_scores_are_minimums_and_metrics_maximums():
    m = lh.combine("https://x.test/", "mobile", [lh.parse_report(report())])
    budget = {"performance": 90, "accessibility": 80, "lcp_ms": 2500, "tbt_ms": 200, "cls": 0.1,
              "page_weight_kb": 1, "ttfb_ms": 600}  # fmt: skip
    assert lh.over_budget(budget, m) == [
        {"metric": "performance", "limit": 90, "actual": 56},
        {"metric": "lcp_ms", "limit": 2500, "actual": 10635},
        {"metric": "page_weight_kb", "limit": 1, "actual": 1.3},
    ]


def test_a_budget_exactly_met_is_not_broken_and_blank_limits_are_ignored():
    flat = {"performance": 90, "lcp_ms": 2500, "cls": 0.1}
    assert lh.over_budget({"performance": 90, "lcp_ms": 2500, "cls": "0.1", "tbt_ms": ""}, flat) == []


@given(st.integers(0, 100), st.integers(0, 100))
def test_a_minimum_score_breaks_exactly_when_the_score_is_below_it(limit, score):
    broken = lh.over_budget({"performance": limit}, {"performance": score})
    assert bool(broken) == (score < limit)


# -- regression (agreement 2.1) --------------------------------------------------------------------------
def test_a_drop_of_more_than_40_points_is_a_regression_and_exactly_40_is_not():
    assert lh.regression([99, 98, 97], 57, 40) == 41
    assert lh.regression([99, 98, 97], 58, 40) is None
    assert lh.regression([], 10, 40) is None  # no baseline last month
    assert lh.regression([90], None, 40) is None  # nothing measured now


def test_the_baseline_is_the_median_of_last_months_results():
    assert lh.baseline([100, 40, 90]) == 90
    assert lh.baseline([100, 80]) == 90
    assert lh.baseline([None, 70]) == 70


@given(st.lists(st.integers(0, 100), min_size=1, max_size=12), st.integers(0, 100), st.integers(0, 100))
def test_regression_is_the_drop_below_the_median_when_it_exceeds_the_allowance(previous, current, allowed):
    found = lh.regression(previous, current, allowed)
    drop = lh.baseline(previous) - current
    assert found == (drop if drop > allowed else None)


def test_previous_month_wraps_the_year():
    assert lh.previous_month(2026, 1) == (2025, 12)
    assert lh.previous_month(2026, 7) == (2026, 6)


# -- the command and the programs ------------------------------------------------------------------------
def test_command_mobile_and_desktop(tmp_path):
    mobile = lh.command("lh", "https://x.test/", form_factor="mobile", output=tmp_path / "r.json",
                        profile=tmp_path / "p")  # fmt: skip
    desktop = lh.command("lh", "https://x.test/", form_factor="desktop", output=tmp_path / "r.json",
                         profile=tmp_path / "p")  # fmt: skip
    assert "--preset=desktop" not in mobile
    assert "--preset=desktop" in desktop
    flags = next(a for a in mobile if a.startswith("--chrome-flags="))
    assert "--headless=new" in flags
    assert "--no-sandbox" in flags
    assert f"--user-data-dir={tmp_path / 'p'}" in flags
    assert "--output=json" in mobile
    with pytest.raises(ValueError, match="tablet"):
        lh.command("lh", "https://x.test/", form_factor="tablet", output=tmp_path, profile=tmp_path)


def test_missing_lighthouse_names_npm_and_chromium(tmp_path, monkeypatch):
    monkeypatch.delenv("SITEKEEPER_LIGHTHOUSE", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(proc.MissingProgramError, match=r"npm install.*chromium"):
        lh.find_binary(root=tmp_path)
    with pytest.raises(proc.MissingProgramError, match="chromium"):
        lh.find_chrome(str(tmp_path / "no-chromium"))


def test_lighthouse_being_installed_says_so(tmp_path, monkeypatch):
    """make demo installs Lighthouse in the background: while its installer lives, the audit says so."""
    monkeypatch.delenv("SITEKEEPER_LIGHTHOUSE", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    marker = tmp_path / lh.INSTALLING
    marker.parent.mkdir()
    marker.write_text(str(os.getpid()))  # a live installer: this process
    with pytest.raises(proc.MissingProgramError, match="still being installed"):
        lh.find_binary(root=tmp_path)
    marker.write_text("999999999")  # the installer died: the usual message
    with pytest.raises(proc.MissingProgramError, match="is not installed"):
        lh.find_binary(root=tmp_path)


def test_configured_lighthouse_wins(tmp_path, monkeypatch):
    program = tmp_path / "lighthouse"
    program.write_text("#!/bin/sh\n")
    program.chmod(program.stat().st_mode | stat.S_IEXEC)
    assert lh.find_binary(str(program), root=tmp_path / "nowhere") == str(program)
    monkeypatch.setenv("SITEKEEPER_LIGHTHOUSE", str(program))
    assert lh.find_binary(root=tmp_path / "nowhere") == str(program)


def test_a_lighthouse_that_writes_no_report_is_an_error(tmp_path):
    program = tmp_path / "lighthouse"
    program.write_text("#!/bin/sh\necho 'Unable to connect to Chrome' >&2\nexit 1\n")
    program.chmod(program.stat().st_mode | stat.S_IEXEC)
    chrome = os.environ.get("SITEKEEPER_CHROME") or "/bin/sh"  # any executable: never started here
    with pytest.raises(lh.LighthouseError, match="Unable to connect to Chrome"):
        lh.measure("http://127.0.0.1:9/", runs=3, binary=str(program), chrome=chrome)
