"""The alert promise (1.2): interval × confirmations + timeout must fit the contract's alert minutes."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from sitekeeper.monitoring.alerting import alert_problem, contract_alert_problems
from sitekeeper.monitoring.models import Monitor


def test_the_default_monitor_fits_five_minutes():
    # 60 s × 2 + 10 s = 130 s ≤ 300 s
    assert alert_problem(60, 2, 10, 5) is None


def test_exactly_the_limit_fits_one_second_more_does_not():
    assert alert_problem(145, 2, 10, 5) is None  # 290 + 10 = 300 s
    problem = alert_problem(145, 2, 11, 5, label="monitor “Home”")
    assert problem is not None
    assert "monitor “Home”" in problem
    assert "5 min (300 s)" in problem
    assert "145 s interval × 2 confirmations + 11 s timeout = 301 s" in problem


def test_contract_alert_problems_names_only_prod_monitors_that_miss(acme):
    site = acme.sites.get()
    Monitor.objects.create(site=site, url=site.url, name="Home page")  # 130 s: fine
    Monitor.objects.create(site=site, url=site.url, name="Slow", interval_seconds=300)  # 610 s
    stage = "https://stage.acme.test"
    Monitor.objects.create(site=site, url=stage, environment="stage", interval_seconds=600)
    Monitor.objects.create(site=site, url=site.url, name="Off", interval_seconds=900, enabled=False)
    problems = contract_alert_problems(acme.contract)
    assert len(problems) == 1
    assert "“Slow”" in problems[0]
    assert "= 610 s" in problems[0]
    # A shorter alert time proposed by `apply` is checked before it is saved: now both prod monitors miss.
    assert len(contract_alert_problems(acme.contract, alert_minutes=2)) == 2


# Refused where a monitor is configured: the model's clean() (the admin's form runs it) ---------------------


def test_monitor_clean_refuses_a_configuration_that_cannot_alert_in_time(acme):
    from django.core.exceptions import ValidationError

    site = acme.sites.get()
    slow = Monitor(site=site, url=site.url, interval_seconds=300)
    with pytest.raises(ValidationError, match=r"300 s interval × 2 confirmations \+ 10 s timeout = 610 s"):
        slow.full_clean()
    Monitor(site=site, url=site.url).full_clean()  # the defaults fit 5 minutes
    Monitor(site=site, url=site.url, environment="stage", interval_seconds=300).full_clean()  # not promised


def test_the_admin_refuses_it_with_the_numbers(acme, admin):
    from django.test import Client as HttpClient

    site = acme.sites.get()
    http = HttpClient()
    http.force_login(admin)
    form = {
        "site": site.pk,
        "environment": "prod",
        "kind": "http",
        "url": site.url,
        "method": "GET",
        "expected_status": "[]",
        "headers": "{}",
        "cert_warn_days": "[]",
        "interval_seconds": "300",
        "timeout_seconds": "10",
        "confirmations": "2",
        "quorum": "1",
        "enabled": "on",
        "follow_redirects": "on",
    }
    response = http.post("/admin/monitoring/monitor/add/", form)
    assert response.status_code == 200  # the form again, with the error
    assert "= 610 s" in response.content.decode()
    assert not Monitor.objects.exists()
    form["interval_seconds"] = "60"
    assert http.post("/admin/monitoring/monitor/add/", form).status_code == 302
    assert Monitor.objects.get().interval_seconds == 60


# Each outage's alert latency; a missed promise on the staff page and in the SLA report -----------------


@pytest.fixture
def late_outage(acme):
    from tests.monitoring.conftest import outage, utc, watch

    site = acme.sites.get()
    monitor = Monitor.objects.create(site=site, url=site.url, name="Home page", created_at=utc(2025, 1, 1))
    watch(utc(2026, 3, 1), utc(2026, 4, 10, 12))
    on_time = outage(monitor, utc(2026, 4, 2, 10), utc(2026, 4, 2, 11), alerted_at=utc(2026, 4, 2, 10, 3))
    late = outage(monitor, utc(2026, 4, 6, 10), utc(2026, 4, 6, 11), alerted_at=utc(2026, 4, 6, 10, 12))
    return on_time, late


def test_alert_latency_and_the_missed_promise(late_outage):
    on_time, late = late_outage
    assert on_time.alert_latency == dt.timedelta(minutes=3)
    assert late.alert_latency == dt.timedelta(minutes=12)
    assert not on_time.missed_alert(5, late.end)
    assert late.missed_alert(5, late.end)


@time_machine.travel(dt.datetime(2026, 4, 10, 12, tzinfo=dt.UTC), tick=False)
def test_a_missed_alert_is_shown_to_staff_and_in_the_sla_report(acme, late_outage, engineer, owner):
    from django.test import Client as HttpClient

    from sitekeeper.desk.sla_report import sla_report

    _on_time, late = late_outage
    staff = HttpClient()
    staff.force_login(engineer)
    overview = staff.get("/staff/monitoring/").content.decode()
    assert overview.count('data-flag="alert-missed"') == 1
    assert "12.0 min" in overview
    page = staff.get(f"/staff/monitoring/sites/{late.site_id}/?month=2026-04").content.decode()
    assert page.count('data-flag="alert-missed"') == 1
    portal = HttpClient()
    portal.force_login(owner)
    assert (
        "alert-missed"
        not in portal.get(f"/portal/sites/{late.site_id}/uptime/?month=2026-04").content.decode()
    )
    report = sla_report(acme, 2026, 4)
    [missed] = report.missed_alerts
    assert (missed.start, missed.latency_minutes) == (late.start, "12.0")
    assert report.as_dict()["missed_alerts"][0]["latency"] == {"seconds": 720, "hours": "0.20"}
    text = portal.get("/portal/requests/sla/2026-04/").content.decode()
    assert 'data-flag="alert-missed"' in text
    assert "12.0 min after the first failed check" in text
