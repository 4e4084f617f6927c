"""huey tasks of audits (`sitekeeper worker` runs them): the nightly security pass of every site with files
to read, one task per site so a slow site never delays the others."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from sitekeeper.audits import feeds, scans
from sitekeeper.audits.models import Feed
from sitekeeper.contracts.models import Site

logger = logging.getLogger(__name__)


@db_task()
def scan_site_task(site_id: int) -> None:
    site = Site.objects.get(pk=site_id)
    logger.info("security scan of %s: %s", site, scans.scan_site(site))


@db_periodic_task(crontab(hour="2", minute="53"), expires=3 * 3600)
def feeds_nightly() -> None:
    """Re-import every feed the agency configured by URL, before the scans match against them. A feed that
    fails keeps its previous entries (an import swaps them only when it parsed completely)."""
    for feed in Feed.objects.exclude(url=""):
        try:
            feeds.import_feed(feed.name, feed.format, feed.url)
        except feeds.FeedError as exc:
            logger.warning("vulnerability feed %s not refreshed: %s", feed.name, exc)


@db_periodic_task(crontab(hour="3", minute="23"), expires=6 * 3600)
def security_scans_nightly() -> None:
    """Inventory, vulnerabilities, integrity, malware, suspicious changes: daily, every scannable site."""
    for site in Site.objects.filter(client__contracts__status="active").distinct():
        if scans.scannable(site):
            scan_site_task(site.pk)
