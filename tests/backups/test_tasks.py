"""The schedule (slots in the contract's time zone), staleness alerts, the CLI with its progress bar."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sitekeeper.backups import jobs, tasks
from sitekeeper.backups.management.commands.backup import render_bar
from sitekeeper.backups.models import BackupRun, Layer, RunStatus, SiteBackup, Source
from sitekeeper.contracts.models import Contract
from sitekeeper.desk.models import Ticket

BERLIN_2AM = dt.datetime(2026, 11, 22, 1, 0, tzinfo=dt.UTC)  # 02:00 in Berlin (CET), a Sunday


def test_due_slots_follow_the_contracts_time_zone(backed_site) -> None:
    config = backed_site.backup
    # 01:59 in Berlin: before data_time; at 02:00 data and code are both due, named by the Berlin date.
    assert tasks.due_slots(config, BERLIN_2AM - dt.timedelta(minutes=1)) == []
    assert tasks.due_slots(config, BERLIN_2AM) == [
        (Layer.DATA, "data-2026-11-22"),
        (Layer.CODE, "code-2026-11-22"),
    ]


def test_code_is_backed_up_daily_not_weekly(backed_site) -> None:
    """Agreement 1.2: daily automated backups of the full site — code every day, like data (issue 12, 8)."""
    config = backed_site.backup
    week = [tasks.due_slots(config, BERLIN_2AM + dt.timedelta(days=n)) for n in range(7)]
    code = [slot for slots in week for layer, slot in slots if layer == Layer.CODE]
    assert code == [f"code-2026-11-{22 + n}" for n in range(7)]
    # Stale after a day plus slack, the same limit as data.
    assert tasks.DEFAULT_STALE_HOURS == {Layer.DATA: 26, Layer.CODE: 26}


def test_schedule_pass_queues_each_slot_once(backed_site, monkeypatch) -> None:
    queued: list[tuple] = []
    monkeypatch.setattr(tasks, "backup_task", lambda *args: queued.append(args))
    assert {q[2] for q in tasks.schedule_pass(BERLIN_2AM)} == {"data-2026-11-22", "code-2026-11-22"}
    BackupRun.objects.create(site=backed_site, layer=Layer.DATA, slot="data-2026-11-22", trigger="schedule",
                             status=RunStatus.SUCCEEDED)  # fmt: skip
    again = tasks.schedule_pass(BERLIN_2AM)
    assert [q[2] for q in again] == ["code-2026-11-22"]
    # The next day both layers are due again.
    assert {q[2] for q in tasks.schedule_pass(BERLIN_2AM + dt.timedelta(days=1))} == {
        "data-2026-11-23",
        "code-2026-11-23",
    }


def test_backups_run_under_notice_until_the_effective_date(backed_site, monkeypatch) -> None:
    """Agreement 7.3: notice given is not service stopped (issue 12, 7). Notice on 22 October 2026: the
    notice period ends 21 November, the cancellation is effective at the end of 30 November (Berlin)."""
    monkeypatch.setattr(tasks, "backup_task", lambda *args: None)
    contract = backed_site.client.contract
    contract.status = Contract.Status.CANCELLING
    contract.notice_given_on = dt.date(2026, 10, 22)
    contract.save()
    assert contract.effective_end == dt.date(2026, 11, 30)
    last_day = dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC)  # 02:00 in Berlin on the effective date
    assert {q[2] for q in tasks.schedule_pass(last_day)} == {"data-2026-11-30", "code-2026-11-30"}
    assert tasks.schedule_pass(last_day + dt.timedelta(days=1)) == []  # 1 December: no longer in service
    # Nothing scheduled is nothing late: no staleness incident after the effective date.
    assert tasks.stale_pass(last_day + dt.timedelta(days=3)) == []


def test_draft_and_terminated_contracts_are_not_scheduled(backed_site, monkeypatch) -> None:
    monkeypatch.setattr(tasks, "backup_task", lambda *args: None)
    for status in (Contract.Status.DRAFT, Contract.Status.TERMINATED):
        Contract.objects.filter(client=backed_site.client).update(status=status)
        assert tasks.schedule_pass(BERLIN_2AM) == [], status


def test_config_layer_is_backed_up_when_its_content_changes(backed_site, site_root, monkeypatch) -> None:
    (site_root / "wp-config.php").write_text("<?php define('DB_NAME', 'a');\n")
    Source.objects.create(
        site=backed_site, name="config", layer=Layer.CONFIG, kind="files", path=str(site_root),
        includes=["wp-config.php"],
    )  # fmt: skip
    first = tasks.config_slot(backed_site)
    assert first == tasks.config_slot(backed_site)
    (site_root / "wp-config.php").write_text("<?php define('DB_NAME', 'b');\n")
    assert tasks.config_slot(backed_site) != first


@pytest.mark.slow
def test_stale_data_opens_one_p2_incident_and_clears_when_fresh(backed_site) -> None:
    # The data layer alone: code is daily too (issue 12, item 8), so it would go stale with it.
    Source.objects.filter(site=backed_site, layer=Layer.CODE).delete()
    run = jobs.backup(backed_site, "data", slot="first")
    assert run is not None
    assert run.status == RunStatus.SUCCEEDED, run.log
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=27)
    assert tasks.stale_pass(later) == [(backed_site.pk, Layer.DATA)]
    assert tasks.stale_pass(later) == []  # one incident per episode
    ticket = Ticket.objects.get(site=backed_site)
    assert ticket.priority == "P2"
    assert ticket.type == "incident"
    assert "stale" in ticket.subject
    assert tasks.stale_pass(dt.datetime.now(dt.UTC)) == []
    assert SiteBackup.objects.get(pk=backed_site.backup.pk).alerts == {}


@pytest.mark.slow
def test_failed_backup_opens_incident_and_keeps_previous_snapshots(backed_site, site_root) -> None:
    good = jobs.backup(backed_site, "data", slot="good")
    assert good is not None
    assert good.status == RunStatus.SUCCEEDED
    (site_root / "site.sqlite3").unlink()
    bad = jobs.backup(backed_site, "data", slot="bad")
    assert bad is not None
    assert bad.status == RunStatus.FAILED
    assert "does not exist" in bad.error
    assert bad.ticket is not None
    assert bad.ticket.priority == "P2"
    assert good.snapshots.filter(forgotten_at=None).count() == 2


@pytest.mark.slow
def test_cli_run_and_snapshots(backed_site) -> None:
    out = io.StringIO()
    call_command(
        "backup", "run", "--site", str(backed_site.pk), "--layer", "data", stdout=out, stderr=io.StringIO()
    )
    assert "succeeded" in out.getvalue()
    listing = io.StringIO()
    call_command("backup", "snapshots", "--site", backed_site.url, stdout=listing)
    assert "uploads" in listing.getvalue()
    assert "db" in listing.getvalue()


def test_progress_bar_shows_percent_or_bytes() -> None:
    assert "50.0%" in render_bar({"percent": 50, "bytes_done": 5000, "total_bytes": 10000, "source": "db"})
    assert "~~~" in render_bar({"bytes_done": 1_500_000, "source": "db", "index": 1, "of": 2})


@pytest.mark.slow
def test_cli_restore_test_check_and_restore_to_stage(backed_site, site_root, tmp_path, engineer) -> None:
    stage = tmp_path / "stage-uploads"
    Source.objects.create(
        site=backed_site, environment="stage", name="uploads", layer=Layer.DATA, kind="files", path=str(stage)
    )
    call_command("backup", "run", "--site", str(backed_site.pk), stdout=io.StringIO(), stderr=io.StringIO())
    out = io.StringIO()
    call_command("backup", "restore-test", "--site", str(backed_site.pk), stdout=out, stderr=io.StringIO())
    assert "restore test passed" in out.getvalue()
    assert "ok  rows posts: expected 50, got 50" in out.getvalue()
    checked = io.StringIO()
    call_command("backup", "check", "--repository", str(backed_site.backup.repository.pk), stdout=checked)
    assert "read back clean" in checked.getvalue()
    snap = backed_site.snapshots.get(source_name="uploads")
    restored = io.StringIO()
    call_command("backup", "restore", "--snapshot", snap.restic_id[:8], "--user", engineer.username,
                 stdout=restored, stderr=io.StringIO())  # fmt: skip
    assert "to stage" in restored.getvalue()
    assert len(list((stage / "2026").iterdir())) == 20
    with pytest.raises(CommandError, match="confirm"):
        call_command("backup", "restore", "--snapshot", snap.restic_id[:8], "--user", engineer.username,
                     "--target", "prod", stdout=io.StringIO(), stderr=io.StringIO())  # fmt: skip


def test_restore_tests_are_owed_only_for_sites_in_service(backed_site) -> None:
    """The monthly restore test is a service too (issue 12, item 7): none for a draft contract's site."""
    from sitekeeper.backups import verify
    from sitekeeper.backups.models import Snapshot

    repo = backed_site.backup.repository
    Snapshot.objects.create(repository=repo, site=backed_site, source_name="db", source_kind="sqlite",
                            layer=Layer.DATA, restic_id="ab" * 32, time=BERLIN_2AM)  # fmt: skip
    Contract.objects.filter(client=backed_site.client).update(status=Contract.Status.DRAFT)
    assert verify.due_restore_tests(BERLIN_2AM, enqueue=False) == []
    Contract.objects.filter(client=backed_site.client).update(status=Contract.Status.ACTIVE)
    assert verify.due_restore_tests(BERLIN_2AM, enqueue=False) == [(backed_site, "2026-11")]
