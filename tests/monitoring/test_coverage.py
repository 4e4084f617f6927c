"""Issue 12 item 1: unmeasured is not perfect. A site is watched only while a probe runs AND it has an enabled
production monitor; a month nobody watched is "not measured" — no uptime figure, no credit, never 100 %, never
a green day — and coverage (the watched share of the month) is shown with every uptime figure.

acme: Business plan (SLA 99.9 %), Berlin. March 2026 is 743 h long (DST on 29 March).
"""

from __future__ import annotations

import datetime as dt
import importlib
from fractions import Fraction

import time_machine
from django.apps import apps
from django.test import Client as HttpClient

from sitekeeper.access.models import ApiToken
from sitekeeper.contracts.models import Contract
from sitekeeper.monitoring.models import CheckResult, Monitor, Outage, Rollup
from sitekeeper.monitoring.uptime import daily_bar, month_figures, span_figures, span_uptime
from tests.monitoring.conftest import SINCE, outage, utc, watch

MARCH = (utc(2026, 2, 28, 23), utc(2026, 3, 31, 22))
AFTER_MARCH = utc(2026, 4, 15)
MIGRATION = "0003_monitor_created_held_maintenance_log"


def test_a_site_without_a_monitor_is_not_measured(site):
    watch(*MARCH)  # the probes ran all month, but nothing of this site was being checked
    figures = month_figures(site, 2026, 3, now=AFTER_MARCH)
    assert figures.uptime is None
    assert not figures.measured
    assert figures.coverage == 0
    assert figures.monitoring_gap
    assert figures.credit is None  # no credit on an unmeasured month
    assert figures.unknown == dt.timedelta(hours=743)
    data = figures.as_json()
    assert (data["uptime"], data["uptime_exact"], data["coverage"]) == (None, None, "0")
    assert data["measured"] is False
    assert data["monitoring_gap"] is True
    assert span_uptime(site, now=AFTER_MARCH) is None
    assert {day.state for day in daily_bar(site, days=40, now=AFTER_MARCH)} == {"unknown"}  # never "up"


def test_a_disabled_or_stage_monitor_watches_nothing(site):
    Monitor.objects.create(site=site, url=site.url, enabled=False, created_at=SINCE)
    Monitor.objects.create(site=site, url="https://stage.acme.test", environment="stage", created_at=SINCE)
    watch(*MARCH)
    assert month_figures(site, 2026, 3, now=AFTER_MARCH).uptime is None


def test_watched_time_starts_when_the_monitor_was_created(site):
    # Created 11 March 00:00 Berlin (10 March 23:00 UTC): watched 503 of the month's 743 h.
    Monitor.objects.create(site=site, url=site.url, created_at=utc(2026, 3, 10, 23))
    watch(*MARCH)
    figures = month_figures(site, 2026, 3, now=AFTER_MARCH)
    assert figures.watched == dt.timedelta(hours=503)
    assert figures.coverage == 100 * Fraction(503, 743)
    assert figures.as_json()["coverage"] == "67.6985"  # 67.698519… to four places
    assert figures.monitoring_gap
    # Measured, so uptime is the agreement's 100 × (1 − counted / month) — with its coverage beside it.
    assert figures.uptime == 100
    assert figures.credit is not None
    assert figures.credit.credit_amount == 0


def test_coverage_of_the_current_month_is_up_to_now(monitor, site):
    now = utc(2026, 3, 11, 11)  # 10 days and 12 h into March (from 28 Feb 23:00 UTC)
    watch(MARCH[0], utc(2026, 3, 5, 12))
    watch(utc(2026, 3, 5, 18), now)  # 6 h of no probe
    figures = month_figures(site, 2026, 3, now=now)
    assert figures.coverage == 100 * Fraction(252 - 6, 252)
    assert figures.monitoring_gap  # 97.6 % < 99 %
    watch(utc(2026, 3, 5, 12), utc(2026, 3, 5, 18))
    assert month_figures(site, 2026, 3, now=now).coverage == 100
    assert not month_figures(site, 2026, 3, now=now).monitoring_gap


def test_span_figures_give_coverage_beside_uptime(monitor, site):
    now = utc(2026, 3, 31)
    watch(now - dt.timedelta(days=45), now)
    outage(monitor, utc(2026, 3, 20, 10), utc(2026, 3, 20, 11))
    uptime, coverage = span_figures(site, days=90, now=now)
    assert coverage == 50
    assert uptime == 100 * (1 - Fraction(1, 45 * 24))


