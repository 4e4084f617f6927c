"""Uptime pages and the API: staff tag an outage (audited, shown to the client), figures per month."""

from __future__ import annotations

import datetime as dt

import time_machine
from django.test import Client as HttpClient

from sitekeeper.access.models import ApiToken, AuditEntry
from sitekeeper.monitoring.models import Outage
from tests.monitoring.conftest import outage, utc, watch

NOW = utc(2026, 4, 10, 12)


def login(user) -> HttpClient:
    http = HttpClient()
    http.force_login(user)
    return http


@time_machine.travel(NOW, tick=False)
def test_staff_tag_an_outage_audited_and_shown_to_the_client(monitor, site, engineer, owner):
    watch(utc(2026, 3, 1), NOW)
    down = outage(monitor, utc(2026, 4, 2, 10), utc(2026, 4, 2, 12))
    response = login(engineer).post(
        f"/staff/monitoring/outages/{down.pk}/tag/",
        {"exclusion": "third_party_platform", "reason": "Shopify checkout incident #4521"},
    )
    assert response.status_code == 302
    down.refresh_from_db()
    assert (down.exclusion, down.tagged_by) == ("third_party_platform", engineer)
    entry = AuditEntry.objects.filter(model="monitoring.Outage", object_pk=str(down.pk)).latest("at")
    assert entry.actor == engineer
    assert entry.after["exclusion"] == "third_party_platform"

    page = login(owner).get(f"/portal/sites/{site.pk}/uptime/?month=2026-04")
    text = page.content.decode()
    assert page.status_code == 200
    assert "Third-party platform outage" in text
    assert "Shopify checkout incident #4521" in text
    assert "staff_tag_outage" not in text
    assert "/tag/" not in text


@time_machine.travel(NOW, tick=False)
def test_a_tag_needs_a_reason(monitor, engineer):
    down = outage(monitor, utc(2026, 4, 2, 10), utc(2026, 4, 2, 12))
    login(engineer).post(f"/staff/monitoring/outages/{down.pk}/tag/", {"exclusion": "ddos", "reason": " "})
    assert Outage.objects.get(pk=down.pk).exclusion == ""


@time_machine.travel(NOW, tick=False)
def test_staff_announce_maintenance_from_the_page(site, engineer, owner):
    response = login(engineer).post(
        f"/staff/monitoring/sites/{site.pk}/announce/",
        {
            "kind": "scheduled",
            "start": "2026-04-14T22:00",
            "end": "2026-04-15T01:00",
            "max_minutes": "90",
            "note": "PHP 8.3 upgrade",
        },
    )
    assert response.status_code == 302
    item = site.client.contract.announcements.get()
    assert item.start == utc(2026, 4, 14, 20)  # 22:00 Berlin (CEST)
    assert item.created_by == engineer
    page = login(owner).get(f"/portal/sites/{site.pk}/uptime/").content.decode()
    assert "PHP 8.3 upgrade" in page


@time_machine.travel(NOW, tick=False)
def test_api_uptime_per_month(monitor, site, owner, outsider):
    watch(utc(2026, 3, 1), NOW)
    outage(monitor, utc(2026, 3, 12, 10), utc(2026, 3, 12, 10, 45))
    _, key = ApiToken.issue(owner, "script")
    http = HttpClient(headers={"authorization": f"Bearer {key}"})
    data = http.get(f"/api/v1/sites/{site.pk}/uptime?month=2026-03").json()
    assert data["month_minutes"] == "44580"
    assert data["counted_minutes"] == "45"
    assert data["uptime"] == "99.8991"  # 100 × (1 − 45/44580) = 99.899058…
    assert data["credit"]["credit_amount"] == "180.00"
    assert data["complete"] is True
    assert http.get(f"/api/v1/sites/{site.pk}/uptime?month=2026-13").status_code == 422
    _, other = ApiToken.issue(outsider, "script")
    outsider_http = HttpClient(headers={"authorization": f"Bearer {other}"})
    assert outsider_http.get(f"/api/v1/sites/{site.pk}/uptime").status_code == 404


@time_machine.travel(NOW, tick=False)
def test_staff_pages_render(monitor, site, engineer):
    watch(utc(2026, 3, 1), NOW)
    outage(monitor, utc(2026, 4, 9, 10), None)
    http = login(engineer)
    overview = http.get("/staff/monitoring/").content.decode()
    assert "Acme GmbH website" in overview
    assert "HTTP 503" in overview
    page = http.get(f"/staff/monitoring/sites/{site.pk}/").content.decode()
    assert page.count('data-state="') == 90
    assert "ongoing" in page
    assert "Announce maintenance" in page
    assert dt.date(2026, 4, 9).strftime("%Y-%m-%d") in page


