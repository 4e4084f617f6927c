"""huey tasks of contracts (`sitekeeper worker` runs them): the hourly pass over agency-side service gaps —
sites in service with no production monitor, no backup source or no recent security scan (issue 12, item 1).
"""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from sitekeeper.contracts import coverage

logger = logging.getLogger(__name__)


# Each hour, after the monitoring and backup passes of the hour's first minutes. Telling staff is once per
# gap episode (the notification keys), so a pass running twice, or one caught up late, sends nothing twice.
@db_periodic_task(crontab(minute="25"), expires=3000)
def service_gaps_every_hour() -> None:
    """Tell the escalation list about each service gap that opened or closed."""
    sent = coverage.notify_gaps()
    if sent:
        logger.info("contracts: service gap notices: %s", sent)
