"""An outage's service-desk request goes through the incident seam (desk.detected): one request per outage
however many passes reach it, saying monitoring found it, with the check timeline for staff only; the alert
names the request, and the recovery meets its clock and pages the same people."""

from __future__ import annotations

import datetime as dt

from sitekeeper.desk import detected
from sitekeeper.desk.models import Message, Ticket
from sitekeeper.monitoring import outages
from sitekeeper.monitoring.models import CheckResult, Outage
from sitekeeper.notify.models import Delivery
from tests.monitoring.conftest import utc

DOWN = utc(2026, 4, 9, 10)


def check(monitor, at: dt.datetime, ok: bool = False) -> None:
    CheckResult.objects.create(monitor=monitor, location="fra", at=at, ok=ok, error="" if ok else "HTTP 503")


def down(monitor) -> Outage:
    monitor.confirmations = 1
    check(monitor, DOWN)
    assert outages.evaluate(monitor, DOWN, cause="HTTP 503") == "down"
    return Outage.objects.get()


def test_the_request_says_monitoring_found_it_and_keeps_the_timeline_for_staff(monitor, site, admin):
    outage = down(monitor)
    ticket = outage.ticket
    assert ticket.detection_key == f"outage:{outage.pk}"
    assert (ticket.subject, ticket.priority, ticket.type, ticket.channel) == (
        f"{site} is down: HTTP 503",
        "P1",
        "incident",
        "monitor",
    )
    assert ticket.description == (
        f"Monitor {monitor} failed 1 consecutive checks since 2026-04-09 10:00:00 UTC: HTTP 503."
    )
    assert ticket.steps == f"Open {monitor.url} (automated HTTP(S) check)."
    assert ticket.received_at == DOWN
    note = ticket.messages.get(kind=Message.Kind.NOTE)
    assert note.body.startswith("Checks:\n2026-04-09 10:00:00 UTC [fra] FAIL")
    assert note.author.username == detected.SERVICE_USERNAME
    alert = Delivery.objects.filter(key=f"outage:{outage.pk}:down").first()
    assert f"Ticket: #{ticket.pk}" in alert.message["text"]


def test_an_outage_reached_by_two_passes_opens_one_request(monitor, site, admin):
    """A second pass over the same outage (a worker that filed the request and died before linking it, a
    retry) finds the request of this outage instead of opening another, and pages nobody again."""
    outage = down(monitor)
    first = outage.ticket
    Outage.objects.filter(pk=outage.pk).update(ticket=None)
    outage.refresh_from_db()
    outages.open_incident(outage, monitor)
    outages.alert(outage, monitor, DOWN + dt.timedelta(minutes=1))
    outage.refresh_from_db()
    assert outage.ticket_id == first.pk
    assert Ticket.objects.filter(site=site).count() == 1
    assert first.messages.filter(kind=Message.Kind.NOTE).count() == 1
    down_alerts = Delivery.objects.filter(key=f"outage:{outage.pk}:down")
    assert sorted(down_alerts.values_list("target", flat=True)) == ["admin@people.test", "oncall@acme.test"]


def test_a_new_outage_of_the_same_monitor_is_a_new_request(monitor, site, admin):
    first = down(monitor)
    check(monitor, DOWN + dt.timedelta(minutes=5), ok=True)
    assert outages.evaluate(monitor, DOWN + dt.timedelta(minutes=5)) == "up"
    again = DOWN + dt.timedelta(hours=1)
    check(monitor, again)
    assert outages.evaluate(monitor, again, cause="HTTP 503") == "down"
    second = Outage.objects.exclude(pk=first.pk).get()
    assert second.ticket_id != first.ticket_id
    assert Ticket.objects.filter(site=site).count() == 2


def test_back_up_meets_the_recovery_clock_and_pages_the_emergency_contact(monitor, site, admin):
    outage = down(monitor)
    back = DOWN + dt.timedelta(minutes=12)
    check(monitor, back, ok=True)
    assert outages.evaluate(monitor, back) == "up"
    ticket = Ticket.objects.get(pk=outage.ticket_id)
    assert ticket.recovered_at == back
    recovery = ticket.messages.filter(kind=Message.Kind.NOTE).order_by("at").last()
    assert recovery.body.startswith("Back up at 2026-04-09 10:12:00 UTC after 12.0 min.\nChecks:")
    assert recovery.at == back
    up = Delivery.objects.filter(key=f"outage:{outage.pk}:up")
    assert sorted(up.values_list("target", flat=True)) == ["admin@people.test", "oncall@acme.test"]
    assert up.first().message["text"].endswith(f"Ticket #{ticket.pk}.")
