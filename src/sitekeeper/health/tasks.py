"""huey tasks of site health (`sitekeeper worker` runs them): the monthly link scan and Lighthouse audit of
every site (agreement: monthly, "with trend"), on the site's audit day in the contract's time zone, and the
daily clean-up of old Lighthouse reports.

Which sites: those whose contract is in service (contracts.service, agreement 7.3) — a contract under notice
keeps every service until its effective date, inclusive; after it, and for drafts, none."""

from __future__ import annotations

import datetime as dt
import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from sitekeeper.contracts.models import Site
from sitekeeper.contracts.presenters import contract_zone
from sitekeeper.contracts.service import sites_in_service
from sitekeeper.health.models import HealthConfig, JobStatus, LinkScan, PerformanceAudit

logger = logging.getLogger(__name__)


def monthly_slot(local_now: dt.datetime, day: int, at: dt.time) -> str | None:
    """The month's slot ("2026-12") once the site's audit day and time have come in local time, else None:
    one scan per calendar month, run on the first pass at or after that moment (a worker that was down
    catches up later in the month, never twice)."""
    due = dt.datetime.combine(local_now.date().replace(day=day), at, tzinfo=local_now.tzinfo)
    return f"{local_now:%Y-%m}" if local_now >= due else None


def health_schedule_pass(now: dt.datetime | None = None) -> list[tuple[int, str, str]]:
    """Enqueue this month's link scan and performance audit of every site whose contract is in service
    (under notice too, up to its effective date) whose audit moment has come and that has none for the
    month yet. Returns (site, job, slot) enqueued."""
    now = now or dt.datetime.now(dt.UTC)
    queued = []
    for site in sites_in_service(now):
        contract = site.client.contract
        if contract is None:
            continue
        config = HealthConfig.for_site(site)
        local = now.astimezone(contract_zone(contract))
        slot = monthly_slot(local, config.audit_day, config.audit_time)
        if slot is None:
            continue
        if _wanted(LinkScan.objects.filter(site=site, slot=slot).first(), now):
            link_scan_task(site.pk, slot)
            queued.append((site.pk, "links", slot))
        if _wanted(PerformanceAudit.objects.filter(site=site, slot=slot).first(), now):
            performance_audit_task(site.pk, slot)
            queued.append((site.pk, "performance", slot))
    return queued


LOST_IN_QUEUE = dt.timedelta(hours=1)


def _wanted(job: LinkScan | PerformanceAudit | None, now: dt.datetime) -> bool:
    """The month's job is (re)enqueued when there is none yet, when its worker died (lease run out: the task
    takes it over and the job resumes), or when it sat queued so long that its task was lost."""
    if job is None:
        return True
    if job.status == JobStatus.RUNNING:
        return job.lease_until is not None and job.lease_until < now
    return job.status == JobStatus.QUEUED and job.created_at < now - LOST_IN_QUEUE


@db_task()
def link_scan_task(site_id: int, slot: str) -> None:
    from sitekeeper.health import linkscan

    scan = linkscan.run_scan(Site.objects.get(pk=site_id), slot=slot, trigger="schedule")
    logger.info("link scan %s of site %s: %s", slot, site_id, scan.status)


@db_task()
def link_scan_run_task(scan_id: int) -> None:
    """A scan someone asked for from the console (queued row): run it."""
    from sitekeeper.health import linkscan

    linkscan.execute(LinkScan.objects.get(pk=scan_id))


@db_task()
def performance_audit_task(site_id: int, slot: str) -> None:
    from sitekeeper.health import performance

    audit = performance.run_audit(Site.objects.get(pk=site_id), slot=slot, trigger="schedule")
    logger.info("performance audit %s of site %s: %s", slot, site_id, audit.status)


@db_task()
def performance_run_task(audit_id: int) -> None:
    from sitekeeper.health import performance

    performance.execute(PerformanceAudit.objects.get(pk=audit_id))


@db_periodic_task(crontab(minute="*/15"), expires=14 * 60)
def health_schedule_every_15_minutes() -> None:
    health_schedule_pass()


@db_periodic_task(crontab(hour="4", minute="41"), expires=3 * 3600)
def lighthouse_reports_daily() -> None:
    """Full Lighthouse reports older than SITEKEEPER_LIGHTHOUSE_REPORT_DAYS are dropped (scores stay)."""
    from sitekeeper.health import performance

    performance.purge_reports()


# -- the update pipeline --------------------------------------------------------------------------------
