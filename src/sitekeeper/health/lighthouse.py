"""Lighthouse (npm `lighthouse`, installed into the project's node_modules by `make bootstrap`) with Debian's
Chromium: one page, one form factor, the median of N runs.

No Django here: the caller passes the configured binary and browser (performance.py reads the settings), and
everything after the subprocess is pure parsing and arithmetic on Lighthouse's JSON, tested against a stored
report without a browser.

The median run is the run whose performance score is the median (the lower middle for an even count), so the
stored metrics and report belong to one real run rather than mixing figures from several; the other
categories' scores are each their own median over the runs.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sitekeeper import proc

__all__ = [
    "CATEGORIES",
    "FORM_FACTORS",
    "METRICS",
    "LighthouseError",
    "Measurement",
    "Run",
    "combine",
    "find_binary",
    "find_chrome",
    "measure",
    "median_index",
    "over_budget",
    "parse_report",
    "previous_month",
    "regression",
]

# Our score names → Lighthouse's category ids.
CATEGORIES = {
    "performance": "performance",
    "accessibility": "accessibility",
    "best_practices": "best-practices",
    "seo": "seo",
}
# Our metric names → the Lighthouse audit whose numericValue holds it. TTFB is the observed server response
# time of the main document (what a host or a slow plugin changes), not the simulated throttled figure.
METRICS = {
    "lcp_ms": "largest-contentful-paint",
    "fcp_ms": "first-contentful-paint",
    "tbt_ms": "total-blocking-time",
    "speed_index_ms": "speed-index",
    "ttfb_ms": "server-response-time",
    "cls": "cumulative-layout-shift",
    "page_weight_bytes": "total-byte-weight",
}
FORM_FACTORS = ("mobile", "desktop")
# Headless Chromium as root in a container, offline-safe: no sandbox (needs user namespaces), no GPU, no
# background traffic to Google that would hang or skew the figures; /dev/shm is small in containers.
CHROME_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
)  # fmt: skip
PROJECT_ROOT = Path(__file__).resolve().parents[3]
INSTALL_HINT = "run `npm install` in the project (make bootstrap) and install the Debian package chromium"


class LighthouseError(RuntimeError):
    """Lighthouse ran but produced no usable report (crashed, timed out, wrote nothing)."""


@dataclass(frozen=True)
class Run:
    """One Lighthouse report, parsed."""

    scores: dict[str, int | None]
    metrics: dict[str, float | int | None]
    lighthouse_version: str
    runtime_error: str = ""
    report_json: bytes = b""


@dataclass(frozen=True)
class Measurement:
    url: str
    form_factor: str
    scores: dict[str, int | None]  # median of the runs, 0-100
    run_scores: list[int | None]  # performance score of each run, in run order
    metrics: dict[str, float | int | None]  # of the median run
    lighthouse_version: str
    report_json: bytes = field(repr=False)  # the median run's report
    runtime_error: str = ""  # Lighthouse could not load the page (HTTP 500, connection refused, …)

    @property
    def ok(self) -> bool:
        return not self.runtime_error and self.scores.get("performance") is not None


# -- locating the programs ---------------------------------------------------------------------------------
def find_binary(configured: str = "", *, root: Path = PROJECT_ROOT) -> str:
    """The lighthouse executable: the configured path (setting or environment SITEKEEPER_LIGHTHOUSE), else
    the project's node_modules/.bin/lighthouse, else one on PATH."""
    configured = configured or os.environ.get("SITEKEEPER_LIGHTHOUSE", "")
    # A configured path that is wrong is an error, not a reason to quietly run some other Lighthouse.
    candidates = (
        [configured]
        if configured
        else [str(root / "node_modules/.bin/lighthouse"), shutil.which("lighthouse")]
    )
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    if not configured and _installing(root):
        raise proc.MissingProgramError(
            "Lighthouse is still being installed (make demo installs it in the background, about a minute at "
            "most): run the audit again once it is done"
        )
    where = configured or f"{root / 'node_modules/.bin/lighthouse'} or PATH"
    raise proc.MissingProgramError(f"lighthouse is not installed (looked in {where}): {INSTALL_HINT}")


