"""After-hours emergency escalation (agreement 2.2) and the emergency contact's decisions (3.2d), issue 12
item 11, driven through the real escalation pass (desk.escalation.escalation_pass, as the worker runs it
every minute) with time frozen by time_machine.

acme is on Business (after-hours emergency cover; P1 4 h round the clock), globex on Starter (none). The
Berlin office calendar: Mon–Fri 09:00–18:00, Europe/Berlin. Monday 2026-11-23 .. Sunday 11-29.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter

import pytest
import time_machine
from django.core import mail
from django.db import connection

from sitekeeper.access.models import User
from sitekeeper.contracts.models import Client
from sitekeeper.desk import services
from sitekeeper.desk.escalation import escalation_pass
from sitekeeper.desk.models import Escalation, Event, Pause, State, Ticket
from sitekeeper.notify import deliver_pending
from sitekeeper.notify.models import Delivery
from tests.desk.test_escalation import (
    LIST,
    PAGER,
    _in_parallel,
    berlin,
    expected,
    file,
    notices,
    rota,
    run_pass,
)

__all__ = ["rota"]  # the autouse fixture setting SITEKEEPER_ESCALATION_EMAILS and SITEKEEPER_ONCALL


def reload(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


def pages(ticket: Ticket) -> Counter[tuple[str, str, str, str]]:
    return Counter({key: n for key, n in notices(ticket).items() if key[1] == "page"})


# --- paged at once --------------------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    "received",
    [
        berlin(2026, 11, 23, 22, 40),  # Monday night
        berlin(2026, 11, 24, 7, 15),  # Tuesday before opening
        berlin(2026, 11, 28, 12, 0),  # Saturday noon
        berlin(2026, 12, 31, 11, 0),  # a closure of the office calendar (a Thursday)
    ],
    ids=["night", "early", "weekend", "closure"],
)
def test_a_p1_received_after_hours_pages_on_call_at_once_and_once(acme: Client, engineer: User, received):
    ticket = file(acme, "P1", received, assignee=engineer)
    assert reload(ticket).next_check_at == received  # not the 75 % warning, 3 h later

    summary = run_pass(received.replace(second=30))  # the worker's next minute
    assert pages(ticket) == expected("emergency", "page", "oncall", [PAGER, "engineer@people.test"])
    assert (summary.pages, summary.warnings, summary.breaches) == (1, 0, 0)
    assert reload(ticket).after_hours_p1_at == received
    row = Escalation.objects.get(ticket=ticket, kind="page")
    assert (row.clock, row.due) == ("emergency", received)
    event = ticket.events.get(kind=Event.Kind.PAGE)
    assert (event.public, event.data["notified"]) == (True, ["oncall"])

    for minutes in (1, 2, 30):  # later passes: nothing again
        from_now = run_pass(received.replace(second=30) + dt.timedelta(minutes=minutes))
        assert from_now.pages == 0
    assert pages(ticket) == expected("emergency", "page", "oncall", [PAGER, "engineer@people.test"])
    # The warning still comes at 75 % (3 h after receipt), to the assignee and on-call.
    warned = run_pass(received + dt.timedelta(hours=3))
    assert (warned.warnings, warned.pages) == (1, 0)

    with time_machine.travel(received.replace(second=45), tick=False):
        deliver_pending()
    paged = [message for message in mail.outbox if "P1 after hours" in message.subject]
    assert sorted(address for message in paged for address in message.to) == [
        "engineer <engineer@people.test>",
        PAGER,
    ]
    assert re.search(r"\d{4} \d\d:\d\d CES?T\b", paged[0].body)  # the zone named
    assert ticket.subject in paged[0].subject


@pytest.mark.django_db
def test_a_p1_in_business_hours_waits_for_the_warning(acme: Client):
    ticket = file(acme, "P1", berlin(2026, 11, 23, 10))
    assert reload(ticket).after_hours_p1_at is None
    assert run_pass(berlin(2026, 11, 23, 10, 1)).sent == 0
    assert run_pass(berlin(2026, 11, 23, 13)).warnings == 1  # 75 % of 4 h
    assert not pages(ticket)


@pytest.mark.django_db
def test_a_plan_without_after_hours_cover_is_not_paged(globex: Client):
    ticket = file(globex, "P1", berlin(2026, 11, 23, 22))  # Starter: P1 next business day
    assert reload(ticket).after_hours_p1_at is None
    assert run_pass(berlin(2026, 11, 23, 22, 1)).sent == 0
    assert not notices(ticket)


@pytest.mark.django_db
def test_a_request_raised_to_p1_after_hours_pages_at_once(acme: Client, engineer: User):
    ticket = file(acme, "P3", berlin(2026, 11, 23, 16))
    raised = berlin(2026, 11, 23, 19, 20)
    services.change_priority(ticket, "P1", actor=engineer, why="Checkout is down for everyone", at=raised)
    summary = run_pass(berlin(2026, 11, 23, 19, 21))
    assert pages(ticket) == expected("emergency", "page", "oncall", [PAGER])
    assert summary.pages == 1
    assert reload(ticket).after_hours_p1_at == raised

    # Lowered and raised again the same night: a new episode, a new page (once).
    services.change_priority(reload(ticket), "P2", actor=engineer, why="Workaround in place", at=raised)
    assert reload(ticket).after_hours_p1_at is None
    again = berlin(2026, 11, 23, 23, 5)
    services.change_priority(reload(ticket), "P1", actor=engineer, why="Workaround failed", at=again)
    assert run_pass(berlin(2026, 11, 23, 23, 6)).pages == 1
    assert run_pass(berlin(2026, 11, 23, 23, 7)).pages == 0
    assert sorted(Escalation.objects.filter(ticket=ticket, kind="page").values_list("due", flat=True)) == [
        raised,
        again,
    ]


@pytest.mark.django_db
def test_a_client_proposal_of_p1_changes_nothing_until_the_agency_confirms(acme: Client, owner: User):
    ticket = file(acme, "P3", berlin(2026, 11, 23, 16))
    services.change_priority(ticket, "P1", actor=owner, why="Shop down", at=berlin(2026, 11, 23, 20))
    assert reload(ticket).after_hours_p1_at is None
    assert run_pass(berlin(2026, 11, 23, 20, 1)).pages == 0


@pytest.mark.django_db
def test_a_p1_lowered_before_the_pass_is_not_paged(acme: Client, engineer: User):
    ticket = file(acme, "P1", berlin(2026, 11, 23, 22))
    services.change_priority(
        ticket, "P3", actor=engineer, why="Only the staging site", at=berlin(2026, 11, 23, 22)
    )
    assert run_pass(berlin(2026, 11, 23, 22, 1)).pages == 0
    assert not pages(ticket)


@pytest.mark.django_db
def test_a_detected_p1_at_night_pages_at_once(acme: Client):
    """The monitor files its P1 with the outage's first failed check as the receipt."""
    down = berlin(2026, 11, 24, 3, 12)
    ticket = services.file_request(
        acme, channel="monitor", type="incident", priority="P1", site=acme.sites.get(), environment="prod",
        subject="Acme GmbH website is down: HTTP 503", description="Two checks failed.", received_at=down,
    )  # fmt: skip
    summary = run_pass(berlin(2026, 11, 24, 3, 14))
    assert pages(ticket) == expected("emergency", "page", "oncall", [PAGER])
    assert summary.pages == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # keeps the built-in plans
