"""Backups on the two seams: runs and restore tests are claimed, kept and taken over through the job seam
(`sitekeeper.jobs`), and backup trouble opens its request through the incident seam (`desk.detected`), once
per episode."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from sitekeeper import jobs as job_seam
from sitekeeper.backups import alerts, jobs, verify
from sitekeeper.backups.models import BackupRun, Repository, RestoreTest, RunStatus, SiteBackup, Snapshot
from sitekeeper.contracts.models import Site
from sitekeeper.desk import detected
from sitekeeper.desk.models import Message, Ticket
from sitekeeper.notify.models import Delivery

NOW = dt.datetime(2026, 11, 22, 3, 0, tzinfo=dt.UTC)
OTHER = "another-host:4242"  # a worker on another machine: only its lease tells whether it is still there


@pytest.fixture
def configured(site: Site, local_repo: Repository) -> Site:
    SiteBackup.objects.create(site=site, repository=local_repo)  # timeout_minutes: the lease of a run
    return site


def as_other_worker(monkeypatch) -> None:
    monkeypatch.setattr(job_seam, "owner_id", lambda: OTHER)


def test_two_claims_of_one_run_one_wins(configured: Site, monkeypatch) -> None:
    first = jobs.claim(configured, "data", "data-2026-11-22", now=NOW)
    assert first is not None
    assert (first.status, first.attempts, first.owner) == (RunStatus.RUNNING, 1, job_seam.owner_id())
    assert first.lease_until == NOW + dt.timedelta(minutes=configured.backup.timeout_minutes)
    as_other_worker(monkeypatch)
    assert jobs.claim(configured, "data", "data-2026-11-22", now=NOW + dt.timedelta(minutes=5)) is None
    run = BackupRun.objects.get()
    assert (run.attempts, run.owner) == (1, first.owner)


def test_a_run_whose_lease_ran_out_is_taken_over_and_says_so(configured: Site, monkeypatch) -> None:
    with monkeypatch.context() as patched:
        patched.setattr(job_seam, "owner_id", lambda: OTHER)
        assert jobs.claim(configured, "data", "data-2026-11-22", now=NOW) is not None
    lease = dt.timedelta(minutes=configured.backup.timeout_minutes)
    second = dt.timedelta(seconds=1)
    assert jobs.claim(configured, "data", "data-2026-11-22", now=NOW + lease - second) is None
    taken = jobs.claim(configured, "data", "data-2026-11-22", now=NOW + lease + second)
    assert taken is not None
    assert (taken.attempts, taken.owner, taken.started_at) == (2, job_seam.owner_id(), NOW)
    assert f"attempt 2: taking over (previous state running, owner {OTHER})" in taken.log


def test_a_failed_run_is_claimed_again_only_when_retried(configured: Site) -> None:
    run = BackupRun.objects.create(
        site=configured, layer="data", slot="data-2026-11-22", status=RunStatus.FAILED, attempts=1, error="x"
    )
    assert jobs.claim(configured, "data", run.slot, now=NOW) is None
    again = jobs.claim(configured, "data", run.slot, now=NOW, retry=True)
    assert again is not None
    assert (again.status, again.attempts, again.error) == (RunStatus.RUNNING, 2, "")
    assert jobs.claim(configured, "code", "code-2026-11-22", now=NOW) is not None  # another slot: its own run
    succeeded = BackupRun.objects.filter(pk=again.pk)
    succeeded.update(status=RunStatus.SUCCEEDED)
    assert jobs.claim(configured, "data", run.slot, now=NOW, retry=True) is None


def _running_test(site: Site, *, owner: str, lease_until: dt.datetime) -> RestoreTest:
    return RestoreTest.objects.create(
        site=site,
        slot="2026-11",
        owner=owner,
        lease_until=lease_until,
        attempts=1,
        progress={"phase": "check"},
    )


def test_a_restore_test_held_by_a_live_worker_is_left_alone(site: Site) -> None:
    now = dt.datetime.now(dt.UTC)
    held = _running_test(site, owner=OTHER, lease_until=now + dt.timedelta(hours=1))
    test = verify.restore_test(site, slot="2026-11")
    assert (test.pk, test.status, test.attempts, test.owner) == (
        held.pk,
        RestoreTest.Status.RUNNING,
        1,
        OTHER,
    )
    assert not verify._abandoned(test, now)


def test_a_restore_test_whose_lease_ran_out_is_taken_over(site: Site, admin) -> None:
    """The site has no backup settings, so the attempt that takes the test over fails it at once — with its
    own attempt's incident."""
    now = dt.datetime.now(dt.UTC)
    dead = _running_test(site, owner=OTHER, lease_until=now - dt.timedelta(minutes=1))
    assert verify._abandoned(dead, now)
    test = verify.restore_test(site, slot="2026-11")
    assert (test.pk, test.status, test.attempts) == (dead.pk, RestoreTest.Status.FAILED, 2)
    assert (test.owner, test.lease_until, test.progress) == (job_seam.owner_id(), None, {"phase": "failed"})
    assert "has no backup settings" in test.error
    assert test.ticket is not None
    assert test.ticket.detection_key == f"restore-test:{test.pk}:failed:2"
    assert verify.restore_test(site, slot="2026-11").attempts == 2  # finished: returned as it is


