"""The job seam (sitekeeper.jobs): claim with a lease exactly once, take over an abandoned job, keep the lease
alive, finish only one's own job, reap the stale ones, and hand progress to listeners. Exercised on a real
job model (a link scan) on whichever database the run uses."""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import sys

import pytest

from sitekeeper import jobs
from sitekeeper.health.models import JobStatus, LinkScan

pytestmark = pytest.mark.django_db
SCANS = jobs.Kind(LinkScan, waiting=(JobStatus.QUEUED,), running=JobStatus.RUNNING)
LEASE = dt.timedelta(minutes=5)
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def scan(acme) -> LinkScan:
    site = acme.sites.get()
    return LinkScan.objects.create(site=site, slot="2026-12", start_url=site.url)


def dead_owner() -> str:
    """host:pid of a process of this host that has exited."""
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    return f"{socket.gethostname()}:{child.stdout.strip()}"


def test_a_waiting_job_is_claimed_once(scan):
    assert jobs.claim(SCANS, scan.pk, lease=LEASE, now=NOW)
    assert not jobs.claim(SCANS, scan.pk, lease=LEASE, now=NOW)  # the second worker gets nothing
    scan.refresh_from_db()
    assert (scan.status, scan.owner, scan.lease_until) == ("running", jobs.owner_id(), NOW + LEASE)


def test_a_claim_on_a_stale_reading_matches_nothing(scan):
    """Two workers both read the row as queued: the UPDATE of the second no longer matches what it saw."""
    LinkScan.objects.filter(pk=scan.pk).update(status="running", owner="elsewhere:1", lease_until=NOW + LEASE)
    assert not jobs.claim(SCANS, scan.pk, lease=LEASE, now=NOW)
    assert LinkScan.objects.get(pk=scan.pk).owner == "elsewhere:1"


def test_an_abandoned_job_is_taken_over(scan):
    LinkScan.objects.filter(pk=scan.pk).update(status="running", owner="other-host:7", lease_until=NOW)
    assert jobs.claim(SCANS, scan.pk, lease=LEASE, now=NOW + dt.timedelta(seconds=1))  # its lease ran out
    LinkScan.objects.filter(pk=scan.pk).update(owner=dead_owner(), lease_until=NOW + LEASE)
    assert jobs.claim(SCANS, scan.pk, lease=LEASE, now=NOW)  # its process on this host is gone
    LinkScan.objects.filter(pk=scan.pk).update(owner="other-host:7", lease_until=NOW + LEASE)
    assert not jobs.claim(SCANS, scan.pk, lease=LEASE, now=NOW)  # alive elsewhere, lease valid: not ours


def test_finished_jobs_are_not_claimed_and_reentrant_claims_are_the_callers_choice(scan):
    assert jobs.claim(SCANS, scan.pk, lease=LEASE, now=NOW)
    assert jobs.claim(SCANS, scan.pk, lease=LEASE, now=NOW, reentrant=True)
    assert jobs.finish(SCANS, scan.pk, JobStatus.SUCCEEDED, now=NOW)
    assert not jobs.claim(SCANS, scan.pk, lease=LEASE, now=NOW + dt.timedelta(days=1))
    scan.refresh_from_db()
    assert (scan.status, scan.lease_until, scan.finished_at) == ("succeeded", None, NOW)


def test_a_job_taken_over_is_no_longer_the_first_workers(scan):
    assert jobs.claim(SCANS, scan.pk, lease=LEASE, now=NOW)
    LinkScan.objects.filter(pk=scan.pk).update(owner="other-host:9")  # someone took it over
    assert not jobs.heartbeat(SCANS, scan.pk, lease=LEASE, progress={"pages": 3})
    assert not jobs.finish(SCANS, scan.pk, JobStatus.SUCCEEDED)
    assert LinkScan.objects.get(pk=scan.pk).status == "running"


def test_heartbeat_renews_the_lease_and_reports_progress(scan):
    heard: list[dict] = []
    assert jobs.claim(SCANS, scan.pk, lease=LEASE, now=NOW)
    with jobs.listening(heard.append):
        assert jobs.heartbeat(SCANS, scan.pk, lease=LEASE, progress={"pages": 12})
    scan.refresh_from_db()
    assert scan.progress == {"pages": 12}
    assert heard == [{"pages": 12}]
    assert scan.lease_until > dt.datetime.now(dt.UTC) + LEASE - dt.timedelta(minutes=1)


def test_let_go_keeps_the_job_for_later(scan):
    assert jobs.claim(SCANS, scan.pk, lease=LEASE, now=NOW)
    jobs.let_go(SCANS, scan.pk)
    scan.refresh_from_db()
    assert (scan.status, scan.owner, scan.lease_until) == ("running", "", None)
    assert jobs.claim(SCANS, scan.pk, lease=LEASE, now=NOW)  # no lease, no owner: abandoned, takeable


def test_reap_fails_only_the_stale_running_jobs(scan, acme):
    fresh = LinkScan.objects.create(site=scan.site, slot="fresh", start_url=scan.start_url, status="running",
                                    owner="w:1", lease_until=NOW + LEASE)  # fmt: skip
    LinkScan.objects.filter(pk=scan.pk).update(status="running", owner="w:2", lease_until=NOW - LEASE)
    assert jobs.reap(SCANS, JobStatus.FAILED, lambda owner: f"{owner} stopped", now=NOW) == [scan.pk]
    scan.refresh_from_db()
    fresh.refresh_from_db()
    assert (scan.status, scan.error, fresh.status) == ("failed", "w:2 stopped", "running")


def test_a_kind_without_a_running_status_holds_a_lease_across_steps(acme):
    """The release pipeline's way: the status says the step, the lease says who is on it."""
    from sitekeeper.releases.models import Release

    releases = jobs.Kind(Release, waiting=("planned", "awaiting_window"), running=None)
    release = Release.objects.create(site=acme.sites.get(), slot="r1", status="planned")
    assert jobs.claim(releases, release.pk, lease=LEASE, now=NOW)
    assert not jobs.claim(releases, release.pk, lease=LEASE, now=NOW)  # held by us, not reentrant
    assert jobs.claim(releases, release.pk, lease=LEASE, now=NOW, reentrant=True)
    release.refresh_from_db()
    assert (release.status, release.owner) == ("planned", jobs.owner_id())


def test_owner_alive_is_false_only_when_known():
    assert jobs.owner_alive(jobs.owner_id())
    assert jobs.owner_alive("another-host:1")
    assert not jobs.owner_alive(dead_owner())
