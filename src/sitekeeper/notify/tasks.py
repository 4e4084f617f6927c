"""huey tasks: send a transaction's new deliveries at once, and every minute retry whatever is due.

The seam (seam.py) queues these after a commit; they call the sending loop (sending.py), never the seam.
"""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from sitekeeper.notify import sending


@db_task()
def send_deliveries(pks: list[int]) -> None:
    """What one committed transaction recorded (notify() queues one such task per transaction). Rows taken
    meanwhile by the every-minute loop, or by another worker, are skipped: sending claims each row first.
    Nothing is returned: huey would keep every result in the queue's result store."""
    for pk in pks:
        sending.send_now(pk)


@db_task()
def send_delivery(pk: int) -> bool:
    """One delivery (what notify() queued before send_deliveries; kept so tasks still queued run)."""
    return sending.send_now(pk)


@db_periodic_task(crontab(minute="*"))
def deliver_pending_every_minute() -> int:
    return sending.deliver_pending()
