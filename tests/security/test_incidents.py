"""Security incidents: escalation (ticket to P1, checklist, the 6.3 clock from detection), the checklist
ticked by people (audited), client notification, and the post-incident report published as Markdown."""

from __future__ import annotations

import datetime as dt

import pytest

from sitekeeper.access.models import AuditEntry
from sitekeeper.notify.models import Delivery
from sitekeeper.security import findings, incidents
from sitekeeper.security.models import ChecklistItem, SecurityIncident
from sitekeeper.security.tasks import incident_clock_pass

pytestmark = pytest.mark.django_db

DETECTED = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def finding(acme):
    """A finding that does not by itself indicate an incident (a changed core file), so the incident is a
    person's escalation; malware and admin changes open theirs at detection (test_security_clock.py)."""
    found, new = findings.record(
        acme.sites.get(),
        kind="integrity",
        key="wp-includes/version.php",
        severity="high",
        title="Core file changed: wp-includes/version.php",
        details={"path": "wp-includes/version.php", "change": "changed"},
        remediation="Restore the file, rotate passwords.",
        priority="P2",
        now=DETECTED,
    )
    assert new
    assert found.ticket.priority == "P2"
    assert not SecurityIncident.objects.exists()
    return found


def test_escalate_raises_the_ticket_to_p1_and_starts_the_procedure(finding, engineer):
    at = DETECTED + dt.timedelta(hours=2)
    incident = incidents.escalate(finding, engineer, at=at)
    incident.ticket.refresh_from_db()
    assert incident.ticket == finding.ticket
    assert incident.ticket.priority == "P1"
    assert [i.key for i in incident.checklist.all()] == [
        "passwords",
        "tokens",
        "access",
        "maintenance",
        "logs",
    ]
    assert all(item.done_at is None for item in incident.checklist.all())
    # The 6.3 clock runs from detection (the finding's first sighting), not from the escalation.
    assert incident.detected_at == DETECTED
    clock = incidents.deadline(incident, now=at)
    assert clock.due == DETECTED + dt.timedelta(hours=24)
    assert clock.state == "running"
    assert clock.remaining_label == "22 h 00 min"
    # Escalating again returns the same incident.
    assert incidents.escalate(finding, engineer) == incident
    assert SecurityIncident.objects.count() == 1
    entry = AuditEntry.objects.get(model="security.SecurityIncident", action="create")
    assert entry.actor == engineer
    assert entry.client_id == finding.site.client_id


def test_a_finding_without_ticket_gets_a_p1_ticket(acme, engineer):
    quiet, _ = findings.record(acme.sites.get(), kind="integrity", key="index.php", severity="medium",
                               title="index.php changed", details={}, now=DETECTED)  # fmt: skip
    assert quiet.ticket is None
    incident = incidents.escalate(quiet, engineer, at=DETECTED)
    assert incident.ticket.priority == "P1"
    assert incident.ticket.type == "incident"
    quiet.refresh_from_db()
    assert quiet.ticket == incident.ticket


def test_deadline_warning_breach_and_notification(finding, engineer):
    incident = incidents.escalate(finding, engineer, at=DETECTED)
    assert incidents.deadline(incident, now=DETECTED + dt.timedelta(hours=21)).state == "warning"
    breached = incidents.deadline(incident, now=DETECTED + dt.timedelta(hours=25))
    assert breached.state == "breached"
    assert breached.remaining < dt.timedelta(0)
    with pytest.raises(incidents.IncidentError, match="before detection"):
        incidents.mark_client_notified(incident, engineer, DETECTED - dt.timedelta(minutes=1))
    incidents.mark_client_notified(incident, engineer, DETECTED + dt.timedelta(hours=26))
    assert incidents.deadline(incident).state == "late"
    incidents.mark_client_notified(incident, engineer, DETECTED + dt.timedelta(hours=3))
    incident.refresh_from_db()
    assert incident.client_notified_by == engineer
    assert incidents.deadline(incident, now=DETECTED + dt.timedelta(days=3)).state == "met"


