"""Security pages and API: the staff site page (details, diff as preformatted text, actions), escalation to
an incident and its page (checklist, clock, report), the portal (no details, only published reports), the
API (client tokens without details, staff accept), and another client's people getting 404 everywhere."""

from __future__ import annotations

import datetime as dt

import pytest

from sitekeeper.access.models import AuditEntry
from sitekeeper.contracts.presenters import local_time, zone_of
from sitekeeper.security import findings, incidents, presenters
from sitekeeper.security.models import Finding, SecurityIncident
from tests.http_clients import api, browser

pytestmark = pytest.mark.django_db

DIFF = (
    "--- a/wp-includes/version.php\n+++ b/wp-includes/version.php\n-$wp_version = '6.1.9';\n+eval($_POST[x]);"
)


@pytest.fixture
def found(acme) -> Finding:
    finding, _ = findings.record(
        acme.sites.get(), kind="integrity", key="wp-includes/version.php", severity="high",
        title="Core file changed: wp-includes/version.php", details={"change": "changed", "diff": DIFF},
        remediation="Restore the file from WordPress 6.1.9.", priority="P2",
    )  # fmt: skip
    return finding


def test_staff_pages_show_details_and_actions(found, engineer):
    http = browser(engineer)
    overview = http.get("/staff/security/").content.decode()
    assert "1 open finding" in overview
    page = http.get(f"/staff/security/site/{found.site_id}/").content.decode()
    assert '<pre class="diff">' in page
    assert "eval($_POST[x]);" in page  # escaped by the template, shown as text
    assert "Restore the file from WordPress 6.1.9." in page
    assert found.ticket.reference in page
    assert f"/staff/security/findings/{found.pk}/escalate/" in page
    assert f"/staff/security/findings/{found.pk}/accept/" in page


def test_accept_is_a_persons_audited_decision(found, engineer):
    response = browser(engineer).post(f"/staff/security/findings/{found.pk}/accept/")
    assert response.status_code == 302
    found.refresh_from_db()
    assert (found.status, found.decided_by) == ("accepted", engineer)
    assert AuditEntry.objects.filter(model="security.Finding", actor=engineer, action="update").exists()


def test_escalate_checklist_notify_report_through_the_pages(found, engineer, owner, outsider):
    http = browser(engineer)
    response = http.post(f"/staff/security/findings/{found.pk}/escalate/")
    incident = SecurityIncident.objects.get(finding=found)
    assert response["Location"] == f"/staff/security/incidents/{incident.pk}/"
    page = http.get(response["Location"]).content.decode()
    assert "Client notification (clause 6.3): due" in page
    assert "Change passwords" in page
    due = incidents.deadline(incident).due
    assert local_time(due, zone_of(found.site.client.contract)) in page  # in the contract's zone, named
    http.post(
        f"/staff/security/incidents/{incident.pk}/checklist/", {"key": "passwords", "note": "all rotated"}
    )
    http.post(f"/staff/security/incidents/{incident.pk}/notified/")
    incident.refresh_from_db()
    assert incident.checklist.get(key="passwords").done_by == engineer
    assert incident.client_notified_by == engineer
    # A draft is not the client's: the portal and a client token see nothing yet.
    portal = browser(owner)
    assert portal.get(f"/portal/security/incidents/{incident.pk}/").status_code == 404
    assert api(owner).get(f"/api/v1/security/incidents/{incident.pk}").status_code == 404
    report = {"what_happened": "version.php was modified to run posted code.", "actions_taken": "Restored.",
              "prevention": "File permissions tightened.", "data_affected": "", "started_at": ""}  # fmt: skip
    http.post(f"/staff/security/incidents/{incident.pk}/report/", {**report, "publish": "1"})
    incident.refresh_from_db()
    assert incident.published
    shown = portal.get(f"/portal/security/incidents/{incident.pk}/").content.decode()
    assert "version.php was modified to run posted code." in shown
    assert "Change passwords" in shown  # the measure that was done, with its time
    markdown = portal.get(f"/portal/security/incidents/{incident.pk}/report.md")
    assert markdown["Content-Type"].startswith("text/markdown")
    assert b"## What prevents a recurrence" in markdown.content
    body = api(owner).get(f"/api/v1/security/incidents/{incident.pk}").json()
    assert body["notify_client_by"].startswith(f"{found.first_seen + dt.timedelta(hours=24):%Y-%m-%dT%H:%M}")
    assert body["notification_state"] == "met"
    # Another client's people: 404 on every page and endpoint.
    other = browser(outsider)
    for url in (f"/portal/security/site/{found.site_id}/", f"/portal/security/incidents/{incident.pk}/",
                f"/portal/security/incidents/{incident.pk}/report.md"):  # fmt: skip
        assert other.get(url).status_code == 404, url
    other_api = api(outsider)
    assert other_api.get(f"/api/v1/security/incidents/{incident.pk}").status_code == 404
    assert other_api.get(f"/api/v1/security/sites/{found.site_id}/findings").status_code == 404
    assert other_api.post(f"/api/v1/security/findings/{found.pk}/accept").status_code == 404


