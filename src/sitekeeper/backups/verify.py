"""Proof that backups restore: rolling integrity checks of each repository and the monthly restore test.

The integrity check reads one slice of the repository's data (`restic check --read-data-subset=k/N`); the
cursor moves one slice per check, so N checks read every pack once. A slice that fails is read again by the
next check (the cursor stays put) until it passes: a damaged repository is never "proven" by moving on.

The restore test restores the newest catalogued snapshot of every source of the site into scratch space (a
temporary folder, a scratch database), compares it with what was recorded at backup time, and throws the
scratch space away. All layers are tested when they have a snapshot: data must have one (a site whose data was
never backed up has nothing to prove and fails); code and configuration are tested when backed up, and
listed as skipped otherwise. The site's "last verified restorable" date is the end of the latest PASSED test
(`presenters.last_verified`).

A restore test is a job of the job seam (`sitekeeper.jobs`): claimed with a lease that each progress report
renews; a test whose worker died (its lease ran out, or its pid is gone on this host) is taken over by the
next attempt, and a worker that finds its test taken over stops. Queuing the tests that are due is the
scheduler's (the caller passes `enqueue`): this module never imports the tasks.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F

from sitekeeper import jobs
from sitekeeper.access.models import User
from sitekeeper.backups import alerts
from sitekeeper.backups.errors import JOB_ERRORS, BackupError, config_for
from sitekeeper.backups.models import Layer, Repository, RestoreTest, SiteBackup, Snapshot, Source
from sitekeeper.backups.restic import Restic
from sitekeeper.backups.sources import module
from sitekeeper.contracts.models import Site
from sitekeeper.contracts.service import sites_in_service
from sitekeeper.files import private_dir

logger = logging.getLogger(__name__)

LOCK_WAIT = 300.0  # seconds a check waits for another job's repository lock before giving up
LOCK_POLL = 5.0
# What a single source's restore or verification can raise besides the job errors: a restored SQLite file
# that is not a database, a manifest missing a field (written by an older version).
SOURCE_ERRORS = (*JOB_ERRORS, sqlite3.Error, KeyError, ValueError)
OUTPUT_KEEP = 20_000  # characters of restic's check output kept on a test
# The lease of a test whose site has no backup settings (it fails at once, but needs a lease to be claimed).
TIMEOUT = dt.timedelta(hours=2)

# Restore tests as jobs: a test waiting for its worker is RUNNING with no owner (abandoned, so claimable).
TESTS = jobs.Kind(RestoreTest, waiting=(), running=RestoreTest.Status.RUNNING)
Enqueue = Callable[[Site, str], None]  # the scheduler's: queue the restore test of (site, slot)


class RepositoryBusyError(RuntimeError):
    """Another job holds the repository's lock longer than a check is willing to wait."""


@dataclass(frozen=True)
class CheckResult:
    repository: Repository
    ok: bool
    subset: str
    output: str


# -- integrity checks -------------------------------------------------------------------------------------
def check_repository(
    repo: Repository, *, now: dt.datetime | None = None, slices: int | None = None
) -> tuple[bool, str, str]:
    """Read one slice of the repository back: (ok, "k/N", restic's output).

    With `slices` the test reads 1/slices of the data (slices=1: everything) and the repository's own rolling
    cursor is left alone. Raises RepositoryBusyError when a live job keeps the repository locked."""
    repo.refresh_from_db(fields=["initialized_at", "check_cursor", "check_slices"])
    if repo.initialized_at is None:
        return False, "", f"repository {repo} was never initialised: no backup has been stored in it yet"
    if slices is not None:
        if slices < 1:
            raise ValueError(f"slices must be 1 or more, got {slices}")
        subset = f"{repo.check_cursor % slices + 1}/{slices}"
        outcome = _run_check(repo, subset)
        return outcome.ok, subset, outcome.output
    cursor, total = _claim_slice(repo)
    subset = f"{cursor % total + 1}/{total}"
    try:
        outcome = _run_check(repo, subset)
    except (*JOB_ERRORS, RepositoryBusyError):
        _release_slice(repo, cursor, total)
        raise
    if not outcome.ok:
        # Read the failing slice again next time, until it passes.
        _release_slice(repo, cursor, total)
    logger.info("repository %s: check of slice %s %s", repo, subset, "passed" if outcome.ok else "FAILED")
    return outcome.ok, subset, outcome.output


