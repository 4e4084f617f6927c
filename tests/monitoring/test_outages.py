# ruff: noqa: F811  (the fixtures of tests/monitoring/servers.py are imported by name, then used as arguments)
"""Results → outages → incidents and alerts, driven by the real probe against a real loopback server."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time

import pytest
from django.utils import timezone

from sitekeeper.contracts.models import Plan
from sitekeeper.monitoring.models import CheckResult, MaintenanceAnnouncement, Monitor, Outage, ProbeSession
from sitekeeper.monitoring.probe import Probe
from sitekeeper.notify.models import Delivery
from tests.monitoring.servers import make_monitor, server  # noqa: F401 (server: a fixture)

# The probe's database thread has its own connection and must see committed rows; keep the built-in plans.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def probe_once(location: str = "a") -> int:
    """One pass of a probe at `location`, after making every monitor due (so tests need not wait)."""
    Monitor.objects.update(next_check_at=None, claimed_by="", claimed_until=None)
    return asyncio.run(Probe(location, flush_every=0.01).run(once=True))


def test_one_failure_is_not_down_two_are_from_the_first(acme, admin, server) -> None:
    monitor = make_monitor(acme, server.url + "/", timeout_seconds=2)
    probe_once()
    server.stop()
    probe_once()
    monitor.refresh_from_db()
    assert not Outage.objects.exists()
    assert monitor.state == "up"  # one failure: only suspected
    probe_once()
    outage = Outage.objects.get()
    first_failure = CheckResult.objects.filter(ok=False).order_by("at").first()
    assert outage.start == first_failure.at
    assert outage.end is None
    assert (outage.priority, outage.ticket.priority, outage.ticket.type) == ("P1", "P1", "incident")
    assert outage.ticket.channel == "monitor"
    assert "Checks:" in outage.ticket.messages.filter(kind="note").get().body
    # Agency escalation list (the admin) and, for P1, the client's emergency contact.
    targets = set(Delivery.objects.filter(key=f"outage:{outage.pk}:down").values_list("target", flat=True))
    assert targets == {"admin@people.test", "oncall@acme.test"}


def test_keyword_missing_is_p2_without_emergency_contact(acme, admin, server) -> None:
    make_monitor(acme, server.url + "/", keyword="Checkout", confirmations=1)
    probe_once()
    outage = Outage.objects.get()
    assert (outage.priority, outage.ticket.priority) == ("P2", "P2")
    targets = set(Delivery.objects.filter(key=f"outage:{outage.pk}:down").values_list("target", flat=True))
    assert targets == {"admin@people.test"}


def test_quorum_of_two_locations(acme, admin, server) -> None:
    now = timezone.now()
    for location in ("a", "b"):  # both locations are probing (a --once probe's own session is stopped)
        ProbeSession.objects.create(
            location=location, instance=f"{location}/x", started_at=now, last_beat_at=now
        )
    monitor = make_monitor(acme, server.url + "/", quorum=2, confirmations=2, timeout_seconds=2)
    server.stop()
    asyncio.run(Probe("a", flush_every=0.01).run(once=True))
    asyncio.run(Probe("a", flush_every=0.01).run(once=True))
    # Location a failed and handed the monitor to the others: a itself does not check again at once.
    assert CheckResult.objects.filter(location="a").count() == 1
    probe_once("a")  # forced: two failures, but from one location only
    assert CheckResult.objects.filter(location="a").count() == 2
    assert not Outage.objects.exists()
    Monitor.objects.filter(pk=monitor.pk).update(next_check_at=None)
    asyncio.run(Probe("b", flush_every=0.01).run(once=True))
    outage = Outage.objects.get()
    assert outage.start == CheckResult.objects.order_by("at").first().at


def test_announced_maintenance_suppresses_incident_and_alert(acme, admin, server) -> None:
    now = timezone.now()
    announcement = MaintenanceAnnouncement.objects.create(
        contract=acme.contract,
        start=now - dt.timedelta(hours=1),
        end=now + dt.timedelta(hours=1),
        max_minutes=120,
        announced_at=now - dt.timedelta(days=3),
    )
    announcement.sites.add(acme.sites.first())
    make_monitor(acme, server.url + "/500", confirmations=1)
    probe_once()
    outage = Outage.objects.get()  # recorded: the uptime figures exclude it, not the probe
    assert outage.ticket is None
    assert not Delivery.objects.exists()


def test_alert_within_five_minutes_and_recovery(acme, admin, server, capsys) -> None:
    """Measured: 1 s interval, 2 confirmations; the server is stopped, then started again."""
    # The built-in tiers ship without recovery targets; a contract file would set them like this.
    Plan.objects.filter(pk=acme.contract.plan_id).update(recovery_targets={"P1": "4h", "P2": "8h"})
    monitor = make_monitor(acme, server.url + "/", timeout_seconds=1)
    probe = Probe("a", interval_override=1.0, flush_every=0.1, lookahead=0.5)
    thread = threading.Thread(target=lambda: asyncio.run(probe.run(duration=8)))
    thread.start()
    time.sleep(2)
    server.stop()
    time.sleep(3.5)
    server.start()
    thread.join(20)
    assert not thread.is_alive()
    outage = Outage.objects.get(monitor=monitor)
    failures = list(CheckResult.objects.filter(ok=False).order_by("at"))
    assert outage.start == failures[0].at
    first_success_after = CheckResult.objects.filter(ok=True, at__gt=outage.start).order_by("at").first()
    assert outage.end == first_success_after.at
    assert outage.end - outage.start >= dt.timedelta(seconds=2)
    alert = Delivery.objects.filter(key=f"outage:{outage.pk}:down").order_by("created_at").first()
    delay = (alert.created_at - outage.start).total_seconds()
    assert delay <= 300
    ticket = outage.ticket
    ticket.refresh_from_db()
    assert ticket.recovered_at == outage.end
    assert ticket.recovery_met_at == outage.end
    assert Delivery.objects.filter(key=f"outage:{outage.pk}:up").exists()
    assert ticket.messages.filter(kind="note").count() == 2
    with capsys.disabled():
        print(  # noqa: T201 (the measured figure the report quotes)
            f"\n[measured] alert delay {delay:.2f} s after the first failed check; "
            f"outage {(outage.end - outage.start).total_seconds():.2f} s"
        )


def test_still_down_after_maintenance_opens_the_incident_then(acme, admin, engineer, server) -> None:
    """Issue 12 item 5, end to end: the real probe against a loopback server answering 500. The outage starts
    inside announced maintenance: held, shown to staff as "down during maintenance", nobody paged. When the
    maintenance ends with the site still down, the probe's next check opens the incident and alerts — within
    the contract's alert time of the maintenance's end, exactly once."""
    from django.test import Client as HttpClient

    from sitekeeper.monitoring.outages import release_due_holds

    now = timezone.now()
    ends = now + dt.timedelta(seconds=6)
    MaintenanceAnnouncement.objects.create(
        contract=acme.contract,
        start=now - dt.timedelta(minutes=5),
        end=ends,
        max_minutes=120,
        announced_at=now - dt.timedelta(days=3),
    )
    monitor = make_monitor(acme, server.url + "/500", confirmations=2, timeout_seconds=2)
    # Phase 1, inside the maintenance: down and held.
    asyncio.run(Probe("a", interval_override=0.5, flush_every=0.1, lookahead=0.3).run(duration=2.5))
    assert timezone.now() < ends
    outage = Outage.objects.get(monitor=monitor)
    assert (outage.held, outage.held_until, outage.ticket_id) == (True, ends, None)
    assert not Delivery.objects.exists()
    staff = HttpClient()
    staff.force_login(engineer)
    assert "down during maintenance" in staff.get("/staff/monitoring/").content.decode()
    # Phase 2: the maintenance ends during this run, the site still answers 500.
    asyncio.run(Probe("a", interval_override=0.5, flush_every=0.1, lookahead=0.3).run(duration=6))
    outage.refresh_from_db()
    assert outage.end is None
    assert outage.held is False
    assert outage.ticket is not None
    assert outage.ticket.received_at == ends
    latency = outage.alert_latency
    assert dt.timedelta(0) <= latency <= dt.timedelta(minutes=acme.contract.alert_minutes)
    assert not outage.missed_alert(acme.contract.alert_minutes, timezone.now())
    targets = set(Delivery.objects.filter(key=f"outage:{outage.pk}:down").values_list("target", flat=True))
    assert targets == {"admin@people.test", "oncall@acme.test"}
    # Exactly once: more checks and the periodic task add nothing.
    probe_once()
    assert release_due_holds(timezone.now()) == 0
    assert Delivery.objects.filter(key__startswith=f"outage:{outage.pk}:").count() == 2
    assert outage.ticket.__class__.objects.filter(channel="monitor").count() == 1
