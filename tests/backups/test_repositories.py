# ruff: noqa: F811  (the fixtures of tests/backups/services.py are imported by name, then used as arguments)
"""Remote repositories end to end: jobs.backup of a files + SQLite data layer into a restic repository over
SFTP (a private sshd on 127.0.0.1, Debian's openssh-server) and over S3 (moto's server on 127.0.0.1), then
each snapshot restored into scratch space and verified — with every command line the run started recorded:
the repository password, the S3 secret and the SSH key never appear in an argv (`ps` shows argv to anyone).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from sitekeeper import proc
from sitekeeper.backups import jobs
from sitekeeper.backups.models import Layer, Repository, RunStatus, SiteBackup, Snapshot, Source
from sitekeeper.backups.restic import Restic
from sitekeeper.backups.sources import module
from sitekeeper.contracts.models import Site
from tests.backups.rest_server import rest_server
from tests.backups.services import S3Server, SshServer, s3, sshd  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow


@pytest.fixture
def argvs(monkeypatch) -> list[list[str]]:
    """Every argv handed to the one subprocess runner during the test."""
    seen: list[list[str]] = []
    real_run, real_spawn = proc.run, proc.spawn

    def run(args: Any, **kwargs: Any) -> Any:
        seen.append([str(a) for a in args])
        return real_run(args, **kwargs)

    def spawn(args: Any, **kwargs: Any) -> Any:
        seen.append([str(a) for a in args])
        return real_spawn(args, **kwargs)

    monkeypatch.setattr(proc, "run", run)
    monkeypatch.setattr(proc, "spawn", spawn)
    return seen


def round_trip(site: Site, repo: Repository, site_root: Path, tmp_path: Path, argvs: list[list[str]]) -> None:
    SiteBackup.objects.create(site=site, repository=repo)
    Source.objects.create(
        site=site, name="uploads", layer=Layer.DATA, kind="files", path=str(site_root / "uploads")
    )
    Source.objects.create(
        site=site, name="db", layer=Layer.DATA, kind="sqlite", path=str(site_root / "site.sqlite3")
    )
    run = jobs.backup(site, Layer.DATA, slot="remote-1")
    assert run is not None
    assert run.status == RunStatus.SUCCEEDED, run.log
    snaps = list(Snapshot.objects.filter(run=run))
    assert {s.source_name for s in snaps} == {"uploads", "db"}
    with Restic(repo) as restic:
        listing = restic.snapshots([f"site-{site.pk}"])
        # The run stores restic's short ids (no extra listing in a backup); retention resolves them.
        assert jobs.resolve_ids(site, listing) == 2
        snaps = list(Snapshot.objects.filter(run=run))
        assert {s["id"] for s in listing} == {s.restic_id for s in snaps}
        for snap in snaps:
            kind = module(snap.source_kind)
            with kind.scratch(snap.source, tmp_path) as dest:
                kind.restore(snap.manifest, snap.restic_id, restic, dest)
                checks = kind.verify(dest, snap.manifest)
                assert checks
                assert all(c.ok for c in checks), [c.as_dict() for c in checks if not c.ok]
        assert restic.check().ok

    assert any("backup" in argv for argv in argvs)  # the recorder saw the run's commands
    secrets_ = [repo.password, repo.secret_key, *repo.ssh_key.splitlines()[1:-1]]
    for argv in argvs:
        line = " ".join(argv)
        for secret in filter(None, secrets_):
            assert secret not in line, f"a secret is on a command line: {argv[0]} …"


def test_sftp_repository(site: Site, site_root: Path, tmp_path: Path, sshd: SshServer, argvs) -> None:
    folder = sshd.dir / f"repo-{secrets.token_hex(4)}"
    repo = Repository.objects.create(
        client=site.client,
        name="offsite-sftp",
        kind=Repository.Kind.SFTP,
        location=f"{sshd.user}@{sshd.host}:{folder}",
        port=sshd.port,
        ssh_key=sshd.private_key,
        known_hosts=sshd.known_hosts,
    )
    round_trip(site, repo, site_root, tmp_path, argvs)
    assert (folder / "config").is_file()  # the repository really is where SFTP put it
    assert any("sftp.command=" in " ".join(argv) for argv in argvs)


def test_s3_repository(site: Site, site_root: Path, tmp_path: Path, s3: S3Server, argvs) -> None:
    bucket = s3.bucket(f"sk-{secrets.token_hex(4)}")
    repo = Repository.objects.create(
        client=site.client,
        name="offsite-s3",
        kind=Repository.Kind.S3,
        location=f"{s3.endpoint}/{bucket}",
        access_key=s3.access_key,
        secret_key=s3.secret_key,
        region=s3.region,
    )
    round_trip(site, repo, site_root, tmp_path, argvs)
    keys = [o["Key"] for o in s3.client().list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert "config" in keys
    assert any(k.startswith("snapshots/") for k in keys)


def test_rest_repository(site: Site, site_root: Path, tmp_path: Path, argvs) -> None:
    """restic's REST protocol against the tests' small loopback server; the user and password reach restic
    inside RESTIC_REPOSITORY (the environment), never on a command line."""
    password = secrets.token_urlsafe(16)
    with rest_server(tmp_path / "rest", "agency", password) as url:
        repo = Repository.objects.create(
            client=site.client, name="offsite-rest", kind=Repository.Kind.REST, location=url,
            access_key="agency", secret_key=password,
        )  # fmt: skip
        round_trip(site, repo, site_root, tmp_path, argvs)
    assert (tmp_path / "rest" / "config").is_file()
    assert any((tmp_path / "rest" / "snapshots").iterdir())
