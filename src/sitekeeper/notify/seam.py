"""The one seam: `notify()` records deliveries and queues them; the sending loop delivers and retries.

`notify()` only writes rows and schedules work after the caller's transaction commits, so a channel that is
down can never fail or slow the ticket change that triggered it, and a rolled-back change sends nothing.
Sending claims each row with a conditional UPDATE, so any number of workers can run the loop at once.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from sitekeeper.notify.channels import ChannelError, get_channel
from sitekeeper.notify.message import EMAIL, Message, Recipient, event_matches
from sitekeeper.notify.models import Delivery, NotificationPreference, target_digest

if TYPE_CHECKING:
    from sitekeeper.access.models import User
    from sitekeeper.contracts.models import Contact

logger = logging.getLogger("sitekeeper.notify")

MAX_ATTEMPTS = 8  # 1+2+4+…+60 min: about two hours of retries before giving up
MAX_BACKOFF = dt.timedelta(hours=1)
# A claim lapses after this long, so a worker killed mid-send does not strand its row in "sending" forever.
# It is far longer than any channel's own timeout, so a live worker never loses its claim.
CLAIM_LEASE = dt.timedelta(minutes=15)
BATCH_SIZE = 100
KEY_MAX_LENGTH = 200

ACTIVE = (Delivery.Status.PENDING, Delivery.Status.SENDING)


def notify(recipients: Iterable[Recipient], message: Message, *, key: str) -> list[Delivery]:
    """Record one Delivery per recipient under `key` and queue them; calling again with the same key and
    recipient returns the existing row and sends nothing more.

    Two queries however many recipients: one INSERT … ON CONFLICT DO NOTHING on the unique (key, kind,
    target_digest), which leaves a row already recorded under this key as it is (an earlier call's, or
    another worker's: PostgreSQL waits for that transaction to end), then one SELECT of the rows by key. The
    rows this call created are sent for after the caller's transaction commits, by one queued task per
    transaction. Inside a `batched()` block the two queries wait for the end of the block.
    """
    if not key or len(key) > KEY_MAX_LENGTH:
        raise ValueError(f"a notification key is 1 to {KEY_MAX_LENGTH} characters, got {len(key)}")
    payload = message.to_json()
    call = _Call(key, timezone.now())
    for recipient in recipients:
        digest = target_digest(recipient.kind, recipient.target)
        if (recipient.kind, digest) not in call.rows:  # one row per (kind, digest), in the recipients' order
            call.rows[recipient.kind, digest] = Delivery(
                key=key,
                kind=recipient.kind,
                target_digest=digest,
                **_new_row(recipient, message, payload, call.now),
            )
    if not call.rows:
        return []
    pending = _batch.get()
    if pending is not None:
        pending.append(call)
        return list(call.rows.values())  # saved and filled in when the batched() block ends
    return _record([call])[0]


@contextmanager
def batched() -> Iterator[None]:
    """Record the deliveries of every notify() call inside the block together when it ends: one INSERT and
    one SELECT for all of them instead of two queries per call (the escalation pass: hundreds of notices in
    one transaction). Inside the block notify() returns its rows unsaved (pk None); when the block ends they
    are saved and hold the stored values, as outside it. A block left by an exception records nothing.
    Within a block already open, this one just joins it."""
    if _batch.get() is not None:
        yield
        return
    pending: list[_Call] = []
    token = _batch.set(pending)
    try:
        yield
    finally:
        _batch.reset(token)
    if pending:
        _record(pending, fill=True)


@dataclass
class _Call:
    key: str
    now: dt.datetime
    rows: dict[tuple[str, str], Delivery] = field(default_factory=dict)  # (kind, target_digest) → new row


_batch: ContextVar[list[_Call] | None] = ContextVar("sitekeeper_notify_batch", default=None)


def _record(calls: list[_Call], *, fill: bool = False) -> list[list[Delivery]]:
    """Insert the calls' rows (one statement), read them back by key (one more); each call's stored rows."""
    Delivery.objects.bulk_create([row for call in calls for row in call.rows.values()], ignore_conflicts=True)
    keys = {call.key for call in calls}
    digests = {digest for call in calls for _, digest in call.rows}
    stored = {
        (row.key, row.kind, row.target_digest): row
        for row in Delivery.objects.filter(key__in=keys, target_digest__in=digests)
    }
    found: list[list[Delivery]] = []
    created: set[int] = set()
    for call in calls:
        rows = []
        for (kind, digest), new in call.rows.items():
            row = stored.get((call.key, kind, digest))
            if row is None:  # the row ours conflicted with was deleted meanwhile: nothing to return or send
                continue
            rows.append(row)
            # Ours carry this call's `now`; a row recorded earlier does not. (Queueing one too many would be
            # harmless: sending claims each row, so a row is sent once however often it is queued.)
            if row.next_attempt_at == call.now and row.attempts == 0:
                created.add(row.pk)
            if fill:
                _fill(new, row)
        found.append(rows)
    if created:
        _queue_after_commit(sorted(created))
    return found


def _fill(row: Delivery, stored: Delivery) -> None:
    """Make a row notify() returned inside batched() the stored one (its own, or the one recorded earlier)."""
    for column in Delivery._meta.concrete_fields:
        setattr(row, column.attname, getattr(stored, column.attname))
    row._state.adding, row._state.db = False, stored._state.db


def _new_row(recipient: Recipient, message: Message, payload: dict, now: dt.datetime) -> dict[str, object]:
    return {
        "target": recipient.target.strip(),
        "label": recipient.label,
        "name": recipient.name[:200],
        "secret": recipient.secret,
        "event": message.event[:100],
        "message": payload,
        "next_attempt_at": now,
    }


_OUTBOX = "sitekeeper_notify_outbox"  # attribute on the (per-thread) database connection


class _Outbox:
    """The deliveries recorded in one transaction: one queued task sends them all once it commits.

    Every notify() call that created rows registers the outbox with on_commit (so a call inside a savepoint
    that rolls back loses only its own registration); the first registration to run queues the task and the
    others find it done. A row whose savepoint rolled back is still listed: its pk no longer exists, and
    sending claims rows with a conditional UPDATE, so it is skipped.
    """

    def __init__(self) -> None:
        self.pks: list[int] = []
        self.queued = False

    def __call__(self) -> None:
        if not self.queued:
            self.queued = True
            _enqueue(self.pks)


def _queue_after_commit(pks: list[int]) -> None:
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        transaction.on_commit(partial(_enqueue, pks))  # autocommit: the rows are committed, queue at once
        return
    outbox = getattr(connection, _OUTBOX, None)
    # A fresh outbox for a new transaction: the last one was queued, or its transaction rolled back (Django
    # then drops every pending on_commit callback, ours included).
    if outbox is None or outbox.queued or not connection.run_on_commit:
        outbox = _Outbox()
        setattr(connection, _OUTBOX, outbox)
    outbox.pks += pks
    transaction.on_commit(outbox)


def _enqueue(pks: list[int]) -> None:
    from sitekeeper.notify import tasks

    try:
        tasks.send_deliveries(pks)
    # The queue (Redis, a locked SQLite file) being unavailable must not fail the caller's commit; the
    # every-minute loop finds the rows anyway.
    except Exception:  # noqa: BLE001
        logger.warning("%d deliveries could not be queued; the periodic loop will send them", len(pks))


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
        status=Delivery.Status.SENT, attempts=delivery.attempts + 1, sent_at=timezone.now()
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


def recipients_for_contact(contact: Contact, event: str) -> list[Recipient]:
    """The contact's active preferences that want `event`; with no preferences at all, their e-mail.

    A person who has preferences but none for this event hears nothing: that is how one opts out.
    """
    preferences = list(NotificationPreference.objects.filter(contact=contact))
    return _recipients(preferences, event, contact.email, contact.name)


def recipients_for_user(user: User, event: str) -> list[Recipient]:
    """As recipients_for_contact, for a login; deactivated accounts hear nothing."""
    if not user.is_active:
        return []
    preferences = list(NotificationPreference.objects.filter(user=user))
    return _recipients(preferences, event, user.email, user.get_full_name() or user.username)


def _recipients(
    preferences: list[NotificationPreference], event: str, address: str, name: str
) -> list[Recipient]:
    if not preferences:
        return [Recipient(kind=EMAIL, target=address, name=name)] if address else []
    found = []
    for preference in preferences:
        if not (preference.active and event_matches(event, preference.events)):
            continue
        target = preference.target or (address if preference.kind == EMAIL else "")
        if not target:
            logger.warning("notification preference %s has no target; skipped", preference.pk)
            continue
        found.append(Recipient(kind=preference.kind, target=target, name=name, secret=preference.secret))
    return found
