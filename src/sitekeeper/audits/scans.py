"""One security pass over a site: inventory + known vulnerabilities, file integrity, malware, suspicious
database changes — each step on its own, so one failing (a host unreachable, no database) never hides the
others' results. Used by the nightly task and by `sitekeeper audit scan`."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from typing import Any

from sitekeeper import proc
from sitekeeper.access.crypto import DecryptionError
from sitekeeper.audits import integrity, malware, suspicious, tree, vulns
from sitekeeper.backups.sources import SourceError
from sitekeeper.contracts.models import Site

logger = logging.getLogger(__name__)

STEPS = ("inventory", "integrity", "malware", "suspicious")
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
        try:
            outcome = step()
        except STEP_ERRORS as exc:
            logger.warning("security scan of %s: %s failed: %s", site, name, exc)
            results[name] = f"failed: {exc}"
            continue
        results[name] = f"ok: {_summary(outcome)}"
    return results


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
