# ruff: noqa: F811  (the fixtures of tests/backups/services.py are imported by name, then used as arguments)
"""Termination: 30 days of downloads after the contract ends, then the backups are deleted with evidence —
a local repository folder removed, a remote one (S3, moto on loopback) forgotten and pruned."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from sitekeeper.access.models import AuditEntry
from sitekeeper.backups import restore, termination
from sitekeeper.backups.models import Export, Repository, SiteBackup, Snapshot
from sitekeeper.backups.restic import Restic
from sitekeeper.contracts.models import Contract
from tests.backups.conftest import back_up
from tests.backups.services import s3  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow


def test_downloads_during_the_window_then_the_local_repository_is_deleted(
    backed_site, local_repo, acme, manager, owner
) -> None:
    back_up(backed_site)
    now = dt.datetime.now(dt.UTC)
    # Ended at once (no notice on record): 30 days from the start of the transition.
    Contract.objects.filter(client=acme).update(status=Contract.Status.TERMINATED)

    started = termination.start_transition(acme, now=now, user=manager)

    assert [r.pk for r in started] == [local_repo.pk]
    local_repo.refresh_from_db()
    assert local_repo.status == Repository.Status.TRANSITION
    assert local_repo.download_until == now + dt.timedelta(days=30)
    assert local_repo.deletion_evidence["transition_started_by"] == manager.username
    assert SiteBackup.objects.get(site=backed_site).enabled is False
    assert AuditEntry.objects.filter(actor=manager, model__icontains="repository").exists()
    assert termination.start_transition(acme, now=now + dt.timedelta(days=5), user=manager) == []

    # Inside the window the client can still download.
    snap = Snapshot.objects.get(site=backed_site, source_name="uploads")
    export = restore.run_export(restore.request_export(snap, user=owner))
    assert export.status == Export.Status.READY, export.error
    assert termination.finish_transitions(now + dt.timedelta(days=29)) == []
    assert Path(local_repo.location).is_dir()

    done = termination.finish_transitions(now + dt.timedelta(days=30, minutes=1))

    assert [r.pk for r in done] == [local_repo.pk]
    repo = done[0]
    assert repo.status == Repository.Status.DELETED
    assert repo.deleted_at == now + dt.timedelta(days=30, minutes=1)
    evidence = repo.deletion_evidence
    assert evidence["snapshots_before"] == 3
    assert evidence["snapshots_after"] == 0
    assert evidence["deleted"] is True
    assert evidence["catalogue_rows_forgotten"] == 3
    assert evidence["export_files_deleted"] == 1
    assert evidence["transition_started_by"] == manager.username
    assert not Path(local_repo.location).exists()
    assert not Snapshot.objects.filter(repository=repo, forgotten_at=None).exists()
    assert not restore.exports_root().joinpath(export.file).exists()
    snap.refresh_from_db()
    with pytest.raises(restore.RestoreRefused, match="let go"):
        restore.request_export(snap, user=owner)
    # Idempotent: nothing left to do.
    assert termination.finish_transitions(now + dt.timedelta(days=40)) == []


def test_a_remote_repository_is_forgotten_and_pruned(backed_site, local_repo, acme, s3) -> None:
    bucket = s3.bucket("termination")
    repo = Repository.objects.create(
        client=acme,
        name="offsite",
        kind="s3",
        location=f"{s3.endpoint}/{bucket}",
        access_key=s3.access_key,
        secret_key=s3.secret_key,
        region=s3.region,
    )
    SiteBackup.objects.filter(site=backed_site).update(repository=repo)
    backed_site.refresh_from_db()
    back_up(backed_site)
    now = dt.datetime.now(dt.UTC)
    Contract.objects.filter(client=acme).update(status=Contract.Status.TERMINATED)
    termination.start_transition(acme, now=now - dt.timedelta(days=31), user=None)
    assert not AuditEntry.objects.filter(model__icontains="repository", action="update").exists()

    done = termination.finish_transitions(now)

    deleted = {r.pk: r for r in done}
    assert set(deleted) == {repo.pk, local_repo.pk}
    # The unused local repository was never written to: recorded as such.
    assert deleted[local_repo.pk].deletion_evidence["snapshots_before"] == 0
    evidence = deleted[repo.pk].deletion_evidence
    assert evidence["snapshots_before"] == 3
    assert evidence["snapshots_after"] == 0
    assert evidence["pruned"] is True
    assert evidence["deleted"] is False
    assert evidence["transition_started_by"] == "scheduler (contract ended)"
    assert evidence["restic_output_tail"]
    with Restic(Repository.objects.get(pk=repo.pk)) as restic:
        assert restic.snapshots() == []
