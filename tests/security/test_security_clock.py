"""Issue 12.13: the 24-hour client-notification clock of clause 6.3 starts when the agency becomes aware — at
the detection of a finding that indicates an incident (malware, an unannounced administrator, a changed admin
e-mail or site address), not when a person escalates it. The incident opens once per episode of the finding;
a person may dismiss it as a false positive with the reason (audited), which stops the clock, accepts the
finding and resolves its request; the client reads what happened in plain words."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from sitekeeper.access.models import AuditEntry
from sitekeeper.desk.models import Message
from sitekeeper.notify.models import Delivery
from sitekeeper.security import findings, incidents, suspicious
from sitekeeper.security.models import Finding, SecurityIncident
from sitekeeper.security.tasks import incident_clock_pass
from tests.http_clients import api, browser

pytestmark = pytest.mark.django_db

DETECTED = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)


def shell(site, now=DETECTED) -> Finding:
    found, _ = findings.record(
        site, kind="malware", key="wp-content/uploads/cache-img.php", severity="critical",
        title="Malware (web shell) in wp-content/uploads/cache-img.php",
        details={"path": "wp-content/uploads/cache-img.php", "rule": "php_webshell_eval"},
        remediation="Quarantine the file.", priority="P1", now=now,
    )  # fmt: skip
    return found


def test_malware_opens_the_security_incident_at_detection_without_a_person(acme, admin):
    found = shell(acme.sites.get())
    incident = SecurityIncident.objects.get(finding=found)
    assert (incident.detected_at, incident.opened_at, incident.automatic) == (DETECTED, DETECTED, True)
    assert incident.ticket == found.ticket
    assert incidents.deadline(incident, now=DETECTED).due == DETECTED + dt.timedelta(hours=24)
    assert incident.checklist.count() == 5
    # The escalation list hears of the incident (not just of a finding), once, with the 6.3 due time.
    (delivery,) = Delivery.objects.filter(event="security.incident")
    assert "2026-11-21 08:00 UTC" in delivery.message["text"]
    # The next nights' scans see the same file: the same episode, no second incident or message.
    shell(acme.sites.get(), now=DETECTED + dt.timedelta(days=1))
    assert SecurityIncident.objects.count() == 1
    assert Delivery.objects.filter(event="security.incident").count() == 1
    # The clock runs without anybody having looked: the escalation list is warned, then told it passed.
    assert incident_clock_pass(DETECTED + dt.timedelta(hours=21)) == [(incident.pk, "warning")]
    assert incident_clock_pass(DETECTED + dt.timedelta(hours=25)) == [(incident.pk, "breached")]
    entry = AuditEntry.objects.get(model="security.SecurityIncident", action="create")
    assert entry.actor_label == "sitekeeper:security-scan"


BEFORE = {
    "admins": {"admin": {"id": 1, "email": "a@acme.test"}},
    "options": {"admin_email": "a@acme.test", "siteurl": "https://acme.test", "home": "https://acme.test",
                "users_can_register": "0", "default_role": "subscriber"},
    "cron_hooks": [],
}  # fmt: skip
AFTER = {
    "admins": {"admin": {"id": 1, "email": "evil@x.test"}, "wpsupport": {"id": 9, "email": "s@x.test"}},
    "options": {"admin_email": "evil@x.test", "siteurl": "https://evil.test", "home": "https://evil.test",
                "users_can_register": "1", "default_role": "subscriber"},
    "cron_hooks": ["evil_tick"],
}  # fmt: skip


def _alerts(site) -> dict[str, suspicious.Alert]:
    """suspicious.compare's own alerts (so the keys are the scanner's), by their first two key parts."""
    return {":".join(a.key.split(":")[:2]): a for a in suspicious.compare(BEFORE, AFTER, site)}


@pytest.mark.parametrize(
    ("alert", "opens"),
    [
        ("admin:wpsupport", True),  # a new administrator nobody announced
        ("admin-email:admin", True),  # an administrator's e-mail changed
        ("option:admin_email", True),
        ("option:siteurl", True),
        ("option:home", True),
        ("option:users_can_register", False),  # suspicious, but not by itself an incident
        ("cron:evil_tick", False),
    ],
)
def test_which_suspicious_changes_open_an_incident_at_detection(acme, alert, opens):
    site = acme.sites.get()
    found = _alerts(site)[alert]
    finding, _ = findings.record(
        site, kind="suspicious", key=found.key, severity=found.severity, title=found.title,
        details=found.details, remediation=found.remediation, priority=found.priority, now=DETECTED,
    )  # fmt: skip
    incident = incidents.current(finding)
    assert (incident is not None) == opens
    if opens:
        assert incident.detected_at == DETECTED
        assert incident.ticket.priority == found.priority  # a suspicion keeps the scan's priority (2.1)


def test_integrity_and_vulnerability_findings_wait_for_a_person(acme):
    site = acme.sites.get()
    for kind in ("integrity", "vulnerability"):
        findings.record(site, kind=kind, key=f"{kind}:x", severity="high", title=f"{kind} x", details={},
                        priority="P2", now=DETECTED)  # fmt: skip
    assert not SecurityIncident.objects.exists()


def test_a_finding_that_comes_back_is_a_new_episode_with_its_own_incident(acme, engineer, admin):
    site = acme.sites.get()
    first = incidents.current(shell(site))
    findings.resolve_missing(site, "malware", [], now=DETECTED + dt.timedelta(days=1))
    back = DETECTED + dt.timedelta(days=3)
    again = shell(site, now=back)
    second = incidents.current(again)
    assert second != first
    assert second.detected_at == back
    assert SecurityIncident.objects.filter(finding=again).count() == 2
    assert Delivery.objects.filter(event="security.incident").count() == 2
    # A person escalating it confirms the incident of this episode: no third one, the request goes to P1.
    assert incidents.escalate(again, engineer) == second
    second.ticket.refresh_from_db()
    assert second.ticket.priority == "P1"


def test_dismissal_as_a_false_positive_stops_the_clock_and_is_audited(acme, engineer, owner):
    found = shell(acme.sites.get())
    incident = incidents.current(found)
    with pytest.raises(incidents.IncidentError, match="say why"):
        incidents.dismiss(incident, engineer, "  ")
    with pytest.raises(incidents.IncidentError, match="only agency staff"):
        incidents.dismiss(incident, owner, "mine")
    at = DETECTED + dt.timedelta(hours=3)
    reason = "The file is the image cache of the client's gallery plugin (vendor confirmed)."
    incidents.dismiss(incident, engineer, reason, at=at)
    incident.refresh_from_db()
    assert (incident.dismissed_at, incident.dismissed_by, incident.dismissal_reason) == (at, engineer, reason)
    clock = incidents.deadline(incident, now=DETECTED + dt.timedelta(hours=30))
    assert (clock.state, clock.label) == ("dismissed", "stopped: dismissed as a false positive")
    assert incident_clock_pass(DETECTED + dt.timedelta(hours=21)) == []
    assert incident_clock_pass(DETECTED + dt.timedelta(hours=25)) == []
    found.refresh_from_db()
    assert (found.status, found.decided_by) == ("accepted", engineer)
    ticket = incident.ticket
    ticket.refresh_from_db()
    assert ticket.state == "resolved"
    reply = Message.objects.get(ticket=ticket, kind="reply")
    assert reason in reply.body
    assert "not a security incident" in reply.body
    entry = AuditEntry.objects.filter(model="security.SecurityIncident", action="update").latest("pk")
    assert entry.actor == engineer
    assert entry.after["dismissal_reason"] == reason
    assert "## Dismissed as a false positive" in incidents.report_markdown(incident)
    with pytest.raises(incidents.IncidentError, match="already dismissed"):
        incidents.dismiss(incident, engineer, "again")


@time_machine.travel(DETECTED + dt.timedelta(hours=2), tick=False)
def test_staff_page_dismisses_and_the_portal_says_what_happened_in_plain_words(acme, engineer, owner):
    found = shell(acme.sites.get())
    incident = incidents.current(found)
    staff = browser(engineer)
    page = staff.get(f"/staff/security/incidents/{incident.pk}/").content.decode()
    assert "opened by sitekeeper at detection" in page
    assert f"/staff/security/incidents/{incident.pk}/dismiss/" in page
    # Accepting the finding would hide a running incident: the page sends the person to the dismissal.
    response = staff.post(f"/staff/security/findings/{found.pk}/accept/")
    assert response["Location"] == f"/staff/security/incidents/{incident.pk}/"
    found.refresh_from_db()
    assert found.status == "open"

    portal = browser(owner)
    before = portal.get(f"/portal/security/site/{found.site_id}/").content.decode()
    assert "possible security incident" in before
    assert "looks like malware" in before
    assert "will inform you by 21 Nov 2026 09:00 CET" in before  # by when the client will be told (6.3)
    assert "php_webshell_eval" not in before

    staff.post(f"/staff/security/incidents/{incident.pk}/dismiss/", {"reason": ""})
    incident.refresh_from_db()
    assert incident.dismissed_at is None  # a reason is required
    staff.post(
        f"/staff/security/incidents/{incident.pk}/dismiss/", {"reason": "A plugin's image cache file."}
    )
    incident.refresh_from_db()
    assert incident.dismissed_by == engineer
    page = staff.get(f"/staff/security/incidents/{incident.pk}/").content.decode()
    assert "stopped: dismissed as a false positive" in page
    after = portal.get(f"/portal/security/site/{found.site_id}/").content.decode()
    assert "checked: not a security incident" in after
    assert "A plugin&#x27;s image cache file." in after


@time_machine.travel(DETECTED + dt.timedelta(hours=2), tick=False)
def test_api_dismisses_and_refuses_to_accept_a_finding_with_a_running_incident(acme, engineer, owner):
    found = shell(acme.sites.get())
    incident = incidents.current(found)
    staff = api(engineer)
    assert staff.post(f"/api/v1/security/findings/{found.pk}/accept").status_code == 409
    body = staff.get(f"/api/v1/security/incidents/{incident.pk}").json()
    assert (body["automatic"], body["notification_state"]) == (True, "running")
    assert body["notify_client_by"].startswith("2026-11-21T08:00")
    url = f"/api/v1/security/incidents/{incident.pk}/dismiss"
    assert api(owner).post(url, {"reason": "x"}, content_type="application/json").status_code == 403
    assert staff.post(url, {"reason": " "}, content_type="application/json").status_code == 422
    done = staff.post(url, {"reason": "Known file of the gallery plugin."}, content_type="application/json")
    assert done.status_code == 200
    assert done.json()["notification_state"] == "dismissed"
    assert done.json()["dismissal_reason"] == "Known file of the gallery plugin."
    assert staff.post(url, {"reason": "again"}, content_type="application/json").status_code == 409
    assert AuditEntry.objects.filter(
        model="security.SecurityIncident", actor=engineer, action="update"
    ).exists()
