"""huey tasks: send a new delivery at once, and every minute retry whatever is due."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from sitekeeper.notify import seam


@db_task()
def send_delivery(pk: int) -> bool:
    return seam.send_now(pk)


@db_periodic_task(crontab(minute="*"))
def deliver_pending_every_minute() -> int:
    return seam.deliver_pending()