@time_machine.travel(NOW, tick=False)
def test_times_on_monitoring_pages_are_in_the_contracts_zone_and_name_it(monitor, site, owner, acme):
    """Issue 12 item 15: announced maintenance was labelled Europe/Berlin but shown in UTC."""
    from sitekeeper.monitoring.models import MaintenanceAnnouncement, StatusPage

    watch(utc(2026, 3, 1), NOW)
    MaintenanceAnnouncement.objects.create(
        contract=acme.contract,
        start=utc(2026, 4, 14, 20),
        end=utc(2026, 4, 14, 22),
        max_minutes=60,
        announced_at=utc(2026, 4, 10),
    )
    outage(monitor, utc(2026, 4, 2, 10), utc(2026, 4, 2, 11))
    text = login(owner).get(f"/portal/sites/{site.pk}/uptime/").content.decode()
    assert "14 Apr 2026 22:00 CEST – 15 Apr 2026 00:00 CEST" in text  # 20:00 UTC, shown in Berlin time
    assert "2 Apr 2026 12:00 CEST" in text  # the outage, too
    StatusPage.objects.create(client=acme, slug="acme", enabled=True)
    status = HttpClient().get("/status/acme/").content.decode()
    assert "14 Apr 2026 22:00 CEST" in status
    assert "times in Europe/Berlin" in status


@time_machine.travel(NOW, tick=False)
def test_staff_log_maintenance_performed_in_a_window_occurrence(monitor, site, engineer, owner):
    """Issue 12 item 4: maintenance a person did in a weekly occurrence, logged from the staff page (audited):
    downtime in it is then excluded up to the window's maximum (30 min), and the page says why."""
    from sitekeeper.monitoring.models import MaintenanceLog
    from sitekeeper.monitoring.uptime import month_figures

    watch(utc(2026, 3, 1), NOW)
    outage(monitor, utc(2026, 4, 7, 21, 10), utc(2026, 4, 7, 21, 50))  # Tue 7 Apr 23:10–23:50 CEST
    assert month_figures(site, 2026, 4).counted == dt.timedelta(minutes=40)
    staff = login(engineer)
    page = staff.get(f"/staff/monitoring/sites/{site.pk}/").content.decode()
    assert "Tue 07 Apr 2026 23:00–02:00 CEST" in page
    assert "no maintenance was recorded in this occurrence, so downtime in it counts" in page
    assert login(owner).post(f"/staff/monitoring/sites/{site.pk}/", {}).status_code == 403
    response = staff.post(
        f"/staff/monitoring/sites/{site.pk}/",
        {"occurrence": "2026-04-07T21:00:00+00:00", "note": "Database server restarted for a kernel update"},
    )
    assert response.status_code == 302
    log = MaintenanceLog.objects.get()
    assert (log.start, log.end, log.logged_by) == (utc(2026, 4, 7, 21), utc(2026, 4, 8), engineer)
    entry = AuditEntry.objects.get(model="monitoring.MaintenanceLog", object_pk=str(log.pk))
    assert entry.actor == engineer
    figures = month_figures(site, 2026, 4)
    assert (figures.excluded, figures.counted) == (dt.timedelta(minutes=30), dt.timedelta(minutes=10))
    text = login(owner).get(f"/portal/sites/{site.pk}/uptime/").content.decode()
    assert "40 min down, <b>30 min excluded</b>" in text
    assert "Database server restarted for a kernel update" in text
    # Logged once: the occurrence is no longer offered, and a second post for it is refused.
    again = {"occurrence": "2026-04-07T21:00:00+00:00", "note": "x"}
    assert again["occurrence"] not in staff.get(f"/staff/monitoring/sites/{site.pk}/").content.decode()
    staff.post(f"/staff/monitoring/sites/{site.pk}/", again)
    assert MaintenanceLog.objects.count() == 1


@time_machine.travel(NOW, tick=False)
def test_api_adds_coverage_and_keeps_its_keys(monitor, site, owner):
    watch(utc(2026, 3, 1), NOW)  # from 1 March 00:00 UTC: the first hour of March in Berlin is unwatched
    _, key = ApiToken.issue(owner, "script")
    http = HttpClient(headers={"authorization": f"Bearer {key}"})
    data = http.get(f"/api/v1/sites/{site.pk}/uptime?month=2026-03").json()
    assert data["uptime"] == "100"
    assert data["coverage"] == "99.8654"  # 742 of 743 h
    assert data["monitoring_gap"] is False
    assert data["unknown_minutes"] == "60"
