# ruff: noqa: F811  (the fixtures of tests/backups/services.py are imported by name, then used as arguments)
"""Smoke tests of backup targets: restic init/backup/snapshots/check over SFTP (private sshd) and S3 (moto).

restic reads its password from RESTIC_PASSWORD_FILE, never from the command line.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.backups.services import S3Server, SshServer, s3, sshd, unavailable  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow  # restic init alone spends ~3 s deriving the key


@pytest.fixture
def restic(tmp_path: Path):
    """Run restic with a password file and a private cache; returns a function(args, repo, extra_env)."""
    if shutil.which("restic") is None:
        unavailable("restic is not installed (Debian: apt-get install restic)")
    password = tmp_path / "password"
    password.write_text("s3cret-Restic-pass\n")
    password.chmod(0o600)

    def run(args: list[str], repo: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        full_env = {
            **os.environ,
            "RESTIC_REPOSITORY": repo,
            "RESTIC_PASSWORD_FILE": str(password),
            "RESTIC_CACHE_DIR": str(tmp_path / "cache"),
            **(env or {}),
        }
        full_env.pop("RESTIC_PASSWORD", None)
        result = subprocess.run(
            ["restic", *args], env=full_env, capture_output=True, text=True, timeout=120, check=False
        )
        assert "s3cret-Restic-pass" not in result.stdout + result.stderr
        return result

    return run


def site_files(tmp_path: Path) -> Path:
    source = tmp_path / "site"
    (source / "wp-content" / "uploads").mkdir(parents=True)
    (source / "wp-config.php").write_text("<?php define('DB_NAME', 'wordpress');\n")
    (source / "wp-content" / "uploads" / "logo.png").write_bytes(os.urandom(64 * 1024))
    return source


def round_trip(restic, repo: str, source: Path, env: dict[str, str] | None = None, options=()) -> None:
    opts = list(options)
    init = restic([*opts, "init"], repo, env)
    assert init.returncode == 0, init.stderr
    backup = restic([*opts, "backup", "--json", "--tag", "smoke", str(source)], repo, env)
    assert backup.returncode == 0, backup.stderr
    summary = json.loads(backup.stdout.strip().splitlines()[-1])
    assert summary["message_type"] == "summary"
    assert summary["files_new"] == 2
    snapshots = restic([*opts, "snapshots", "--json"], repo, env)
    assert snapshots.returncode == 0, snapshots.stderr
    [snapshot] = json.loads(snapshots.stdout)
    # restic 0.14's summary gives the short id (8 hex digits); `snapshots` gives the full one.
    assert snapshot["id"].startswith(summary["snapshot_id"])
    assert snapshot["short_id"] == summary["snapshot_id"]
    assert snapshot["tags"] == ["smoke"]
    assert snapshot["paths"] == [str(source)]
    check = restic([*opts, "check", "--read-data"], repo, env)
    assert check.returncode == 0, check.stderr
    assert "no errors were found" in check.stdout


def test_sftp_repository(sshd: SshServer, restic, tmp_path: Path) -> None:
    ssh = [*sshd.ssh_command(), "-s", "sftp"]
    repo = f"sftp:{sshd.user}@{sshd.host}:{sshd.dir / 'repo'}"
    round_trip(restic, repo, site_files(tmp_path), options=["-o", f"sftp.command={shlex.join(ssh)}"])
    assert (sshd.dir / "repo" / "config").is_file()


def test_sftp_refuses_an_unknown_host_key(sshd: SshServer, restic, tmp_path: Path) -> None:
    other = tmp_path / "known_hosts"
    host, kind, _key = sshd.known_hosts.split()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    _kind, other_key = (tmp_path / "other.pub").read_text().split()[:2]
    other.write_text(f"{host} {kind} {other_key}\n")
    ssh = [arg.replace(str(sshd.known_hosts_path), str(other)) for arg in sshd.ssh_command()]
    result = restic(
        ["-o", f"sftp.command={shlex.join([*ssh, '-s', 'sftp'])}", "init"],
        f"sftp:{sshd.user}@{sshd.host}:{sshd.dir / 'refused'}",
    )
    assert result.returncode != 0
    assert not (sshd.dir / "refused").exists()


def test_s3_repository(s3: S3Server, restic, tmp_path: Path) -> None:
    bucket = s3.bucket("sitekeeper-smoke")
    round_trip(restic, f"s3:{s3.endpoint}/{bucket}", site_files(tmp_path), env=s3.env())
    keys = [item["Key"] for item in s3.client().list_objects_v2(Bucket=bucket)["Contents"]]
    assert "config" in keys
    assert any(key.startswith("data/") for key in keys)
