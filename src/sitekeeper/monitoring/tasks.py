"""huey tasks of monitoring: the hourly rollup of raw check results (`sitekeeper worker` runs them)."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from sitekeeper.monitoring import rollup

logger = logging.getLogger(__name__)


# Five past each hour, when the last hour is complete. A pass is idempotent (upserts, then deletes only what
# it rolled up), so a pass running twice, or a dropped one caught up by the next, is harmless.
@db_periodic_task(crontab(minute="5"), expires=3000)
def rollup_every_hour() -> None:
    """Roll raw check results up into hourly and daily rows; delete raw rows past the retention."""
    summary = rollup.run()
    logger.info("monitoring rollup: %s", summary)
