"""A finding's service-desk request goes through the incident seam (desk.detected), keyed by the finding's
episode: seen again in the same episode it opens no second request and tells nobody again; back after it was
resolved it is a new episode with its own request; the security incident sitekeeper opens at detection and the
finding share the episode's one request."""

from __future__ import annotations

import datetime as dt

import pytest

from sitekeeper.desk import detected
from sitekeeper.desk.models import Message, Ticket
from sitekeeper.notify.models import Delivery
from sitekeeper.security import findings, incidents
from sitekeeper.security.models import Finding, SecurityIncident

pytestmark = pytest.mark.django_db

DETECTED = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)


def changed_core_file(site, now: dt.datetime = DETECTED) -> Finding:
    found, _ = findings.record(
        site, kind="integrity", key="wp-includes/version.php", severity="high",
        title="Core file changed: wp-includes/version.php", details={"path": "wp-includes/version.php"},
        priority="P2", now=now,
    )  # fmt: skip
    return found


def test_seen_again_in_the_same_episode_it_opens_no_second_request(acme, admin):
    site = acme.sites.get()
    found = changed_core_file(site)
    ticket = found.ticket
    assert ticket.detection_key == f"finding:{found.pk}:{DETECTED.isoformat()}"
    assert (ticket.subject, ticket.priority, ticket.channel, ticket.received_at) == (
        "Security: Core file changed: wp-includes/version.php",
        "P2",
        "monitor",
        DETECTED,
    )
    assert ticket.steps == "Found by sitekeeper's automated security scan."
    note = ticket.messages.get(kind=Message.Kind.NOTE)
    assert note.body == f"Finding #{found.pk} (integrity, high)."
    assert note.author.username == detected.SERVICE_USERNAME
    again = changed_core_file(site, now=DETECTED + dt.timedelta(days=1))  # the next night's scan
    assert again.ticket_id == ticket.pk
    assert Ticket.objects.filter(site=site).count() == 1
    (notice,) = Delivery.objects.filter(key=incidents.episode(found))
    assert notice.message["subject"] == (
        f"[P2] Security finding: {site} — Core file changed: wp-includes/version.php"
    )


def test_a_second_worker_starting_the_same_episode_finds_its_request(acme, admin):
    """Two scans that both took the finding for new (the request filed, the finding not yet linked to it) end
    with one request and one notice."""
    site = acme.sites.get()
    found = changed_core_file(site)
    first = found.ticket
    Finding.objects.filter(pk=found.pk).update(ticket=None)
    found.refresh_from_db()
    findings._new_episode(found, "P2", DETECTED)
    found.refresh_from_db()
    assert found.ticket_id == first.pk
    assert Ticket.objects.filter(site=site).count() == 1
    assert first.messages.filter(kind=Message.Kind.NOTE).count() == 1
    assert Delivery.objects.filter(key=incidents.episode(found)).count() == 1


def test_back_after_it_was_resolved_is_a_new_episode_with_its_own_request(acme, admin):
    site = acme.sites.get()
    first = changed_core_file(site)
    findings.resolve_missing(site, "integrity", [], now=DETECTED + dt.timedelta(days=1))
    back = DETECTED + dt.timedelta(days=3)
    again = changed_core_file(site, now=back)
    assert again.ticket_id != first.ticket_id
    assert again.ticket.detection_key == f"finding:{again.pk}:{back.isoformat()}"
    assert Delivery.objects.filter(key__startswith=f"finding:{again.pk}:").count() == 2


def test_a_health_finding_says_which_check_found_it(acme, admin):
    site = acme.sites.get()
    found, _ = findings.record(
        site, kind="performance", key="lighthouse:/", severity="medium", title="Performance score fell to 41",
        details={"url": "/"}, priority="P3", now=DETECTED,
    )  # fmt: skip
    assert found.ticket.subject == "Performance: Performance score fell to 41"
    assert found.ticket.steps == "Found by sitekeeper's automated performance audit."
    (notice,) = Delivery.objects.filter(key=incidents.episode(found))
    assert notice.event == "health.finding"


def test_the_incident_opened_at_detection_shares_the_episodes_request(acme, admin):
    """A finding row with no request yet (recorded without a priority, or before requests were keyed): the
    incident sitekeeper opens at detection files the episode's request; the finding's own path finds it."""
    site = acme.sites.get()
    shell = Finding.objects.create(
        site=site, kind="malware", key="wp-content/uploads/x.php", severity="critical",
        title="Malware (web shell) in wp-content/uploads/x.php", details={}, first_seen=DETECTED,
        detected_at=DETECTED, last_seen=DETECTED,
    )  # fmt: skip
    incident = incidents.open_at_detection(shell)
    ticket = incident.ticket
    assert ticket.detection_key == incidents.episode(shell)
    assert (ticket.channel, ticket.priority, ticket.requester_user) == ("monitor", "P1", None)
    assert ticket.description.endswith("Opened by sitekeeper at detection.")
    Finding.objects.filter(pk=shell.pk).update(ticket=None)
    shell.refresh_from_db()
    findings._open_ticket(shell, "P1", DETECTED, serious=True)
    assert shell.ticket == ticket
    assert incidents.open_at_detection(shell) == incident
    assert SecurityIncident.objects.count() == 1
    assert Ticket.objects.filter(site=site).count() == 1
