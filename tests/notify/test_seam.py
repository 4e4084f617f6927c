"""notify(): one row per recipient per key, sent through the queue, retried with backoff, never raising."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from sitekeeper.notify import Message, Recipient, batched, deliver_pending, notify, sending, tasks
from sitekeeper.notify.models import Delivery

pytestmark = pytest.mark.django_db

MESSAGE = Message(subject="P1 incident opened", text="ACME-7 is down", event="ticket.created", data={"id": 7})
SECRET = "whsec-do-not-log-me"
TOKEN = "T0KEN-abcdef123456"
T0 = dt.datetime(2026, 5, 4, 9, 0, tzinfo=dt.UTC)


def test_notify_records_one_pending_delivery_per_recipient(sink):
    recipients = [
        Recipient("email", "owner@acme.test", "Ann"),
        Recipient("webhook", sink.url(f"/hooks/{TOKEN}"), secret=SECRET),
    ]
    deliveries = notify(recipients, MESSAGE, key="ticket:7:created")

    assert [d.kind for d in deliveries] == ["email", "webhook"]
    assert all(d.status == Delivery.Status.PENDING and d.attempts == 0 for d in deliveries)
    webhook = Delivery.objects.get(kind="webhook")
    assert webhook.label == f"http://127.0.0.1:{sink.port}/…"
    assert webhook.event == "ticket.created"
    assert webhook.recipient() == recipients[1]
    assert webhook.as_message() == MESSAGE


def test_notify_twice_with_the_same_key_sends_once(sink, huey_immediate, django_capture_on_commit_callbacks):
    recipients = [Recipient("webhook", sink.url()), Recipient("email", "Owner@Acme.test")]
    with django_capture_on_commit_callbacks(execute=True):
        first = notify(recipients, MESSAGE, key="ticket:7:created")
    with django_capture_on_commit_callbacks(execute=True):
        second = notify([*recipients, Recipient("email", "owner@acme.test")], MESSAGE, key="ticket:7:created")

    assert Delivery.objects.count() == 2
    assert {d.pk for d in first} == {d.pk for d in second}
    assert len(sink.requests) == 1
    with django_capture_on_commit_callbacks(execute=True):
        notify(recipients[:1], MESSAGE, key="ticket:7:reopened")
    assert len(sink.requests) == 2


def test_the_queued_task_sends_after_commit(sink, huey_immediate, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        [delivery] = notify([Recipient("webhook", sink.url())], MESSAGE, key="k")
    assert sink.requests == []  # nothing leaves before the caller's transaction commits
    for callback in callbacks:
        callback()

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT
    assert delivery.attempts == 1
    assert delivery.sent_at is not None
    assert json.loads(sink.requests[0].body)["delivery"] == str(delivery.pk)


def test_a_rolled_back_change_sends_nothing(sink, huey_immediate, django_capture_on_commit_callbacks):
    def change_that_fails() -> None:
        with transaction.atomic():
            notify([Recipient("webhook", sink.url())], MESSAGE, key="k")
            raise AbortError

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(AbortError):
        change_that_fails()
    assert callbacks == []
    assert not Delivery.objects.exists()
    assert sink.requests == []


class AbortError(Exception):
    pass


def left_by_an_exception(block: Any, work: Callable[[], object]) -> None:
    """Run work() inside the context manager `block` (a transaction, batched()), then leave it by raising."""

    def run() -> None:
        with block:
            work()
            raise AbortError

    with pytest.raises(AbortError):
        run()


def test_notify_records_a_call_in_two_queries_however_many_recipients(django_assert_num_queries):
    recipients = [Recipient("email", f"person{n}@acme.test") for n in range(12)]
    with django_assert_num_queries(2):  # one INSERT … ON CONFLICT DO NOTHING, one SELECT by key
        deliveries = notify([*recipients, Recipient("email", "PERSON0@acme.test")], MESSAGE, key="k")
    assert [d.target for d in deliveries] == [r.target for r in recipients]
    assert all(d.pk and d.status == Delivery.Status.PENDING for d in deliveries)


def test_one_task_per_transaction_queues_all_its_new_deliveries(
    sink, monkeypatch, django_capture_on_commit_callbacks
):
    queued: list[list[int]] = []
    monkeypatch.setattr(tasks, "send_deliveries", queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        [earlier] = notify([Recipient("webhook", sink.url("/a"))], MESSAGE, key="a")
    assert queued == [[earlier.pk]]

    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        again = notify([Recipient("webhook", sink.url("/a"))], MESSAGE, key="a")  # already recorded
        first = notify(
            [Recipient("webhook", sink.url("/b")), Recipient("email", "x@acme.test")], MESSAGE, key="b"
        )
        second = notify([Recipient("webhook", sink.url("/c"))], MESSAGE, key="c")
    assert [d.pk for d in again] == [earlier.pk]
    assert len(callbacks) == 2  # one per call that created rows; the first to run queues, the other is done
    assert queued[1:] == [[d.pk for d in first + second]]


def test_a_rolled_back_savepoint_drops_only_its_own_deliveries(
    sink, huey_immediate, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        notify([Recipient("webhook", sink.url("/kept"))], MESSAGE, key="kept")
        dropped = Recipient("webhook", sink.url("/dropped"))
        left_by_an_exception(transaction.atomic(), lambda: notify([dropped], MESSAGE, key="dropped"))
        notify([Recipient("webhook", sink.url("/later"))], MESSAGE, key="later")

    assert [r.path for r in sink.requests] == ["/kept", "/later"]
    assert sorted(Delivery.objects.values_list("key", "status")) == [("kept", "sent"), ("later", "sent")]


def test_after_a_rollback_the_next_transaction_queues_only_its_own(
    monkeypatch, django_capture_on_commit_callbacks
):
    queued: list[list[int]] = []
    monkeypatch.setattr(tasks, "send_deliveries", queued.append)
    recipient = Recipient("email", "a@acme.test")
    left_by_an_exception(transaction.atomic(), lambda: notify([recipient], MESSAGE, key="rolled-back"))
    with django_capture_on_commit_callbacks(execute=True):
        [delivery] = notify([Recipient("email", "a@acme.test")], MESSAGE, key="committed")
    assert queued == [[delivery.pk]]


def test_batched_records_many_calls_in_two_queries(
    monkeypatch, django_assert_num_queries, django_capture_on_commit_callbacks
):
    queued: list[list[int]] = []
    monkeypatch.setattr(tasks, "send_deliveries", queued.append)
    owner = Recipient("email", "owner@acme.test")
    with django_capture_on_commit_callbacks(execute=True):
        [earlier] = notify([owner], MESSAGE, key="ticket:1")
    queued.clear()

    with django_capture_on_commit_callbacks(execute=True), django_assert_num_queries(2), batched():
        calls = [
            notify([Recipient("email", f"p{n}@acme.test"), owner], MESSAGE, key=f"ticket:{n}")
            for n in range(1, 6)
        ]
        with batched():  # an inner block joins the outer one
            calls.append(notify([owner], MESSAGE, key="ticket:9"))
        assert all(row.pk is None for rows in calls for row in rows)  # recorded when the block ends

    rows = [row for call in calls for row in call]
    assert all(row.pk and not row._state.adding for row in rows)
    assert (calls[0][1].pk, calls[0][1].created_at) == (earlier.pk, earlier.created_at)  # the stored row
    assert Delivery.objects.count() == 11
    assert len(queued) == 1
    assert sorted(queued[0]) == sorted({row.pk for row in rows} - {earlier.pk})


def test_a_batched_block_left_by_an_exception_records_nothing():
    left_by_an_exception(batched(), lambda: notify([Recipient("email", "a@acme.test")], MESSAGE, key="k"))
    assert not Delivery.objects.exists()
    [delivery] = notify([Recipient("email", "a@acme.test")], MESSAGE, key="k")  # not batched any more
    assert delivery.pk


def test_a_channel_that_is_down_never_reaches_the_caller(
    closed_port, huey_immediate, django_capture_on_commit_callbacks
):
    target = f"http://127.0.0.1:{closed_port}/hook"
    with django_capture_on_commit_callbacks(execute=True):
        [delivery] = notify([Recipient("webhook", target)], MESSAGE, key="k")

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PENDING
    assert delivery.attempts == 1
    assert "ConnectError" in delivery.last_error
    assert delivery.next_attempt_at > timezone.now()


def test_a_queue_that_is_down_never_reaches_the_caller(sink, monkeypatch, django_capture_on_commit_callbacks):
    def queue_down(pks: list[int]) -> None:
        raise ConnectionError("redis is down")

    monkeypatch.setattr(tasks, "send_deliveries", queue_down)
    with django_capture_on_commit_callbacks(execute=True):
        notify([Recipient("webhook", sink.url())], MESSAGE, key="k")
    assert sink.requests == []

    assert deliver_pending() == 1  # the periodic loop picks it up
    assert Delivery.objects.get().status == Delivery.Status.SENT


def test_deliver_pending_sends_only_what_is_due(sink):
    notify([Recipient("webhook", sink.url("/now"))], MESSAGE, key="a")
    Delivery.objects.update(next_attempt_at=T0)
    notify([Recipient("webhook", sink.url("/later"))], MESSAGE, key="b")
    Delivery.objects.filter(key="b").update(next_attempt_at=T0 + dt.timedelta(minutes=5))

    assert deliver_pending(now=T0) == 1
    assert [r.path for r in sink.requests] == ["/now"]
    assert deliver_pending(now=T0) == 0
    assert deliver_pending(now=T0 + dt.timedelta(minutes=5)) == 1
    assert [r.path for r in sink.requests] == ["/now", "/later"]


def test_a_failing_receiver_is_retried_with_backoff_then_given_up(sink):
    sink.status = 500
    notify([Recipient("webhook", sink.url())], MESSAGE, key="k")
    Delivery.objects.update(next_attempt_at=T0)

    now, waits = T0, []
    for _ in range(sending.MAX_ATTEMPTS):
        assert deliver_pending(now=now) == 1
        delivery = Delivery.objects.get()
        if delivery.status == Delivery.Status.FAILED:
            break
        assert deliver_pending(now=delivery.next_attempt_at - dt.timedelta(seconds=1)) == 0
        waits.append((delivery.next_attempt_at - now) / dt.timedelta(minutes=1))
        now = delivery.next_attempt_at

    assert waits == [1, 2, 4, 8, 16, 32, 60]
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempts == sending.MAX_ATTEMPTS == len(sink.requests)
    assert delivery.last_error.endswith("HTTP 500")
    assert deliver_pending(now=now + dt.timedelta(days=1)) == 0


def test_a_retry_that_succeeds_marks_the_delivery_sent(sink):
    sink.status = 503
    notify([Recipient("webhook", sink.url())], MESSAGE, key="k")
    Delivery.objects.update(next_attempt_at=T0)
    deliver_pending(now=T0)
    sink.status = 204
    assert deliver_pending(now=T0 + dt.timedelta(minutes=1)) == 1

    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == (Delivery.Status.SENT, 2)
    delivery_ids = {r.headers["x-sitekeeper-delivery"] for r in sink.requests}
    assert delivery_ids == {str(delivery.pk)}  # the receiver can drop a duplicate by it


def test_secrets_never_reach_last_error_or_logs(sink, closed_port, caplog):
    caplog.set_level(logging.DEBUG)
    sink.status = 500
    recipients = [
        Recipient("webhook", f"http://127.0.0.1:{closed_port}/hooks/{TOKEN}", secret=SECRET),
        Recipient("webhook", sink.url(f"/hooks/{TOKEN}"), secret=SECRET),
        Recipient("apprise", f"json://127.0.0.1:{sink.port}/apprise/{TOKEN}"),
        Recipient("apprise", f"json://127.0.0.1:{closed_port}/apprise/{TOKEN}"),
    ]
    notify(recipients, MESSAGE, key="k")
    assert deliver_pending() == 4

    errors = list(Delivery.objects.values_list("last_error", flat=True))
    assert all(errors), errors
    assert "failed, attempt 1 of 8" in caplog.text
    for text in [*errors, caplog.text]:
        assert SECRET not in text
        assert TOKEN not in text


def test_an_unexpected_error_in_a_channel_is_recorded_scrubbed_and_retried(monkeypatch):
    class Broken:
        def send(self, recipient, message, *, delivery_id=""):
            raise RuntimeError(f"bug while using {recipient.target} with {recipient.secret}")

    monkeypatch.setattr(sending, "get_channel", lambda kind: Broken())
    notify([Recipient("webhook", f"https://h.test/{TOKEN}", secret=SECRET)], MESSAGE, key="k")
    assert deliver_pending() == 1

    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.PENDING
    assert delivery.last_error.startswith("RuntimeError: bug while using")
    assert SECRET not in delivery.last_error
    assert TOKEN not in delivery.last_error


def test_a_claim_held_by_a_dead_worker_lapses(sink):
    notify([Recipient("webhook", sink.url())], MESSAGE, key="k")
    # A worker claimed the row at T0 and died before recording anything.
    Delivery.objects.update(status=Delivery.Status.SENDING, next_attempt_at=T0 + sending.CLAIM_LEASE)

    assert deliver_pending(now=T0 + dt.timedelta(minutes=5)) == 0
    assert deliver_pending(now=T0 + sending.CLAIM_LEASE) == 1
    assert Delivery.objects.get().status == Delivery.Status.SENT


def test_the_queued_task_does_nothing_for_a_delivery_already_sent(sink):
    [delivery] = notify([Recipient("webhook", sink.url())], MESSAGE, key="k")
    assert tasks.send_delivery.call_local(delivery.pk) is True  # the task queued before send_deliveries
    assert tasks.send_delivery.call_local(delivery.pk) is False
    tasks.send_deliveries.call_local([delivery.pk, delivery.pk + 1])  # sent already; and one never committed
    assert len(sink.requests) == 1


def test_the_transaction_task_sends_each_delivery_it_lists(sink):
    deliveries = notify([Recipient("webhook", sink.url(f"/{n}")) for n in range(3)], MESSAGE, key="k")
    tasks.send_deliveries.call_local([d.pk for d in deliveries])
    assert sorted(r.path for r in sink.requests) == ["/0", "/1", "/2"]
    assert set(Delivery.objects.values_list("status", flat=True)) == {Delivery.Status.SENT}


def test_the_periodic_task_runs_the_loop(sink):
    notify([Recipient("webhook", sink.url())], MESSAGE, key="k")
    assert tasks.deliver_pending_every_minute.call_local() == 1


@pytest.mark.parametrize("key", ["", "x" * 201])
def test_a_key_is_required_and_bounded(key):
    with pytest.raises(ValueError, match="key"):
        notify([Recipient("email", "a@b.test")], MESSAGE, key=key)


def test_a_claimed_delivery_cannot_be_claimed_again(sink):
    [delivery] = notify([Recipient("webhook", sink.url())], MESSAGE, key="k")
    now = timezone.now()
    assert sending._claim(delivery.pk, now) is True
    assert sending._claim(delivery.pk, now) is False  # the second worker's conditional UPDATE matches nothing
    assert Delivery.objects.get().status == Delivery.Status.SENDING


def test_a_one_time_message_leaves_no_working_link_in_the_record_once_sent(sink):
    link = "https://desk.agency.test/account/password-reset/MQ/abc-123/"
    message = Message(subject="Reset your password", text=f"Open {link}", event="account.x", one_time=True)
    notify([Recipient("webhook", sink.url("/reset"))], message, key="reset:1")
    assert link in json.dumps(Delivery.objects.get().message), "kept until it is sent: a retry needs it"

    assert deliver_pending() == 1

    assert link in sink.requests[0].body.decode(), "the person got the link"
    record = Delivery.objects.get()
    assert record.status == Delivery.Status.SENT
    assert link not in json.dumps(record.message)
    assert record.as_message().subject == "Reset your password"
    assert record.as_message().text == "(Removed once sent: it held a one-time link.)"


def test_an_ordinary_message_is_kept_whole_after_sending(sink):
    notify([Recipient("webhook", sink.url("/kept"))], MESSAGE, key="kept:1")
    assert deliver_pending() == 1
    assert Delivery.objects.get().as_message() == MESSAGE
