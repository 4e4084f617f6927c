"""Rollup: hourly and daily rows from raw results, raw rows deleted after the retention, idempotent."""

from __future__ import annotations

import datetime as dt
from io import StringIO

from django.core.management import call_command

from sitekeeper.monitoring import rollup
from sitekeeper.monitoring.models import CheckResult, Rollup
from tests.monitoring.conftest import utc


def fill(monitor, start, hours, per_hour=60, fail_every=0):
    rows = []
    for h in range(hours):
        for i in range(per_hour):
            at = start + dt.timedelta(hours=h, seconds=i * 3600 // per_hour)
            failed = bool(fail_every) and i % fail_every == 0
            rows.append(
                CheckResult(monitor=monitor, location="fra", at=at, ok=not failed, response_ms=100 + i)
            )
    CheckResult.objects.bulk_create(rows)


def test_hourly_and_daily_rollups_then_raw_deleted(monitor, settings):
    settings.SITEKEEPER_RAW_RESULT_DAYS = 14
    fill(monitor, utc(2026, 3, 1), 48, fail_every=30)  # 1–2 March: 48 h × 60 checks, 2 failures an hour
    now = utc(2026, 3, 20, 12, 5)
    summary = rollup.run(now=now)
    assert summary.hours == 48
    assert summary.days == 2
    assert summary.deleted == 48 * 60  # all older than 14 days
    hour = Rollup.objects.get(period="hour", start=utc(2026, 3, 1, 5))
    # response_ms 100..159 → average 129.5 → 130 (rounded), max 159; failures at i = 0 and 30
    assert (hour.checks, hour.failures, hour.response_ms_avg, hour.response_ms_max) == (60, 2, 130, 159)
    day = Rollup.objects.get(period="day", start=utc(2026, 3, 2))
    assert (day.checks, day.failures, day.response_ms_max) == (1440, 48, 159)
    assert not CheckResult.objects.exists()

    again = rollup.run(now=now)  # idempotent: nothing left to do, nothing changed
    assert (again.deleted, Rollup.objects.count()) == (0, 50)
    assert Rollup.objects.get(period="day", start=utc(2026, 3, 2)).checks == 1440


def test_recent_results_are_kept_and_rolled_up_once(monitor, settings):
    settings.SITEKEEPER_RAW_RESULT_DAYS = 14
    fill(monitor, utc(2026, 3, 19, 22), 3)  # 19 Mar 22:00 – 20 Mar 01:00
    now = utc(2026, 3, 20, 0, 30)  # the 00:00 hour is not complete yet
    first = rollup.run(now=now)
    assert (first.hours, first.days, first.deleted) == (2, 1, 0)
    assert CheckResult.objects.count() == 180
    fill(monitor, utc(2026, 3, 19, 23, 59, 59), 1, per_hour=1)  # a late result for the 23:00 hour
    rollup.run(now=utc(2026, 3, 20, 1, 5))
    assert Rollup.objects.get(period="hour", start=utc(2026, 3, 19, 23)).checks == 61
    assert Rollup.objects.get(period="hour", start=utc(2026, 3, 20, 0)).checks == 60
    assert Rollup.objects.get(period="day", start=utc(2026, 3, 19)).checks == 121
    assert Rollup.objects.filter(period="hour").count() == 3


def test_the_command_runs_a_pass(monitor, settings):
    settings.SITEKEEPER_RAW_RESULT_DAYS = 1
    fill(monitor, utc(2020, 1, 1), 2)
    out = StringIO()
    call_command("monitoring_rollup", stdout=out)
    assert "2 hourly rollups, 1 daily rollups written; 120 raw results deleted" in out.getvalue()


def test_uptime_never_reads_raw_results(
    monitor, site, django_assert_num_queries, django_capture_on_commit_callbacks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from sitekeeper.monitoring.uptime import month_figures

    with CaptureQueriesContext(connection) as queries:
        month_figures(site, 2026, 3, now=utc(2026, 4, 2))
    assert not [q for q in queries.captured_queries if "monitoring_checkresult" in q["sql"]]
