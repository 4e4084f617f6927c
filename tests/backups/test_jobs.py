"""Backup runs on a local repository: catalogue, manifests, idempotent slots, failures."""

from __future__ import annotations

import pytest

from sitekeeper.backups import jobs
from sitekeeper.backups.models import BackupRun, RunStatus, Snapshot

pytestmark = pytest.mark.slow


def test_data_backup_catalogues_each_source_with_its_manifest(backed_site, site_root) -> None:
    run = jobs.backup(backed_site, "data", slot="2026-11-22")
    assert run is not None
    assert run.status == RunStatus.SUCCEEDED, run.log
    snaps = {s.source_name: s for s in Snapshot.objects.filter(run=run)}
    assert set(snaps) == {"uploads", "db"}
    assert len(snaps["db"].restic_id) == 8  # the short id until the retention pass resolves it
    assert snaps["db"].manifest["tables"]["posts"]["rows"] == 50
    assert snaps["uploads"].manifest["files"] == 20
    assert len(snaps["uploads"].manifest["sample"]) == 16
    # The same slot again: nothing to do.
    assert jobs.backup(backed_site, "data", slot="2026-11-22") is None
    assert BackupRun.objects.count() == 1
