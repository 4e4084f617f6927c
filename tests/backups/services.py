"""Backup targets for tests: a private sshd (SFTP) and a moto S3 endpoint, both on 127.0.0.1 only.

Import the fixtures where they are needed::

    from tests.backups.services import sshd, s3  # noqa: F401

Each is session-scoped, started through its script (scripts/sshd-test.sh, scripts/s3-test.sh) on a free
port of this pytest-xdist worker (tests/serving.py) under a private temporary folder, and stopped at the end
of the session — or by the script's watcher if the worker is killed first. A missing program skips the
test, naming the package to install — or fails it under SITEKEEPER_REQUIRE_ALL=1 (CI), where a missing
component must never be a silent skip.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.serving import free_port, ready_seconds

ROOT = Path(__file__).resolve().parents[2]
SSHD_SCRIPT = ROOT / "scripts" / "sshd-test.sh"
S3_SCRIPT = ROOT / "scripts" / "s3-test.sh"


def unavailable(message: str) -> None:
    """Skip the test, or fail it under SITEKEEPER_REQUIRE_ALL=1."""
    if os.environ.get("SITEKEEPER_REQUIRE_ALL") == "1":
        pytest.fail(f"{message}; SITEKEEPER_REQUIRE_ALL=1 forbids skipping", pytrace=False)
    pytest.skip(message)


def run_script(script: Path, action: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # `up` may wait twice up to the readiness deadline (moto: the port, then an HTTP answer).
    timeout = 2 * ready_seconds() + 60
    return subprocess.run(
        [str(script), action], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def start(script: Path, env: dict[str, str], missing: str) -> None:
    """`script up`: skip/fail naming the package when it exits 3, stop what it left on any other failure."""
    started = run_script(script, "up", env)
    if started.returncode == 3:
        run_script(script, "down", env)
        unavailable(f"{missing}: {started.stderr.strip()}")
    if started.returncode != 0:
        run_script(script, "down", env)
        pytest.fail(f"{script.name} up failed ({started.returncode}):\n{started.stderr}", pytrace=False)


@dataclass(frozen=True)
class SshServer:
    host: str
    port: int
    user: str
    key_path: Path
    private_key: str
    known_hosts: str  # the known_hosts line(s) for [host]:port
    dir: Path

    @property
    def known_hosts_path(self) -> Path:
        return self.dir / "known_hosts"

    def ssh_command(self) -> list[str]:
        """ssh with only this server's key and host key (no ~/.ssh, no agent), strict host checking."""
        return [
            "ssh",
            "-F",
            "/dev/null",
            "-i",
            str(self.key_path),
            "-p",
            str(self.port),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            f"UserKnownHostsFile={self.known_hosts_path}",
            "-o",
            "StrictHostKeyChecking=yes",
            f"{self.user}@{self.host}",
        ]


@dataclass(frozen=True)
class S3Server:
    endpoint: str  # "http://127.0.0.1:PORT"
    access_key: str
    secret_key: str
    region: str

    def client(self):
        import boto3  # comes with moto[server]

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
        )

    def bucket(self, name: str) -> str:
        """Create the bucket (an existing one is kept) and return its name."""
        client = self.client()
        with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(Bucket=name)
        return name

    def env(self) -> dict[str, str]:
        """The variables restic (and other AWS clients) read for this endpoint's credentials."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
        }


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """A private sshd on 127.0.0.1 (key login as the current user, SFTP subsystem) for the session."""
    folder = tmp_path_factory.mktemp("sshd")
    port = free_port()
    env = {**os.environ, "SITEKEEPER_SSHD_DIR": str(folder), "SITEKEEPER_SSHD_PORT": str(port)}
    try:
        start(SSHD_SCRIPT, env, "the test sshd needs the Debian packages openssh-server and openssh-client")
        key = folder / "client_key"
        yield SshServer(
            host="127.0.0.1",
            port=port,
            user=subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip(),
            key_path=key,
            private_key=key.read_text(),
            known_hosts=(folder / "known_hosts").read_text(),
            dir=folder,
        )
    finally:
        run_script(SSHD_SCRIPT, "down", env)


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's S3 server on 127.0.0.1 for the session (in memory: buckets vanish when it stops)."""
    folder = tmp_path_factory.mktemp("s3")
    port = free_port()
    env = {**os.environ, "SITEKEEPER_S3_DIR": str(folder), "SITEKEEPER_S3_PORT": str(port)}
    try:
        start(S3_SCRIPT, env, "the test S3 server needs the PyPI package moto[server] in .venv")
        yield S3Server(
            endpoint=f"http://127.0.0.1:{port}",
            access_key="sitekeeper-test-key",
            secret_key="sitekeeper-test-secret",
            region="us-east-1",
        )
    finally:
        run_script(S3_SCRIPT, "down", env)
