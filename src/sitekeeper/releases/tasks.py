"""huey tasks of the update pipeline (`sitekeeper worker` runs them): one release's run, and the pipeline's
pass every five minutes (plan batches at the plan's cadence, advance releases into their windows).

Which sites: those whose contract is in service (contracts.service, agreement 7.3)."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

logger = logging.getLogger(__name__)


@db_task()
def release_task(release_id: int) -> None:
    """Advance one release now (a person pressed "advance", or a release was just planned)."""
    from sitekeeper.releases import updates
    from sitekeeper.releases.models import Release

    updates.advance(Release.objects.get(pk=release_id))


@db_periodic_task(crontab(minute="*/5"), expires=280)
def updates_every_5_minutes() -> None:
    """Plan the batches the plans' cadences call for and move releases on (stage now, prod in its window)."""
    from sitekeeper.releases import updates

    logger.info("update pipeline pass: releases %s", updates.due_pass())
