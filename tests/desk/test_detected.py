"""Requests the platform opened are not incomplete client requests, and no pause outlives a resolution
(issue 12, item 2); one received time on every page (item 15); SLA clocks under notice (item 7).

Every platform opener (monitoring, backup checks, security scans, health audits, the update pipeline) files
on the monitor channel. acme is on Business with the Berlin office calendar (Mon–Fri 09:00–18:00); Berlin is
UTC+1 in February 2026.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client as HttpClient

from sitekeeper.access.models import User
from sitekeeper.contracts.models import Client, Contract
from sitekeeper.desk import clocks, presenters, services
from sitekeeper.desk.escalation import escalation_pass
from sitekeeper.desk.models import Channel, Event, Message, Pause, PauseReason, State, Ticket

UTC = dt.UTC
RECEIVED = dt.datetime(2026, 2, 10, 9, 0, tzinfo=UTC)  # Tue 10:00 in Berlin


@pytest.fixture(autouse=True)
def fast_passwords(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def detect(client: Client, received: dt.datetime = RECEIVED, **fields: object) -> Ticket:
    """As monitoring.outages.open_incident files it (this one without steps, like the demo's outage)."""
    values: dict[str, object] = {
        "type": "incident",
        "priority": "P1",
        "site": client.sites.get(),
        "environment": "prod",
        "subject": f"{client.sites.get()} is down: HTTP 503",
        "description": "Two consecutive checks failed with HTTP 503.",
    }
    values.update(fields)
    return services.file_request(client, channel=Channel.MONITOR, received_at=received, **values)


def fresh(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


def signed_in(user: User) -> HttpClient:
    http = HttpClient()
    http.force_login(user)
    return http


# --- what the platform files ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_detected_request_is_complete_and_its_priority_is_the_agencys(acme: Client) -> None:
    ticket = detect(acme)  # no steps to reproduce: a client request would be incomplete without them
    assert (ticket.incomplete, ticket.missing_fields) == (False, [])
    assert not ticket.pauses.exists()
    assert not ticket.events.filter(kind=Event.Kind.PAUSE).exists()
    assert (ticket.priority, ticket.proposed_priority, ticket.priority_confirmed) == ("P1", "", True)
    ticket = fresh(ticket)
    assert ticket.response_due == RECEIVED + dt.timedelta(hours=4)  # Business P1: 4 h, running at once
    assert ticket.next_due_at == ticket.response_due
    assert ticket.detected


@pytest.mark.django_db
def test_even_a_detected_request_without_type_or_priority_is_not_incomplete(acme: Client) -> None:
    ticket = services.file_request(
        acme, channel=Channel.MONITOR, subject="Backup failed", received_at=RECEIVED
    )
    assert (ticket.incomplete, ticket.priority, ticket.proposed_priority, ticket.priority_confirmed) == (
        False,
        "P3",
        "",
        True,
    )
    # Completing a field later does not make it incomplete either.
    services.complete_request(ticket, {"description": "Restic could not reach the repository."})
    assert (fresh(ticket).incomplete, fresh(ticket).missing_fields) == (False, [])


@pytest.mark.django_db
def test_a_detected_acknowledgement_says_what_was_detected_and_asks_nothing(acme: Client) -> None:
    ticket = detect(acme)
    ack = ticket.messages.get(kind=Message.Kind.AUTO).body
    assert ack == (
        "sitekeeper detected: Acme GmbH website is down: HTTP 503 at Tue 10 Feb 2026, 10:00 (Europe/Berlin). "
        f"We opened request {ticket.reference} for it and are on it; you do not need to do anything."
    )
    other = detect(acme, subject="Security: web shell found in uploads/")
    assert "web shell found in uploads/ on Acme GmbH website at Tue 10 Feb 2026" in (
        other.messages.get(kind=Message.Kind.AUTO).body
    )
    for text in ("We received your request", "missing", "steps", "paused"):
        assert text not in ack


@pytest.mark.django_db
def test_a_client_request_is_still_acknowledged_and_paused_when_incomplete(acme: Client) -> None:
    ticket = services.file_request(acme, channel=Channel.EMAIL, subject="broken??", received_at=RECEIVED)
    assert ticket.incomplete
    assert ticket.pauses.get().reason == PauseReason.INCOMPLETE
    assert ticket.messages.get(kind=Message.Kind.AUTO).body.startswith("We received your request")


# --- no pause outlives the resolution ------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    "reason", [PauseReason.INCOMPLETE, PauseReason.UNAUTHORIZED_CHANGE, "access_revoked"]
)
@pytest.mark.parametrize("closing", ["resolve", "close"])
def test_resolving_or_closing_ends_every_open_pause_at_that_instant(
    acme: Client, engineer: User, reason: str, closing: str
) -> None:
    ticket = services.file_request(acme, channel=Channel.EMAIL, subject="broken??", received_at=RECEIVED)
    if reason != PauseReason.INCOMPLETE:
        Pause.objects.create(ticket=ticket, reason=reason, start=RECEIVED + dt.timedelta(minutes=30))
    done = RECEIVED + dt.timedelta(hours=2)
    if closing == "resolve":
        services.resolve(ticket, actor=engineer, at=done)
    else:
        services.set_state(ticket, State.CLOSED, actor=engineer, at=done)
    assert not ticket.pauses.filter(end__isnull=True).exists()
    assert set(ticket.pauses.values_list("end", flat=True)) == {done}
    resumed = ticket.events.filter(kind=Event.Kind.RESUME, at=done)
    assert {event.data["reason"] for event in resumed} == set(ticket.pauses.values_list("reason", flat=True))
    # Months later, the history still counts no pause after the resolution.
    assert all(pause.end == done for pause in clocks.history(fresh(ticket)).pauses)


@pytest.mark.django_db
def test_a_waiting_state_pause_ends_at_the_resolution_too(acme: Client, engineer: User) -> None:
    ticket = detect(acme)
    services.set_state(ticket, State.WAITING_THIRD_PARTY, actor=engineer, at=RECEIVED + dt.timedelta(hours=1))
    services.resolve(fresh(ticket), actor=engineer, at=RECEIVED + dt.timedelta(hours=3))
    assert list(ticket.pauses.values_list("end", flat=True)) == [RECEIVED + dt.timedelta(hours=3)]


@pytest.mark.django_db
def test_reopening_an_incomplete_request_pauses_it_again(acme: Client, engineer: User) -> None:
    ticket = services.file_request(acme, channel=Channel.EMAIL, subject="broken??", received_at=RECEIVED)
    services.resolve(ticket, actor=engineer, at=RECEIVED + dt.timedelta(hours=1))
    services.reopen(fresh(ticket), actor=engineer, at=RECEIVED + dt.timedelta(hours=2), why="came back")
    open_pause = ticket.pauses.get(end__isnull=True)
    assert (open_pause.reason, open_pause.start) == (PauseReason.INCOMPLETE, RECEIVED + dt.timedelta(hours=2))


# --- pages --------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_portal_page_of_a_detected_request_says_where_it_came_from(acme: Client, owner: User) -> None:
    ticket = detect(acme)
    page = signed_in(owner).get(f"/portal/requests/{ticket.pk}/").content.decode()
    assert presenters.DETECTED_ORIGIN.replace("'", "&#x27;") in page
    assert "sitekeeper detected: Acme GmbH website is down" in page
    assert "set by us for what monitoring detected" in page
    for text in (
        "you proposed",
        "to be confirmed",
        "Complete your request",
        "missing details",
        "received your",
    ):
        assert text not in page
    listing = signed_in(owner).get("/portal/requests/").content.decode()
    assert "to be confirmed" not in listing
    assert "incomplete" not in listing


@pytest.mark.django_db
def test_the_staff_page_of_a_detected_request_never_says_the_client_proposed(
    acme: Client, engineer: User
) -> None:
    ticket = detect(acme)
    page = signed_in(engineer).get(f"/staff/desk/{ticket.pk}/").content.decode()
    assert "Detected by monitoring" in page
    assert "The client proposed" not in page
    assert "Incomplete" not in page
    queue = signed_in(engineer).get("/staff/desk/").content.decode()
    assert "unconfirmed" not in queue
    assert "proposed P1" not in queue


@pytest.mark.django_db
def test_the_api_says_a_request_was_detected(acme: Client, engineer: User) -> None:
    from sitekeeper.access.models import ApiToken

    ticket = detect(acme)
    _, key = ApiToken.issue(engineer, "script")
    http = HttpClient(headers={"authorization": f"Bearer {key}"})
    body = http.get(f"/api/v1/tickets/{ticket.pk}").json()
    assert (body["detected"], body["proposed_priority"], body["priority_confirmed"]) == (True, "", True)
    assert (body["incomplete"], body["missing_fields"]) == (False, [])


# --- item 15: one received time -----------------------------------------------------------------------
@pytest.mark.django_db
def test_the_list_and_the_pages_show_one_received_time_in_the_contract_zone(
    acme: Client, owner: User, engineer: User
) -> None:
    # 23:30 UTC on Tuesday is 00:30 on Wednesday in Berlin: the list used to print the UTC date.
    ticket = detect(acme, received=dt.datetime(2026, 2, 10, 23, 30, tzinfo=UTC))
    shown = presenters.received(ticket)
    assert shown == "Wed 11 Feb 2026, 00:30 (Europe/Berlin)"
    for http, urls in (
        (signed_in(owner), ["/portal/requests/?show=all", f"/portal/requests/{ticket.pk}/"]),
        (signed_in(engineer), [f"/staff/desk/{ticket.pk}/"]),
    ):
        for url in urls:
            page = http.get(url).content.decode()
            assert shown in page, url
            assert "10 Feb 2026" not in page, url


# --- item 7: clocks run under notice ------------------------------------------------------------------
@pytest.mark.django_db
def test_a_contract_under_notice_keeps_its_sla_clocks_and_escalations(acme: Client) -> None:
    contract = acme.contract
    contract.status, contract.notice_given_on = Contract.Status.CANCELLING, dt.date(2026, 2, 2)
    contract.save()
    assert acme.contract == contract
    ticket = services.file_request(
        acme,
        channel=Channel.PORTAL,
        type="bug",
        priority="P2",
        site=acme.sites.get(),
        environment="prod",
        subject="Form broken",
        description="The contact form errors.",
        steps="Send the form.",
        received_at=RECEIVED,
    )
    assert fresh(ticket).response_due is not None
    summary = escalation_pass(RECEIVED + dt.timedelta(hours=6))  # 8bh: the 75 % warning is due
    assert summary.warnings == 1


@pytest.mark.django_db
def test_every_time_in_the_list_summaries_names_its_zone(acme: Client, engineer: User) -> None:
    plan = acme.contract.plan
    plan.resolution_targets = {"P2": "3bd"}  # Business ships without one; the resolved summary shows it
    plan.save()
    late = services.file_request(
        acme, channel=Channel.EMAIL, type="bug", priority="P2", site=acme.sites.get(), environment="prod",
        subject="Form broken", description="Errors.", steps="Send it.", received_at=RECEIVED,
    )  # fmt: skip
    now = RECEIVED + dt.timedelta(days=3)
    assert presenters.summary(fresh(late), now, client=True).text == (
        "Response overdue since Tue 10 Feb 18:00 (Europe/Berlin)"
    )
    services.add_message(
        fresh(late), "On it.", channel="staff", author=engineer, at=RECEIVED + dt.timedelta(hours=1)
    )
    services.set_state(
        fresh(late), State.WAITING_THIRD_PARTY, actor=engineer, at=RECEIVED + dt.timedelta(hours=1)
    )
    assert presenters.summary(fresh(late), now, client=True).text == (
        "Response given Tue 10 Feb 11:00 (Europe/Berlin) — on time"
    )
    services.resolve(fresh(late), actor=engineer, at=RECEIVED + dt.timedelta(hours=2))
    assert presenters.summary(fresh(late), now, client=True).text.startswith(
        "Resolved Tue 10 Feb 12:00 (Europe/Berlin)"
    )
