"""A request's whole life through the desk services, checked against the readings of DESIGN.md.

Every instant is explicit (`received_at=` / `at=`) and every expected instant is hand-computed in UTC; the
comment beside it gives the Berlin wall time. acme is on the Business plan (response P1 4h wall-clock,
P2 8bh, P3 2bd, P4 3bd) with the Berlin office calendar: Mon-Fri 09:00-18:00 (a business day is 9 h),
German national holidays, closed 2026-12-31. Berlin is UTC+1 (CET) in winter and UTC+2 (CEST) from
2026-03-29 01:00 UTC to 2026-10-25 01:00 UTC. The Business plan ships without resolution and recovery
targets; the `plan` fixture sets some so that those clocks run too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from sitekeeper.access.models import User
from sitekeeper.contracts.models import CalendarVersion, Client, Contact, Plan, Site
from sitekeeper.desk import clocks, services
from sitekeeper.desk.models import Channel, Message, Pause, PauseReason, RequestType, State, Ticket
from tests.conftest import WEEKDAY_HOURS
from tests.core.support import utc

RESOLUTION = {"P1": "1bd", "P2": "3bd", "P3": "5bd", "P4": "10bd"}
RECOVERY = {"P1": "6h", "P2": "12bh"}  # wall-clock for P1, business hours for P2; none for P3/P4
FIELDS = (
    "response_due",
    "response_met_at",
    "resolution_due",
    "resolution_met_at",
    "recovery_due",
    "recovery_met_at",
    "next_due_at",
)


@pytest.fixture(autouse=True)
def fast_passwords(settings) -> None:
    # PBKDF2's deliberate slowness would dominate tests that create two people each.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def plan(acme: Client) -> Plan:
    plan = acme.contract.plan
    plan.resolution_targets = RESOLUTION
    plan.recovery_targets = RECOVERY
    plan.save()
    return plan


@dataclass
class Desk:
    """The people and things a story needs, and the ticket it follows."""

    client: Client
    site: Site
    contact: Contact
    owner: User
    engineer: User
    ticket: Ticket | None = None

    def file(self, received: dt.datetime, priority: str = "P2", **fields: object) -> Ticket:
        values: dict[str, object] = {
            "type": RequestType.INCIDENT,
            "priority": priority,
            "site": self.site,
            "environment": "prod",
            "subject": "Checkout returns 500",
            "description": "Every order fails at the payment step.",
            "steps": "Add anything to the cart, pay.",
        }
        values.update(fields)
        self.ticket = services.file_request(
            self.client,
            channel=Channel.PORTAL,
            requester=self.contact,
            requester_user=self.owner,
            received_at=received,
            **values,
        )
        return self.ticket

    @property
    def t(self) -> Ticket:
        assert self.ticket is not None
        return self.ticket

    def wait(self, state: str, at: dt.datetime) -> None:
        services.set_state(self.t, state, actor=self.engineer, at=at, note="need something from you")

    def client_says(self, at: dt.datetime, body: str = "Here you are.") -> None:
        services.add_message(
            self.t, body, channel=Channel.PORTAL, author=self.owner, contact=self.contact, at=at
        )

    def staff_says(self, at: dt.datetime, body: str = "Looking into it now.", internal: bool = False) -> None:
        services.add_message(
            self.t, body, channel=Channel.STAFF, author=self.engineer, internal=internal, at=at
        )

    def columns(self) -> dict[str, dt.datetime | None]:
        fresh = Ticket.objects.get(pk=self.t.pk)
        return {name: getattr(fresh, name) for name in FIELDS}

    def status(self, now: dt.datetime) -> dict[str, str]:
        fresh = Ticket.objects.get(pk=self.t.pk)
        return {name: state.status(now) for name, state in clocks.evaluate(fresh).items()}


@pytest.fixture
def desk(acme: Client, owner: User, engineer: User) -> Desk:
    return Desk(
        client=acme,
        site=acme.sites.get(),
        contact=acme.contacts.get(role="product_owner"),
        owner=owner,
        engineer=engineer,
    )


def expect(
    response: tuple[dt.datetime | None, dt.datetime | None],
    resolution: tuple[dt.datetime | None, dt.datetime | None],
    recovery: tuple[dt.datetime | None, dt.datetime | None],
    next_due: dt.datetime | None,
) -> dict[str, dt.datetime | None]:
    """(due, met) of each clock and the queue's next due instant, as the ticket's columns."""
    return dict(
        zip(FIELDS, (*response, *resolution, *recovery, next_due), strict=True),
    )


# --- the acceptance story -----------------------------------------------------------------------------------
# An incident received as P2 on Tuesday 10 Feb 2026, 10:00 CET (09:00 UTC). Targets: P2 response 8bh,
# resolution 3bd = 27bh, recovery 12bh; P1 response 4h wall, resolution 1bd = 9bh, recovery 6h wall.

Step = tuple[str, Callable[[Desk], object], dict[str, dt.datetime | None]]

STORY: list[Step] = [
    (
        "received",
        lambda d: d.file(utc(2026, 2, 10, 9)),  # Tue 10:00
        expect(
            response=(utc(2026, 2, 10, 17), None),  # Tue 18:00: 8 h of Tuesday
            resolution=(utc(2026, 2, 13, 9), None),  # Fri 10:00: Tue 8 + Wed 9 + Thu 9 + Fri 1
            recovery=(utc(2026, 2, 11, 12), None),  # Wed 13:00: Tue 8 + Wed 4
            next_due=utc(2026, 2, 10, 17),
        ),
    ),
    (
        "paused waiting for access",
        lambda d: d.wait(State.WAITING_ACCESS, utc(2026, 2, 10, 10)),  # Tue 11:00, 1 bh counted
        # An open pause stops every clock that was not due before it began: no due instant at all.
        expect(response=(None, None), resolution=(None, None), recovery=(None, None), next_due=None),
    ),
    (
        "client reply resumes",
        lambda d: d.client_says(utc(2026, 2, 10, 13)),  # Tue 14:00: paused 3 bh
        expect(
            response=(utc(2026, 2, 11, 11), None),  # Wed 12:00: Tue 1 + 4, Wed 3
            resolution=(utc(2026, 2, 13, 12), None),  # Fri 13:00: Tue 5 + Wed 9 + Thu 9 + Fri 4
            recovery=(utc(2026, 2, 11, 15), None),  # Wed 16:00: Tue 5 + Wed 7
            next_due=utc(2026, 2, 11, 11),
        ),
    ),
    (
        "client proposes P1: nothing moves",
        lambda d: services.change_priority(
            d.t, "P1", actor=d.owner, why="all sales stopped", at=utc(2026, 2, 10, 13, 30)
        ),
        expect(
            response=(utc(2026, 2, 11, 11), None),
            resolution=(utc(2026, 2, 13, 12), None),
            recovery=(utc(2026, 2, 11, 15), None),
            next_due=utc(2026, 2, 11, 11),
        ),
    ),
    (
        "agency confirms P1: recomputed from receipt, keeping the pause",
        lambda d: services.change_priority(
            d.t, "P1", actor=d.engineer, why="checkout down", at=utc(2026, 2, 10, 14)
        ),  # Tue 15:00
        expect(
            response=(utc(2026, 2, 10, 16), None),  # Tue 17:00: 4 h wall + the 3 h pause
            resolution=(utc(2026, 2, 11, 12), None),  # Wed 13:00: 9 bh = Tue 1 + 4, Wed 4
            recovery=(utc(2026, 2, 10, 18), None),  # Tue 19:00: 6 h wall + 3 h pause
            next_due=utc(2026, 2, 10, 16),
        ),
    ),
    (
        "internal note does not respond",
        lambda d: d.staff_says(utc(2026, 2, 10, 14, 30), "rollback?", internal=True),  # Tue 15:30
        expect(
            response=(utc(2026, 2, 10, 16), None),
            resolution=(utc(2026, 2, 11, 12), None),
            recovery=(utc(2026, 2, 10, 18), None),
            next_due=utc(2026, 2, 10, 16),
        ),
    ),
    (
        "staff reply responds in time",
        lambda d: d.staff_says(utc(2026, 2, 10, 15, 30)),  # Tue 16:30
        expect(
            response=(utc(2026, 2, 10, 16), utc(2026, 2, 10, 15, 30)),
            resolution=(utc(2026, 2, 11, 12), None),
            recovery=(utc(2026, 2, 10, 18), None),
            next_due=utc(2026, 2, 10, 18),  # the recovery clock is now the next one due
        ),
    ),
    (
        "recovered late",
        lambda d: services.mark_recovered(d.t, actor=d.engineer, at=utc(2026, 2, 10, 19)),  # Tue 20:00
        expect(
            response=(utc(2026, 2, 10, 16), utc(2026, 2, 10, 15, 30)),
            resolution=(utc(2026, 2, 11, 12), None),
            recovery=(utc(2026, 2, 10, 18), utc(2026, 2, 10, 19)),  # an hour after its due instant
            next_due=utc(2026, 2, 11, 12),
        ),
    ),
    (
        "resolved",
        lambda d: services.resolve(d.t, actor=d.engineer, at=utc(2026, 2, 11, 9)),  # Wed 10:00
        expect(
            response=(utc(2026, 2, 10, 16), utc(2026, 2, 10, 15, 30)),
            resolution=(utc(2026, 2, 11, 12), utc(2026, 2, 11, 9)),
            recovery=(utc(2026, 2, 10, 18), utc(2026, 2, 10, 19)),
            next_due=None,  # a resolved request is out of the queue
        ),
    ),
    (
        "client reply reopens",
        lambda d: d.client_says(utc(2026, 2, 11, 10), "Still broken for PayPal."),  # Wed 11:00
        expect(
            response=(utc(2026, 2, 10, 16), utc(2026, 2, 10, 15, 30)),
            # Wed 14:00: the hour it stood resolved (Wed 10:00-11:00) does not count
            resolution=(utc(2026, 2, 11, 13), None),
            recovery=(utc(2026, 2, 10, 18), utc(2026, 2, 10, 19)),
            next_due=utc(2026, 2, 11, 13),
        ),
    ),
    (
        "resolved again",
        lambda d: services.resolve(d.t, actor=d.engineer, at=utc(2026, 2, 11, 12, 30)),  # Wed 13:30
        expect(
            response=(utc(2026, 2, 10, 16), utc(2026, 2, 10, 15, 30)),
            resolution=(utc(2026, 2, 11, 13), utc(2026, 2, 11, 12, 30)),
            recovery=(utc(2026, 2, 10, 18), utc(2026, 2, 10, 19)),
            next_due=None,
        ),
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize("upto", range(len(STORY)), ids=[label for label, _, _ in STORY])
def test_the_story_step_by_step(desk: Desk, plan: Plan, upto: int) -> None:
    for _, action, _ in STORY[: upto + 1]:
        action(desk)
    label, _, expected = STORY[upto]
    assert desk.columns() == expected, label


@pytest.mark.django_db
def test_the_story_ends_with_each_clock_judged(desk: Desk, plan: Plan) -> None:
    for _, action, _ in STORY:
        action(desk)
    week_later = utc(2026, 2, 18)
    assert desk.status(week_later) == {"response": "met", "resolution": "met", "recovery": "met_late"}
    ticket = Ticket.objects.get(pk=desk.t.pk)
    assert (ticket.state, ticket.priority, ticket.priority_confirmed) == (State.RESOLVED, "P1", True)
    assert list(ticket.pauses.values_list("reason", "start", "end")) == [
        (PauseReason.WAITING_ACCESS, utc(2026, 2, 10, 10), utc(2026, 2, 10, 13)),
    ]


# --- pauses: wall time for h targets, business time for bh/bd targets ---------------------------------------
# Received Monday 9 Feb 2026, 17:00 CET (16:00 UTC) unless the row says otherwise.

MON_17 = utc(2026, 2, 9, 16)
PAUSE_TABLE = [
    # (priority, received, pause (start, end) or None, response due)
    ("P1", MON_17, None, utc(2026, 2, 9, 20)),  # Mon 21:00: 4 h wall
    # A pause at night (19:00-20:00) counts for the wall-clock P1 target: pushed by an hour.
    ("P1", MON_17, (utc(2026, 2, 9, 18), utc(2026, 2, 9, 19)), utc(2026, 2, 9, 21)),  # Mon 22:00
    ("P2", MON_17, None, utc(2026, 2, 10, 15)),  # Tue 16:00: Mon 1 + Tue 7
    # ... and not for P2's business hours: nothing of the night is counted anyway.
    ("P2", MON_17, (utc(2026, 2, 9, 18), utc(2026, 2, 9, 19)), utc(2026, 2, 10, 15)),  # Tue 16:00
    # A pause Tue 10:00-12:00 pushes P2 by two business hours: Mon 1 + Tue 1 + Tue 6 from 12:00.
    ("P2", MON_17, (utc(2026, 2, 10, 9), utc(2026, 2, 10, 11)), utc(2026, 2, 10, 17)),  # Tue 18:00
    ("P3", MON_17, (utc(2026, 2, 9, 18), utc(2026, 2, 9, 19)), utc(2026, 2, 11, 16)),  # Wed 17:00: 1+9+8
    # A pause over the Easter weekend (Thu 2 Apr 17:00 CEST - Tue 7 Apr 10:00 CEST) covers two business
    # hours only: Thu 17-18 and Tue 09-10. Unpaused, P2 from Thu 14:00 CEST is due Tue 13:00 CEST.
    ("P2", utc(2026, 4, 2, 12), None, utc(2026, 4, 7, 11)),  # Tue 13:00 CEST
    ("P2", utc(2026, 4, 2, 12), (utc(2026, 4, 2, 15), utc(2026, 4, 7, 8)), utc(2026, 4, 7, 13)),  # 15:00
    # ... while a wall-clock P1 is pushed by all 113 hours of it.
    ("P1", utc(2026, 4, 2, 14), (utc(2026, 4, 2, 15), utc(2026, 4, 7, 8)), utc(2026, 4, 7, 11)),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("priority", "received", "pause", "due"), PAUSE_TABLE)
def test_a_pause_pushes_the_due_instant_by_the_counted_time_it_covers(
    desk: Desk,
    priority: str,
    received: dt.datetime,
    pause: tuple[dt.datetime, dt.datetime] | None,
    due: dt.datetime,
) -> None:
    desk.file(received, priority)
    if pause is not None:
        desk.wait(State.WAITING_THIRD_PARTY, pause[0])
        services.set_state(desk.t, State.OPEN, actor=desk.engineer, at=pause[1], note="provider is back")
    assert desk.columns()["response_due"] == due


# --- weekends, holidays, the closure day, DST ---------------------------------------------------------------

CALENDAR_TABLE = [
    # (priority, received, response due)
    ("P2", utc(2026, 2, 13, 15), utc(2026, 2, 16, 14)),  # Fri 16:00 CET → Mon 15:00: Fri 2 + Mon 6
    ("P1", utc(2026, 2, 13, 15), utc(2026, 2, 13, 19)),  # Fri 16:00 → Fri 20:00: wall clock ignores weekends
    (
        "P2",
        utc(2026, 2, 14, 10),
        utc(2026, 2, 16, 16),
    ),  # Sat 11:00 → Mon 17:00: counted from Mon 09:00
    ("P2", utc(2026, 4, 2, 12), utc(2026, 4, 7, 11)),  # Thu 14:00 CEST → Tue 13:00: Good Fri, Easter Mon
    ("P3", utc(2026, 12, 30, 9), utc(2027, 1, 5, 9)),  # Wed 10:00 CET → Tue 10:00: 31 Dec closed, 1 Jan
    ("P4", utc(2026, 12, 23, 9), utc(2026, 12, 29, 9)),  # Wed 10:00 → Tue 10:00: Wed 8+Thu 9+Mon 9+Tue 1
    # Spring forward (Sun 29 Mar, 02:00 CET → 03:00 CEST): four real hours, though the wall clock shows five.
    ("P1", utc(2026, 3, 28, 22), utc(2026, 3, 29, 2)),  # Sat 23:00 CET → Sun 04:00 CEST
    ("P2", utc(2026, 3, 27, 13), utc(2026, 3, 30, 11)),  # Fri 14:00 CET → Mon 13:00 CEST: Fri 4 + Mon 4
    # Fall back (Sun 25 Oct, 03:00 CEST → 02:00 CET).
    ("P1", utc(2026, 10, 24, 22, 30), utc(2026, 10, 25, 2, 30)),  # Sun 00:30 CEST → Sun 03:30 CET
    ("P4", utc(2026, 10, 23, 10), utc(2026, 10, 28, 11)),  # Fri 12:00 CEST → Wed 12:00 CET: 6 + 9 + 9 + 3
]


@pytest.mark.django_db
@pytest.mark.parametrize(("priority", "received", "due"), CALENDAR_TABLE)
def test_response_due_across_weekends_holidays_and_dst(
    desk: Desk, priority: str, received: dt.datetime, due: dt.datetime
) -> None:
    desk.file(received, priority)
    assert desk.columns()["response_due"] == due
    assert desk.columns()["next_due_at"] == due


# --- incomplete requests ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_incomplete_request_is_paused_until_completed(desk: Desk, plan: Plan) -> None:
    # A bug filed Thu 12 Feb 2026, 16:00 CET (15:00 UTC) without site, environment or steps.
    ticket = desk.file(utc(2026, 2, 12, 15), "P3", type=RequestType.BUG, site=None, environment="", steps="")
    assert (ticket.incomplete, ticket.missing_fields) == (True, ["site", "environment", "steps"])
    pause = ticket.pauses.get()
    assert (pause.reason, pause.start, pause.end) == (PauseReason.INCOMPLETE, utc(2026, 2, 12, 15), None)
    ack = ticket.messages.get()
    assert ack.kind == Message.Kind.AUTO
    assert "missing: site, environment, steps" in ack.body
    # The acknowledgement is no response; the clocks are stopped.
    assert ticket.first_response_at is None
    assert desk.columns() == expect((None, None), (None, None), (None, None), None)

    # Fri 13 Feb 10:00 CET: the site comes in; environment and steps are still missing.
    services.complete_request(ticket, {"site": desk.site}, actor=desk.owner, at=utc(2026, 2, 13, 9))
    ticket.refresh_from_db()
    assert (ticket.incomplete, ticket.missing_fields) == (True, ["environment", "steps"])
    assert desk.columns() == expect((None, None), (None, None), (None, None), None)

    # Mon 16 Feb 10:00 CET: complete. Everything before counted nothing, so the clocks start now.
    services.complete_request(
        ticket, {"environment": "prod", "steps": "Open /cart"}, actor=desk.owner, at=utc(2026, 2, 16, 9)
    )
    ticket.refresh_from_db()
    assert (ticket.incomplete, ticket.missing_fields) == (False, [])
    assert ticket.pauses.get().end == utc(2026, 2, 16, 9)
    assert desk.columns() == expect(
        response=(utc(2026, 2, 18, 9), None),  # Wed 10:00: 2bd = 18 bh = Mon 8 + Tue 9 + Wed 1
        resolution=(utc(2026, 2, 23, 9), None),  # Mon 23rd 10:00: 5bd = 45 bh = 8 + 4 × 9 + 1
        recovery=(None, None),  # a bug has no recovery clock
        next_due=utc(2026, 2, 18, 9),
    )


@pytest.mark.django_db
def test_a_request_without_priority_counts_as_p3_until_completed(desk: Desk) -> None:
    # Tue 10 Feb 10:00 CET; no priority given: P3's clock, marked missing, paused.
    ticket = desk.file(utc(2026, 2, 10, 9), "")
    assert (ticket.priority, ticket.missing_fields) == ("P3", ["priority"])
    # Tue 12:00: the client says P2; paused two business hours, so due Wed 11:00 CET (Tue 6 + Wed 2).
    services.complete_request(ticket, {"priority": "P2"}, actor=desk.owner, at=utc(2026, 2, 10, 11))
    assert desk.columns()["response_due"] == utc(2026, 2, 11, 10)


# --- priority changes, breaches -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_priority_change_counts_from_receipt_with_every_pause_and_may_breach_at_once(
    desk: Desk, plan: Plan
) -> None:
    # A question received as P4 on Mon 2 Mar 2026, 09:00 CET (08:00 UTC), paused twice for an hour.
    desk.file(utc(2026, 3, 2, 8), "P4", type=RequestType.QUESTION)
    desk.wait(State.WAITING_INFO, utc(2026, 3, 2, 9))  # 10:00
    desk.client_says(utc(2026, 3, 2, 10))  # 11:00
    desk.wait(State.WAITING_APPROVAL, utc(2026, 3, 2, 11))  # 12:00
    desk.client_says(utc(2026, 3, 2, 12))  # 13:00
    assert desk.columns() == expect(
        response=(utc(2026, 3, 5, 10), None),  # Thu 11:00: 3bd = 27 bh = Mon 7 + Tue 9 + Wed 9 + Thu 2
        resolution=(utc(2026, 3, 16, 10), None),  # Mon 16th 11:00: 10bd = 90 bh = 7 + 9 × 9 + 2
        recovery=(None, None),
        next_due=utc(2026, 3, 5, 10),
    )
    # Tue 3 Mar 11:00 CET: the agency makes it P2. 8 bh from receipt, both pauses kept: Mon 1 + 1 + 5,
    # Tue 1 → Tue 10:00 CET, an hour ago — breached the moment it is recomputed.
    change_at = utc(2026, 3, 3, 10)
    services.change_priority(desk.t, "P2", actor=desk.engineer, why="affects invoices", at=change_at)
    assert desk.columns() == expect(
        response=(utc(2026, 3, 3, 9), None),
        resolution=(utc(2026, 3, 5, 10), None),  # Thu 11:00: 3bd = 27 bh
        recovery=(None, None),
        next_due=utc(2026, 3, 3, 9),
    )
    assert desk.status(change_at)["response"] == "breached"
    # Answered at 11:30: met, but late — and it stays late whenever one looks.
    desk.staff_says(utc(2026, 3, 3, 10, 30))
    assert desk.columns()["response_met_at"] == utc(2026, 3, 3, 10, 30)
    assert desk.status(utc(2026, 3, 3, 10, 30))["response"] == "met_late"
    assert desk.status(utc(2027, 1, 1))["response"] == "met_late"


@pytest.mark.django_db
def test_a_client_proposal_changes_no_clock(desk: Desk) -> None:
    desk.file(utc(2026, 2, 10, 9), "P4")
    before = desk.columns()
    services.change_priority(desk.t, "P1", actor=desk.owner, why="urgent for us", at=utc(2026, 2, 10, 10))
    ticket = Ticket.objects.get(pk=desk.t.pk)
    assert (ticket.priority, ticket.proposed_priority, ticket.priority_confirmed) == ("P4", "P1", False)
    assert desk.columns() == before


@pytest.mark.django_db
def test_only_a_substantive_staff_reply_meets_the_response_clock(desk: Desk) -> None:
    desk.file(utc(2026, 2, 10, 9), "P2")  # Tue 10:00, due Tue 18:00
    desk.client_says(utc(2026, 2, 10, 10), "Any news?")
    desk.staff_says(utc(2026, 2, 10, 11), "asked Bob to look", internal=True)
    assert desk.columns()["response_met_at"] is None
    desk.staff_says(utc(2026, 2, 10, 12))
    desk.staff_says(utc(2026, 2, 10, 13), "Second reply")
    assert desk.columns()["response_met_at"] == utc(2026, 2, 10, 12)
    assert desk.status(utc(2026, 2, 11))["response"] == "met"


@pytest.mark.django_db
def test_resolving_answers_and_recovers_and_reopening_keeps_that(desk: Desk, plan: Plan) -> None:
    # P1 incident Tue 10 Feb 10:00 CET, resolved at 11:00 without a reply first, reopened at 12:00.
    desk.file(utc(2026, 2, 10, 9), "P1")
    services.resolve(desk.t, actor=desk.engineer, at=utc(2026, 2, 10, 10))
    services.reopen(desk.t, actor=desk.owner, at=utc(2026, 2, 10, 11), why="back again")
    assert desk.columns() == expect(
        response=(utc(2026, 2, 10, 13), utc(2026, 2, 10, 10)),  # 14:00 (4 h wall), met by the resolution
        resolution=(utc(2026, 2, 11, 10), None),  # Wed 11:00: 9 bh, plus the hour it stood resolved
        recovery=(utc(2026, 2, 10, 15), utc(2026, 2, 10, 10)),  # 16:00 (6 h wall), met by the resolution
        next_due=utc(2026, 2, 11, 10),
    )


@pytest.mark.django_db
def test_resolved_over_a_weekend_then_reopened(desk: Desk, plan: Plan) -> None:
    # P3 bug Thu 12 Feb 2026 10:00 CET; resolution 5bd = 45 bh → Thu 19th 10:00 unpaused.
    desk.file(utc(2026, 2, 12, 9), "P3", type=RequestType.BUG)
    assert desk.columns()["resolution_due"] == utc(2026, 2, 19, 9)
    # Resolved Fri 13th 16:00, reopened Mon 16th 11:00: 2 + 2 business hours stood resolved.
    services.resolve(desk.t, actor=desk.engineer, at=utc(2026, 2, 13, 15))
    desk.client_says(utc(2026, 2, 16, 10), "It is back")
    ticket = Ticket.objects.get(pk=desk.t.pk)
    assert ticket.state == State.OPEN
    assert desk.columns()["resolution_due"] == utc(2026, 2, 19, 13)  # Thu 19th 14:00


# --- calendar versions --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_ticket_keeps_the_calendar_version_it_arrived_with(desk: Desk, berlin_calendar) -> None:
    # Tue 10 Feb 10:00 CET under version 1 (09:00-18:00).
    old = desk.file(utc(2026, 2, 10, 9), "P3")
    CalendarVersion.objects.create(
        calendar=berlin_calendar,
        number=2,
        timezone="Europe/Berlin",
        hours={day: ["07:00-15:00"] for day in WEEKDAY_HOURS},
        holiday_country="DE",
    )
    # Recomputed after version 2 exists: P2 = 8 bh of version 1 → Tue 18:00 (under version 2: Wed 10:00).
    services.change_priority(old, "P2", actor=desk.engineer, why="shop affected", at=utc(2026, 2, 10, 10))
    old.refresh_from_db()
    assert old.calendar_version.number == 1
    assert desk.columns()["response_due"] == utc(2026, 2, 10, 17)
    clocks.recompute(Ticket.objects.get(pk=old.pk))
    assert desk.columns()["response_due"] == utc(2026, 2, 10, 17)
    # A request arriving now gets version 2: Wed 11 Feb 10:00 → 5 h Wed (10-15) + Thu 07-10 → Thu 10:00.
    new = desk.file(utc(2026, 2, 11, 9), "P2")
    assert new.calendar_version.number == 2
    assert desk.columns()["response_due"] == utc(2026, 2, 12, 9)


# --- pauses on the record -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_switching_between_waiting_states_keeps_one_pause_per_reason(desk: Desk) -> None:
    desk.file(utc(2026, 2, 10, 9), "P2")  # Tue 10:00
    desk.wait(State.WAITING_INFO, utc(2026, 2, 10, 10))  # 11:00
    desk.wait(State.WAITING_ACCESS, utc(2026, 2, 10, 11))  # 12:00
    desk.client_says(utc(2026, 2, 10, 12))  # 13:00
    assert list(Pause.objects.filter(ticket=desk.t).values_list("reason", "start", "end")) == [
        (PauseReason.WAITING_INFO, utc(2026, 2, 10, 10), utc(2026, 2, 10, 11)),
        (PauseReason.WAITING_ACCESS, utc(2026, 2, 10, 11), utc(2026, 2, 10, 12)),
    ]
    assert desk.columns()["response_due"] == utc(2026, 2, 11, 10)  # Wed 11:00: pushed 2 bh