def test_portal_shows_no_internal_details(found, owner):
    page = browser(owner).get(f"/portal/security/site/{found.site_id}/").content.decode()
    assert "Core file changed: wp-includes/version.php" in page
    # The staff remediation is ours; the client reads what we do in their words.
    assert "Restore the file from WordPress 6.1.9." not in page
    assert presenters.CLIENT_ACTION["integrity"] in page
    assert "eval(" not in page
    assert "/escalate/" not in page
    assert "/staff/" not in page


def test_api_findings_and_accept(found, owner, engineer):
    rows = api(owner).get(f"/api/v1/security/sites/{found.site_id}/findings?status=open").json()
    assert [(r["key"], r["details"], r["ticket"]) for r in rows] == [
        ("wp-includes/version.php", None, found.ticket.reference)]  # fmt: skip
    staff = api(engineer)
    (row,) = staff.get(f"/api/v1/security/sites/{found.site_id}/findings?kind=integrity").json()
    assert row["details"]["diff"] == DIFF
    assert staff.get(f"/api/v1/security/sites/{found.site_id}/findings?kind=virus").status_code == 422
    assert staff.get(f"/api/v1/security/sites/{found.site_id}/findings?kind=malware").json() == []
    assert api(owner).post(f"/api/v1/security/findings/{found.pk}/accept").status_code == 403
    accepted = staff.post(f"/api/v1/security/findings/{found.pk}/accept")
    assert accepted.json()["status"] == "accepted"
    assert AuditEntry.objects.filter(model="security.Finding", actor=engineer).exists()


def test_inventory_table_shows_versions_and_known_issues(acme, engineer, owner):
    from sitekeeper.security.models import Component, ComponentVersion

    site, now = acme.sites.get(), dt.datetime.now(dt.UTC)
    plugin = Component.objects.create(
        site=site, ecosystem="wordpress-plugin", slug="akismet", name="Akismet Anti-spam", version="5.0.2",
        active=True, path="wp-content/plugins/akismet/akismet.php", first_seen=now, last_seen=now,
    )  # fmt: skip
    ComponentVersion.objects.create(component=plugin, version="5.0.1", seen_at=now - dt.timedelta(days=9))
    ComponentVersion.objects.create(component=plugin, version="5.0.2", seen_at=now)
    findings.record(site, kind="vulnerability", key="WF-123:wordpress-plugin:akismet", severity="high",
                    title="Akismet 5.0.2: stored XSS", details={"advisory": "WF-123"},
                    remediation="Update to 5.0.3 or later.", priority="P2")  # fmt: skip
    page = browser(engineer).get(f"/staff/security/site/{site.pk}/").content.decode()
    inventory = page[page.index('id="inventory"') :]
    for part in ("Akismet Anti-spam", "5.0.2", "before: 5.0.1", "WF-123", "Update to 5.0.3 or later.",
                 "wp-content/plugins/akismet/akismet.php"):  # fmt: skip
        assert part in inventory, part
    portal = browser(owner).get(f"/portal/security/site/{site.pk}/").content.decode()
    assert "WF-123" in portal
    assert "wp-content/plugins/akismet/akismet.php" not in portal
