"""The incident seam (desk.detected): the platform opens one request per episode of what it found, saying
which part of sitekeeper found it, with its detail for staff only, tells people once, and meets the recovery
clock when the thing is gone."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from sitekeeper.desk import detected, services
from sitekeeper.desk.models import Message, Ticket
from sitekeeper.notify import Message as Notice
from sitekeeper.notify.models import Delivery

pytestmark = pytest.mark.django_db
AT = dt.datetime(2026, 11, 3, 10, 0, tzinfo=dt.UTC)


def detection(site, episode: str = "outage:1", **overrides) -> detected.Detection:
    values = {
        "site": site, "found_by": "monitoring", "episode": episode, "priority": "P1",
        "subject": f"{site} is down: HTTP 503", "description": "Three checks failed.",
        "steps": "Found by sitekeeper's monitoring.", "detected_at": AT,
        "note": "Check timeline: 503, 503, 503",
    }  # fmt: skip
    return detected.Detection(**{**values, **overrides})


def notice(key: str = "outage:1:down"):
    """What to tell, built from the request just opened (a notice names it)."""
    return lambda ticket: detected.Notice(
        Notice(subject=f"[P1] DOWN {ticket.reference}", text="down", event="monitor.down"), key=key
    )


def test_one_request_per_episode_told_once(acme, admin):
    site = acme.sites.get()
    ticket, opened = detected.open_incident(detection(site), notice())
    again, opened_again = detected.open_incident(detection(site), notice())
    assert (opened, opened_again, again.pk) == (True, False, ticket.pk)
    assert Ticket.objects.filter(site=site).count() == 1
    assert (ticket.type, ticket.priority, ticket.channel, ticket.received_at) == (
        "incident",
        "P1",
        "monitor",
        AT,
    )
    assert ticket.detected
    assert ticket.priority_confirmed
    assert not ticket.incomplete
    assert Delivery.objects.filter(key="outage:1:down").count() == 1  # the admin, once
    other, opened_other = detected.open_incident(detection(site, episode="outage:2"))
    assert opened_other
    assert other.pk != ticket.pk


def test_the_detail_is_for_staff_and_the_requester_sees_who_found_it(acme):
    ticket, _ = detected.open_incident(detection(acme.sites.get()))
    internal = Message.objects.get(ticket=ticket, kind=Message.Kind.NOTE)
    assert internal.body == "Check timeline: 503, 503, 503"
    assert internal.author.username == detected.SERVICE_USERNAME
    assert not internal.author.is_active
    assert ticket.steps == "Found by sitekeeper's monitoring."


def test_two_workers_opening_the_same_episode_get_the_same_request(acme, monkeypatch):
    """The second worker looked before the first one's request existed: the unique episode key decides."""
    site = acme.sites.get()
    first, _ = detected.open_incident(detection(site))
    calls = iter([None, first])
    monkeypatch.setattr(detected, "find", lambda _episode: next(calls))
    second, opened = detected.open_incident(detection(site))
    assert (second.pk, opened) == (first.pk, False)
    assert Ticket.objects.filter(site=site).count() == 1


def test_the_episode_key_is_unique_in_the_database(acme):
    site = acme.sites.get()
    detected.open_incident(detection(site))
    with pytest.raises(IntegrityError), transaction.atomic():
        services.file_request(acme, channel="monitor", subject="again", type="incident", priority="P1",
                              site=site, environment="prod", detection_key="outage:1")  # fmt: skip
    services.file_request(acme, channel="monitor", subject="a person's", site=site)  # no key: no limit
    services.file_request(acme, channel="monitor", subject="another", site=site)


def test_recovered_meets_the_recovery_clock(acme):
    ticket, _ = detected.open_incident(detection(acme.sites.get()))
    back = AT + dt.timedelta(minutes=12)
    detected.recovered(ticket, at=back, why="monitor: site back up", detail="Back up after 12.0 min.")
    ticket.refresh_from_db()
    assert ticket.recovered_at == back
    assert Message.objects.filter(
        ticket=ticket, kind=Message.Kind.NOTE, body="Back up after 12.0 min."
    ).exists()


def test_a_detection_names_its_source_and_episode(acme):
    site = acme.sites.get()
    with pytest.raises(ValueError, match="found_by 'probe'"):
        detection(site, found_by="probe")
    with pytest.raises(ValueError, match="episode key"):
        detection(site, episode="")
