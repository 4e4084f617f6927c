"""One security pass over a site: inventory + known vulnerabilities, file integrity, malware, suspicious
database changes — each step on its own, so one failing (a host unreachable, no database) never hides the
others' results. Used by the nightly task and by `sitekeeper audit scan`.

Each step's run is recorded (ScanStepRun), because "nothing found" is only true of a step that ran: a site
whose steps never ran is "never scanned", and one without a good run in the last SCAN_FRESH (48 h; the pass
is nightly) is overdue — the agency's problem to fix, shown to staff, never an all-clear for the client.
`last_scan_at(site)` is the one answer to "when was this site last scanned" for every page and check."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from typing import Any

from sitekeeper import proc
from sitekeeper.access.crypto import DecryptionError
from sitekeeper.backups.sources import SourceError
from sitekeeper.contracts.models import Site
from sitekeeper.security import integrity, malware, suspicious, tree, vulns
from sitekeeper.security.models import FindingKind, ScanOutcome, ScanStepRun

logger = logging.getLogger(__name__)

STEPS = ("inventory", "integrity", "malware", "suspicious")
# Which step looks for which kind of security finding (the security page's headings).
STEP_OF_KIND = {
    FindingKind.VULNERABILITY: "inventory",
    FindingKind.INTEGRITY: "integrity",
    FindingKind.MALWARE: "malware",
    FindingKind.SUSPICIOUS: "suspicious",
}
SCAN_FRESH = dt.timedelta(hours=48)  # item 1 of issue 12: no scan in 48 h is the agency's problem
SKIPPED = "skipped"  # a step's outcome text starts with it when it had nothing to read
# What a step may fail with without stopping the pass: the site's host, files or database are unreachable
# or set up wrongly. Programming errors still raise.
STEP_ERRORS = (
    proc.ProcError, proc.MissingProgramError, SourceError, OSError, ConnectionError, DecryptionError,
    ValueError, suspicious.ActivityError, tree.TreeError,
)  # fmt: skip


def _steps(site: Site, environment: str, now: dt.datetime) -> dict[str, Callable[[], Any]]:
    return {
        "inventory": lambda: vulns.refresh_site(site, environment, now=now),
        "integrity": lambda: integrity.scan(site, environment, now=now),
        "malware": lambda: malware.scan(site, environment, now=now),
        "suspicious": lambda: (
            suspicious.scan(site, environment=environment, now=now)
            if suspicious.database_source(site, environment)
            else "skipped (no database source to read)"
        ),
    }


def scannable(site: Site, environment: str = "prod") -> bool:
    """Files to read: the site's code source (the same folder the backups read)."""
    return tree.code_source(site, environment) is not None


def scan_site(
    site: Site, environment: str = "prod", *, only: Sequence[str] = STEPS, now: dt.datetime | None = None
) -> dict[str, str]:
    """Run the chosen steps; returns step -> "ok: …" or "failed: …" (also logged)."""
    now = now or dt.datetime.now(dt.UTC)
    unknown = set(only) - set(STEPS)
    if unknown:
        raise ValueError(f"unknown scan step(s) {', '.join(sorted(unknown))}; choose from {', '.join(STEPS)}")
    results: dict[str, str] = {}
    for name, step in _steps(site, environment, now).items():
        if name not in only:
            continue
        started = dt.datetime.now(dt.UTC)
        try:
            outcome = step()
        except STEP_ERRORS as exc:
            logger.warning("security scan of %s: %s failed: %s", site, name, exc)
            results[name] = f"failed: {exc}"
            _log_run(site, environment, name, started=started, now=now, outcome=ScanOutcome.FAILED,
                     summary=str(exc))  # fmt: skip
            continue
        summary = _summary(outcome)
        results[name] = f"ok: {summary}"
        state = ScanOutcome.SKIPPED if summary.startswith(SKIPPED) else ScanOutcome.OK
        _log_run(site, environment, name, started=started, now=now, outcome=state, summary=summary)
    return results


def _log_run(site: Site, environment: str, step: str, *, started: dt.datetime, now: dt.datetime, outcome: str,
             summary: str) -> None:  # fmt: skip
    """The pass's `now` is the moment it scanned for (tests and the demo pass their own); the run is
    recorded at that moment plus the time the step took, so "last scanned" follows the same clock."""
    took = dt.datetime.now(dt.UTC) - started
    ScanStepRun.objects.create(
        site=site, environment=environment, step=step, started_at=now, finished_at=now + took,
        outcome=outcome, summary=summary[:500],
    )  # fmt: skip


# -- when was a site last scanned (pages, the API, the agency's gap checks) ---------------------------------
def last_scan_at(site: Site, environment: str = "prod") -> dt.datetime | None:
    """When a step of a security pass last ran to completion on the site (None: never scanned). A step
    that failed or had nothing to read does not count as a scan."""
    runs = ScanStepRun.objects.filter(site=site, environment=environment, outcome=ScanOutcome.OK)
    return runs.order_by("-finished_at").values_list("finished_at", flat=True).first()


def scan_overdue(site: Site, now: dt.datetime | None = None, environment: str = "prod") -> bool:
    """Never scanned, or no scan in the last SCAN_FRESH: the agency's action is needed."""
    last = last_scan_at(site, environment)
    return last is None or last < (now or dt.datetime.now(dt.UTC)) - SCAN_FRESH


@dataclasses.dataclass(frozen=True)
class StepState:
    """One step's standing on a site: its last good run and its latest attempt (which may have failed)."""

    step: str
    last_ok: ScanStepRun | None
    latest: ScanStepRun | None

    @property
    def state(self) -> str:
        """never | failed (never ran to completion) | skipped (nothing to read) | ok."""
        if self.last_ok is not None:
            return "ok"
        if self.latest is None:
            return "never"
        return "skipped" if self.latest.outcome == ScanOutcome.SKIPPED else "failed"


def step_states(site: Site, environment: str = "prod") -> dict[str, StepState]:
    latest: dict[str, ScanStepRun] = {}
    last_ok: dict[str, ScanStepRun] = {}
    for run in ScanStepRun.objects.filter(site=site, environment=environment).order_by("-finished_at"):
        latest.setdefault(run.step, run)
        if run.outcome == ScanOutcome.OK:
            last_ok.setdefault(run.step, run)
    return {step: StepState(step, last_ok.get(step), latest.get(step)) for step in STEPS}


def _summary(outcome: Any) -> str:
    if isinstance(outcome, dict):
        return ", ".join(f"{k} {v}" for k, v in outcome.items())
    if isinstance(outcome, list):
        return f"{len(outcome)} new finding(s)"
    changes = getattr(outcome, "changes", None)
    files = getattr(outcome, "files", None)
    return (
        f"{files} files" + (f", changes {changes}" if changes else "") if files is not None else str(outcome)
    )
