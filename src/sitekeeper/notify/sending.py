"""Sending: the loop that delivers recorded rows and retries them (seam.py records them and queues them).

Called by the queued tasks (tasks.py) and the every-minute loop; it never calls back into the seam or the
queue, so recording → queueing → sending runs one way. Sending claims each row with a conditional UPDATE
first, so any number of workers can run the loop at once and a row is sent once however often it is queued.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.utils import timezone

from sitekeeper.notify.channels import ChannelError, get_channel
from sitekeeper.notify.message import Message, Recipient
from sitekeeper.notify.models import Delivery

logger = logging.getLogger("sitekeeper.notify")

MAX_ATTEMPTS = 8  # 1+2+4+…+60 min: about two hours of retries before giving up
MAX_BACKOFF = dt.timedelta(hours=1)
# A claim lapses after this long, so a worker killed mid-send does not strand its row in "sending" forever.
# It is far longer than any channel's own timeout, so a live worker never loses its claim.
CLAIM_LEASE = dt.timedelta(minutes=15)
BATCH_SIZE = 100

ACTIVE = (Delivery.Status.PENDING, Delivery.Status.SENDING)


def deliver_pending(now: dt.datetime | None = None) -> int:
    """Send every delivery that is due at `now`; returns how many this call claimed and attempted."""
    now = now or timezone.now()
    handled = 0
    while True:
        due = list(
            Delivery.objects.filter(status__in=ACTIVE, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "pk")
            .values_list("pk", flat=True)[:BATCH_SIZE]
        )
        mine = 0
        for pk in due:
            if _claim(pk, now):
                _attempt(pk, now)
                mine += 1
        handled += mine
        # Every row seen is now sent, pushed past `now`, or taken by another worker: the next query is
        # smaller. Stop when nothing was ours, so odd clocks between workers cannot spin this loop.
        if len(due) < BATCH_SIZE or not mine:
            return handled


def send_now(pk: int) -> bool:
    """Send one delivery if it is due and nobody else holds it (the queued task); True when it was sent."""
    now = timezone.now()
    return _claim(pk, now) and bool(_attempt(pk, now))


def _claim(pk: int, now: dt.datetime) -> bool:
    # One conditional UPDATE: of two workers racing for a row, the second finds next_attempt_at moved past
    # `now` (PostgreSQL re-checks the WHERE after the first commits; SQLite serialises writers) and gets 0.
    claimed = Delivery.objects.filter(pk=pk, status__in=ACTIVE, next_attempt_at__lte=now).update(
        status=Delivery.Status.SENDING, next_attempt_at=now + CLAIM_LEASE
    )
    return claimed == 1


def _attempt(pk: int, now: dt.datetime) -> bool | None:
    """Send a claimed row; True when sent, False when it failed (and is rescheduled), None if it vanished."""
    delivery = Delivery.objects.filter(pk=pk).first()
    if delivery is None:
        return None
    error = _send(delivery)
    if error is None:
        _mark_sent(delivery)
        return True
    _mark_failed(delivery, error, now)
    return False


def _send(delivery: Delivery) -> str | None:
    """None when delivered, otherwise the reason with the recipient's secrets scrubbed out."""
    recipient: Recipient | None = None
    try:
        recipient = delivery.recipient()
        get_channel(delivery.kind).send(recipient, delivery.as_message(), delivery_id=str(delivery.pk))
    except ChannelError as exc:
        reason = str(exc)
    # A library bug or an undecryptable secret must be recorded and retried like any failure, never leave
    # the row stuck in "sending" or reach whoever called notify().
    except Exception as exc:  # noqa: BLE001
        reason = f"{type(exc).__name__}: {exc}"
    else:
        return None
    return (recipient.scrub(reason) if recipient else reason)[:1000]


def _mark_sent(delivery: Delivery) -> None:
    Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.SENDING).update(
        status=Delivery.Status.SENT,
        attempts=delivery.attempts + 1,
        sent_at=timezone.now(),
        message=Message.from_json(delivery.message).sent_record(),
    )


def backoff(attempts: int) -> dt.timedelta:
    """Wait after the n-th failed attempt: 1, 2, 4, 8 … minutes, at most MAX_BACKOFF."""
    return min(dt.timedelta(minutes=2 ** (attempts - 1)), MAX_BACKOFF)


def _mark_failed(delivery: Delivery, error: str, now: dt.datetime) -> None:
    attempts = delivery.attempts + 1
    gave_up = attempts >= MAX_ATTEMPTS
    Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.SENDING).update(
        status=Delivery.Status.FAILED if gave_up else Delivery.Status.PENDING,
        attempts=attempts,
        last_error=error,
        next_attempt_at=now if gave_up else now + backoff(attempts),
    )
    logger.warning(
        "delivery %s (%s %s, key %s) failed, attempt %d of %d%s: %s",
        delivery.pk,
        delivery.kind,
        delivery.label,
        delivery.key,
        attempts,
        MAX_ATTEMPTS,
        ", giving up" if gave_up else "",
        error,
    )
