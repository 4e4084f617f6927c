"""Issue 12 item 5: an outage that starts in announced maintenance is held (staff see "down during
maintenance"), and becomes an incident with its alert when the maintenance — or its maximum length — ends
with the site still down; exactly once. (End to end with the real probe: test_outages.py.)"""

from __future__ import annotations

import datetime as dt

from sitekeeper.monitoring import outages
from sitekeeper.monitoring.models import CheckResult, MaintenanceAnnouncement, Outage
from sitekeeper.notify.models import Delivery
from tests.monitoring.conftest import utc

START = utc(2026, 4, 9, 20)  # the maintenance: 20:00–22:00 UTC, excluded up to 30 min


def announce(site, max_minutes: int = 30) -> MaintenanceAnnouncement:
    return MaintenanceAnnouncement.objects.create(
        contract=site.client.contract,
        start=START,
        end=START + dt.timedelta(hours=2),
        max_minutes=max_minutes,
        announced_at=START - dt.timedelta(days=3),
    )


def fail(monitor, at: dt.datetime, ok: bool = False) -> None:
    CheckResult.objects.create(monitor=monitor, location="fra", at=at, ok=ok, error="" if ok else "HTTP 500")


def at(minutes: int) -> dt.datetime:
    return START + dt.timedelta(minutes=minutes)


def test_the_hold_ends_with_the_maximum_length_counted_from_the_outage(site):
    announce(site, max_minutes=30)
    # Down at 20:10: the first 30 min of downtime in it are maintenance; from 20:40 it is an outage.
    assert outages.maintenance_hold(site, at(10), at(12)) == at(40)
    # Down at 21:45 with 90 min allowed: the maintenance's end (22:00) comes first.
    MaintenanceAnnouncement.objects.update(max_minutes=90)
    assert outages.maintenance_hold(site, at(105), at(106)) == at(120)
    # Outside any maintenance: no hold.
    assert outages.maintenance_hold(site, at(-60), at(-60)) is None


def test_held_then_released_once_by_the_next_check(monitor, site, admin):
    announce(site, max_minutes=30)
    monitor.confirmations = 1
    fail(monitor, START + dt.timedelta(minutes=10))
    assert outages.evaluate(monitor, START + dt.timedelta(minutes=10, seconds=5)) == "down"
    outage = Outage.objects.get()
    assert (outage.held, outage.held_until, outage.ticket) == (True, START + dt.timedelta(minutes=40), None)
    assert not Delivery.objects.exists()
    # Still inside the hold: nothing happens.
    fail(monitor, START + dt.timedelta(minutes=30))
    outages.evaluate(monitor, START + dt.timedelta(minutes=30))
    assert not Delivery.objects.exists()
    # The first check after the hold: the incident opens and the alert goes out, received at the hold's end.
    after = START + dt.timedelta(minutes=41)
    fail(monitor, after)
    outages.evaluate(monitor, after)
    outage.refresh_from_db()
    assert outage.held is False
    assert outage.ticket.received_at == START + dt.timedelta(minutes=40)
    assert "still down when the maintenance" in outage.ticket.description
    assert outage.alerted_at == after
    assert outage.alert_latency == dt.timedelta(minutes=1)
    assert not outage.missed_alert(5, after)
    down = Delivery.objects.filter(key=f"outage:{outage.pk}:down")
    assert sorted(down.values_list("target", flat=True)) == ["admin@people.test", "oncall@acme.test"]
    # Exactly once: another check, and the periodic task, change nothing.
    fail(monitor, after + dt.timedelta(minutes=1))
    outages.evaluate(monitor, after + dt.timedelta(minutes=1))
    assert outages.release_due_holds(after + dt.timedelta(minutes=2)) == 0
    assert Delivery.objects.count() == 2
    assert outage.ticket.__class__.objects.count() == 1


def test_the_periodic_task_releases_a_hold_no_probe_checked(monitor, site, admin):
    announce(site, max_minutes=30)
    monitor.confirmations = 1
    fail(monitor, START + dt.timedelta(minutes=10))
    outages.evaluate(monitor, START + dt.timedelta(minutes=10))
    assert outages.release_due_holds(START + dt.timedelta(minutes=39)) == 0
    assert outages.release_due_holds(START + dt.timedelta(minutes=40)) == 1
    assert outages.release_due_holds(START + dt.timedelta(minutes=41)) == 0
    outage = Outage.objects.get()
    assert outage.ticket is not None
    assert Delivery.objects.filter(key=f"outage:{outage.pk}:down").count() == 2


def test_back_up_inside_the_maintenance_pages_nobody(monitor, site, admin):
    announce(site, max_minutes=30)
    monitor.confirmations = 1
    fail(monitor, START + dt.timedelta(minutes=10))
    outages.evaluate(monitor, START + dt.timedelta(minutes=10))
    fail(monitor, START + dt.timedelta(minutes=20), ok=True)
    assert outages.evaluate(monitor, START + dt.timedelta(minutes=20)) == "up"
    assert outages.release_due_holds(START + dt.timedelta(hours=3)) == 0
    outage = Outage.objects.get()
    assert (outage.end, outage.held, outage.ticket) == (START + dt.timedelta(minutes=20), False, None)
    assert not Delivery.objects.exists()
    assert not outage.missed_alert(5, START + dt.timedelta(hours=3))  # no alert was due