@time_machine.travel(utc(2026, 4, 10, 12), tick=False)
def test_api_uptime_is_null_with_coverage_zero_when_not_measured(site, owner):
    watch(utc(2026, 3, 1), utc(2026, 4, 10, 12))
    _, key = ApiToken.issue(owner, "script")
    http = HttpClient(headers={"authorization": f"Bearer {key}"})
    data = http.get(f"/api/v1/sites/{site.pk}/uptime?month=2026-03").json()
    assert data["uptime"] is None
    assert data["coverage"] == "0"
    assert data["credit"] is None
    assert data["contract_credit"]["credit_amount"] is None  # nothing measured: no credit at all
    assert data["month_minutes"] == "44580"  # the existing keys stay


@time_machine.travel(utc(2026, 4, 10, 12), tick=False)
def test_pages_say_not_measured_never_100(site, owner, engineer):
    watch(utc(2026, 1, 1), utc(2026, 4, 10, 12))
    portal = HttpClient()
    portal.force_login(owner)
    text = portal.get(f"/portal/sites/{site.pk}/uptime/?month=2026-03").content.decode()
    assert "not measured" in text.lower()
    assert "100 %" not in text
    assert "100.000 %" not in text
    assert 'data-state="up"' not in text
    assert "coverage 0 %" in text
    staff = HttpClient()
    staff.force_login(engineer)
    page = staff.get(f"/staff/monitoring/sites/{site.pk}/").content.decode()
    assert 'data-flag="unmonitored"' in page
    overview = staff.get("/staff/monitoring/").content.decode()
    assert "Sites nobody monitors" in overview
    assert "monitoring gap" in overview


def test_monitoring_gap_flag_on_the_page(monitor, site, owner):
    watch(MARCH[0], utc(2026, 3, 20))  # 19 of 31 days
    portal = HttpClient()
    portal.force_login(owner)
    with time_machine.travel(AFTER_MARCH, tick=False):
        text = portal.get(f"/portal/sites/{site.pk}/uptime/?month=2026-03").content.decode()
    assert 'data-flag="monitoring-gap"' in text
    assert "Monitoring gap" in text


def test_the_staff_list_of_sites_nobody_monitors(site):
    from sitekeeper.monitoring import gaps

    assert gaps.unmonitored_sites() == [site]
    Monitor.objects.create(site=site, url="https://stage.acme.test", environment="stage")
    assert gaps.unmonitored_sites() == [site]  # a stage monitor does not watch production
    Monitor.objects.create(site=site, url=site.url)
    assert gaps.unmonitored_sites() == []


def test_a_site_under_notice_without_a_monitor_is_still_flagged(site):
    """Item 7 (check): monitoring runs until the effective date, so a site under notice without a monitor is
    still an agency-side problem (contracts.service decides "in service"; the probe test checks claiming)."""
    from sitekeeper.monitoring import gaps

    Contract.objects.filter(pk=site.client.contract.pk).update(
        status=Contract.Status.CANCELLING, notice_given_on=dt.datetime.now(dt.UTC).date()
    )
    assert gaps.unmonitored_sites() == [site]
    Contract.objects.filter(pk=site.client.contract.pk).update(status=Contract.Status.TERMINATED)
    assert gaps.unmonitored_sites() == []


def test_migration_backfills_created_at_from_the_earliest_evidence(site):
    migration = importlib.import_module(
        "sitekeeper.monitoring.migrations.0003_monitor_created_held_maintenance_log"
    )
    old = Monitor.objects.create(site=site, url=site.url)
    CheckResult.objects.create(monitor=old, location="fra", at=utc(2026, 2, 1), ok=True)
    Rollup.objects.create(monitor=old, period="hour", start=utc(2026, 1, 5), checks=1, failures=0)
    Outage.objects.create(monitor=old, site=site, start=utc(2026, 1, 9), cause="x", end=utc(2026, 1, 9, 1))
    fresh = Monitor.objects.create(site=site, url="acme.test:443", kind="tcp")
    before = fresh.created_at
    migration.backfill_created_at(apps, None)
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert old.created_at == utc(2026, 1, 5)
    assert fresh.created_at >= before  # no evidence: from now
