"""The monthly health schedule: each site's link scan and performance audit once per calendar month, on the
site's audit day and time in the contract's time zone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from sitekeeper.health import tasks
from sitekeeper.health.models import HealthConfig, JobStatus, LinkScan

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (dt.datetime(2026, 12, 3, 3, 59, tzinfo=BERLIN), None),  # the audit day, before the time
        (dt.datetime(2026, 12, 3, 4, 0, tzinfo=BERLIN), "2026-12"),
        (dt.datetime(2026, 12, 31, 23, 59, tzinfo=BERLIN), "2026-12"),  # catching up later in the month
        (dt.datetime(2027, 1, 2, 12, 0, tzinfo=BERLIN), None),  # a new month, before its audit day
    ],
)
def test_monthly_slot(local: dt.datetime, expected: str | None) -> None:
    assert tasks.monthly_slot(local, 3, dt.time(4, 0)) == expected


def test_schedule_pass_enqueues_each_job_once_per_month_in_the_contract_zone(acme, monkeypatch) -> None:
    queued: list[tuple] = []
    monkeypatch.setattr(tasks, "link_scan_task", lambda *args: queued.append(("links", *args)))
    monkeypatch.setattr(tasks, "performance_audit_task", lambda *args: queued.append(("performance", *args)))
    site = acme.sites.get()
    # 03:30 UTC on the 3rd is 04:30 in Berlin (CET): the default audit moment (3rd, 04:00) has come.
    now = dt.datetime(2026, 12, 3, 3, 30, tzinfo=dt.UTC)
    assert HealthConfig.for_site(site).audit_day == 3
    assert tasks.health_schedule_pass(now - dt.timedelta(hours=1)) == []  # 03:30 Berlin: not yet
    first = tasks.health_schedule_pass(now)
    assert {(job, slot) for _, job, slot in first} == {("links", "2026-12"), ("performance", "2026-12")}
    assert ("links", site.pk, "2026-12") in queued

    # Once the month's scan exists (queued or done), the pass does not enqueue it again.
    LinkScan.objects.create(site=site, slot="2026-12", start_url=site.url, status=JobStatus.SUCCEEDED)
    again = tasks.health_schedule_pass(now + dt.timedelta(minutes=15))
    assert [job for _, job, _ in again] == ["performance"]


def test_schedule_pass_skips_clients_without_an_active_contract(acme, monkeypatch) -> None:
    monkeypatch.setattr(tasks, "link_scan_task", lambda *a: pytest.fail("terminated: no scan"))
    monkeypatch.setattr(tasks, "performance_audit_task", lambda *args: None)
    acme.contracts.update(status="terminated")
    assert tasks.health_schedule_pass(dt.datetime(2026, 12, 20, tzinfo=dt.UTC)) == []


def test_schedule_pass_takes_over_a_job_whose_worker_died(acme, monkeypatch) -> None:
    queued: list[tuple] = []
    monkeypatch.setattr(tasks, "link_scan_task", lambda *args: queued.append(args))
    monkeypatch.setattr(tasks, "performance_audit_task", lambda *args: None)
    site = acme.sites.get()
    now = dt.datetime(2026, 12, 10, 12, 0, tzinfo=dt.UTC)
    scan = LinkScan.objects.create(
        site=site, slot="2026-12", start_url=site.url, status=JobStatus.RUNNING,
        lease_until=now + dt.timedelta(minutes=5),
    )  # fmt: skip
    tasks.health_schedule_pass(now)
    assert queued == []  # a live worker holds it
    LinkScan.objects.filter(pk=scan.pk).update(lease_until=now - dt.timedelta(minutes=1))
    tasks.health_schedule_pass(now)
    assert queued == [(site.pk, "2026-12")]