def _claim_slice(repo: Repository) -> tuple[int, int]:
    """Move the cursor one slice on with a conditional update, so two checks at once read different slices."""
    for _ in range(20):
        repo.refresh_from_db(fields=["check_cursor", "check_slices"])
        total = max(1, repo.check_slices)
        cursor = repo.check_cursor
        moved = Repository.objects.filter(pk=repo.pk, check_cursor=cursor).update(
            check_cursor=(cursor + 1) % total
        )
        if moved:
            repo.check_cursor = (cursor + 1) % total
            return cursor, total
    raise RepositoryBusyError(f"repository {repo}: could not take a check slice (the cursor keeps moving)")


def _release_slice(repo: Repository, cursor: int, total: int) -> None:
    Repository.objects.filter(pk=repo.pk, check_cursor=(cursor + 1) % total).update(check_cursor=cursor)
    repo.check_cursor = cursor


def _run_check(repo: Repository, subset: str) -> Any:
    deadline = time.monotonic() + LOCK_WAIT
    with Restic(repo) as restic:
        while True:
            restic.unlock()  # only locks of dead processes go
            outcome = restic.check(subset)
            if outcome.ok or "already locked" not in outcome.output:
                return outcome
            if time.monotonic() >= deadline:
                raise RepositoryBusyError(
                    f"repository {repo} stayed locked by another job for {LOCK_WAIT:.0f} s: "
                    f"{outcome.output[-300:]}"
                )
            time.sleep(LOCK_POLL)


def check_all_repositories(now: dt.datetime | None = None) -> list[CheckResult]:
    """The daily slice check of every repository still holding backups. A failed slice opens one P2 incident
    per site backed up into it — once: the alert stays open (SiteBackup.alerts) until a check passes again,
    while the same failing slice is re-read every day."""
    now = now or dt.datetime.now(dt.UTC)
    results = []
    repos = Repository.objects.exclude(status=Repository.Status.DELETED).exclude(initialized_at=None)
    for repo in repos.select_related("client"):
        try:
            ok, subset, output = check_repository(repo, now=now)
        except (*JOB_ERRORS, RepositoryBusyError) as exc:
            ok, subset, output = False, "", f"the check could not run: {exc}"
        results.append(CheckResult(repo, ok, subset, output))
        _repository_alerts(repo, ok, subset, output, now)
    return results


ALERT_KEY = "repository-check"


def _repository_alerts(repo: Repository, ok: bool, subset: str, output: str, now: dt.datetime) -> None:
    for config in SiteBackup.objects.filter(repository=repo).select_related("site__client"):
        state = dict(config.alerts)
        if ok:
            state.pop(ALERT_KEY, None)
        elif ALERT_KEY not in state:
            ticket = alerts.incident(
                config.site,
                episode=f"repository-check:{repo.pk}:{config.site_id}:{now.isoformat()}",
                subject="backup repository integrity check failed",
                details=f"The integrity check of repository {repo} (slice {subset or '-'}) failed. Backups "
                f"of this site stored there may not restore. restic said:\n{output[-3000:]}",
                log=output,
            )
            state[ALERT_KEY] = ticket.pk
        if state != config.alerts:
            SiteBackup.objects.filter(pk=config.pk).update(alerts=state)


# -- restore tests -----------------------------------------------------------------------------------------
def month_slot(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).strftime("%Y-%m")


def due_restore_tests(
    now: dt.datetime | None = None, *, enqueue: Enqueue | None = None
) -> list[tuple[Site, str]]:
    """Sites owing this month's restore test (slot "YYYY-MM", UTC): in service (contracts.service), backups
    enabled, repository active, at least one catalogued snapshot, and no test for the slot yet (or one whose
    worker died). The test row is created here, waiting for its worker, so an hourly pass does not queue the
    same test twice; `enqueue` (the scheduler's) is called for each test due."""
    now = now or dt.datetime.now(dt.UTC)
    slot = month_slot(now)
    due = []
    configs = SiteBackup.objects.filter(
        enabled=True,
        repository__status=Repository.Status.ACTIVE,
        site_id__in=[site.pk for site in sites_in_service(now)],
    )
    for config in configs.select_related("site"):
        site = config.site
        if not Snapshot.objects.filter(site=site, forgotten_at=None).exists():
            continue
        test, created = RestoreTest.objects.get_or_create(
            site=site, slot=slot, defaults={"trigger": "schedule", "progress": _queued()}
        )
        if not created and not _abandoned(test, now):
            continue
        due.append((site, slot))
    if enqueue:
        for site, slot_ in due:
            enqueue(site, slot_)
    return due


def _queued() -> dict[str, Any]:
    return {"phase": "queued"}