def test_checklist_items_are_ticked_by_a_person_and_audited(finding, engineer):
    incident = incidents.escalate(finding, engineer, at=DETECTED)
    done_at = DETECTED + dt.timedelta(hours=1)
    item = incidents.tick(incident, "passwords", engineer, note="SSH, DB and 3 WP admins", at=done_at)
    assert (item.done_by, item.done_at, item.note) == (engineer, done_at, "SSH, DB and 3 WP admins")
    entry = AuditEntry.objects.filter(model="security.ChecklistItem", action="update").get()
    assert entry.actor == engineer
    assert entry.after["done_by_id"] == engineer.pk
    with pytest.raises(incidents.IncidentError, match="no checklist item 'coffee'"):
        incidents.tick(incident, "coffee", engineer)
    assert ChecklistItem.objects.filter(incident=incident, done_at__isnull=False).count() == 1


def test_client_people_cannot_handle_incidents(finding, owner, engineer):
    with pytest.raises(incidents.IncidentError, match="only agency staff"):
        incidents.escalate(finding, owner)
    incident = incidents.escalate(finding, engineer)
    with pytest.raises(incidents.IncidentError):
        incidents.publish_report(incident, owner)


def test_report_is_published_only_when_complete_and_renders_markdown(finding, engineer):
    incident = incidents.escalate(finding, engineer, at=DETECTED)
    with pytest.raises(incidents.IncidentError, match="missing what_happened, actions_taken, prevention"):
        incidents.publish_report(incident, engineer)
    with pytest.raises(incidents.IncidentError, match="unknown report fields: ticket"):
        incidents.save_report(incident, engineer, ticket=None)
    incidents.tick(incident, "logs", engineer, at=DETECTED + dt.timedelta(hours=1))
    incidents.save_report(
        incident,
        engineer,
        what_happened="A web shell was uploaded through an outdated form plugin.",
        started_at=DETECTED - dt.timedelta(days=1),
        actions_taken="Shell quarantined, plugin updated, passwords rotated.",
        data_affected="Contact form entries of the last 24 hours.",
        prevention="Automatic plugin updates; uploads folder no longer executes PHP.",
    )
    incidents.publish_report(incident, engineer, at=DETECTED + dt.timedelta(hours=5))
    assert incident.published
    text = incidents.report_markdown(incident)
    assert text.startswith("# Security incident report — ")
    for part in ("## What happened", "outdated form plugin", "## Which data could be affected",
                 "Contact form entries", "## What prevents a recurrence", "Detected: 20 Nov 2026 09:00 CET",
                 "Incident began: 19 Nov 2026 09:00 CET", "due 21 Nov 2026 09:00 CET",
                 "Secure the logs"):  # fmt: skip
        assert part in text
    assert AuditEntry.objects.filter(model="security.SecurityIncident", actor=engineer).count() >= 3


def test_the_escalation_list_hears_of_the_deadline_once_when_near_and_once_when_passed(
    finding, engineer, admin
):

    incident = incidents.escalate(finding, engineer, at=DETECTED)
    assert incident_clock_pass(DETECTED + dt.timedelta(hours=1)) == []
    near = DETECTED + dt.timedelta(hours=21)
    assert incident_clock_pass(near) == [(incident.pk, "warning")]
    incident_clock_pass(near + dt.timedelta(minutes=5))
    assert Delivery.objects.filter(key=f"incident:{incident.pk}:warning").count() == 1
    assert incident_clock_pass(DETECTED + dt.timedelta(hours=25)) == [(incident.pk, "breached")]
    incidents.mark_client_notified(incident, engineer, at=DETECTED + dt.timedelta(hours=26))
    assert incident_clock_pass(DETECTED + dt.timedelta(hours=27)) == []
