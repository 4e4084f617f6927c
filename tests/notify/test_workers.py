"""Two workers running the sending loop at once never send one delivery twice (SQLite and PostgreSQL); two
transactions recording one key at once keep one row per recipient (PostgreSQL)."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from typing import Any

import pytest
from django.db import OperationalError, connection, transaction

from sitekeeper.notify import Message, Recipient, deliver_pending, notify, tasks
from sitekeeper.notify.models import Delivery

DELIVERIES = 24


def wait_while_locked(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    """SQLite's in-memory test database is shared between threads through its shared cache, which answers
    "table is locked" at once instead of waiting like a file database's busy timeout does. Waiting here gives
    the threads a file database's behaviour. Each statement runs in autocommit, so a refused one did nothing
    and is safe to repeat. PostgreSQL never gets here."""
    for _ in range(2000):
        try:
            return execute(sql, params, many, context)
        except OperationalError as exc:
            if "locked" not in str(exc):
                raise
            time.sleep(0.001)
    return execute(sql, params, many, context)


@pytest.mark.django_db(transaction=True)  # the threads use their own connections and must see committed rows
def test_two_workers_never_send_the_same_delivery(sink):
    sink.delay = 0.01  # widen the window between claiming and recording
    recipients = [Recipient("webhook", sink.url(f"/r{n}")) for n in range(DELIVERIES)]
    notify(recipients, Message("s", "t", event="race"), key="race")
    start = threading.Barrier(2)
    handled: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            with connection.execute_wrapper(wait_while_locked):
                handled.append(deliver_pending())
        except BaseException as exc:  # noqa: BLE001 — reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    sent = Counter(json.loads(request.body)["delivery"] for request in sink.requests)
    assert len(sent) == DELIVERIES
    assert set(sent.values()) == {1}
    assert sum(handled) == DELIVERIES
    assert set(Delivery.objects.values_list("status", flat=True)) == {Delivery.Status.SENT}
    assert set(Delivery.objects.values_list("attempts", flat=True)) == {1}
    assert all(handled), handled  # both workers took part


@pytest.mark.django_db(transaction=True)
def test_two_transactions_recording_one_key_keep_one_row_per_recipient(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("two open writers need row-level locking; SQLite serialises whole transactions")
    queued: list[list[int]] = []
    monkeypatch.setattr(tasks, "send_deliveries", queued.append)
    recipients = [Recipient("email", "a@acme.test"), Recipient("email", "b@acme.test")]
    first_recorded, second_started = threading.Event(), threading.Event()
    results: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with transaction.atomic():
                results["first"] = [d.pk for d in notify(recipients, Message("s", "t"), key="same")]
                first_recorded.set()
                second_started.wait(10)
                time.sleep(0.3)  # the second one's INSERT is now waiting for this transaction
        except BaseException as exc:  # noqa: BLE001 — reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    def second() -> None:
        try:
            first_recorded.wait(10)
            with transaction.atomic():
                second_started.set()
                more = [*recipients, Recipient("email", "c@acme.test")]
                results["second"] = [d.pk for d in notify(more, Message("s", "t"), key="same")]
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert Delivery.objects.filter(key="same").count() == 3
    assert results["second"][:2] == results["first"]  # the first transaction's rows, once it committed
    # Each transaction queued only what it created.
    assert sorted(queued) == sorted([results["first"], results["second"][2:]])
