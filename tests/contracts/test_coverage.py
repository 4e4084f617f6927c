"""Agency-side service gaps (issue 12, item 1): a site in service with no production uptime monitor, no
backup source or no security scan in the last 48 hours is the agency's problem — found, listed, and told to
the escalation list once per episode."""

from __future__ import annotations

import datetime as dt

import pytest

from sitekeeper.backups.models import Repository, SiteBackup, Source
from sitekeeper.contracts import coverage, tasks
from sitekeeper.contracts.models import Contract, Site
from sitekeeper.monitoring.models import Monitor
from sitekeeper.notify.models import Delivery
from sitekeeper.security.models import ScanStepRun

NOW = dt.datetime(2026, 5, 4, 10, 0, tzinfo=dt.UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


def site_of(client) -> Site:
    return client.sites.get()


def watch(site: Site, **fields) -> Monitor:
    return Monitor.objects.create(site=site, url=site.url, **fields)


def back_up(site: Site, tmp_path, enabled: bool = True) -> SiteBackup:
    repo = Repository.objects.create(client=site.client, name="main", kind="local", location=str(tmp_path))
    Source.objects.create(
        site=site, name="db", layer="data", kind="sqlite", path=str(tmp_path / "db.sqlite3")
    )
    return SiteBackup.objects.create(site=site, repository=repo, enabled=enabled)


def scanned(site: Site, hours_ago: float, outcome: str = "ok") -> ScanStepRun:
    at = NOW - dt.timedelta(hours=hours_ago)
    return ScanStepRun.objects.create(
        site=site, step="integrity", started_at=at, finished_at=at, outcome=outcome
    )


def served(site: Site, tmp_path) -> Site:
    """A site with everything the agreement promises in place."""
    watch(site)
    back_up(site, tmp_path)
    scanned(site, hours_ago=3)
    return site


def kinds(site: Site) -> list[str]:
    return [gap.kind for gap in coverage.site_gaps(site, NOW)]


def test_a_site_with_nothing_set_up_has_all_three_gaps(acme):
    site = site_of(acme)
    gaps = coverage.site_gaps(site, NOW)
    assert [gap.kind for gap in gaps] == ["monitor", "backup", "scan"]
    monitor, backup, scan = gaps
    assert monitor.title == "No production uptime monitor"
    assert monitor.client == "Uptime: not measured yet — we are setting up monitoring."
    assert backup.label == "not set up yet"
    assert scan.detail == "never scanned"
    assert scan.client == "Security scans: not scanned yet — we are setting up security scanning."
    assert [gap.staff_url for gap in gaps] == [
        f"/staff/monitoring/sites/{site.pk}/",
        f"/staff/backups/site/{site.pk}/",
        f"/staff/security/site/{site.pk}/",
    ]


def test_a_fully_served_site_has_no_gap(acme, tmp_path):
    assert kinds(served(site_of(acme), tmp_path)) == []


@pytest.mark.parametrize(
    "monitor",
    [
        None,
        {"enabled": False},  # switched off
        {"environment": "stage"},  # only the stage site is watched
    ],
    ids=["none", "disabled", "stage-only"],
)
def test_no_enabled_production_monitor_is_a_gap(acme, tmp_path, monitor):
    site = site_of(acme)
    back_up(site, tmp_path)
    scanned(site, hours_ago=1)
    if monitor is not None:
        watch(site, **monitor)
    assert kinds(site) == ["monitor"]


@pytest.mark.parametrize("setup", ["none", "disabled", "no-production-source"])
def test_no_backup_source_is_a_gap(acme, tmp_path, setup):
    site = site_of(acme)
    watch(site)
    scanned(site, hours_ago=1)
    if setup == "disabled":
        back_up(site, tmp_path, enabled=False)
    elif setup == "no-production-source":
        back_up(site, tmp_path)
        Source.objects.filter(site=site).update(environment="stage")
    gaps = coverage.site_gaps(site, NOW)
    assert [gap.kind for gap in gaps] == ["backup"]
    assert gaps[0].client  # a sentence for the client, never silence


def test_a_security_scan_older_than_48_hours_is_a_gap(acme, tmp_path):
    site = site_of(acme)
    watch(site)
    back_up(site, tmp_path)
    scanned(site, hours_ago=47.9)
    assert kinds(site) == []
    ScanStepRun.objects.all().delete()
    scanned(site, hours_ago=48.1)
    scanned(site, hours_ago=1, outcome="failed")  # a failed step is not a scan
    (gap,) = coverage.site_gaps(site, NOW)
    assert gap.kind == "scan"
    assert gap.label == "overdue"
    assert gap.detail == "last completed scan 2 May 2026 11:54 CEST"  # 48.1 h before, Berlin time
    assert gap.client == "Security scans: none in the last 48 hours — we are looking into it."


def test_only_sites_in_service_have_gaps(acme, globex):
    Contract.objects.filter(client=globex).update(status=Contract.Status.TERMINATED)
    assert coverage.site_gaps(site_of(globex), NOW) == []
    assert {gap.site.client for gap in coverage.gaps(NOW)} == {acme}
    # Under notice the contract is still in service (7.3): its gaps still count.
    Contract.objects.filter(client=acme).update(
        status=Contract.Status.CANCELLING, notice_given_on=dt.date(2026, 5, 1)
    )
    assert len(coverage.gaps(NOW)) == 3


def gap_notices(**filters):
    return Delivery.objects.filter(event=coverage.EVENT, **filters)


def test_staff_are_told_once_per_gap(acme, admin):
    tasks.service_gaps_every_hour.call_local()
    tasks.service_gaps_every_hour.call_local()  # the next hour: the same gaps, nothing new to say
    notices = gap_notices()
    assert notices.count() == 3
    assert set(notices.values_list("target", flat=True)) == {admin.email}
    subjects = sorted(d.message["subject"] for d in notices)
    assert subjects[0].startswith("Service gap — agency action needed: No backup source on Acme GmbH website")
    assert any("No production uptime monitor" in s for s in subjects)
    assert any("No security scan in the last 48 h" in s for s in subjects)
    text = next(d.message["text"] for d in notices if "uptime monitor" in d.message["subject"])
    assert "Uptime: not measured yet — we are setting up monitoring." in text
    assert f"/{site_of(acme).pk}/" in text


def test_a_gap_fixed_then_back_is_a_new_episode(acme, admin):
    site = site_of(acme)
    assert ("monitor", "open") in [(kind, state) for _, kind, state in coverage.notify_gaps(NOW)]
    monitor = watch(site)
    assert coverage.notify_gaps(NOW) == [(site.pk, "monitor", "closed")]
    assert coverage.notify_gaps(NOW) == []
    closed = gap_notices(key=f"service-gap:{site.pk}:monitor:1:closed").get()
    assert closed.message["subject"].startswith("Service gap closed: No production uptime monitor")
    monitor.enabled = False
    monitor.save()
    assert coverage.notify_gaps(NOW) == [(site.pk, "monitor", "open")]
    assert gap_notices(key=f"service-gap:{site.pk}:monitor:2:open").count() == 1
    assert coverage.notify_gaps(NOW) == []


def test_no_escalation_list_sends_nothing_and_keeps_the_gap_open(acme):
    assert coverage.notify_gaps(NOW) == []  # no agency admin to tell yet
    assert gap_notices().count() == 0
