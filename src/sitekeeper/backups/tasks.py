"""huey tasks of backups (`sitekeeper worker` runs them): the schedule, the jobs people start, staleness.

The schedule is read every few minutes against each contract's own time zone: a run's slot ("data-2026-11-22",
"code-2026-11-22", "config-<fingerprint>") makes it idempotent, so a tick that runs twice, or a worker that
restarts, never backs up a slot twice; a slot whose worker died is taken over (see jobs.claim).

The agreement's "daily automated backups, full site + database" (1.2): data and code daily, config on change,
code also on each release. Only sites whose contract is in service are scheduled (contracts.service: active,
or under notice up to and including the effective date — agreement 7.3).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from sitekeeper import proc
from sitekeeper.access.models import User
from sitekeeper.backups import alerts, errors, jobs, restore, runbook, termination, verify
from sitekeeper.backups.models import (
    BackupRun,
    Export,
    Layer,
    Restore,
    RunStatus,
    SiteBackup,
    Snapshot,
    Source,
)
from sitekeeper.backups.presenters import DEFAULT_STALE_HOURS as PAGE_STALE_HOURS
from sitekeeper.backups.restic import Restic
from sitekeeper.backups.sources import files
from sitekeeper.contracts.models import Site
from sitekeeper.contracts.presenters import contract_zone
from sitekeeper.contracts.service import sites_in_service

logger = logging.getLogger(__name__)

# The layers that run on a clock (config runs on change): the same limits the pages show.
DEFAULT_STALE_HOURS = {layer: PAGE_STALE_HOURS[layer] for layer in (Layer.DATA, Layer.CODE)}


# -- jobs people start ------------------------------------------------------------------------
@db_task()
def backup_task(site_id: int, layer: str, slot: str, trigger: str, user_id: int | None = None) -> None:
    site = Site.objects.get(pk=site_id)
    user = User.objects.filter(pk=user_id).first() if user_id else None
    jobs.backup(site, layer, slot=slot, trigger=trigger, user=user, then=queue_retention)


@db_task()
def retention_task(site_id: int) -> None:
    """The plan's retention for one site (queued after each successful backup, and daily for every site)."""
    site = Site.objects.get(pk=site_id)
    config = errors.config_for(site)
    with Restic(config.repository) as restic:
        jobs.prepare(config.repository, restic, unlock=False)
        try:
            summary = jobs.apply_retention(site, restic)
        except proc.ProcError as exc:
            if not jobs.is_lock_error(exc):
                raise
            restic.unlock()  # a killed command's stale lock; a live one makes the retry fail too
            summary = jobs.apply_retention(site, restic)
    logger.info("retention of %s: %s", site, summary)


def queue_retention(site: Site) -> None:
    """After a successful backup: retention (forget + prune take restic's exclusive lock) as the worker's
    next job, never inside the backup."""
    retention_task(site.pk)


@db_task()
def restore_test_task(site_id: int, slot: str, trigger: str, user_id: int | None = None) -> None:
    user = User.objects.filter(pk=user_id).first() if user_id else None
    verify.restore_test(Site.objects.get(pk=site_id), slot=slot, trigger=trigger, user=user)


def queue_restore_test(site: Site, slot: str) -> None:
    """A monthly restore test that is due: the worker runs it."""
    restore_test_task(site.pk, slot, "schedule")


@db_task()
def restore_task(restore_id: int) -> None:
    restore.run_restore(Restore.objects.get(pk=restore_id))


@db_task()
def export_task(export_id: int) -> None:
    restore.run_export(Export.objects.get(pk=export_id))


def enqueue(kind: str, **kwargs: Any) -> None:
    """Queue a job for the worker: kinds "backup" (site, layer, user), "restore_test" (site, user),
    "restore" (restore), "export" (export). Slots for on-demand jobs are unique per request."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S.%f")
    user = kwargs.get("user")
    user_id = user.pk if user is not None else None
    if kind == "backup":
        backup_task(kwargs["site"].pk, kwargs["layer"], f"manual-{stamp}", BackupRun.Trigger.MANUAL, user_id)
    elif kind == "restore_test":
        restore_test_task(kwargs["site"].pk, f"manual-{stamp}", "manual", user_id)
    elif kind == "restore":
        restore_task(kwargs["restore"].pk)
    elif kind == "export":
        export_task(kwargs["export"].pk)
    else:
        raise ValueError(f"unknown backup job kind {kind!r}")


def on_release(site: Site, *, reason: str = "release") -> None:
    """A release changed the site's code: back the code layer up now and flag the runbook for review."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    backup_task(site.pk, Layer.CODE, f"release-{stamp}", BackupRun.Trigger.RELEASE)
    runbook.mark_stale(site, reason)


# -- the schedule ------------------------------------------------------------------------
def local_now(config: SiteBackup, now: dt.datetime) -> dt.datetime:
    return now.astimezone(contract_zone(config.site.client.contract))


def due_slots(config: SiteBackup, now: dt.datetime) -> list[tuple[str, str]]:
    """(layer, slot) pairs whose time has come, in the contract's time zone: data and code daily at
    `data_time` (a day whose moment was missed is caught up later that day)."""
    local = local_now(config, now)
    if local.time() < config.data_time:
        return []
    day = local.date().isoformat()
    return [(Layer.DATA, f"data-{day}"), (Layer.CODE, f"code-{day}")]


