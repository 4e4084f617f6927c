"""Running a backup: claim the run (one per site, layer and slot), dump each source into restic, write the
catalogue, apply retention. A failure opens a P2 incident; nothing already stored is touched.

The run is a job of the job seam (`sitekeeper.jobs`): claimed with a lease, the lease renewed with each
progress report, finished or failed only by the worker that holds it. Resumable: a run whose worker died (its
lease ran out, or its pid is gone on this host) is taken over by the next attempt, which skips the sources
that already have a catalogued snapshot. restic's stale lock is removed by `restic unlock` (it removes only
locks of dead processes) and the dead run's unreferenced packs are harmless until the next prune. A worker
that finds its run taken over (its lease ran out while it was stalled) stops: the run is the other one's.

What follows a successful backup (retention, as the worker's next job) is the caller's: `then` is called with
the site — scheduling calls this module, never the other way round.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import F, TextField, Value
from django.db.models.functions import Concat

from sitekeeper import jobs, proc
from sitekeeper.access.models import User
from sitekeeper.backups import alerts
from sitekeeper.backups.errors import JOB_ERRORS, BackupError, config_for
from sitekeeper.backups.models import BackupRun, Repository, RunStatus, Snapshot, Source
from sitekeeper.backups.restic import Restic, parse_time, tags
from sitekeeper.backups.sources import Taken, module
from sitekeeper.contracts.models import Site
from sitekeeper.core import retention

logger = logging.getLogger(__name__)

PROGRESS_EVERY = 1.0  # seconds between progress writes (each also extends the lease)

# Backup runs as jobs: queued and interrupted runs wait; a failed one waits only when retried (RETRYING).
RUNS = jobs.Kind(BackupRun, waiting=(RunStatus.QUEUED, RunStatus.INTERRUPTED), running=RunStatus.RUNNING)
RETRYING = dataclasses.replace(RUNS, waiting=(*RUNS.waiting, RunStatus.FAILED))

FollowUp = Callable[[Site], None]  # what the caller does after a successful backup (queue retention)


# -- claiming ------------------------------------------------------------------------
def claim(
    site: Site,
    layer: str,
    slot: str,
    *,
    trigger: str = BackupRun.Trigger.SCHEDULE,
    user: User | None = None,
    retry: bool = False,
    now: dt.datetime | None = None,
) -> BackupRun | None:
    """The run for (site, layer, slot), taken by this process; None when it is done or someone else has it."""
    now = now or dt.datetime.now(dt.UTC)
    config = config_for(site)
    run, _ = BackupRun.objects.get_or_create(
        site=site, layer=layer, slot=slot, defaults={"trigger": trigger, "requested_by": user}
    )
    taken = jobs.claim(
        RETRYING if retry else RUNS,
        run.pk,
        lease=dt.timedelta(minutes=config.timeout_minutes),
        now=now,
        also={
            "attempts": F("attempts") + 1,
            "started_at": run.started_at or now,
            "finished_at": None,
            "error": "",
        },
    )
    if not taken:
        return None
    previous = f"previous state {run.status}, owner {run.owner or '-'}"
    run.refresh_from_db()
    if run.attempts > 1:
        _log(run, f"attempt {run.attempts}: taking over ({previous})")
    return run


def _log(run: BackupRun, line: str) -> None:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    entry = f"{stamp} {line}\n"
    run.log = f"{run.log}{entry}"
    # Appended in the database, not written whole: a worker that took the run over keeps its own lines.
    BackupRun.objects.filter(pk=run.pk).update(log=Concat("log", Value(entry), output_field=TextField()))
    logger.info("backup run %s: %s", run.pk, line)


class _Reporter:
    """Restic's status lines → run.progress, at most once a second; each write renews the lease (and stops
    the work with jobs.TakenOverError when the run is no longer ours)."""

    def __init__(self, run: BackupRun, lease: dt.timedelta, base: dict[str, Any]) -> None:
        self.run, self.lease, self.base, self.last = run, lease, base, 0.0

    def __call__(self, status: dict[str, Any]) -> None:
        if time.monotonic() - self.last < PROGRESS_EVERY:
            return
        self.last = time.monotonic()
        progress = {
            **self.base,
            "bytes_done": int(status.get("bytes_done", 0)),
            "total_bytes": int(status.get("total_bytes", 0)),
            "percent": round(100 * float(status.get("percent_done", 0.0)), 1),
            "files_done": int(status.get("files_done", 0)),
        }
        _heartbeat(self.run, self.lease, progress)


def _heartbeat(run: BackupRun, lease: dt.timedelta, progress: dict[str, Any]) -> None:
    if not jobs.heartbeat(RUNS, run.pk, lease=lease, progress=progress):
        raise jobs.TakenOverError(f"backup run {run.pk} was taken over by another worker")


# -- running ------------------------------------------------------------------------
def backup(
    site: Site,
    layer: str,
    *,
    slot: str | None = None,
    trigger: str = BackupRun.Trigger.MANUAL,
    user: User | None = None,
    at: dt.datetime | None = None,
    retry: bool = False,
    then: FollowUp | None = None,
) -> BackupRun | None:
    """Claim and execute one run. `at` dates the snapshots (tests back-date them with restic --time); `then`
    is called with the site after a successful run."""
    slot = slot or f"{trigger}-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S.%f}"
    run = claim(site, layer, slot, trigger=trigger, user=user, retry=retry)
    return execute(run, at=at, then=then) if run is not None else None


def execute(run: BackupRun, *, at: dt.datetime | None = None, then: FollowUp | None = None) -> BackupRun:
    """Back up each source of the run's layer: one `restic backup` per source and nothing else on the happy
    path (every extra restic call costs a repository open). Retention is not done here: a backup is never
    slowed or failed by housekeeping (forget and prune take restic's exclusive lock); the caller's `then`
    queues it as the worker's next job."""
    site = run.site
    config = config_for(site)
    sources = list(Source.objects.filter(site=site, environment="prod", layer=run.layer))
    done = set(run.snapshots.values_list("source_name", flat=True))
    lease = dt.timedelta(minutes=config.timeout_minutes)
    if not sources:
        _fail(run, config.repository, BackupError(f"no {run.layer} sources are set up for {site}"))
        return run
    try:
        with Restic(config.repository, timeout=lease.total_seconds()) as restic:
            # Taking over from a dead attempt: its restic lock is stale, remove it first.
            prepare(config.repository, restic, unlock=run.attempts > 1)
            for index, source in enumerate(sources, 1):
                if source.name in done:
                    _log(run, f"{source.name}: already stored by an earlier attempt")
                    continue
                _back_up_source(run, source, restic, at=at, place=(index, len(sources)), lease=lease)
            finished = _finish(run, RunStatus.SUCCEEDED)
    except jobs.TakenOverError as exc:
        _log(run, f"stopped: {exc}")
        return _taken_over(run)
    except (*JOB_ERRORS, BackupError) as exc:
        _fail(run, config.repository, exc)
        return run
    if not finished:
        return _taken_over(run)
    if then is not None:
        then(site)
    return run


def _back_up_source(
    run: BackupRun, source: Source, restic: Restic, *, at: dt.datetime | None, place: tuple[int, int],
    lease: dt.timedelta,
) -> None:  # fmt: skip
    _log(run, f"{source.name}: {source.get_kind_display()} backup starting")
    base = {"phase": "backup", "source": source.name, "index": place[0], "of": place[1]}
    _heartbeat(run, lease, base)
    source_tags = tags(site=run.site_id, layer=run.layer, source=source.name, run=run.pk)
    dump = module(source.kind).dump
    try:
        taken = dump(source, restic, source_tags, at=at, progress=_Reporter(run, lease, base))
    except proc.ProcError as exc:
        if not is_lock_error(exc):
            raise
        # A lock left by a killed exclusive command (check, prune) of another process: restic removes it
        # only if that process is gone; then the source is dumped again from the start.
        _log(run, f"{source.name}: repository locked ({exc}); removing stale locks and trying again")
        restic.unlock()
        taken = dump(source, restic, source_tags, at=at, progress=_Reporter(run, lease, base))
    snap = _catalogue(run, source, taken)
    _log(run, f"{source.name}: snapshot {snap.short_id}, {taken.bytes_processed} bytes, "
              f"{taken.bytes_added} new, {taken.duration_seconds:.1f} s")  # fmt: skip


def is_lock_error(exc: proc.ProcError) -> bool:
    return "repository is already locked" in exc.stderr


def prepare(repo: Repository, restic: Restic, *, unlock: bool = True) -> None:
    """Initialise the repository on first use; clear locks left by dead processes when asked."""
    if repo.initialized_at is None:
        restic.init()
        Repository.objects.filter(pk=repo.pk).update(initialized_at=dt.datetime.now(dt.UTC))
        repo.initialized_at = dt.datetime.now(dt.UTC)
    elif unlock:
        restic.unlock()


def _catalogue(run: BackupRun, source: Source, taken: Taken) -> Snapshot:
    snap = Snapshot.objects.create(
        repository=run.site.backup.repository,
        site=run.site,
        source=source,
        source_name=source.name,
        source_kind=source.kind,
        layer=run.layer,
        run=run,
        restic_id=taken.restic_id,
        time=taken.time,
        bytes_processed=taken.bytes_processed,
        bytes_added=taken.bytes_added,
        files=taken.files,
        duration_seconds=taken.duration_seconds,
        manifest=taken.manifest,
    )
    BackupRun.objects.filter(pk=run.pk).update(
        bytes_processed=F("bytes_processed") + taken.bytes_processed,
        bytes_added=F("bytes_added") + taken.bytes_added,
        files=F("files") + taken.files,
    )
    return snap


def _finish(run: BackupRun, status: str, error: str = "") -> bool:
    """End the run with `status`; False when it was no longer ours (another worker took it over)."""
    run.status, run.error = status, error
    run.finished_at = dt.datetime.now(dt.UTC)
    run.refresh_from_db(fields=["bytes_processed", "bytes_added", "files", "log"])
    return jobs.finish(RUNS, run.pk, status, now=run.finished_at, error=error, progress={"phase": status})


def _taken_over(run: BackupRun) -> BackupRun:
    """The run as the worker that took it over keeps it (this worker's ending did not count)."""
    run.refresh_from_db()
    return run


def _fail(run: BackupRun, repo: Repository, exc: Exception) -> None:
    message = str(exc) or exc.__class__.__name__
    _log(run, f"FAILED: {message}")
    if not BackupRun.objects.filter(pk=run.pk, owner=jobs.owner_id()).exists():
        _taken_over(run)
        return  # the worker that took the run over decides how it ends (and tidies after it)
    try:
        with Restic(repo) as restic:
            forgotten = forget_uncatalogued(run.site, restic, run=run)
        if forgotten:
            _log(run, f"let go {len(forgotten)} incomplete snapshot(s) restic kept: {', '.join(forgotten)}")
    except JOB_ERRORS as cleanup:
        _log(run, f"could not tidy incomplete snapshots (the next run will): {cleanup}")
    if not _finish(run, RunStatus.FAILED, message):
        _taken_over(run)
        return
    with transaction.atomic():
        ticket = alerts.incident(
            run.site,
            episode=f"backup-run:{run.pk}:failed:{run.attempts}",
            subject=f"{run.get_layer_display()} backup failed",
            details=f"The {run.layer} backup of {run.site} ({run.slot}, attempt {run.attempts}) failed: "
            f"{message}\nThe previous snapshots are untouched.",
            log=run.log,
        )
        run.ticket = ticket
        BackupRun.objects.filter(pk=run.pk).update(ticket=ticket)


# -- retention ------------------------------------------------------------------------
def forget_uncatalogued(
    site: Site, restic: Restic, *, run: BackupRun | None = None, listing: list[dict[str, Any]] | None = None
) -> list[str]:
    """Let go restic snapshots of this site that have no catalogue row (a dump that failed half-way, a killed
    run) — except those of runs still in progress elsewhere."""
    known = set(Snapshot.objects.filter(site=site).values_list("restic_id", flat=True))
    known_short = {k[:8] for k in known}
    busy = {
        f"run-{pk}"
        for pk in BackupRun.objects.filter(site=site, status=RunStatus.RUNNING).values_list("pk", flat=True)
        if run is None or pk != run.pk
    }
    if listing is None:
        listing = restic.snapshots([f"site-{site.pk}"])
    stray = [
        s["id"]
        for s in listing
        if s["id"] not in known and s["id"][:8] not in known_short and not busy & set(s.get("tags", []))
    ]
    restic.forget(stray)
    return [s[:8] for s in stray]


def resolve_ids(site: Site, listing: list[dict[str, Any]]) -> int:
    """restic's backup summary names a snapshot by its short id: store the full id and restic's own time."""
    by_short = {s["id"][:8]: s for s in listing}
    resolved = 0
    for pk, restic_id in Snapshot.objects.filter(site=site).values_list("pk", "restic_id"):
        full = by_short.get(restic_id[:8])
        if full and full["id"] != restic_id:
            Snapshot.objects.filter(pk=pk).update(restic_id=full["id"], time=parse_time(full["time"]))
            resolved += 1
    return resolved


def apply_retention(site: Site, restic: Restic, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Forget what the plan's retention lets go (never a series' newest snapshot) and what restic holds
    without a catalogue row, then prune. One `restic snapshots` listing serves all three."""
    now = now or dt.datetime.now(dt.UTC)
    contract = site.client.contract
    if contract is None:
        return {"days": None, "forgotten": 0, "kept": 0, "stray": 0}
    listing = restic.snapshots([f"site-{site.pk}"])
    resolve_ids(site, listing)
    days = contract.plan.backup_retention_days
    rows = list(Snapshot.objects.filter(site=site, forgotten_at=None))
    snaps = [retention.Snap(r.restic_id, r.time, (r.layer, r.source_name)) for r in rows]
    forget = retention.to_forget(snaps, now, days)
    stray = forget_uncatalogued(site, restic, listing=listing)
    if forget:
        restic.forget(sorted(forget))
        Snapshot.objects.filter(site=site, restic_id__in=forget).update(forgotten_at=now)
    if forget or stray:
        restic.prune()
    return {"days": days, "forgotten": len(forget), "stray": len(stray), "kept": len(rows) - len(forget)}
