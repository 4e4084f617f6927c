"""huey tasks of audits (`sitekeeper worker` runs them): the nightly security pass of every site with files
to read, one task per site so a slow site never delays the others; the monthly link scan and Lighthouse
audit of every site (agreement: monthly, "with trend"), on the site's audit day in the contract's time zone;
the update pipeline's pass (plan batches at the plan's cadence, advance releases into their windows).

Which sites: those whose contract is in service (contracts.service, agreement 7.3) — a contract under notice
keeps every service until its effective date, inclusive; after it, and for drafts, none."""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from sitekeeper.audits import feeds, incidents, scans
from sitekeeper.audits.models import (
    Feed,
    HealthConfig,
    JobStatus,
    LinkScan,
    PerformanceAudit,
    SecurityIncident,
)
from sitekeeper.contracts.models import Site
from sitekeeper.contracts.service import sites_in_service
from sitekeeper.desk.oncall import escalation_list
from sitekeeper.notify import Message, notify

logger = logging.getLogger(__name__)


@db_task()
def scan_site_task(site_id: int) -> None:
    site = Site.objects.get(pk=site_id)
    logger.info("security scan of %s: %s", site, scans.scan_site(site))


def incident_clock_pass(now: dt.datetime | None = None) -> list[tuple[int, str]]:
    """Tell the escalation list when a security incident's 24-hour client-notification clock (clause 6.3)
    enters its last hours, and again when it has passed — once each (the notification key)."""
    now = now or dt.datetime.now(dt.UTC)
    sent = []
    open_ = SecurityIncident.objects.filter(client_notified_at=None, closed_at=None).select_related("site")
    for incident in open_:
        clock = incidents.deadline(incident, now)
        if clock.state not in ("warning", "breached"):
            continue
        what = "deadline passed" if clock.state == "breached" else f"{clock.remaining_label} left"
        message = Message(
            subject=f"[P1] Security incident #{incident.pk} ({incident.site}): notify the client — {what}",
            text=f"Clause 6.3: the client must be told within 24 hours of detection, by "
            f"{clock.due:%Y-%m-%d %H:%M} UTC. Record it on the incident page once done.",
            event="security.deadline",
            data={"incident": incident.pk, "site": incident.site_id, "due": clock.due.isoformat()},
        )
        notify(escalation_list("security.deadline"), message, key=f"incident:{incident.pk}:{clock.state}")
        sent.append((incident.pk, clock.state))
    return sent


@db_periodic_task(crontab(minute="*/5"), expires=280)
def incident_clocks_every_5_minutes() -> None:
    incident_clock_pass()


@db_periodic_task(crontab(hour="2", minute="53"), expires=3 * 3600)
def feeds_nightly() -> None:
    """Re-import every feed the agency configured by URL, before the scans match against them. A feed that
    fails keeps its previous entries (an import swaps them only when it parsed completely)."""
    for feed in Feed.objects.exclude(url=""):
        try:
            feeds.import_feed(feed.name, feed.format, feed.url)
        except feeds.FeedError as exc:
            logger.warning("vulnerability feed %s not refreshed: %s", feed.name, exc)


def security_scan_pass(now: dt.datetime | None = None) -> list[int]:
    """Enqueue the security pass of every scannable site in service; the site ids enqueued."""
    queued = []
    for site in sites_in_service(now):
        if scans.scannable(site):
            scan_site_task(site.pk)
            queued.append(site.pk)
    return queued


@db_periodic_task(crontab(hour="3", minute="23"), expires=6 * 3600)
def security_scans_nightly() -> None:
    """Inventory, vulnerabilities, integrity, malware, suspicious changes: daily, every scannable site."""
    security_scan_pass()


# -- monthly health audits ------------------------------------------------------------------------------
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
        local = now.astimezone(ZoneInfo(contract.calendar.current.timezone))
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
    from sitekeeper.audits import linkscan

    scan = linkscan.run_scan(Site.objects.get(pk=site_id), slot=slot, trigger="schedule")
    logger.info("link scan %s of site %s: %s", slot, site_id, scan.status)


@db_task()
def link_scan_run_task(scan_id: int) -> None:
    """A scan someone asked for from the console (queued row): run it."""
    from sitekeeper.audits import linkscan

    linkscan.execute(LinkScan.objects.get(pk=scan_id))


@db_task()
def performance_audit_task(site_id: int, slot: str) -> None:
    from sitekeeper.audits import performance

    audit = performance.run_audit(Site.objects.get(pk=site_id), slot=slot, trigger="schedule")
    logger.info("performance audit %s of site %s: %s", slot, site_id, audit.status)


@db_task()
def performance_run_task(audit_id: int) -> None:
    from sitekeeper.audits import performance

    performance.execute(PerformanceAudit.objects.get(pk=audit_id))


@db_periodic_task(crontab(minute="*/15"), expires=14 * 60)
def health_schedule_every_15_minutes() -> None:
    health_schedule_pass()


@db_periodic_task(crontab(hour="4", minute="41"), expires=3 * 3600)
def lighthouse_reports_daily() -> None:
    """Full Lighthouse reports older than SITEKEEPER_LIGHTHOUSE_REPORT_DAYS are dropped (scores stay)."""
    from sitekeeper.audits import performance

    performance.purge_reports()


# -- the update pipeline --------------------------------------------------------------------------------
@db_task()
def release_task(release_id: int) -> None:
    """Advance one release now (a person pressed "advance", or a release was just planned)."""
    from sitekeeper.audits import updates
    from sitekeeper.audits.models import Release

    updates.advance(Release.objects.get(pk=release_id))


@db_periodic_task(crontab(minute="*/5"), expires=280)
def updates_every_5_minutes() -> None:
    """Plan the batches the plans' cadences call for and move releases on (stage now, prod in its window)."""
    from sitekeeper.audits import updates

    logger.info("update pipeline pass: releases %s", updates.due_pass())
