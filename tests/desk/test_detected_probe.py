# ruff: noqa: F811  (the fixtures of tests/monitoring/servers.py are imported by name, then used as arguments)
"""End to end (issue 12, item 2): a real probe watches a real loopback server that goes down; the P1 the
monitor opens is a detected request — no incomplete-request pause, no client-proposed priority, an
acknowledgement that says what was detected — and its pauses end when it is resolved."""

from __future__ import annotations

import asyncio
import re

import pytest

from sitekeeper.desk import presenters, services
from sitekeeper.desk.models import Message, Ticket
from sitekeeper.monitoring.models import Monitor, Outage
from sitekeeper.monitoring.probe import Probe
from tests.monitoring.servers import make_monitor, server  # noqa: F401 (server: a fixture)

# The probe's database thread has its own connection and must see committed rows; keep the built-in plans.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def probe_once() -> int:
    """One pass of the probe after making every monitor due (so the test need not wait)."""
    Monitor.objects.update(next_check_at=None, claimed_by="", claimed_until=None)
    return asyncio.run(Probe("a", flush_every=0.01).run(once=True))


def test_the_p1_a_probe_opens_is_detected_not_incomplete(acme, admin, engineer, server) -> None:
    make_monitor(acme, server.url + "/", timeout_seconds=2)
    probe_once()
    server.stop()
    probe_once()
    probe_once()  # two consecutive failures: down

    outage = Outage.objects.get()
    ticket = Ticket.objects.get(pk=outage.ticket_id)
    assert (ticket.channel, ticket.priority, ticket.type) == ("monitor", "P1", "incident")
    assert (ticket.incomplete, ticket.missing_fields) == (False, [])
    assert not ticket.pauses.exists()
    assert (ticket.proposed_priority, ticket.priority_confirmed) == ("", True)
    assert ticket.response_due is not None
    assert ticket.next_due_at == ticket.response_due

    ack = ticket.messages.get(kind=Message.Kind.AUTO).body
    assert ack.startswith(f"sitekeeper detected: {outage.site} is down: ")
    assert f" at {presenters.received(ticket)}. " in ack
    assert re.search(r"\d{4} \d\d:\d\d CES?T\b", ack)  # the zone named (acme: Europe/Berlin)
    assert ack.endswith("you do not need to do anything.")
    assert "steps" not in ack
    assert "missing" not in ack
    assert ticket.detected

    # Waiting on the hosting provider, then resolved: no pause runs on after the resolution.
    services.set_state(ticket, "third_party_outage", actor=engineer, note="Hosting provider incident")
    services.resolve(Ticket.objects.get(pk=ticket.pk), actor=engineer, note="The host is back")
    assert not ticket.pauses.filter(end__isnull=True).exists()
