"""huey tasks of monitoring (`sitekeeper worker` runs them): the hourly rollup of raw check results and the
release of maintenance holds (a site still down after its maintenance). Sites nobody monitors are told to
staff by contracts/tasks.py (service gaps)."""

from __future__ import annotations

import logging

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from sitekeeper.monitoring import outages, rollup

logger = logging.getLogger(__name__)


# Five past each hour, when the last hour is complete. A pass is idempotent (upserts, then deletes only what
# it rolled up), so a pass running twice, or a dropped one caught up by the next, is harmless.
@db_periodic_task(crontab(minute="5"), expires=3000)
def rollup_every_hour() -> None:
    """Roll raw check results up into hourly and daily rows; delete raw rows past the retention."""
    summary = rollup.run()
    logger.info("monitoring rollup: %s", summary)


# Every minute: the probe releases a hold on its next check of the site, this catches one no probe checked
# (e.g. all probes stopped). Releasing is exactly once (conditional UPDATE + the notify key).
@db_periodic_task(crontab(minute="*"), expires=50)
def release_maintenance_holds() -> None:
    """Open the incident and alert for each outage still down when its maintenance ended."""
    released = outages.release_due_holds(timezone.now())
    if released:
        logger.info("monitoring: %d outage(s) still down after maintenance: incidents opened", released)
