"""The one seam: `notify()` records deliveries and queues them; the sending loop delivers and retries.

`notify()` only writes rows and schedules work after the caller's transaction commits, so a channel that is
down can never fail or slow the ticket change that triggered it, and a rolled-back change sends nothing.
The work runs one way: this module records and queues (tasks.py), the tasks send (sending.py), and sending
never calls back. `deliver_pending` and `send_now` are named here too, as the seam's public entry points
to the sending loop (sitekeeper.notify exports them from here).
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

from sitekeeper.notify import tasks
from sitekeeper.notify.message import EMAIL, Message, Recipient, event_matches
from sitekeeper.notify.models import Delivery, NotificationPreference, target_digest
from sitekeeper.notify.sending import deliver_pending, send_now

__all__ = [
    "batched",
    "deliver_pending",
    "notify",
    "recipients_for_contact",
    "recipients_for_user",
    "send_now",
]

if TYPE_CHECKING:
    from sitekeeper.access.models import User
    from sitekeeper.contracts.models import Contact

logger = logging.getLogger("sitekeeper.notify")

KEY_MAX_LENGTH = 200


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
    try:
        tasks.send_deliveries(pks)
    # The queue (Redis, a locked SQLite file) being unavailable must not fail the caller's commit; the
    # every-minute loop finds the rows anyway.
    except Exception:  # noqa: BLE001
        logger.warning("%d deliveries could not be queued; the periodic loop will send them", len(pks))


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