def scheduled_configs(now: dt.datetime) -> list[SiteBackup]:
    """Enabled backup settings of the sites in service at `now` (the one in-service test, item 7.3)."""
    sites = [site.pk for site in sites_in_service(now)]
    configs = SiteBackup.objects.filter(enabled=True, site_id__in=sites)
    return list(configs.select_related("site__client"))


def config_slot(site: Site) -> str | None:
    """The slot of the configuration layer: its content's fingerprint, so a change is backed up once."""
    sources = Source.objects.filter(site=site, environment="prod", layer=Layer.CONFIG, kind="files")
    prints = [files.fingerprint(source) for source in sources]
    return f"config-{'-'.join(p[:12] for p in prints)}"[:80] if prints else None


def schedule_pass(now: dt.datetime | None = None) -> list[tuple[int, str, str]]:
    """Queue every due slot that has no run yet (or whose run was interrupted); returns what was queued."""
    now = now or dt.datetime.now(dt.UTC)
    queued = []
    for config in scheduled_configs(now):
        wanted = list(due_slots(config, now))
        if Source.objects.filter(site=config.site, layer=Layer.CONFIG).exists():
            try:
                slot = config_slot(config.site)
            except errors.JOB_ERRORS as exc:
                logger.warning("config fingerprint of %s failed: %s", config.site, exc)
                slot = None
            if slot:
                wanted.append((Layer.CONFIG, slot))
        for layer, slot in wanted:
            if not Source.objects.filter(site=config.site, environment="prod", layer=layer).exists():
                continue
            run = BackupRun.objects.filter(site=config.site, layer=layer, slot=slot).first()
            if run is None or run.status in (RunStatus.QUEUED, RunStatus.INTERRUPTED):
                backup_task(config.site.pk, layer, slot, BackupRun.Trigger.SCHEDULE)
                queued.append((config.site.pk, layer, slot))
    return queued


def stale_pass(now: dt.datetime | None = None) -> list[tuple[int, str]]:
    """Open one P2 incident per site and layer whose newest snapshot is older than its schedule allows;
    forget the alert when a fresh snapshot lands (so the next staleness alerts again). Only sites in service
    are scheduled, so only they can be late."""
    now = now or dt.datetime.now(dt.UTC)
    opened = []
    for config in scheduled_configs(now):
        alerts_state = dict(config.alerts)
        for layer, default in DEFAULT_STALE_HOURS.items():
            names = set(
                Source.objects.filter(site=config.site, environment="prod", layer=layer).values_list(
                    "name", flat=True
                )
            )
            if not names:
                continue
            limit = dt.timedelta(hours=float(config.stale_hours.get(layer, default)))
            newest = [
                Snapshot.objects.filter(site=config.site, layer=layer, source_name=name, forgotten_at=None)
                .order_by("-time").values_list("time", flat=True).first()
                for name in sorted(names)
            ]  # fmt: skip
            # A site not yet backed up counts from when its backup was set up (not before its first run).
            oldest = min((t for t in newest if t is not None), default=None)
            since = oldest if oldest is not None and None not in newest else config.created_at
            key = f"stale-{layer}"
            if now - since <= limit:
                alerts_state.pop(key, None)
                continue
            if key in alerts_state:
                continue
            age_hours = (now - since).total_seconds() / 3600
            ticket = alerts.incident(
                config.site,
                episode=f"backup-stale:{config.site.pk}:{layer}:{since.isoformat()}",
                subject=f"{Layer(layer).label} backup is stale",
                details=f"The newest {layer} snapshot of {config.site} is {age_hours:.1f} hours old "
                f"(allowed: {limit.total_seconds() / 3600:.0f} hours). Check the backup runs and the worker.",
                event="backup.stale",
            )
            alerts_state[key] = ticket.pk
            opened.append((config.site.pk, layer))
        if alerts_state != config.alerts:
            SiteBackup.objects.filter(pk=config.pk).update(alerts=alerts_state)
    return opened


@db_periodic_task(crontab(minute="*/5"), expires=280)
def backup_schedule_every_5_minutes() -> None:
    queued = schedule_pass()
    if queued:
        logger.info("backup schedule: queued %s", queued)


def housekeeping(now: dt.datetime | None = None) -> None:
    """Staleness alerts; transitions (started for clients whose contract ended and nothing holds their
    backups, stopped by a new contract, finished after the download window); expired downloads; the monthly
    restore tests."""
    now = now or dt.datetime.now(dt.UTC)
    opened = stale_pass(now)
    if opened:
        logger.warning("stale backups: %s", opened)
    started, stopped = termination.reconcile(now)
    if started or stopped:
        logger.info("backup transitions: started %s, stopped %s", started, stopped)
    termination.finish_transitions(now)
    restore.purge_expired_exports(now)
    verify.due_restore_tests(now, enqueue=queue_restore_test)


@db_periodic_task(crontab(minute="17"), expires=3000)
def backup_housekeeping_hourly() -> None:
    housekeeping()


@db_periodic_task(crontab(hour="4", minute="41"), expires=6 * 3600)
def repository_checks_daily() -> None:
    """One slice of every repository read back daily: all data is read every `check_slices` days."""
    verify.check_all_repositories()
    for site_id in (
        SiteBackup.objects.filter(site__snapshots__isnull=False).values_list("site_id", flat=True).distinct()
    ):
        retention_task(site_id)
