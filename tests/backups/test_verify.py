"""Integrity checks and restore tests on a real restic repository: a passing test advances "last verified
restorable"; a corrupted pack makes the test fail loudly (P2 incident) and the date stays where it was."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from sitekeeper.backups import presenters, verify
from sitekeeper.backups.models import Repository, RestoreTest, SiteBackup
from sitekeeper.desk.models import Ticket
from tests.backups.conftest import back_up

pytestmark = pytest.mark.slow


def test_restore_test_passes_with_matching_counts_and_advances_last_verified(backed_site, settings) -> None:
    back_up(backed_site)
    assert presenters.last_verified(backed_site) is None

    test = verify.restore_test(backed_site, slot="2026-11")

    assert test.status == RestoreTest.Status.PASSED, test.error
    assert test.check_passed is True
    assert test.check_subset == "1/30"
    evidence = {item["source"]: item for item in test.evidence}
    assert set(evidence) == {"uploads", "db", "code"}
    assert all(item["passed"] for item in evidence.values())
    checks = {c["name"]: c for c in evidence["uploads"]["checks"]}
    assert checks["file count"]["expected"] == checks["file count"]["actual"] == 20
    assert len([name for name in checks if name.startswith("sha256 ")]) == 16
    db_checks = {c["name"]: c for c in evidence["db"]["checks"]}
    assert db_checks["rows posts"]["expected"] == db_checks["rows posts"]["actual"] == 50
    assert db_checks["checksum posts"]["ok"]
    assert evidence["db"]["seconds"] >= 0
    assert len(evidence["db"]["snapshot"]) >= 8
    # Scratch space is gone once the test is over.
    assert not Path(evidence["uploads"]["restored_to"]).exists()
    assert list((Path(settings.HOME) / "scratch").iterdir()) == []
    assert presenters.last_verified(backed_site) == test.finished_at
    assert test.progress["phase"] == "passed"
    # The slot is done: asking again returns the same record without running anything.
    again = verify.restore_test(backed_site, slot="2026-11")
    assert again.pk == test.pk
    assert again.finished_at == test.finished_at
    assert RestoreTest.objects.count() == 1


def test_corrupted_pack_fails_the_test_loudly_and_last_verified_stays(backed_site, local_repo) -> None:
    back_up(backed_site)
    good = verify.restore_test(backed_site, slot="2026-10")
    assert good.status == RestoreTest.Status.PASSED, good.error
    verified = presenters.last_verified(backed_site)

    packs = sorted((Path(local_repo.location) / "data").rglob("*"), key=lambda p: p.stat().st_size)
    packs = [p for p in packs if p.is_file()]
    for pack in packs:  # every pack damaged: whichever holds what, the check must notice
        os.chmod(pack, 0o600)
        raw = bytearray(pack.read_bytes())
        middle = len(raw) // 2
        raw[middle : middle + 16] = bytes(b ^ 0xFF for b in raw[middle : middle + 16])
        pack.write_bytes(bytes(raw))
    Repository.objects.filter(pk=local_repo.pk).update(check_slices=1)
    local_repo.refresh_from_db()
    cursor = local_repo.check_cursor

    test = verify.restore_test(backed_site, slot="2026-11")

    assert test.status == RestoreTest.Status.FAILED
    assert test.check_passed is False
    assert test.check_subset == "1/1"
    assert "repository check of slice 1/1 failed" in test.error
    assert test.ticket is not None
    ticket = Ticket.objects.get(pk=test.ticket.pk)
    assert ticket.priority == "P2"
    assert ticket.type == "incident"
    assert "restore test failed" in ticket.subject
    assert presenters.last_verified(backed_site) == verified
    # The failing slice is read again by the next check, not skipped.
    local_repo.refresh_from_db()
    assert local_repo.check_cursor == cursor
    # The daily check fails too: one incident, kept open (not repeated) while the slice keeps failing.
    tickets = Ticket.objects.count()
    for _ in range(2):
        assert [r.ok for r in verify.check_all_repositories()] == [False]
    assert Ticket.objects.count() == tickets + 1
    config = SiteBackup.objects.get(site=backed_site)
    assert Ticket.objects.get(pk=config.alerts["repository-check"]).priority == "P2"


def test_rolling_check_reads_every_slice_in_turn(backed_site, local_repo) -> None:
    back_up(backed_site)
    Repository.objects.filter(pk=local_repo.pk).update(check_slices=3, check_cursor=0)
    local_repo.refresh_from_db()
    subsets = []
    for _ in range(4):
        ok, subset, output = verify.check_repository(local_repo)
        assert ok, output
        subsets.append(subset)
    assert subsets == ["1/3", "2/3", "3/3", "1/3"]
    local_repo.refresh_from_db()
    assert local_repo.check_cursor == 1
    results = verify.check_all_repositories()
    assert [(r.ok, r.subset) for r in results] == [(True, "2/3")]


def test_monthly_restore_tests_are_due_once_per_month(backed_site) -> None:
    now = dt.datetime(2026, 11, 5, 3, 0, tzinfo=dt.UTC)
    assert verify.due_restore_tests(now, enqueue=False) == []  # nothing backed up: nothing to prove
    back_up(backed_site)
    assert verify.due_restore_tests(now, enqueue=False) == [(backed_site, "2026-11")]
    assert verify.due_restore_tests(now + dt.timedelta(hours=1), enqueue=False) == []
    test = verify.restore_test(backed_site, slot="2026-11")
    assert test.status == RestoreTest.Status.PASSED, test.error
    assert test.attempts == 1
    assert verify.due_restore_tests(now + dt.timedelta(days=30), enqueue=False) == [(backed_site, "2026-12")]