# scripts/demo-env.sh installs Lighthouse in the background and holds its installer's pid here meanwhile.
INSTALLING = "node_modules/.sitekeeper-installing"


def _installing(root: Path) -> bool:
    """`make demo` is installing Lighthouse right now (a stale file of a dead installer does not count)."""
    try:
        pid = int((root / INSTALLING).read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return True


def find_chrome(configured: str = "") -> str:
    """The browser: the configured path (setting or environment SITEKEEPER_CHROME, default Debian's
    /usr/bin/chromium), else chromium on PATH."""
    configured = configured or os.environ.get("SITEKEEPER_CHROME", "") or "/usr/bin/chromium"
    if os.access(configured, os.X_OK):
        return configured
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise proc.MissingProgramError(
            f"Chromium is not installed (looked for {configured or 'chromium'}): {INSTALL_HINT}"
        )
    return found


def command(binary: str, url: str, *, form_factor: str, output: Path, profile: Path) -> tuple[str, ...]:
    if form_factor not in FORM_FACTORS:
        raise ValueError(f"form factor {form_factor!r}: expected one of {', '.join(FORM_FACTORS)}")
    flags = " ".join((*CHROME_FLAGS, f"--user-data-dir={profile}"))
    preset = ("--preset=desktop",) if form_factor == "desktop" else ()
    return (
        binary, url, *preset, "--output=json", f"--output-path={output}", "--quiet",
        f"--chrome-flags={flags}",
    )  # fmt: skip


# -- running ------------------------------------------------------------------------------------------------
def run_once(
    url: str, *, form_factor: str = "mobile", timeout: float = 120, binary: str = "", chrome: str = ""
) -> Run:
    """One Lighthouse run in its own Chromium profile (runs never share a cache or cookies)."""
    binary = find_binary(binary)
    chrome = find_chrome(chrome)
    with tempfile.TemporaryDirectory(prefix="sitekeeper-lighthouse-") as tmp:
        output = Path(tmp) / "report.json"
        argv = command(binary, url, form_factor=form_factor, output=output, profile=Path(tmp) / "profile")
        # Exit status 1 with a report is a page Lighthouse could not load: the report's runtimeError says why.
        # Lighthouse starts Chromium itself: on a timeout its whole process group goes, the browser included.
        done = proc.run(argv, env={"CHROME_PATH": chrome}, timeout=timeout, check=False, what="lighthouse",
                        group=True)  # fmt: skip
        if not output.exists():
            raise LighthouseError(
                f"lighthouse wrote no report (exit status {done.returncode}): {done.stderr.strip()[-500:]}"
            )
        return parse_report(output.read_bytes())


def measure(
    url: str,
    *,
    form_factor: str = "mobile",
    runs: int = 3,
    timeout: float = 120,
    binary: str = "",
    chrome: str = "",
    on_run: Callable[[int, int], None] | None = None,
) -> Measurement:
    """The median of `runs` Lighthouse runs of one page. `timeout` is per run. A page that cannot be loaded
    stops after the first run (the answer will not change) with `runtime_error` set. `on_run(k, runs)` is
    called before run k (1-based), for progress."""
    if runs < 1:
        raise ValueError("runs must be at least 1")
    done: list[Run] = []
    for k in range(1, runs + 1):
        if on_run is not None:
            on_run(k, runs)
        one = run_once(url, form_factor=form_factor, timeout=timeout, binary=binary, chrome=chrome)
        done.append(one)
        if one.runtime_error:
            break
    return combine(url, form_factor, done)


# -- pure: parsing and arithmetic ------------------------------------------------------------------------
def _score(category: Mapping[str, Any] | None) -> int | None:
    value = (category or {}).get("score")
    return None if value is None else round(float(value) * 100)


def _metric(name: str, audit: Mapping[str, Any] | None) -> float | int | None:
    value = (audit or {}).get("numericValue")
    if value is None:
        return None
    return round(float(value), 3) if name == "cls" else round(float(value))


def parse_report(data: bytes) -> Run:
    """Scores 0-100 and key metrics of one Lighthouse JSON report."""
    report = json.loads(data)
    categories = report.get("categories") or {}
    audits = report.get("audits") or {}
    error = report.get("runtimeError") or {}
    return Run(
        scores={ours: _score(categories.get(theirs)) for ours, theirs in CATEGORIES.items()},
        metrics={ours: _metric(ours, audits.get(theirs)) for ours, theirs in METRICS.items()},
        lighthouse_version=str(report.get("lighthouseVersion", "")),
        runtime_error=str(error.get("message") or error.get("code") or "") if error else "",
        report_json=data,
    )


def median_index(scores: Sequence[int | None]) -> int:
    """Index of the median run by score (lower middle for an even count; a run without a score counts as the
    lowest; ties go to the earliest run)."""
    if not scores:
        raise ValueError("no runs")
    order = sorted(range(len(scores)), key=lambda i: (-1 if scores[i] is None else scores[i], i))
    return order[(len(order) - 1) // 2]


def median_score(values: Sequence[int | None]) -> int | None:
    present = [v for v in values if v is not None]
    return statistics.median_low(present) if present else None


def combine(url: str, form_factor: str, runs: Sequence[Run]) -> Measurement:
    if not runs:
        raise ValueError("no runs")
    performance = [r.scores.get("performance") for r in runs]
    middle = runs[median_index(performance)]
    failed = next((r.runtime_error for r in runs if r.runtime_error), "")
    return Measurement(
        url=url,
        form_factor=form_factor,
        scores={name: median_score([r.scores.get(name) for r in runs]) for name in CATEGORIES},
        run_scores=performance,
        metrics=dict(middle.metrics),
        lighthouse_version=middle.lighthouse_version,
        report_json=middle.report_json,
        runtime_error=failed,
    )


# Budget keys that are minimum scores; every other key is a maximum of a metric.
_MIN_SCORES = {"performance", "accessibility", "best_practices", "seo"}


def _actual(metric: str, scores: Mapping[str, Any], metrics: Mapping[str, Any]) -> float | int | None:
    if metric in _MIN_SCORES:
        return scores.get(metric)
    if metric == "page_weight_kb":
        weight = metrics.get("page_weight_bytes")
        return None if weight is None else round(weight / 1024, 1)
    return metrics.get(metric)


def over_budget(budget: Mapping[str, Any], m: Measurement | Mapping[str, Any]) -> list[dict[str, Any]]:
    """The budget lines a measurement breaks: [{metric, limit, actual}] in the budget's order. Scores are
    minimums, metrics maximums; a figure Lighthouse did not produce breaks nothing (the result's error says
    why it is missing). `m` is a Measurement or a flat mapping of score and metric names to values."""
    scores = m.scores if isinstance(m, Measurement) else m
    metrics = m.metrics if isinstance(m, Measurement) else m
    broken = []
    for metric, limit in budget.items():
        if limit is None or limit == "":
            continue
        actual = _actual(metric, scores, metrics)
        if actual is None:
            continue
        limit_value = float(limit)
        too_low = metric in _MIN_SCORES and actual < limit_value
        too_high = metric not in _MIN_SCORES and actual > limit_value
        if too_low or too_high:
            broken.append({"metric": metric, "limit": limit, "actual": actual})
    return broken


def baseline(previous: Sequence[int | None]) -> float | None:
    """The previous month's median performance score (the mean of the two middle ones for an even count)."""
    present = [v for v in previous if v is not None]
    return statistics.median(present) if present else None


def regression(previous: Sequence[int | None], current: int | None, allowed: int) -> float | None:
    """Points `current` lies below the previous month's median when that is MORE than `allowed` (agreement
    2.1: "drops by more than 40 points"), else None. No baseline or no score: None."""
    base = baseline(previous)
    if base is None or current is None:
        return None
    drop = base - current
    return drop if drop > allowed else None


def previous_month(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)