def _lease(site: Site) -> dt.timedelta:
    """How long a test's worker may stay silent before the test counts as abandoned: the site's timeout."""
    try:
        return dt.timedelta(minutes=site.backup.timeout_minutes)
    except SiteBackup.DoesNotExist:
        return TIMEOUT


def _abandoned(test: RestoreTest, now: dt.datetime) -> bool:
    """A test still marked running whose worker is gone (see jobs.abandoned) — or one queued that no worker
    started within the site's timeout (its task was lost: queue it again)."""
    if test.status != RestoreTest.Status.RUNNING:
        return False
    if not test.owner:
        return now - test.started_at > _lease(test.site)
    return jobs.abandoned(test.owner, test.lease_until, now)


class _Test:
    """A running test's record-keeping: progress that renews the lease, evidence, a log for the incident."""

    def __init__(self, test: RestoreTest, lease: dt.timedelta) -> None:
        self.test, self.lease = test, lease
        self.lines: list[str] = []

    def log(self, line: str) -> None:
        self.lines.append(f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S} {line}")
        logger.info("restore test %s: %s", self.test.pk, line)

    def progress(self, **fields: Any) -> None:
        """Report progress; raises jobs.TakenOverError when another worker took the test over (this one
        stops)."""
        self.test.progress = fields
        if not jobs.heartbeat(TESTS, self.test.pk, lease=self.lease, progress=fields):
            raise jobs.TakenOverError(f"restore test {self.test.pk} was taken over by another worker")


def restore_test(
    site: Site,
    *,
    slot: str,
    trigger: str = "schedule",
    user: User | None = None,
    slices: int | None = None,
) -> RestoreTest:
    """Run (or return) the restore test of `site` for `slot`. A finished test, or one another live worker is
    running, is returned as it is."""
    test, _ = RestoreTest.objects.get_or_create(
        site=site, slot=slot, defaults={"trigger": trigger, "requested_by": user, "progress": _queued()}
    )
    lease = _lease(site)
    fresh_start = {"error": "", "check_passed": None, "check_subset": "", "check_output": "", "evidence": []}
    also = {"attempts": F("attempts") + 1, "progress": {"phase": "starting"}, **fresh_start}
    if not jobs.claim(TESTS, test.pk, lease=lease, also=also):
        return test
    if user is not None and test.requested_by_id is None:
        RestoreTest.objects.filter(pk=test.pk).update(requested_by=user, trigger=trigger)
    test.refresh_from_db()
    record = _Test(test, lease)
    try:
        return _run(record, site, slices)
    except jobs.TakenOverError as exc:
        record.log(f"stopped: {exc}")
        test.refresh_from_db()
        return test


def _run(record: _Test, site: Site, slices: int | None) -> RestoreTest:
    """The test itself, in this worker that holds it: the check, then each source restored and compared."""
    test = record.test
    failures: list[str] = []
    try:
        config = config_for(site)
    except BackupError as exc:
        return _conclude(record, [str(exc)])
    repo = Repository.objects.get(pk=config.repository_id)  # fresh: jobs update it with .update()

    # 1. Integrity: one slice of the repository's data read back.
    record.progress(phase="check", source="", index=0, of=0)
    try:
        ok, subset, output = check_repository(repo, slices=slices)
    except (*JOB_ERRORS, RepositoryBusyError, ValueError) as exc:
        ok, subset, output = False, "", f"the check could not run: {exc}"
    RestoreTest.objects.filter(pk=test.pk).update(
        check_subset=subset, check_passed=ok, check_output=output[-OUTPUT_KEEP:]
    )
    test.check_subset, test.check_passed, test.check_output = subset, ok, output[-OUTPUT_KEEP:]
    record.log(f"repository check, slice {subset or '-'}: {'passed' if ok else 'FAILED'}")
    if not ok:
        failures.append(f"repository check of slice {subset or '-'} failed: {_tail(output)}")

    # 2. Each source's newest snapshot restored into scratch space and compared with its manifest.
    sources = list(Source.objects.filter(site=site, environment="prod").order_by("layer", "name"))
    evidence: list[dict[str, Any]] = []
    for index, source in enumerate(sources, 1):
        snap = (
            Snapshot.objects.filter(site=site, source_name=source.name, layer=source.layer, forgotten_at=None)
            .order_by("-time")
            .first()
        )
        if snap is None:
            if source.layer == Layer.DATA:
                failures.append(f"{source.name}: no snapshot of this data source to restore")
                evidence.append(_skipped(source, "no snapshot: the data has never been backed up"))
            else:
                evidence.append(_skipped(source, f"no {source.layer} snapshot yet: nothing to test"))
            continue
        record.progress(phase="restore", source=source.name, index=index, of=len(sources))
        item = _test_source(record, repo, source, snap, timeout=config.timeout_minutes * 60)
        evidence.append(item)
        if not item["passed"]:
            failures.append(f"{source.name}: {item.get('error') or _failed_checks(item)}")
    if not any("snapshot" in item for item in evidence):
        failures.append("no snapshot was restored: nothing is proven restorable")
    RestoreTest.objects.filter(pk=test.pk).update(evidence=evidence)
    test.evidence = evidence
    return _conclude(record, failures)