def test_a_worker_whose_restore_test_was_taken_over_stops(site: Site, monkeypatch) -> None:
    """Another worker takes the test over while this one is at it: this one neither ends it nor alerts."""

    def taken_over_meanwhile(_site: Site) -> None:
        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
        RestoreTest.objects.filter(site=site).update(owner=OTHER, lease_until=later)
        raise verify.BackupError("no backup settings")

    monkeypatch.setattr(verify, "config_for", taken_over_meanwhile)
    test = verify.restore_test(site, slot="2026-11")
    assert (test.status, test.owner, test.ticket) == (RestoreTest.Status.RUNNING, OTHER, None)
    assert not Ticket.objects.exists()


def test_a_queued_restore_test_is_due_again_only_when_its_worker_never_came(configured: Site) -> None:
    Snapshot.objects.create(repository=configured.backup.repository, site=configured, source_name="db",
                            source_kind="sqlite", layer="data", restic_id="ab" * 32, time=NOW)  # fmt: skip
    queued: list[tuple[Site, str]] = []
    enqueue = lambda site, slot: queued.append((site, slot))  # noqa: E731
    assert verify.due_restore_tests(NOW, enqueue=enqueue) == [(configured, "2026-11")]
    test = RestoreTest.objects.get()
    assert (test.owner, test.lease_until, test.progress) == ("", None, {"phase": "queued"})
    RestoreTest.objects.update(started_at=NOW)  # queued at NOW (the row's creation time is the real clock's)
    assert verify.due_restore_tests(NOW + dt.timedelta(minutes=30), enqueue=enqueue) == []
    lease = dt.timedelta(minutes=configured.backup.timeout_minutes)
    late = NOW + lease + dt.timedelta(minutes=1)
    assert verify.due_restore_tests(late, enqueue=enqueue) == [(configured, "2026-11")]
    assert queued == [(configured, "2026-11"), (configured, "2026-11")]


def test_backup_trouble_opens_one_request_per_episode(site: Site, admin) -> None:
    args = {"subject": "Data backup failed", "details": "The data backup failed: disk full.", "log": "line 1"}
    ticket = alerts.incident(site, episode="backup-run:7:failed:1", **args)
    again = alerts.incident(site, episode="backup-run:7:failed:1", **args)
    assert again.pk == ticket.pk
    assert Ticket.objects.count() == 1
    assert (ticket.subject, ticket.priority, ticket.type) == (f"{site}: Data backup failed", "P2", "incident")
    assert ticket.steps == alerts.STEPS
    assert ticket.description == "The data backup failed: disk full."
    note = Message.objects.get(ticket=ticket, kind=Message.Kind.NOTE)
    assert (note.body, note.author.username) == ("Job log:\nline 1", detected.SERVICE_USERNAME)
    told = Delivery.objects.filter(key="backup-run:7:failed:1")
    assert told.count() == 1
    assert alerts.incident(site, episode="backup-run:7:failed:2", **args).pk != ticket.pk  # the next attempt


@pytest.mark.slow
def test_a_worker_whose_run_was_taken_over_stops(backed_site: Site, site_root: Path, monkeypatch) -> None:
    """Its lease ran out while it was stalled and another worker took the run: at its next progress report
    this worker stops — it neither ends the run nor opens an incident; what it stored stays catalogued."""
    real = jobs.module

    def taking_over_after_the_first_source(kind: str):
        dump = real(kind).dump

        class Kind:  # the source kind's module, its dump wrapped
            @staticmethod
            def dump(*args, **kwargs):
                taken = dump(*args, **kwargs)
                BackupRun.objects.update(
                    owner=OTHER, lease_until=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
                )
                return taken

        return Kind

    monkeypatch.setattr(jobs, "module", taking_over_after_the_first_source)
    run = jobs.backup(backed_site, "data", slot="data-2026-11-22")
    assert run is not None
    assert (run.status, run.owner, run.ticket) == (RunStatus.RUNNING, OTHER, None)
    assert f"stopped: backup run {run.pk} was taken over by another worker" in run.log
    assert Snapshot.objects.filter(run=run).count() == 1
    assert not Ticket.objects.exists()
