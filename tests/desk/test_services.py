"""The desk's rules other than the clocks: who may do what, what is recorded, and that every change is on
the ticket's timeline. Instants are Berlin office hours in February 2026 (CET, UTC+1)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from sitekeeper.access.models import User
from sitekeeper.contracts.models import Client, Contact, Site
from sitekeeper.desk import services
from sitekeeper.desk.models import (
    Channel,
    Event,
    Message,
    PauseReason,
    RequestType,
    State,
    Ticket,
    TimeEntry,
)
from sitekeeper.desk.services import DeskError
from tests.core.support import utc

RECEIVED = utc(2026, 2, 10, 9)  # Tue 10:00 CET


@pytest.fixture(autouse=True)
def fast_passwords(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def site(acme: Client) -> Site:
    return acme.sites.get()


@pytest.fixture
def contact(acme: Client) -> Contact:
    return acme.contacts.get(role="product_owner")


@pytest.fixture
def ticket(acme: Client, site: Site, contact: Contact, owner: User) -> Ticket:
    return services.file_request(
        acme,
        channel=Channel.PORTAL,
        type=RequestType.BUG,
        priority="P2",
        site=site,
        environment="prod",
        subject="Search finds nothing",
        description="Every search returns an empty page.",
        steps="Search for 'shoes'.",
        requester=contact,
        requester_user=owner,
        received_at=RECEIVED,
    )


@pytest.fixture
def targets(acme: Client) -> None:
    """The Business plan ships without resolution targets; without one there is no resolution clock."""
    plan = acme.contract.plan
    plan.resolution_targets = {"P1": "1bd", "P2": "3bd", "P3": "5bd", "P4": "10bd"}
    plan.save()


def kinds(ticket: Ticket) -> list[str]:
    return list(ticket.events.order_by("at", "id").values_list("kind", flat=True))


def fresh(ticket: Ticket) -> Ticket:
    return Ticket.objects.get(pk=ticket.pk)


# --- filing -------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_file_request_rejects_a_site_of_another_client(acme: Client, globex: Client) -> None:
    with pytest.raises(DeskError, match="another client"):
        services.file_request(
            acme, channel=Channel.PORTAL, subject="x", site=globex.sites.get(), received_at=RECEIVED
        )
    assert not Ticket.objects.exists()


@pytest.mark.django_db
def test_file_request_rejects_a_requester_of_another_client(acme: Client, globex: Client, outsider) -> None:
    with pytest.raises(DeskError, match="another client"):
        services.file_request(
            acme, channel=Channel.EMAIL, subject="x", requester=globex.contacts.first(), received_at=RECEIVED
        )
    with pytest.raises(DeskError, match="another client"):
        services.file_request(acme, channel=Channel.PORTAL, subject="x", requester_user=outsider)


@pytest.mark.django_db
def test_nobody_of_another_client_writes_on_a_request(ticket: Ticket, globex: Client, outsider: User) -> None:
    with pytest.raises(DeskError, match="another client"):
        services.add_message(ticket, "hi", channel=Channel.EMAIL, contact=globex.contacts.first())
    with pytest.raises(DeskError, match="another client"):
        services.add_message(ticket, "hi", channel=Channel.PORTAL, author=outsider)
    with pytest.raises(DeskError, match="another client"):
        services.change_priority(ticket, "P1", actor=outsider, why="mine")
    with pytest.raises(DeskError, match="another client"):
        services.complete_request(ticket, {"description": "x"}, actor=outsider)
    assert not ticket.messages.exclude(kind=Message.Kind.AUTO).exists()
    assert fresh(ticket).proposed_priority == "P2"


@pytest.mark.django_db
def test_file_request_without_allow_incomplete_lists_every_missing_field(acme: Client) -> None:
    with pytest.raises(DeskError) as caught:
        services.file_request(
            acme,
            channel=Channel.API,
            subject="Broken",
            type=RequestType.INCIDENT,
            priority="P1",
            received_at=RECEIVED,
            allow_incomplete=False,
        )
    assert str(caught.value) == "missing required fields: site, environment, description, steps"
    assert not Ticket.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"type": "feature"}, "unknown request type 'feature'"),
        ({"priority": "P0"}, "unknown priority 'P0'"),
        ({"received_at": dt.datetime(2026, 2, 10, 10)}, "time zone"),  # noqa: DTZ001 - naive on purpose
    ],
)
def test_file_request_refuses_values_outside_the_model(acme: Client, values: dict, message: str) -> None:
    with pytest.raises(DeskError, match=message):
        services.file_request(acme, channel=Channel.API, subject="x", **values)


@pytest.mark.django_db
def test_a_priority_given_by_staff_is_confirmed_and_one_given_by_the_client_is_not(
    acme: Client, site: Site, engineer: User, owner: User
) -> None:
    fields = {"site": site, "environment": "prod", "description": "d", "type": RequestType.QUESTION}
    by_staff = services.file_request(
        acme, channel=Channel.STAFF, subject="a", priority="P2", requester_user=engineer, **fields
    )
    by_client = services.file_request(
        acme, channel=Channel.PORTAL, subject="b", priority="P2", requester_user=owner, **fields
    )
    assert (by_staff.priority, by_staff.priority_confirmed) == ("P2", True)
    assert (by_client.priority, by_client.proposed_priority, by_client.priority_confirmed) == (
        "P2",
        "P2",
        False,
    )


@pytest.mark.django_db
def test_a_filed_request_is_on_the_timeline_with_an_acknowledgement(ticket: Ticket) -> None:
    assert kinds(ticket) == [Event.Kind.RECEIVED]
    assert ticket.events.get().data == {"channel": Channel.PORTAL}
    ack = ticket.messages.get()
    assert (ack.kind, ack.from_agency, ack.at) == (Message.Kind.AUTO, True, RECEIVED)
    assert ack.body == f"We received your request {ticket.reference}: Search finds nothing."
    assert ticket.first_response_at is None


# --- completing ---------------------------------------------------------------------------------------------


@pytest.fixture
def incomplete(acme: Client, contact: Contact) -> Ticket:
    return services.file_request(
        acme, channel=Channel.EMAIL, subject="Help", requester=contact, received_at=RECEIVED
    )


@pytest.mark.django_db
def test_an_incomplete_request_is_paused_and_said_so(incomplete: Ticket) -> None:
    assert incomplete.missing_fields == ["type", "priority", "site", "environment", "description"]
    assert kinds(incomplete) == [Event.Kind.RECEIVED, Event.Kind.PAUSE]
    assert "It is missing: type, priority, site, environment, description." in incomplete.messages.get().body
    assert incomplete.pauses.get().reason == PauseReason.INCOMPLETE


@pytest.mark.django_db
def test_completing_a_request_records_each_step_and_ends_the_pause(
    incomplete: Ticket, site: Site, owner: User
) -> None:
    services.complete_request(
        incomplete, {"site": site, "type": RequestType.BUG}, actor=owner, at=utc(2026, 2, 10, 10)
    )
    step = incomplete.events.get(kind=Event.Kind.COMPLETED)
    assert step.data == {
        "filled": ["type", "site"],
        "missing": ["priority", "environment", "description", "steps"],
    }
    assert incomplete.pauses.get().end is None
    services.complete_request(
        incomplete,
        {"priority": "P3", "environment": "stage", "description": "d", "steps": "s"},
        actor=owner,
        at=utc(2026, 2, 10, 11),
    )
    last = incomplete.events.filter(kind=Event.Kind.COMPLETED).last()
    assert last.data == {"filled": ["priority", "environment", "description", "steps"], "missing": []}
    assert incomplete.pauses.get().end == utc(2026, 2, 10, 11)
    assert kinds(incomplete)[-1] == Event.Kind.COMPLETED
    assert fresh(incomplete).incomplete is False


@pytest.mark.django_db
def test_completing_refuses_a_site_of_another_client(incomplete: Ticket, globex: Client) -> None:
    with pytest.raises(DeskError, match="another client"):
        services.complete_request(incomplete, {"site": globex.sites.get()})
    assert fresh(incomplete).site is None


@pytest.mark.django_db
def test_completing_refuses_unknown_values(incomplete: Ticket) -> None:
    with pytest.raises(DeskError, match="unknown priority"):
        services.complete_request(incomplete, {"priority": "urgent"})
    with pytest.raises(DeskError, match="unknown request type"):
        services.complete_request(incomplete, {"type": "wish"})


@pytest.mark.django_db
def test_a_client_cannot_change_a_given_priority_by_completing(ticket: Ticket, owner: User) -> None:
    # The priority was given at filing; "completing" it is a proposal, as change_priority would make it.
    due = fresh(ticket).response_due
    services.complete_request(ticket, {"priority": "P1"}, actor=owner, at=utc(2026, 2, 10, 10))
    ticket = fresh(ticket)
    assert (ticket.priority, ticket.proposed_priority, ticket.priority_confirmed) == ("P2", "P1", False)
    assert ticket.response_due == due


@pytest.mark.django_db
def test_staff_setting_a_missing_priority_completes_it(acme: Client, site: Site, engineer: User) -> None:
    ticket = services.file_request(
        acme,
        channel=Channel.EMAIL,
        subject="x",
        type=RequestType.QUESTION,
        site=site,
        environment="prod",
        description="d",
        received_at=RECEIVED,
    )
    assert ticket.missing_fields == ["priority"]
    services.change_priority(ticket, "P2", actor=engineer, why="triage", at=utc(2026, 2, 10, 10))
    ticket = fresh(ticket)
    assert (ticket.incomplete, ticket.missing_fields, ticket.priority) == (False, [], "P2")
    assert ticket.pauses.get().end == utc(2026, 2, 10, 10)
    assert ticket.response_due == utc(2026, 2, 11, 9)  # Wed 10:00 CET: 8 bh from Tue 11:00


# --- classification -----------------------------------------------------------------------------------------

CHECKLIST = {"specified": "no", "accepted": "yes", "worked_before": "no", "initiated_by": "client"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "kwargs", "message"),
    [
        ("owner", {}, "the agency classifies"),
        ("engineer", {"why": "  "}, "needs a reason"),
        ("engineer", {"checklist": {"colour": "red"}}, "unknown checklist item 'colour'"),
        ("engineer", {"type": "wish"}, "unknown request type 'wish'"),
    ],
)
def test_reclassify_needs_the_agency_a_reason_and_known_answers(
    request: pytest.FixtureRequest, ticket: Ticket, who: str, kwargs: dict, message: str
) -> None:
    values = {"type": RequestType.CHANGE, "checklist": CHECKLIST, "why": "never specified", **kwargs}
    with pytest.raises(DeskError, match=message):
        services.reclassify(ticket, actor=request.getfixturevalue(who), **values)
    assert fresh(ticket).type == RequestType.BUG


@pytest.mark.django_db
def test_reclassify_records_who_why_and_the_checklist(ticket: Ticket, engineer: User) -> None:
    at = utc(2026, 2, 10, 10)
    services.reclassify(
        ticket, type=RequestType.CHANGE, checklist=CHECKLIST, actor=engineer, why="never specified", at=at
    )
    ticket = fresh(ticket)
    assert ticket.type == RequestType.CHANGE
    assert ticket.classification == {
        **CHECKLIST,
        "by": "engineer",
        "at": "2026-02-10T10:00:00+00:00",
        "why": "never specified",
    }
    event = ticket.events.get(kind=Event.Kind.CLASSIFY)
    assert (event.at, event.actor, event.public) == (at, engineer, True)
    assert event.data == {
        "from": "bug",
        "to": "change_request",
        "why": "never specified",
        "checklist": CHECKLIST,
    }


@pytest.mark.django_db
def test_reclassifying_as_an_incident_starts_its_recovery_clock(ticket: Ticket, engineer: User) -> None:
    plan = ticket.contract.plan
    plan.recovery_targets = {"P2": "12bh"}
    plan.save()
    assert fresh(ticket).recovery_due is None
    services.reclassify(ticket, type=RequestType.INCIDENT, checklist={}, actor=engineer, why="site down")
    assert fresh(ticket).recovery_due == utc(2026, 2, 11, 12)  # Wed 13:00 CET: Tue 8 + Wed 4


# --- assignment and time ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_requests_are_assigned_to_agency_staff_only(
    ticket: Ticket, owner: User, engineer: User, manager
) -> None:
    with pytest.raises(DeskError, match="agency staff only"):
        services.assign([ticket], owner, actor=manager)
    assert services.assign([ticket], engineer, actor=manager, at=utc(2026, 2, 10, 10)) == 1
    assert services.assign([ticket], engineer, actor=manager) == 0  # already theirs: nothing recorded
    assert services.assign([ticket], None, actor=manager, at=utc(2026, 2, 10, 11)) == 1
    events = ticket.events.filter(kind=Event.Kind.ASSIGN)
    assert [(e.data, e.public, e.actor) for e in events] == [
        ({"to": "engineer"}, False, manager),
        ({"to": None}, False, manager),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("unit", "minutes", "billed"),
    [(15, 1, 15), (15, 7, 15), (15, 15, 15), (15, 16, 30), (15, 50, 60), (10, 11, 20), (1, 7, 7)],
)
def test_time_is_rounded_up_to_the_billing_unit_per_entry(
    ticket: Ticket, engineer: User, unit: int, minutes: int, billed: int
) -> None:
    contract = ticket.contract
    contract.billing_unit_minutes = unit
    contract.save()
    entry = services.log_time(ticket, user=engineer, minutes=minutes, day=dt.date(2026, 2, 10))
    assert (entry.minutes, entry.billed_minutes) == (minutes, billed)
    event = ticket.events.get(kind=Event.Kind.TIME)
    assert (event.data, event.public) == ({"minutes": billed, "billable": False}, False)


@pytest.mark.django_db
@pytest.mark.parametrize("minutes", [0, -15])
def test_time_entries_need_positive_minutes(ticket: Ticket, engineer: User, minutes: int) -> None:
    with pytest.raises(DeskError, match="positive"):
        services.log_time(ticket, user=engineer, minutes=minutes)
    assert not TimeEntry.objects.exists()
    assert Event.Kind.TIME not in kinds(ticket)


@pytest.mark.django_db
def test_only_staff_record_time_and_the_day_is_the_calendars(
    ticket: Ticket, owner: User, engineer: User
) -> None:
    with pytest.raises(DeskError, match="only agency staff"):
        services.log_time(ticket, user=owner, minutes=30)
    # 23:30 UTC on the 10th is already the 11th in Berlin.
    entry = services.log_time(ticket, user=engineer, minutes=30, at=utc(2026, 2, 10, 23, 30))
    assert entry.day == dt.date(2026, 2, 11)
    assert ticket.events.get(kind=Event.Kind.TIME).at == utc(2026, 2, 10, 23, 30)


# --- replies and states -------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("waiting", "resumes"),
    [
        (State.WAITING_INFO, True),
        (State.WAITING_ACCESS, True),
        (State.WAITING_APPROVAL, True),
        (State.WAITING_THIRD_PARTY, False),  # the client cannot end a provider's outage
    ],
)
def test_a_client_reply_ends_a_wait_for_the_client(
    ticket: Ticket, engineer: User, contact: Contact, waiting: str, resumes: bool
) -> None:
    services.set_state(ticket, waiting, actor=engineer, at=utc(2026, 2, 10, 10), note="send the log")
    services.add_message(
        ticket, "log attached", channel=Channel.EMAIL, contact=contact, at=utc(2026, 2, 10, 11)
    )
    ticket = fresh(ticket)
    pause = ticket.pauses.get()
    if resumes:
        assert (ticket.state, pause.end) == (State.OPEN, utc(2026, 2, 10, 11))
        assert ticket.events.filter(kind=Event.Kind.STATE).last().data["note"] == "client replied"
    else:
        assert (ticket.state, pause.end) == (waiting, None)


@pytest.mark.django_db
@pytest.mark.usefixtures("targets")
def test_a_client_reply_reopens_a_resolved_request(ticket: Ticket, engineer: User, owner: User) -> None:
    services.resolve(ticket, actor=engineer, at=utc(2026, 2, 10, 12))
    services.add_message(
        ticket, "still broken", channel=Channel.PORTAL, author=owner, at=utc(2026, 2, 10, 13)
    )
    ticket = fresh(ticket)
    assert ticket.state == State.OPEN
    assert ticket.resolution_met_at is None
    reopened = ticket.events.get(kind=Event.Kind.REOPENED)
    assert (reopened.at, reopened.data) == (utc(2026, 2, 10, 13), {"why": "client replied after resolution"})
    # One state change from resolved to open, not a second one from open to open.
    assert [e.data["to"] for e in ticket.events.filter(kind=Event.Kind.STATE)] == [State.RESOLVED, State.OPEN]


@pytest.mark.django_db
def test_a_staff_reply_opens_a_new_request_and_only_staff_write_internal_notes(
    ticket: Ticket, engineer: User, owner: User
) -> None:
    with pytest.raises(DeskError, match="internal notes"):
        services.add_message(ticket, "psst", channel=Channel.PORTAL, author=owner, internal=True)
    services.add_message(ticket, "on it", channel=Channel.STAFF, author=engineer, at=utc(2026, 2, 10, 10))
    ticket = fresh(ticket)
    assert (ticket.state, ticket.first_response_at) == (State.OPEN, utc(2026, 2, 10, 10))
    assert kinds(ticket)[1:] == [Event.Kind.MESSAGE, Event.Kind.RESPONDED, Event.Kind.STATE]


@pytest.mark.django_db
@pytest.mark.usefixtures("targets")
def test_set_state_resolved_goes_through_resolve(ticket: Ticket, engineer: User) -> None:
    services.set_state(ticket, State.RESOLVED, actor=engineer, at=utc(2026, 2, 10, 12), note="fixed")
    ticket = fresh(ticket)
    assert ticket.state == State.RESOLVED
    assert ticket.resolution_met_at == utc(2026, 2, 10, 12)
    assert ticket.response_met_at == utc(2026, 2, 10, 12)  # resolving answers too
    assert ticket.events.get(kind=Event.Kind.RESOLVED).data == {"note": "fixed"}


@pytest.mark.django_db
@pytest.mark.usefixtures("targets")
def test_closing_an_unresolved_request_resolves_it_first(ticket: Ticket, engineer: User) -> None:
    services.set_state(ticket, State.WAITING_INFO, actor=engineer, at=utc(2026, 2, 10, 10))
    services.set_state(ticket, State.CLOSED, actor=engineer, at=utc(2026, 2, 10, 12), note="duplicate")
    ticket = fresh(ticket)
    assert ticket.state == State.CLOSED
    assert ticket.resolution_met_at == utc(2026, 2, 10, 12)
    assert ticket.pauses.get().end == utc(2026, 2, 10, 12)
    assert [e.data["to"] for e in ticket.events.filter(kind=Event.Kind.STATE)] == [
        State.WAITING_INFO,
        State.RESOLVED,
        State.CLOSED,
    ]


@pytest.mark.django_db
@pytest.mark.usefixtures("targets")
def test_a_closed_request_is_not_resolved_a_second_time(ticket: Ticket, engineer: User) -> None:
    services.resolve(ticket, actor=engineer, at=utc(2026, 2, 10, 12))
    services.set_state(ticket, State.CLOSED, actor=engineer, at=utc(2026, 2, 11, 12))
    services.set_state(ticket, State.RESOLVED, actor=engineer, at=utc(2026, 2, 12, 12))
    ticket = fresh(ticket)
    assert ticket.resolution_met_at == utc(2026, 2, 10, 12)
    assert ticket.events.filter(kind=Event.Kind.RESOLVED).count() == 1


@pytest.mark.django_db
def test_set_state_refuses_an_unknown_state(ticket: Ticket, engineer: User) -> None:
    with pytest.raises(DeskError, match="unknown state 'done'"):
        services.set_state(ticket, "done", actor=engineer)


@pytest.mark.django_db
def test_reopening_and_recovering_have_preconditions(ticket: Ticket, engineer: User) -> None:
    with pytest.raises(DeskError, match="only a resolved or closed request"):
        services.reopen(ticket, actor=engineer)
    with pytest.raises(DeskError, match="only incidents"):
        services.mark_recovered(ticket, actor=engineer)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("priority", "why", "message"), [("P1", " ", "needs a reason"), ("P5", "x", "unknown")]
)
def test_a_priority_change_needs_a_reason_and_a_known_priority(
    ticket: Ticket, engineer: User, priority: str, why: str, message: str
) -> None:
    with pytest.raises(DeskError, match=message):
        services.change_priority(ticket, priority, actor=engineer, why=why)


@pytest.mark.django_db
def test_nothing_happens_to_a_request_before_it_was_received(ticket: Ticket, engineer: User) -> None:
    # An instant before receipt (a skewed clock, a back-dated e-mail) is read as the instant of receipt.
    message = services.add_message(ticket, "hi", channel=Channel.STAFF, author=engineer, at=utc(2026, 2, 9))
    assert message.at == RECEIVED
    assert fresh(ticket).response_met_at == RECEIVED


# --- the timeline -------------------------------------------------------------------------------------------

Change = Callable[[Ticket, dict[str, User]], object]
TIMELINE: list[tuple[str, Change, list[str]]] = [
    (
        "staff reply",
        lambda t, p: services.add_message(t, "hi", channel=Channel.STAFF, author=p["engineer"]),
        [Event.Kind.MESSAGE, Event.Kind.RESPONDED, Event.Kind.STATE],
    ),
    (
        "internal note",
        lambda t, p: services.add_message(t, "n", channel=Channel.STAFF, author=p["engineer"], internal=True),
        [Event.Kind.MESSAGE],
    ),
    (
        "client reply",
        lambda t, p: services.add_message(t, "c", channel=Channel.PORTAL, author=p["owner"]),
        [Event.Kind.MESSAGE],
    ),
    (
        "waiting",
        lambda t, p: services.set_state(t, State.WAITING_APPROVAL, actor=p["engineer"]),
        # The ticket is P2: its emergency contact is told that we need a decision (3.2d).
        [Event.Kind.PAUSE, Event.Kind.STATE, Event.Kind.DECISION],
    ),
    (
        "priority proposal",
        lambda t, p: services.change_priority(t, "P1", actor=p["owner"], why="w"),
        [Event.Kind.PRIORITY],
    ),
    (
        "priority change",
        lambda t, p: services.change_priority(t, "P1", actor=p["engineer"], why="w"),
        [Event.Kind.PRIORITY],
    ),
    (
        "resolve",
        lambda t, p: services.resolve(t, actor=p["engineer"]),
        [Event.Kind.RESOLVED, Event.Kind.STATE],
    ),
    (
        "assign",
        lambda t, p: services.assign([t], p["engineer"], actor=p["engineer"]),
        [Event.Kind.ASSIGN],
    ),
    (
        "reclassify",
        lambda t, p: services.reclassify(
            t, type=RequestType.CHANGE, checklist={}, actor=p["engineer"], why="w"
        ),
        [Event.Kind.CLASSIFY],
    ),
    ("time", lambda t, p: services.log_time(t, user=p["engineer"], minutes=5), [Event.Kind.TIME]),
    (
        "complete",
        lambda t, p: services.complete_request(t, {"description": "more"}, actor=p["owner"]),
        [Event.Kind.COMPLETED],
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("label", "change", "expected"), TIMELINE, ids=[row[0] for row in TIMELINE])
def test_every_change_writes_a_timeline_event(
    request: pytest.FixtureRequest, ticket: Ticket, label: str, change: Change, expected: list[str]
) -> None:
    people = {name: request.getfixturevalue(name) for name in ("engineer", "owner")}
    before = ticket.events.count()
    change(ticket, people)
    assert kinds(ticket)[before:] == expected, label


@pytest.mark.django_db
def test_recovering_and_reopening_write_events(acme: Client, site: Site, engineer: User) -> None:
    incident = services.file_request(
        acme, channel=Channel.STAFF, subject="down", type=RequestType.INCIDENT, requester_user=engineer
    )
    services.mark_recovered(incident, actor=engineer, note="rolled back")
    services.mark_recovered(incident, actor=engineer)  # already recovered: nothing new
    services.resolve(incident, actor=engineer)
    services.reopen(incident, actor=engineer, why="came back")
    # The request is incomplete (no site, steps …): resolving ends its pause, reopening pauses it again.
    assert kinds(incident)[-7:] == [
        Event.Kind.RECOVERED,
        Event.Kind.RESUME,
        Event.Kind.RESOLVED,
        Event.Kind.STATE,
        Event.Kind.REOPENED,
        Event.Kind.STATE,
        Event.Kind.PAUSE,
    ]
