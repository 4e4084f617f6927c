"""The escalation loop: warnings at 75 %, breaches at due, each exactly once, in business hours or paged.

Times are Europe/Berlin (the fixtures' calendar: Mon–Fri 09:00–18:00). Monday 2026-11-23 .. Friday 11-27.
acme is on Business (P1 4h round the clock with after-hours emergency cover, P2 8bh); globex on Starter.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from sitekeeper.access.models import User
from sitekeeper.conf import ConfigError
from sitekeeper.contracts.models import Client, _core_calendar
from sitekeeper.desk import clocks, escalation, oncall, services
from sitekeeper.desk.escalation import Summary, escalation_pass
from sitekeeper.desk.models import Escalation, Event, State, Ticket
from sitekeeper.notify import deliver_pending
from sitekeeper.notify import tasks as notify_tasks
from sitekeeper.notify.models import Delivery

BERLIN = ZoneInfo("Europe/Berlin")
LIST = ["escalate@agency.test", "lead@agency.test"]
PAGER = "pager@agency.test"


def berlin(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BERLIN)


@pytest.fixture(autouse=True)
def rota(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SITEKEEPER_ESCALATION_EMAILS", ",".join(LIST))
    monkeypatch.setenv("SITEKEEPER_ONCALL", PAGER)


def file(client: Client, priority: str, at: dt.datetime, assignee: User | None = None) -> Ticket:
    ticket = services.file_request(
        client,
        channel="portal",
        subject=f"{priority}: checkout fails",
        description="The checkout page shows an error.",
        type="bug",
        priority=priority,
        site=client.sites.get(),
        environment="prod",
        steps="Add a product, open the checkout.",
        received_at=at,
    )
    if assignee is not None:
        services.assign([ticket], assignee, actor=assignee, at=at)
    return ticket


def run_pass(at: dt.datetime) -> Summary:
    with time_machine.travel(at, tick=False):
        return escalation_pass()


def notices(ticket: Ticket) -> Counter[tuple[str, str, str, str]]:
    """(clock, kind, audience, address) of every delivery the loop recorded for the ticket."""
    found: Counter[tuple[str, str, str, str]] = Counter()
    for delivery in Delivery.objects.filter(key__startswith=f"escalation:{ticket.pk}:"):
        parts = delivery.key.split(":")
        found[(parts[2], parts[3], parts[-1], delivery.target)] += 1
    return found


def expected(
    clock: str, kind: str, audience: str, addresses: list[str]
) -> Counter[tuple[str, str, str, str]]:
    return Counter((clock, kind, audience, address) for address in addresses)


def reload(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


def mailed(at: dt.datetime) -> Counter[str]:
    """Send what was recorded (the notify loop) and count mails per address."""
    with time_machine.travel(at, tick=False):
        deliver_pending()
    return Counter(address for message in mail.outbox for address in message.to)


# --- warnings and breaches ------------------------------------------------------------------------------
@pytest.mark.django_db
def test_warning_at_75_percent_goes_once_to_the_assignee(acme, engineer):
    ticket = file(acme, "P2", berlin(2026, 11, 23, 9), assignee=engineer)  # 8bh: due 17:00, warning 15:00
    assert reload(ticket).next_check_at == berlin(2026, 11, 23, 15)

    assert run_pass(berlin(2026, 11, 23, 14, 59)).sent == 0
    summary = run_pass(berlin(2026, 11, 23, 15))
    assert (summary.tickets, summary.warnings, summary.breaches) == (1, 1, 0)
    assert run_pass(berlin(2026, 11, 23, 15, 1)).tickets == 0  # next_check_at moved on to the due instant

    assert notices(ticket) == expected("response", "warning", "agency", ["engineer@people.test"])
    assert reload(ticket).next_check_at == berlin(2026, 11, 23, 17)
    event = ticket.events.get(kind=Event.Kind.WARNING)
    assert (event.data["clock"], event.public) == ("response", False)
    assert dt.datetime.fromisoformat(event.data["due"]) == berlin(2026, 11, 23, 17)
    assert mailed(berlin(2026, 11, 23, 15, 1)) == {"engineer <engineer@people.test>": 1}
    assert "SLA warning: response due Mon 23 Nov 2026 17:00 CET" in mail.outbox[0].subject


@pytest.mark.django_db
def test_an_unassigned_warning_goes_to_the_escalation_list(acme):
    ticket = file(acme, "P2", berlin(2026, 11, 23, 9))
    assert run_pass(berlin(2026, 11, 23, 15)).warnings == 1
    assert notices(ticket) == expected("response", "warning", "agency", LIST)


@pytest.mark.django_db
def test_breach_goes_once_to_the_escalation_list_and_the_p1_emergency_contact(acme, engineer):
    ticket = file(acme, "P1", berlin(2026, 11, 23, 10), assignee=engineer)  # 4h: warning 13:00, due 14:00
    assert run_pass(berlin(2026, 11, 23, 13)).warnings == 1
    summary = run_pass(berlin(2026, 11, 23, 14))
    assert (summary.warnings, summary.breaches) == (0, 1)

    agency = [*LIST, "engineer@people.test", PAGER]
    assert notices(ticket) == (
        expected("response", "warning", "agency", ["engineer@people.test", PAGER])
        + expected("response", "breach", "agency", agency)
        + expected("response", "breach", "emergency", ["oncall@acme.test"])
    )
    breach = ticket.events.get(kind=Event.Kind.BREACH)
    assert breach.public
    assert breach.data["notified"] == ["agency", "emergency"]
    assert Escalation.objects.filter(ticket=ticket).count() == 2

    sent = mailed(berlin(2026, 11, 23, 14, 1))
    assert sent["Acme GmbH Oncall <oncall@acme.test>"] == 1
    assert sent["engineer <engineer@people.test>"] == 2  # the warning and the breach
    assert not any("owner@acme.test" in address for address in sent)  # the product owner is not paged
    client_mail = next(m for m in mail.outbox if "oncall@acme.test" in m.to[0])
    assert "Critical request" in client_mail.subject
    assert "escalate@agency.test" not in client_mail.body


@pytest.mark.django_db
def test_a_second_pass_sends_nothing(acme, engineer):
    ticket = file(acme, "P1", berlin(2026, 11, 23, 10), assignee=engineer)
    first = run_pass(berlin(2026, 11, 23, 14, 30))  # warning and breach both reached: one breach notice
    assert (first.warnings, first.breaches) == (0, 1)
    before = notices(ticket)
    for minute in (31, 32, 45):
        again = run_pass(berlin(2026, 11, 23, 14, minute))
        assert (again.tickets, again.sent, again.held) == (0, 0, 0)
    # Even when the ticket is forced back into the loop, its notices are not sent again.
    Ticket.objects.filter(pk=ticket.pk).update(next_check_at=berlin(2026, 11, 23, 14))
    forced = run_pass(berlin(2026, 11, 23, 15))
    assert (forced.tickets, forced.sent) == (1, 0)
    assert notices(ticket) == before
    assert reload(ticket).next_check_at is None
    assert ticket.events.filter(kind__in=[Event.Kind.WARNING, Event.Kind.BREACH]).count() == 1


@pytest.mark.django_db
def test_a_late_warning_is_folded_into_the_breach(acme):
    ticket = file(acme, "P1", berlin(2026, 11, 23, 10))
    assert run_pass(berlin(2026, 11, 23, 16)).breaches == 1
    kinds = sorted(Escalation.objects.filter(ticket=ticket).values_list("kind", flat=True))
    assert kinds == ["breach", "warning"]  # the warning is settled, not sent on its own
    assert {key[1] for key in notices(ticket)} == {"breach"}


# --- business hours -------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_outside_business_hours_p2_waits_for_the_opening_and_p1_pages_at_once(acme):
    plan = acme.contract.plan
    plan.response_targets = {**plan.response_targets, "P2": "4h"}  # a wall-clock P2 target
    plan.save()
    p2 = file(acme, "P2", berlin(2026, 11, 27, 16))  # Friday: warning 19:00, due 20:00
    p1 = file(acme, "P1", berlin(2026, 11, 27, 20))  # warning 23:00, due Saturday 00:00

    held = run_pass(berlin(2026, 11, 27, 19))
    assert (held.held, held.sent) == (1, 0)
    assert not Escalation.objects.filter(ticket=p2).exists()  # a row only when actually sent
    monday = berlin(2026, 11, 30, 9)
    assert reload(p2).next_check_at == monday

    # P1 received after hours on Business: on-call is paged at once (2.2), not only at the 75 % warning.
    assert run_pass(berlin(2026, 11, 27, 20, 1)).pages == 1
    assert run_pass(berlin(2026, 11, 27, 23)).warnings == 1  # P1 on Business: paged at 23:00
    assert run_pass(berlin(2026, 11, 28, 0)).breaches == 1
    assert notices(p1) == (
        expected("emergency", "page", "oncall", [PAGER])
        + expected("response", "warning", "agency", [*LIST, PAGER])
        + expected("response", "breach", "agency", [*LIST, PAGER])
        + expected("response", "breach", "emergency", ["oncall@acme.test"])
    )
    assert run_pass(berlin(2026, 11, 28, 10)).sent == 0  # Saturday
    assert not notices(p2)

    assert run_pass(berlin(2026, 11, 30, 8, 59)).sent == 0
    opening = run_pass(monday)
    assert (opening.breaches, opening.warnings) == (1, 0)  # the warning is folded into the breach
    assert notices(p2) == expected("response", "breach", "agency", LIST)  # P2: no emergency contact
    breach = Escalation.objects.get(ticket=p2, kind="breach")
    assert (breach.due, breach.at) == (berlin(2026, 11, 27, 20), monday)


@pytest.mark.django_db
def test_a_breach_at_close_of_business_goes_out_that_evening(acme):
    on_time = file(acme, "P2", berlin(2026, 11, 23, 10))  # 8bh: due Monday 18:00, at closing
    assert run_pass(berlin(2026, 11, 23, 16)).warnings == 1
    assert run_pass(berlin(2026, 11, 23, 18, 1)).breaches == 1  # within the grace after closing
    assert ("response", "breach", "agency", LIST[0]) in notices(on_time)

    late = file(acme, "P2", berlin(2026, 11, 24, 10))  # due Tuesday 18:00; the worker was down until 18:30
    summary = run_pass(berlin(2026, 11, 24, 18, 30))
    assert (summary.held, summary.sent) == (2, 0)
    assert reload(late).next_check_at == berlin(2026, 11, 25, 9)


@pytest.mark.django_db
def test_a_closure_added_after_receipt_holds_notices(acme):
    ticket = file(acme, "P2", berlin(2026, 11, 23, 9))
    version = acme.contract.calendar.current
    version.pk, version.number = None, version.number + 1
    version.closures = [*version.closures, "2026-11-24"]  # Tuesday closed, decided after receipt
    version.save()
    late = run_pass(berlin(2026, 11, 24, 10))  # warning and breach (Monday 15:00/17:00) found on Tuesday
    assert (late.held, late.sent) == (2, 0)
    assert reload(ticket).next_check_at == berlin(2026, 11, 25, 9)


# --- clocks that must stay quiet ------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_paused_clock_does_not_warn(acme, engineer):
    ticket = file(acme, "P2", berlin(2026, 11, 23, 9), assignee=engineer)
    services.set_state(ticket, State.WAITING_INFO, actor=engineer, at=berlin(2026, 11, 23, 10))
    assert reload(ticket).next_check_at is None
    for at in (berlin(2026, 11, 23, 15), berlin(2026, 11, 23, 17), berlin(2026, 11, 24, 12)):
        assert run_pass(at).sent == 0
    assert not notices(ticket)

    # Resumed Tuesday 09:00: one business hour counted on Monday, the 75 % mark is 5 hours later.
    services.set_state(reload(ticket), State.OPEN, actor=engineer, at=berlin(2026, 11, 24, 9))
    assert reload(ticket).next_check_at == berlin(2026, 11, 24, 14)
    assert run_pass(berlin(2026, 11, 24, 14)).warnings == 1


@pytest.mark.django_db
def test_a_met_clock_does_not_breach(acme, engineer):
    ticket = file(acme, "P2", berlin(2026, 11, 23, 9), assignee=engineer)
    assert run_pass(berlin(2026, 11, 23, 15)).warnings == 1
    services.add_message(
        reload(ticket), "Looking into it now.", channel="staff", author=engineer, at=berlin(2026, 11, 23, 16)
    )
    assert reload(ticket).next_check_at is None
    for at in (berlin(2026, 11, 23, 17), berlin(2026, 11, 23, 18), berlin(2026, 11, 24, 9)):
        assert run_pass(at).breaches == 0
    assert {key[1] for key in notices(ticket)} == {"warning"}
    assert not ticket.events.filter(kind=Event.Kind.BREACH).exists()


# --- exactly once under races and crashes ---------------------------------------------------------------
@pytest.mark.django_db
def test_a_duplicate_notice_rolls_the_ticket_back_and_sends_nothing(acme, monkeypatch):
    ticket = file(acme, "P2", berlin(2026, 11, 23, 9))
    real_is_open = escalation.is_open

    # Without row locks (SQLite) another worker can commit a notice between our evaluation and our insert.
    # On PostgreSQL it cannot: our FOR UPDATE lock on the ticket blocks its insert (the foreign key check).
    def duplicate_appears(cal, now):
        due = reload(ticket).response_due
        Escalation.objects.create(ticket=ticket, clock="response", kind="warning", due=due, at=now)
        return real_is_open(cal, now)

    monkeypatch.setattr(escalation, "is_open", duplicate_appears)
    summary = run_pass(berlin(2026, 11, 23, 15))
    assert (summary.already_sent, summary.tickets, summary.warnings, summary.failed) == (1, 0, 0, 0)
    assert not notices(ticket)
    assert not ticket.events.filter(kind=Event.Kind.WARNING).exists()
    assert reload(ticket).next_check_at == berlin(2026, 11, 23, 15)  # rolled back: the next pass looks again


@pytest.mark.django_db
def test_a_crash_before_commit_leaves_nothing_and_the_next_pass_sends_once(acme, monkeypatch):
    ticket = file(acme, "P1", berlin(2026, 11, 23, 10))

    def crash(*args, **kwargs):
        raise RuntimeError("worker killed after the insert, before the commit")

    monkeypatch.setattr(escalation, "notify", crash)
    crashed = run_pass(berlin(2026, 11, 23, 13))
    assert (crashed.failed, crashed.sent) == (1, 0)
    assert not Escalation.objects.filter(ticket=ticket).exists()
    assert not ticket.events.filter(kind=Event.Kind.WARNING).exists()
    assert reload(ticket).next_check_at == berlin(2026, 11, 23, 13)  # still due: the next pass retries

    monkeypatch.undo()
    monkeypatch.setenv("SITEKEEPER_ESCALATION_EMAILS", ",".join(LIST))
    monkeypatch.setenv("SITEKEEPER_ONCALL", PAGER)
    _core_calendar.cache_clear()  # a restarted worker: nothing survives in memory, not even cached calendars
    assert run_pass(berlin(2026, 11, 23, 13, 1)).warnings == 1
    assert run_pass(berlin(2026, 11, 23, 13, 2)).sent == 0
    assert notices(ticket) == expected("response", "warning", "agency", [*LIST, PAGER])


def _due_tickets(acme: Client, count: int) -> list[Ticket]:
    # P1 received 5 h before the pass: warning and breach reached, one breach notice each.
    return [file(acme, "P1", berlin(2026, 11, 23, 9) + dt.timedelta(minutes=i)) for i in range(count)]


def _in_parallel(workers: int, now: dt.datetime) -> tuple[list[Summary], list[BaseException]]:
    barrier = threading.Barrier(workers)
    results: list[Summary] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            results.append(escalation_pass(now))
        except BaseException as exc:  # noqa: BLE001 (judged by the test)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results, errors


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # keeps the built-in plans
def test_two_workers_at_the_same_time_send_each_notice_once(acme, engineer):
    tickets = _due_tickets(acme, 24)
    now = berlin(2026, 11, 23, 14, 30)
    results, errors = _in_parallel(2, now)
    if connection.vendor == "postgresql":
        # Row locks: the second worker skips what the first holds; nobody fails, nothing is done twice.
        assert not errors
        assert sum(r.failed for r in results) == 0
        assert sum(r.tickets for r in results) == len(tickets)
    else:
        # SQLite (here a shared in-memory database) locks whole tables: a worker that loses the race rolls
        # that ticket back, or its whole pass fails; the next pass picks up what is left.
        assert all("locked" in str(error) for error in errors), errors
        results.append(escalation_pass(now))
    assert sum(r.breaches for r in results) == len(tickets)
    assert sum(r.warnings for r in results) == 0
    assert escalation_pass(now).sent == 0
    assert Escalation.objects.count() == 2 * len(tickets)
    assert Event.objects.filter(kind=Event.Kind.BREACH).count() == len(tickets)
    per_ticket = expected("response", "breach", "agency", [*LIST, PAGER]) + expected(
        "response", "breach", "emergency", ["oncall@acme.test"]
    )
    for ticket in tickets:
        assert notices(ticket) == per_ticket


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # keeps the built-in plans
def test_a_ticket_locked_by_another_worker_is_skipped(acme):
    if not connection.features.has_select_for_update_skip_locked:
        pytest.skip("row locks (SKIP LOCKED) are PostgreSQL's; on SQLite the unique constraint decides")
    ticket = file(acme, "P2", berlin(2026, 11, 23, 9))
    locked, release = threading.Event(), threading.Event()

    def other_worker() -> None:
        try:
            with transaction.atomic():
                Ticket.objects.select_for_update().get(pk=ticket.pk)
                locked.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    assert locked.wait(30)
    try:
        busy = escalation_pass(berlin(2026, 11, 23, 15))
    finally:
        release.set()
        thread.join(30)
    assert (busy.skipped, busy.tickets, busy.sent) == (1, 0, 0)
    assert escalation_pass(berlin(2026, 11, 23, 15, 1)).warnings == 1


@pytest.mark.django_db
def test_a_duplicate_notice_rolls_back_only_its_own_ticket(acme, monkeypatch):
    tickets = [file(acme, "P2", berlin(2026, 11, 23, 9) + dt.timedelta(minutes=i)) for i in range(3)]
    other = tickets[1]
    read_sent = clocks.sent_notices

    # Without row locks (SQLite) another worker can commit the middle ticket's warning right after our read.
    def read_then_raced(batch):
        sent = read_sent(batch)
        due = reload(other).response_due
        Escalation.objects.create(ticket=other, clock="response", kind="warning", due=due, at=due)
        return sent

    monkeypatch.setattr(clocks, "sent_notices", read_then_raced)
    summary = run_pass(berlin(2026, 11, 23, 15, 5))
    assert (summary.tickets, summary.warnings, summary.already_sent, summary.failed) == (2, 2, 1, 0)
    for ticket in (tickets[0], tickets[2]):
        assert notices(ticket) == expected("response", "warning", "agency", LIST)
        assert reload(ticket).next_check_at == reload(ticket).response_due
    assert not notices(other)
    assert reload(other).next_check_at == berlin(2026, 11, 23, 15, 1)  # unchanged: the next pass looks again
    assert Event.objects.filter(kind=Event.Kind.WARNING).count() == 2


@pytest.mark.django_db
def test_a_failing_notify_rolls_back_only_its_own_ticket(acme, monkeypatch, caplog):
    tickets = _due_tickets(acme, 3)
    broken = tickets[1]
    real_notify = escalation.notify

    def notify(recipients, message, *, key):
        if key.startswith(f"escalation:{broken.pk}:"):
            raise RuntimeError("this one ticket's notice cannot be recorded")
        return real_notify(recipients, message, key=key)

    monkeypatch.setattr(escalation, "notify", notify)
    monkeypatch.setattr(logging.getLogger("sitekeeper"), "propagate", True)  # let caplog see it
    summary = run_pass(berlin(2026, 11, 23, 14, 30))
    assert (summary.tickets, summary.breaches, summary.failed) == (2, 2, 1)
    assert f"escalation check of {broken.reference} failed" in caplog.text
    assert not notices(broken)
    assert not Escalation.objects.filter(ticket=broken).exists()
    assert reload(broken).next_check_at == reload(broken).response_due - dt.timedelta(hours=1)  # the warning
    per_ticket = expected("response", "breach", "agency", [*LIST, PAGER]) + expected(
        "response", "breach", "emergency", ["oncall@acme.test"]
    )
    assert notices(tickets[0]) == notices(tickets[2]) == per_ticket


# --- batched reads and writes ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_pass_makes_as_many_queries_for_twelve_due_tickets_as_for_three(acme, engineer):
    def queries(tickets: int, day: int) -> int:
        for i in range(tickets):
            file(acme, "P1", berlin(2026, 11, day, 9) + dt.timedelta(minutes=i), assignee=engineer)
        with CaptureQueriesContext(connection) as captured:
            summary = run_pass(berlin(2026, 11, day, 14, 30))
        assert summary.breaches == tickets
        return len(captured.captured_queries)

    few = queries(3, 23)
    assert queries(12, 24) == few
    assert few <= 25  # claim, three clock reads, rota, one INSERT per kind of row, one UPDATE …


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # each batch really commits
def test_the_pass_queues_one_sending_task_per_batch(acme, monkeypatch):
    tickets = _due_tickets(acme, 5)
    queued: list[list[int]] = []
    monkeypatch.setattr(notify_tasks, "send_deliveries", queued.append)
    summary = escalation_pass(berlin(2026, 11, 23, 14, 30), batch=2)
    assert summary.breaches == len(tickets)
    assert len(queued) == 3  # batches of 2, 2 and 1 ticket: three transactions
    sent = [pk for task in queued for pk in task]
    assert sorted(sent) == sorted(Delivery.objects.values_list("pk", flat=True))
    assert len(sent) == 5 * 4  # escalation list (2), pager, emergency contact: each queued once


@pytest.mark.django_db
def test_the_batch_clock_reading_is_the_per_ticket_one(acme, engineer):
    plain = file(acme, "P2", berlin(2026, 11, 23, 9), assignee=engineer)
    paused = file(acme, "P3", berlin(2026, 11, 23, 9, 30), assignee=engineer)
    services.set_state(paused, State.WAITING_INFO, actor=engineer, at=berlin(2026, 11, 23, 10))
    services.set_state(reload(paused), State.OPEN, actor=engineer, at=berlin(2026, 11, 24, 10))
    reopened = file(acme, "P1", berlin(2026, 11, 23, 10), assignee=engineer)
    services.resolve(reopened, actor=engineer, at=berlin(2026, 11, 23, 11))
    services.reopen(reload(reopened), actor=engineer, at=berlin(2026, 11, 23, 12))
    services.resolve(reload(reopened), actor=engineer, at=berlin(2026, 11, 23, 16))
    run_pass(berlin(2026, 11, 23, 15))
    tickets = [reload(ticket) for ticket in (plain, paused, reopened)]

    assert clocks.histories(tickets) == {ticket.pk: clocks.history(ticket) for ticket in tickets}
    assert clocks.evaluate_many(tickets) == {ticket.pk: clocks.evaluate(ticket) for ticket in tickets}
    sent = clocks.sent_notices(tickets)
    assert sent == {
        ticket.pk: set(ticket.escalations.values_list("clock", "kind", "due")) for ticket in tickets
    }
    assert sent[plain.pk]  # the pass sent its warning
    for ticket in tickets:
        states = clocks.evaluate(ticket)
        assert clocks.pending_checks(ticket, states, sent[ticket.pk]) == clocks.pending_checks(ticket, states)


# --- who is on the rota ---------------------------------------------------------------------------------
@pytest.mark.django_db
def test_rota_entries_are_usernames_addresses_or_apprise_urls(engineer, admin, monkeypatch):
    monkeypatch.setenv("SITEKEEPER_ONCALL", "engineer,ntfy://ntfy.example/agency-pager,pager@agency.test")
    targets = [(r.kind, r.target) for r in oncall.oncall("ticket.breach")]
    assert targets == [
        ("email", "engineer@people.test"),
        ("apprise", "ntfy://ntfy.example/agency-pager"),
        ("email", "pager@agency.test"),
    ]
    monkeypatch.delenv("SITEKEEPER_ESCALATION_EMAILS")
    monkeypatch.delenv("SITEKEEPER_ONCALL")
    assert [r.target for r in oncall.escalation_list("ticket.breach")] == ["admin@people.test"]
    assert [r.target for r in oncall.oncall("ticket.breach")] == ["admin@people.test"]
    monkeypatch.setenv("SITEKEEPER_ONCALL", "nobody")
    with pytest.raises(ConfigError, match="SITEKEEPER_ONCALL: 'nobody' is not an agency username"):
        oncall.oncall("ticket.breach")
    monkeypatch.setenv("SITEKEEPER_ESCALATION_EMAILS", "not-an-address@")
    with pytest.raises(ConfigError, match="not an e-mail address"):
        oncall.escalation_list("ticket.breach")


@pytest.mark.django_db
def test_a_broken_rota_fails_the_ticket_loudly_and_sends_nothing(acme, monkeypatch, caplog):
    ticket = file(acme, "P2", berlin(2026, 11, 23, 9))
    monkeypatch.setattr(logging.getLogger("sitekeeper"), "propagate", True)  # let caplog see it
    monkeypatch.setenv("SITEKEEPER_ESCALATION_EMAILS", "nobody")
    summary = run_pass(berlin(2026, 11, 23, 15))
    assert (summary.failed, summary.sent) == (1, 0)
    assert f"escalation check of {ticket.reference} failed" in caplog.text
    assert not Escalation.objects.filter(ticket=ticket).exists()
