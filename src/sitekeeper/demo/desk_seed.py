"""Demo requests in every state, dated relative to now so the clocks show something live.

Everything goes through desk.services, exactly as the portal, API and e-mail intake do, so the demo's
clocks, pauses and timelines are computed, not typed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.utils import timezone

from sitekeeper.access.models import User
from sitekeeper.contracts.models import Client, Contact
from sitekeeper.desk import services
from sitekeeper.desk.models import State, Ticket

H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)


class _Demo:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now
        self.engineer = User.objects.get(username="engineer")
        self.manager = User.objects.get(username="manager")

    def file(self, slug: str, ago: dt.timedelta, **fields: object) -> Ticket:
        client = Client.objects.get(slug=slug)
        owner = User.objects.filter(client=client, role="client_owner").first()
        contact = client.contacts.filter(role=Contact.Role.PRODUCT_OWNER).first()
        site = client.sites.order_by("url").first()
        values: dict[str, object] = {"site": site, "environment": "prod", "description": "", "steps": ""}
        values.update(fields)
        ticket = services.file_request(
            client,
            channel=str(values.pop("channel", "portal")),
            requester=contact,
            requester_user=owner,
            received_at=self.now - ago,
            **values,  # type: ignore[arg-type]
        )
        services.assign(
            [ticket], self.engineer, actor=self.manager, at=self.now - ago + dt.timedelta(minutes=5)
        )
        return ticket

    def reply(self, ticket: Ticket, at: dt.datetime, body: str) -> None:
        services.add_message(ticket, body, channel="staff", author=self.engineer, at=at)


def _incident_recovered(demo: _Demo) -> None:
    ticket = demo.file(
        "outdoor",
        2 * H,
        type="incident",
        priority="P1",
        subject="Checkout returns 503 for every customer",
        description="Since the 14:00 deploy the cart page answers 503.",
        steps="Add any product, open /cart.",
        site=Client.objects.get(slug="outdoor").sites.get(url="https://shop.trailhead.test"),
    )
    demo.reply(
        ticket, ticket.received_at + 20 * dt.timedelta(minutes=1), "On it: rolling back the 14:00 release."
    )
    services.mark_recovered(
        ticket,
        actor=demo.engineer,
        at=ticket.received_at + 70 * dt.timedelta(minutes=1),
        note="Rolled back to release 2026.11.3; checkout works again.",
    )
    services.log_time(ticket, user=demo.engineer, minutes=50, note="rollback and verification")


def _waiting_info(demo: _Demo) -> None:
    ticket = demo.file(
        "outdoor",
        26 * H,
        type="bug",
        priority="P2",
        subject="Contact form does not send",
        description="Customers say the form spins forever.",
        steps="Fill the contact form, submit.",
    )
    demo.reply(ticket, ticket.received_at + 2 * H, "Looking into it. Which page's form do you mean?")
    services.set_state(
        ticket,
        State.WAITING_INFO,
        actor=demo.engineer,
        at=ticket.received_at + 2 * H,
        note="Please tell us the page URL of the form.",
    )


def _waiting_approval(demo: _Demo) -> None:
    ticket = demo.file(
        "lawfirm",
        3 * D,
        type="change_request",
        priority="P3",
        subject="New page for a new partner",
        description="Dr. Weiss joins as partner on 1 January.",
    )
    demo.reply(
        ticket, ticket.received_at + 3 * H, "This is a change request: estimate 3 h. Shall we go ahead?"
    )
    services.set_state(
        ticket,
        State.WAITING_APPROVAL,
        actor=demo.engineer,
        at=ticket.received_at + 3 * H,
        note="Estimate of 3 h sent; waiting for your approval.",
    )


def _breached(demo: _Demo) -> None:
    demo.file(
        "lawfirm",
        6 * D,
        type="bug",
        priority="P2",
        subject="Team photos missing on mobile",
        description="The team page shows empty boxes on phones.",
        steps="Open /team on an iPhone.",
    )


def _waiting_access(demo: _Demo) -> None:
    ticket = demo.file(
        "lawfirm",
        5 * H,
        type="update",
        priority="P3",
        subject="Update the booking plugin",
        description="The booking plugin asks for a licence renewal.",
    )
    demo.reply(ticket, ticket.received_at + H, "We need the plugin vendor account to renew the licence.")
    services.set_state(
        ticket,
        State.WAITING_ACCESS,
        actor=demo.engineer,
        at=ticket.received_at + H,
        note="Please invite support@webility.local to the plugin vendor account.",
    )


def _new_question(demo: _Demo) -> None:
    demo.file(
        "bakery",
        30 * dt.timedelta(minutes=1),
        type="question",
        priority="P4",
        subject="Can we show our Instagram feed?",
        description="On the home page, under the opening hours.",
    )


def _incomplete_email(demo: _Demo) -> None:
    client = Client.objects.get(slug="bakery")
    contact = client.contacts.filter(role=Contact.Role.EMERGENCY).first()
    services.file_request(
        client,
        channel="email",
        subject="website broken??",
        description="Hi, the shop page looks wrong since this morning. Bruno",
        requester=contact,
        received_at=demo.now - 3 * H,
    )


def _third_party(demo: _Demo) -> None:
    ticket = demo.file(
        "museum",
        4 * H,
        type="incident",
        priority="P2",
        subject="Ticket shop cannot take payments",
        description="Payments fail with 'provider unavailable'.",
        steps="Buy any ticket, pay by card.",
        site=Client.objects.get(slug="museum").sites.get(url="https://tickets.stadtmuseum-nord.test"),
    )
    demo.reply(
        ticket, ticket.received_at + 15 * dt.timedelta(minutes=1), "The payment provider reports an outage."
    )
    services.set_state(
        ticket,
        State.WAITING_THIRD_PARTY,
        actor=demo.engineer,
        at=ticket.received_at + 20 * dt.timedelta(minutes=1),
        note="The payment provider's status page confirms an outage.",
    )


def _resolved_and_reopened(demo: _Demo) -> None:
    ticket = demo.file(
        "museum",
        4 * D,
        type="bug",
        priority="P3",
        subject="Gallery arrows do nothing",
        description="The arrows on exhibition galleries don't move.",
        steps="Open any exhibition.",
    )
    demo.reply(ticket, ticket.received_at + 2 * H, "Reproduced; a script conflict after the theme update.")
    services.resolve(ticket, actor=demo.engineer, at=ticket.received_at + D, note="Fixed the script order.")
    services.add_message(
        ticket,
        "Still broken on the 'Harbour' exhibition.",
        channel="portal",
        author=User.objects.get(username="museum-owner"),
        at=ticket.received_at + 2 * D,
    )
    services.log_time(ticket, user=demo.engineer, minutes=95, note="debugging the gallery script")


def _resolved(demo: _Demo) -> None:
    ticket = demo.file(
        "museum",
        9 * D,
        type="update",
        priority="P3",
        subject="Monthly plugin updates",
        description="Routine batch.",
    )
    demo.reply(ticket, ticket.received_at + H, "Applied on stage, checks green; going live tonight.")
    services.resolve(ticket, actor=demo.engineer, at=ticket.received_at + D, note="Deployed in the window.")


def _closed(demo: _Demo) -> None:
    ticket = demo.file(
        "outdoor",
        35 * D,
        type="question",
        priority="P4",
        subject="Invoice address change",
        description="Please use our new address from next month.",
    )
    demo.reply(ticket, ticket.received_at + 5 * H, "Done, the next invoice uses it.")
    services.resolve(ticket, actor=demo.engineer, at=ticket.received_at + 5 * H)
    services.set_state(ticket, State.CLOSED, actor=demo.engineer, at=ticket.received_at + 3 * D)


SCENES: list[Callable[[_Demo], None]] = [
    _incident_recovered,
    _waiting_info,
    _waiting_approval,
    _breached,
    _waiting_access,
    _new_question,
    _incomplete_email,
    _third_party,
    _resolved_and_reopened,
    _resolved,
    _closed,
]


def seed_requests(now: dt.datetime | None = None) -> int:
    """Create the demo requests once; a second run leaves existing ones alone."""
    if Ticket.objects.exists():
        return 0
    demo = _Demo(now or timezone.now())
    for scene in SCENES:
        scene(demo)
    return Ticket.objects.count()