def test_two_workers_at_the_same_time_page_each_p1_once(acme: Client):
    tickets = [file(acme, "P1", berlin(2026, 11, 23, 21, minute)) for minute in range(8)]
    now = berlin(2026, 11, 23, 21, 10)
    results, errors = _in_parallel(2, now)
    if connection.vendor == "postgresql":
        assert not errors
    else:  # SQLite locks whole tables: a worker that loses the race rolls back; the next pass finishes
        assert all("locked" in str(error) for error in errors), errors
        results.append(escalation_pass(now))
    assert sum(result.pages for result in results) == len(tickets)
    assert escalation_pass(now).sent == 0
    for ticket in tickets:
        assert pages(ticket) == expected("emergency", "page", "oncall", [PAGER])
    assert Event.objects.filter(kind=Event.Kind.PAGE).count() == len(tickets)


# --- the emergency contact and decisions (3.2d) -------------------------------------------------------
def decisions(ticket: Ticket) -> list[tuple[str, str]]:
    keys = [f"desk:decision:{pk}" for pk in Pause.objects.filter(ticket=ticket).values_list("pk", flat=True)]
    return sorted(Delivery.objects.filter(key__in=keys).values_list("key", "target"))


@pytest.mark.django_db
@pytest.mark.parametrize("priority", ["P1", "P2"])
def test_waiting_for_a_decision_tells_the_emergency_contact_once_per_wait(
    acme: Client, engineer: User, priority: str
):
    ticket = file(acme, priority, berlin(2026, 11, 23, 10), assignee=engineer)
    asked = berlin(2026, 11, 23, 11)
    with time_machine.travel(asked, tick=False):
        services.set_state(
            ticket, State.WAITING_APPROVAL, actor=engineer, note="Roll back to yesterday's backup?"
        )
    first = ticket.pauses.get(end__isnull=True)
    assert decisions(ticket) == [(f"desk:decision:{first.pk}", "oncall@acme.test")]
    event = ticket.events.get(kind=Event.Kind.DECISION)
    assert (event.public, event.at, event.data["reason"]) == (True, asked, "waiting_approval")

    # The pass that runs meanwhile sends nothing more to the client; the wait ends, a new one begins.
    run_pass(berlin(2026, 11, 23, 11, 1))
    services.set_state(reload(ticket), State.OPEN, actor=engineer, at=berlin(2026, 11, 23, 11, 30))
    with time_machine.travel(berlin(2026, 11, 23, 12), tick=False):
        services.set_state(reload(ticket), State.WAITING_INFO, actor=engineer, note="Which payment?")
    second = ticket.pauses.get(end__isnull=True)
    assert decisions(ticket) == sorted(
        [
            (f"desk:decision:{first.pk}", "oncall@acme.test"),
            (f"desk:decision:{second.pk}", "oncall@acme.test"),
        ]
    )
    with time_machine.travel(berlin(2026, 11, 23, 12, 1), tick=False):
        deliver_pending()
    told = [message for message in mail.outbox if "Your decision is needed" in message.subject]
    assert [message.to for message in told] == [["Acme GmbH Oncall <oncall@acme.test>"]] * 2
    assert "We need your approval" in told[0].body
    assert "Roll back to yesterday's backup?" in told[0].body
    assert "We need your information" in told[1].body
    assert not any(address in message.body for message in told for address in LIST)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("priority", "state"),
    [("P3", State.WAITING_APPROVAL), ("P4", State.WAITING_INFO), ("P1", State.WAITING_ACCESS),
     ("P2", State.WAITING_THIRD_PARTY)],
)  # fmt: skip
def test_other_waits_do_not_call_on_the_emergency_contact(acme: Client, engineer: User, priority, state):
    ticket = file(acme, priority, berlin(2026, 11, 23, 10))
    services.set_state(ticket, state, actor=engineer, at=berlin(2026, 11, 23, 11), note="Waiting.")
    assert not decisions(ticket)
    assert not ticket.events.filter(kind=Event.Kind.DECISION).exists()


@pytest.mark.django_db
def test_without_an_emergency_contact_staff_see_that_nobody_was_told(acme: Client, engineer: User):
    acme.contacts.filter(role="emergency").delete()
    ticket = file(acme, "P1", berlin(2026, 11, 23, 10))
    services.set_state(
        ticket, State.WAITING_APPROVAL, actor=engineer, at=berlin(2026, 11, 23, 11), note="Ok?"
    )
    event = ticket.events.get(kind=Event.Kind.DECISION)
    assert (event.public, event.data["notified"]) == (False, [])
    assert not decisions(ticket)