def _skipped(source: Source, why: str) -> dict[str, Any]:
    return {
        "source": source.name,
        "layer": source.layer,
        "kind": source.kind,
        "skipped": why,
        "passed": None,
        "checks": [],
    }


def _test_source(
    record: _Test, repo: Repository, source: Source, snap: Snapshot, *, timeout: float
) -> dict[str, Any]:
    started = time.monotonic()
    item: dict[str, Any] = {
        "source": source.name,
        "layer": source.layer,
        "kind": source.kind,
        "snapshot": snap.restic_id,
        "snapshot_time": snap.time.isoformat(),
        "restored": {},
        "restored_to": "",
        "checks": [],
        "passed": False,
    }
    scratch_root = Path(settings.HOME) / "scratch"
    private_dir(scratch_root)  # restored client files and databases, for the restore test only
    try:
        with (
            tempfile.TemporaryDirectory(prefix="sk-restore-test-", dir=scratch_root) as folder,
            Restic(repo, timeout=timeout) as restic,
            module(source.kind).scratch(source, Path(folder)) as dest,
        ):
            item["restored_to"] = _where(dest)
            record.log(f"{source.name}: restoring {snap.short_id} ({snap.time:%Y-%m-%d %H:%M}) into scratch")
            item["restored"] = module(source.kind).restore(snap.manifest, snap.restic_id, restic, dest)
            record.progress(phase="verify", source=source.name)
            checks = module(source.kind).verify(dest, snap.manifest)
        item["checks"] = [check.as_dict() for check in checks]
        item["passed"] = bool(checks) and all(check.ok for check in checks)
        if not checks:
            item["error"] = "nothing was compared (empty manifest)"
    except SOURCE_ERRORS as exc:
        item["error"] = str(exc) or exc.__class__.__name__
    item["seconds"] = round(time.monotonic() - started, 2)
    item["duration_seconds"] = item["seconds"]
    record.log(
        f"{source.name}: {'passed' if item['passed'] else 'FAILED'} "
        f"({sum(c['ok'] for c in item['checks'])}/{len(item['checks'])} checks, {item['seconds']} s)"
        + (f": {item['error']}" if item.get("error") else "")
    )
    return item


def _where(dest: Source) -> str:
    if dest.path:
        return dest.path
    # A scratch database: name it without the credentials of the URL.
    return dest.db_url.rsplit("@", 1)[-1]


def _failed_checks(item: dict[str, Any]) -> str:
    bad = [c for c in item.get("checks", []) if not c.get("ok")]
    return "; ".join(f"{c['name']}: expected {c['expected']}, got {c['actual']}" for c in bad[:5])


def _tail(text: str, lines: int = 6) -> str:
    return " | ".join(line for line in text.strip().splitlines()[-lines:] if line.strip())


def _conclude(record: _Test, failures: list[str]) -> RestoreTest:
    test = record.test
    now = dt.datetime.now(dt.UTC)
    passed = not failures
    status = RestoreTest.Status.PASSED if passed else RestoreTest.Status.FAILED
    error = "\n".join(failures)
    record.log("PASSED" if passed else f"FAILED: {'; '.join(failures)}")
    with transaction.atomic():
        if not jobs.finish(TESTS, test.pk, status, now=now, error=error, progress={"phase": status}):
            raise jobs.TakenOverError(
                f"restore test {test.pk} was taken over by another worker before it ended"
            )
        if not passed:
            ticket = alerts.incident(
                test.site,
                episode=f"restore-test:{test.pk}:failed:{test.attempts}",
                subject="restore test failed: backups not proven restorable",
                details=f"The restore test {test.slot} of {test.site} failed:\n- "
                + "\n- ".join(failures)
                + "\nThe site's 'last verified restorable' date stays at the last passed test.",
                log="\n".join(record.lines),
            )
            RestoreTest.objects.filter(pk=test.pk).update(ticket=ticket)
    test.refresh_from_db()
    return test
