"""huey tasks of the service desk: the escalation pass, every minute (`sitekeeper worker` runs them)."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from sitekeeper.desk.escalation import escalation_pass

logger = logging.getLogger(__name__)


# expires: a tick still queued after 55 s (all workers were busy) is dropped, since the next one is due; the
# pass is safe to run twice at once, so no lock is needed (and huey's SQLite locks cannot expire).
@db_periodic_task(crontab(minute="*"), expires=55)
def escalation_every_minute() -> None:
    """Every minute: send the SLA warnings and breach notices that are due."""
    summary = escalation_pass()
    # Nothing is returned: huey would keep every minute's result in the queue's result store.
    if summary.sent or summary.held or summary.failed:
        logger.info("escalation pass: %s", summary)
