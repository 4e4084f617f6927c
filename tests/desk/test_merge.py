"""Duplicates: staff link related requests and merge a duplicate into the request that carries on.

acme is on the Business plan (P2 response: 8 business hours) with the Berlin office calendar; instants are
February 2026 office hours (CET, UTC+1). The readings under test (desk.services.merge, desk.sla_report): the
merged request closes with a pointer, its clocks stop at the merge (what they had decided by then counts,
nothing after), the survivor's clocks do not move, the conversation shows on the survivor, all audited.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client as HttpClient

from sitekeeper.access.audit import acting_as
from sitekeeper.access.models import AuditEntry
from sitekeeper.contracts.models import Client
from sitekeeper.desk import presenters, services
from sitekeeper.desk.models import Channel, Event, Message, RequestType, State, Ticket, TicketLink
from sitekeeper.desk.services import DeskError
from sitekeeper.desk.sla_report import sla_report
from tests.core.support import utc

RECEIVED = utc(2026, 2, 10, 9)  # Tue 10:00 CET
HOUR = dt.timedelta(hours=1)


@pytest.fixture(autouse=True)
def fast_passwords(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def filed(client: Client, subject: str, at: dt.datetime = RECEIVED, body: str = "Broken.") -> Ticket:
    return services.file_request(
        client,
        channel=Channel.PORTAL,
        type=RequestType.BUG,
        priority="P2",
        site=client.sites.get(),
        environment="prod",
        subject=subject,
        description=body,
        steps="Open it.",
        received_at=at,
    )


def fresh(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


CLOCK_COLUMNS = ("response_due", "response_met_at", "resolution_due", "recovery_due", "next_due_at")


def clock_columns(ticket: Ticket) -> dict[str, dt.datetime | None]:
    ticket = fresh(ticket)
    return {name: getattr(ticket, name) for name in CLOCK_COLUMNS}


# --- merge --------------------------------------------------------------------------------------------------


def test_merge_closes_the_duplicate_with_a_pointer_and_keeps_the_survivors_clocks(
    acme, engineer, owner
) -> None:
    survivor = filed(acme, "Checkout broken")
    duplicate = filed(acme, "Cannot pay", at=RECEIVED + HOUR, body="The pay button does nothing.")
    services.add_message(duplicate, "Still broken after lunch.", channel=Channel.PORTAL, author=owner)
    before = clock_columns(survivor)

    services.merge(duplicate, survivor, actor=engineer, at=RECEIVED + 2 * HOUR)

    duplicate, survivor = fresh(duplicate), fresh(survivor)
    assert duplicate.state == State.CLOSED
    assert duplicate.merged_into == survivor
    assert duplicate.merged_by == engineer
    assert duplicate.merged_at == RECEIVED + 2 * HOUR
    # The duplicate's clocks stopped: nothing due, nothing for the escalation loop to look at.
    assert duplicate.next_due_at is None
    assert duplicate.next_check_at is None
    assert not duplicate.pauses.filter(end__isnull=True).exists()
    # The survivor's clocks are exactly as they were.
    assert clock_columns(survivor) == before
    # Both timelines say what happened, naming the other request.
    merged = duplicate.events.get(kind=Event.Kind.MERGED)
    assert merged.data["into"] == survivor.pk
    assert merged.public
    merged_in = survivor.events.get(kind=Event.Kind.MERGED_IN)
    assert merged_in.data["source"] == duplicate.pk
    assert presenters.state_label(duplicate, client=True) == f"Merged into {survivor.reference}"
    assert presenters.state_label(duplicate, client=False) == f"Merged into {survivor.reference}"


def test_the_survivors_timeline_shows_the_duplicates_messages(acme, engineer, owner) -> None:
    survivor = filed(acme, "Checkout broken")
    duplicate = filed(acme, "Cannot pay", at=RECEIVED + HOUR)
    services.add_message(duplicate, "Card declined on every try.", channel=Channel.PORTAL, author=owner)
    services.add_message(
        duplicate, "Looks like the PSP key.", channel="staff", author=engineer, internal=True
    )
    services.merge(duplicate, survivor, actor=engineer)

    from sitekeeper.desk.views_portal import ticket_context

    for client, note_shown in ((True, False), (False, True)):
        entries = ticket_context(fresh(survivor), client=client)["timeline"]
        bodies = {e.message.body: e.source for e in entries if e.message is not None}
        assert bodies["Card declined on every try."] == duplicate.reference
        assert ("Looks like the PSP key." in bodies) is note_shown


def test_a_later_message_to_the_duplicate_lands_on_the_survivor(acme, engineer, owner) -> None:
    survivor = filed(acme, "Checkout broken")
    duplicate = filed(acme, "Cannot pay", at=RECEIVED + HOUR)
    services.merge(duplicate, survivor, actor=engineer)
    message = services.add_message(duplicate, "Any news?", channel=Channel.EMAIL, author=owner)
    assert message.ticket_id == survivor.pk
    assert not Message.objects.filter(ticket=duplicate, body="Any news?").exists()


def test_merge_is_idempotent(acme, engineer) -> None:
    survivor = filed(acme, "Checkout broken")
    duplicate = filed(acme, "Cannot pay", at=RECEIVED + HOUR)
    services.merge(duplicate, survivor, actor=engineer, at=RECEIVED + 2 * HOUR)
    services.merge(duplicate, survivor, actor=engineer, at=RECEIVED + 5 * HOUR)
    assert fresh(duplicate).merged_at == RECEIVED + 2 * HOUR
    assert duplicate.events.filter(kind=Event.Kind.MERGED).count() == 1
    assert survivor.events.filter(kind=Event.Kind.MERGED_IN).count() == 1


def test_merge_refuses_another_clients_request(acme, globex, engineer) -> None:
    ours, theirs = filed(acme, "Checkout broken"), filed(globex, "Checkout broken")
    with pytest.raises(DeskError, match="only requests of the same client can be merged"):
        services.merge(theirs, ours, actor=engineer)
    assert fresh(theirs).merged_into is None
    assert fresh(theirs).state == State.NEW


def test_merge_refuses_the_request_itself(acme, engineer) -> None:
    ticket = filed(acme, "Checkout broken")
    with pytest.raises(DeskError, match="cannot be merged into itself"):
        services.merge(ticket, ticket, actor=engineer)


def test_merge_refuses_a_survivor_or_duplicate_already_merged(acme, engineer) -> None:
    a, b, c = (filed(acme, f"Request {n}", at=RECEIVED + n * HOUR) for n in range(3))
    services.merge(b, a, actor=engineer)
    with pytest.raises(DeskError, match=f"was itself merged into {a.reference}"):
        services.merge(c, b, actor=engineer)
    with pytest.raises(DeskError, match=f"already merged into {a.reference}"):
        services.merge(b, c, actor=engineer)
    assert fresh(c).merged_into is None
    assert fresh(b).merged_into_id == a.pk


def test_merging_a_survivor_moves_its_duplicates_along(acme, engineer) -> None:
    a, b, c = (filed(acme, f"Request {n}", at=RECEIVED + n * HOUR) for n in range(3))
    services.merge(c, b, actor=engineer)
    services.merge(b, a, actor=engineer)
    assert fresh(c).merged_into_id == a.pk  # never a pointer two steps long
    assert sorted(services.merged_sources(a)) == sorted([b.pk, c.pk])


def test_only_staff_merge_and_a_merged_request_stays_closed(acme, engineer, owner) -> None:
    survivor, duplicate = filed(acme, "Checkout broken"), filed(acme, "Cannot pay", at=RECEIVED + HOUR)
    with pytest.raises(DeskError, match="only agency staff merge"):
        services.merge(duplicate, survivor, actor=owner)
    services.merge(duplicate, survivor, actor=engineer)
    with pytest.raises(DeskError, match=f"continue on {survivor.reference}"):
        services.reopen(fresh(duplicate), actor=engineer, why="oops")
    with pytest.raises(DeskError, match=f"continue on {survivor.reference}"):
        services.set_state(fresh(duplicate), State.OPEN, actor=engineer)


def test_merge_is_all_or_nothing(acme, engineer, monkeypatch) -> None:
    survivor, duplicate = filed(acme, "Checkout broken"), filed(acme, "Cannot pay", at=RECEIVED + HOUR)

    def broken(ticket: Ticket, save: bool = True) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(services.clocks, "recompute", broken)
    with pytest.raises(RuntimeError):
        services.merge(duplicate, survivor, actor=engineer)
    assert fresh(duplicate).merged_into is None
    assert fresh(duplicate).state == State.NEW
    assert not Event.objects.filter(kind__in=[Event.Kind.MERGED, Event.Kind.MERGED_IN]).exists()


def test_merge_is_audited(acme, engineer) -> None:
    survivor, duplicate = filed(acme, "Checkout broken"), filed(acme, "Cannot pay", at=RECEIVED + HOUR)
    with acting_as(engineer):
        services.merge(duplicate, survivor, actor=engineer)
    entry = AuditEntry.objects.filter(
        model="desk.Ticket", object_pk=str(duplicate.pk), action="update"
    ).latest("id")
    assert entry.actor == engineer
    assert entry.client == acme
    assert entry.before["merged_into_id"] is None
    assert entry.after["merged_into_id"] == survivor.pk
    assert entry.after["state"] == State.CLOSED
    assert entry.after["merged_by_id"] == engineer.pk


# --- the clocks in the SLA report ---------------------------------------------------------------------------


def test_sla_report_counts_a_merged_request_up_to_the_merge_only(acme, engineer) -> None:
    """Response P2 = 8 business hours. A answered in an hour (on time). B merged half an hour after receipt,
    its response undecided: not counted, not later a breach. C merged after five days unanswered: its breach
    had happened and still counts. Nothing is counted twice."""
    a = filed(acme, "Checkout broken")
    services.add_message(a, "Looking into it.", channel="staff", author=engineer, at=RECEIVED + HOUR)
    b = filed(acme, "Cannot pay", at=RECEIVED + dt.timedelta(minutes=10))
    services.merge(b, a, actor=engineer, at=RECEIVED + dt.timedelta(minutes=40))
    c = filed(acme, "Pay button", at=RECEIVED)
    services.merge(c, a, actor=engineer, at=RECEIVED + dt.timedelta(days=5))

    report = sla_report(acme, 2026, 2, now=utc(2026, 3, 1, 12))
    response = report.tally("response", "P2")
    assert (report.received, report.merged) == (3, 2)
    assert (response.with_target, response.met_on_time, response.breached, response.open) == (2, 1, 1, 0)
    assert report.as_dict()["merged"] == 2


def test_a_merged_requests_clocks_do_not_escalate(acme, engineer) -> None:
    survivor, duplicate = filed(acme, "Checkout broken"), filed(acme, "Cannot pay", at=RECEIVED + HOUR)
    services.merge(duplicate, survivor, actor=engineer, at=RECEIVED + 2 * HOUR)
    from sitekeeper.desk import escalation

    with time_machine.travel(RECEIVED + dt.timedelta(days=3), tick=False):
        escalation.escalation_pass()
    assert not fresh(duplicate).escalations.exists()
    assert fresh(survivor).escalations.filter(kind="breach").exists()


# --- link ---------------------------------------------------------------------------------------------------


def test_link_shows_on_both_requests_and_is_idempotent(acme, engineer) -> None:
    a, b = filed(acme, "Checkout broken"), filed(acme, "Slow checkout", at=RECEIVED + HOUR)
    with acting_as(engineer):
        assert services.link(a, b, actor=engineer) is True
        assert services.link(b, a, actor=engineer) is False  # the same link, either way round
    assert services.linked(a) == [b]
    assert services.linked(b) == [a]
    assert TicketLink.objects.count() == 1
    for one, other in ((a, b), (b, a)):
        event = one.events.get(kind=Event.Kind.LINKED)
        assert event.data["reference"] == other.reference
        assert presenters.describe_event(event, client=True)[0] == f"Related: {other.reference}"
    entry = AuditEntry.objects.get(model="desk.TicketLink", action="create")
    assert entry.actor == engineer
    assert entry.client == acme


def test_link_refusals_and_unlink(acme, globex, engineer, owner) -> None:
    a, b, theirs = filed(acme, "One"), filed(acme, "Two"), filed(globex, "Three")
    with pytest.raises(DeskError, match="same client"):
        services.link(a, theirs, actor=engineer)
    with pytest.raises(DeskError, match="cannot be linked to itself"):
        services.link(a, a, actor=engineer)
    with pytest.raises(DeskError, match="only agency staff link"):
        services.link(a, b, actor=owner)
    services.link(a, b, actor=engineer)
    assert services.unlink(b, a, actor=engineer) is True
    assert services.linked(a) == []
    assert services.unlink(a, b, actor=engineer) is False
    assert a.events.filter(kind=Event.Kind.UNLINKED).count() == 1


# --- state labels -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "staff", "client"),
    [
        (State.WAITING_APPROVAL, "Waiting for client approval", "Waiting for your approval"),
        (State.WAITING_INFO, "Waiting for client reply", "Waiting for your reply"),
        (State.WAITING_ACCESS, "Waiting for client access", "Waiting for your access"),
        (State.OPEN, "In progress", "In progress"),
    ],
)
def test_state_labels_speak_to_each_audience(state: str, staff: str, client: str) -> None:
    assert presenters.state_words(state, client=False) == staff
    assert presenters.state_words(state, client=True) == client


def test_every_state_and_pause_reason_has_both_labels() -> None:
    assert set(presenters.STATE_LABELS) == set(State.values)
    for staff, client in presenters.STATE_LABELS.values():
        assert "your" not in staff.lower()
        assert "client" not in client.lower()
    for staff, client in presenters.PAUSE_LABELS.values():
        assert "your" not in staff.lower()
        assert "client" not in client.lower()


def test_pages_and_mail_use_the_audiences_label(acme, engineer, owner) -> None:
    ticket = filed(acme, "Checkout broken")
    services.set_state(ticket, State.WAITING_APPROVAL, actor=engineer, note="Approve the quote, please.")
    staff, portal = HttpClient(), HttpClient()
    staff.force_login(engineer)
    portal.force_login(owner)
    staff_page = staff.get(f"/staff/desk/{ticket.pk}/").content.decode()
    portal_page = portal.get(f"/portal/requests/{ticket.pk}/").content.decode()
    queue = staff.get("/staff/desk/").content.decode()
    listing = portal.get("/portal/requests/").content.decode()
    for page in (staff_page, queue):
        assert "Waiting for client approval" in page
        assert "Waiting for your approval" not in page
    for page in (portal_page, listing):
        assert "Waiting for your approval" in page
        assert "Waiting for client approval" not in page
    from sitekeeper.desk import mail

    assert "Waiting for your approval" in mail._STATE_SENTENCES[State.WAITING_APPROVAL]


# --- the console and the portal -----------------------------------------------------------------------------


def test_staff_merge_form_merges_and_both_pages_say_so(acme, engineer, owner) -> None:
    survivor = filed(acme, "Checkout broken")
    duplicate = filed(acme, "Cannot pay", at=RECEIVED + HOUR, body="The pay button does nothing.")
    services.add_message(duplicate, "Tried two cards.", channel=Channel.PORTAL, author=owner)
    staff = HttpClient()
    staff.force_login(engineer)
    page = staff.get(f"/staff/desk/{duplicate.pk}/").content.decode()
    assert f'action="/staff/desk/{duplicate.pk}/merge/"' in page
    refused = staff.post(f"/staff/desk/{duplicate.pk}/merge/", {"into": survivor.reference})
    assert refused.status_code == 400
    assert "Tick the box to confirm" in refused.content.decode()
    assert fresh(duplicate).merged_into is None
    answer = staff.post(f"/staff/desk/{duplicate.pk}/merge/", {"into": f"#{survivor.pk}", "confirm": "on"})
    assert answer.status_code == 302
    assert fresh(duplicate).merged_into_id == survivor.pk
    assert AuditEntry.objects.filter(
        model="desk.Ticket", object_pk=str(duplicate.pk), actor=engineer
    ).exists()
    staff_page = staff.get(f"/staff/desk/{duplicate.pk}/").content.decode()
    assert f"Merged into {survivor.reference}" in staff_page
    portal = HttpClient()
    portal.force_login(owner)
    portal_page = portal.get(f"/portal/requests/{duplicate.pk}/").content.decode()
    assert f"Merged into {survivor.reference}" in portal_page
    assert "/staff/" not in portal_page
    survivor_page = portal.get(f"/portal/requests/{survivor.pk}/").content.decode()
    assert f"from {duplicate.reference}" in survivor_page
    assert "The pay button does nothing." in survivor_page  # what the duplicate said, on the merge event
    assert f"We received your request {duplicate.reference}" not in survivor_page  # its ack stays with it


def test_staff_merge_form_names_what_is_wrong(acme, globex, engineer) -> None:
    ours, theirs = filed(acme, "Checkout broken"), filed(globex, "Other")
    staff = HttpClient()
    staff.force_login(engineer)
    for value, words in (
        ("banana", "is not a request number"),
        ("SK-99999", "There is no request SK-99999"),
        (str(ours.pk), "cannot be merged into itself"),
        (theirs.reference, "only requests of the same client can be merged"),
    ):
        answer = staff.post(f"/staff/desk/{ours.pk}/merge/", {"into": value, "confirm": "on"}, follow=True)
        assert words in answer.content.decode(), value
    assert fresh(ours).merged_into is None


def test_clients_cannot_merge_or_link(acme, owner) -> None:
    a, b = filed(acme, "One"), filed(acme, "Two")
    portal = HttpClient()
    portal.force_login(owner)
    for action in ("merge", "link"):
        answer = portal.post(
            f"/staff/desk/{a.pk}/{action}/", {"into": b.reference, "other": b.reference, "confirm": "on"}
        )
        assert answer.status_code in {302, 403, 404}
    assert fresh(a).merged_into is None
    assert not TicketLink.objects.exists()


# --- the API ------------------------------------------------------------------------------------------------


def _token_client(user) -> HttpClient:
    from sitekeeper.access.models import ApiToken

    return HttpClient(headers={"authorization": f"Bearer {ApiToken.issue(user, 'script')[1]}"})


def test_api_merges_and_links_for_staff_only(acme, globex, engineer, owner, outsider) -> None:
    a, b, c = filed(acme, "One"), filed(acme, "Two", at=RECEIVED + HOUR), filed(acme, "Three")
    theirs = filed(globex, "Theirs")
    staff, client, stranger = _token_client(engineer), _token_client(owner), _token_client(outsider)
    url = f"/api/v1/tickets/{b.pk}"

    refused = client.post(f"{url}/merge", {"into": a.pk}, content_type="application/json")
    assert refused.status_code == 403
    assert stranger.post(f"{url}/merge", {"into": a.pk}, content_type="application/json").status_code == 404
    other = staff.post(f"{url}/merge", {"into": theirs.pk}, content_type="application/json")
    assert other.status_code == 422
    assert "same client" in other.json()["detail"]
    done = staff.post(f"{url}/merge", {"into": a.pk}, content_type="application/json")
    assert done.status_code == 200
    assert done.json()["merged_into"] == a.reference
    assert done.json()["state"] == State.CLOSED
    again = staff.post(f"{url}/merge", {"into": a.pk}, content_type="application/json")
    assert again.status_code == 200
    assert AuditEntry.objects.filter(model="desk.Ticket", object_pk=str(b.pk), actor=engineer).exists()

    linked = staff.post(f"/api/v1/tickets/{a.pk}/links", {"other": c.pk}, content_type="application/json")
    assert linked.status_code == 200
    assert services.linked(c) == [a]
    missing = staff.post(f"/api/v1/tickets/{a.pk}/links", {"other": 99999}, content_type="application/json")
    assert missing.status_code == 422


def test_recovery_of_a_merged_incident_meets_the_survivors_recovery_clock(acme, engineer) -> None:
    def incident(subject: str) -> Ticket:
        return services.file_request(
            acme,
            channel=Channel.MONITOR,
            type=RequestType.INCIDENT,
            priority="P1",
            site=acme.sites.get(),
            environment="prod",
            subject=subject,
            received_at=RECEIVED,
        )

    survivor, duplicate = incident("Site down"), incident("Site down (second probe)")
    services.merge(duplicate, survivor, actor=engineer, at=RECEIVED + HOUR)
    services.mark_recovered(duplicate, actor=None, at=RECEIVED + 2 * HOUR, note="Back up")
    assert fresh(survivor).recovered_at == RECEIVED + 2 * HOUR
    assert fresh(duplicate).recovered_at is None
