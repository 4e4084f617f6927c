"""huey tasks of security (`sitekeeper worker` runs them): the nightly security pass of every site with files
to read, one task per site so a slow site never delays the others; the vulnerability feeds nightly; the
6.3 client-notification clock of open security incidents every five minutes.

Which sites: those whose contract is in service (contracts.service, agreement 7.3) — a contract under notice
keeps every service until its effective date, inclusive; after it, and for drafts, none."""

from __future__ import annotations

import datetime as dt
import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from sitekeeper.contracts.models import Site
from sitekeeper.contracts.service import sites_in_service
from sitekeeper.desk.oncall import escalation_list
from sitekeeper.notify import Message, notify
from sitekeeper.security import feeds, incidents, scans
from sitekeeper.security.models import Feed, SecurityIncident

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
