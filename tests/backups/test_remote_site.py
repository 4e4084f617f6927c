# ruff: noqa: F811  (the fixtures of tests/backups/services.py are imported by name, then used as arguments)
"""Sites reached over SSH (remote.SshShell, asyncssh) against the private loopback sshd of the test fixtures:
commands, streams both ways, secret files, host key checking, and a backup + restore of a folder (and of the
WordPress MariaDB) read over SSH."""

from __future__ import annotations

import hashlib
import os
import resource
import secrets
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import asyncssh
import pytest

from sitekeeper import proc
from sitekeeper.backups import jobs
from sitekeeper.backups.models import Layer, Repository, RunStatus, SiteBackup, Snapshot, Source
from sitekeeper.backups.remote import SshError, SshShell
from sitekeeper.backups.sources import SourceError, module
from sitekeeper.contracts.models import Site
from tests.backups.services import SshServer, sshd  # noqa: F401 (fixture)

MIB = 1024 * 1024


@pytest.fixture
def shell(sshd: SshServer) -> Iterator[SshShell]:
    with SshShell(
        sshd.host, port=sshd.port, user=sshd.user, private_key=sshd.private_key, known_hosts=sshd.known_hosts
    ) as opened:
        yield opened


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(MIB), b""):
            digest.update(block)
    return digest.hexdigest()


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_run_returns_output_and_takes_input(shell: SshShell) -> None:
    assert shell.run(["echo", "hello world"]) == b"hello world\n"
    assert shell.run(["cat"], input=b"abc\x00def") == b"abc\x00def"
    # Arguments are quoted for the remote shell: nothing in them is interpreted.
    assert shell.run(["printf", "%s|", "a b", "$HOME", "'; rm -rf /'"]) == b"a b|$HOME|'; rm -rf /'|"


def test_failing_command_raises_with_its_stderr(shell: SshShell) -> None:
    with pytest.raises(proc.ProcError) as failed:
        shell.run(["sh", "-c", "echo something broke >&2; exit 3"])
    assert failed.value.returncode == 3
    assert "something broke" in failed.value.stderr
    assert "sh on 127.0.0.1 exited with status 3" in str(failed.value)


def test_run_timeout(shell: SshShell) -> None:
    with pytest.raises(proc.ProcError, match="timed out"):
        shell.run(["sleep", "30"], timeout=0.5)
    assert shell.run(["true"]) == b""  # the connection is still usable


def test_reader_streams_50_mb_into_a_local_process(shell: SshShell, tmp_path: Path) -> None:
    data = tmp_path / "random.bin"
    with data.open("wb") as handle:
        for _ in range(50):
            handle.write(os.urandom(MIB))
    # The stream is the stdin of a local process (as a dump is for `restic backup --stdin`).
    with (
        shell.reader(["sh", "-c", 'cat "$1" | tee /dev/null', "sh", str(data)]) as stream,
        proc.spawn(["sha256sum"], stdin=stream) as child,
    ):
        out, _ = proc.finish(child)
    assert out.split()[0].decode() == _sha256(data)


def test_reader_memory_stays_flat(shell: SshShell) -> None:
    before = _peak_rss_mib()
    with (
        shell.reader(["head", "-c", str(300 * MIB), "/dev/zero"]) as stream,
        proc.spawn(["wc", "-c"], stdin=stream) as child,
    ):
        out, _ = proc.finish(child)
    assert int(out) == 300 * MIB
    # Measured: ~16-21 MiB more at 20, 200 or 800 MiB streamed (the peak only ever rises, so this is a bound).
    assert _peak_rss_mib() - before < 60


def test_reader_raises_when_the_command_fails_after_output(shell: SshShell) -> None:
    with (
        pytest.raises(proc.ProcError) as failed,
        shell.reader(["sh", "-c", "head -c 100000 /dev/zero; echo dump died >&2; exit 4"]) as stream,
    ):
        assert len(stream.read()) == 100000
    assert failed.value.returncode == 4
    assert "dump died" in failed.value.stderr


def test_reader_given_up_ends_the_remote_command(shell: SshShell) -> None:
    # `yes` writes for ever: leaving the block must end it, not wait for it.
    def consume_then_fail() -> None:
        with shell.reader(["yes"]) as stream:
            stream.read(MIB)
            raise RuntimeError("consumer failed")

    with pytest.raises(RuntimeError, match="consumer failed"):
        consume_then_fail()
    assert shell.run(["true"]) == b""


def test_writer_uploads_a_file(shell: SshShell, tmp_path: Path) -> None:
    source = tmp_path / "upload.bin"
    source.write_bytes(os.urandom(12 * MIB + 7))
    target = tmp_path / "uploaded.bin"
    with shell.writer(["sh", "-c", 'cat > "$1"', "sh", str(target)]) as sink, source.open("rb") as handle:
        for block in iter(lambda: handle.read(MIB), b""):
            sink.write(block)
    assert _sha256(target) == _sha256(source)


def test_writer_raises_the_commands_error_when_it_stops_reading(shell: SshShell) -> None:
    def write_64_mib() -> None:
        with shell.writer(["sh", "-c", "head -c 10 >/dev/null; echo no space left >&2; exit 5"]) as sink:
            for _ in range(64):
                sink.write(b"x" * MIB)

    with pytest.raises(proc.ProcError) as failed:
        write_64_mib()
    assert failed.value.returncode == 5
    assert "no space left" in failed.value.stderr


def test_secret_file_is_private_and_removed(shell: SshShell) -> None:
    with shell.secret_file("password=s3cret\n") as path:
        # The sshd runs on this machine as this user: look at the remote file directly.
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
        assert Path(path).read_text() == "password=s3cret\n"
        assert shell.run(["cat", path]) == b"password=s3cret\n"
    assert not os.path.exists(path)
    assert not os.path.exists(os.path.dirname(path))


def test_wrong_host_key_is_refused_naming_the_host(sshd: SshServer) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
    wrong = f"[{sshd.host}]:{sshd.port} {other}\n"
    with (
        SshShell(
            sshd.host, port=sshd.port, user=sshd.user, private_key=sshd.private_key, known_hosts=wrong
        ) as shell,
        pytest.raises(SshError, match=r"127\.0\.0\.1.*refused: the host's key does not match"),
    ):
        shell.run(["true"])


def test_known_hosts_without_the_host_is_refused_before_connecting(sshd: SshServer) -> None:
    line = sshd.known_hosts.replace(f"[{sshd.host}]:{sshd.port}", "[example.org]:2222")
    with pytest.raises(SourceError, match=r"known_hosts has no key for \[127\.0\.0\.1\]"):
        SshShell(sshd.host, port=sshd.port, user=sshd.user, private_key=sshd.private_key, known_hosts=line)
    with pytest.raises(SourceError, match="private key cannot be read"):
        SshShell(
            sshd.host, port=sshd.port, user=sshd.user, private_key="nonsense", known_hosts=sshd.known_hosts
        )


def test_unreachable_host_names_it(sshd: SshServer) -> None:
    from tests.backups.services import free_port

    port = free_port()  # nothing listens there
    known = sshd.known_hosts.replace(f":{sshd.port} ", f":{port} ")
    with (
        SshShell(
            sshd.host, port=port, user=sshd.user, private_key=sshd.private_key, known_hosts=known
        ) as shell,
        pytest.raises(SshError, match=rf"cannot connect to .*@127\.0\.0\.1:{port}"),
    ):
        shell.run(["true"])
    # A stream that cannot start raises before anything reads an empty stream.
    with pytest.raises(SshError), shell.reader(["cat", "/etc/hostname"]):
        pytest.fail("the block must not run")


# -- through the data sources -------------------------------------------------------------------------------
@pytest.fixture
def remote_site(site: Site, local_repo: Repository, sshd: SshServer) -> Site:
    SiteBackup.objects.create(
        site=site,
        repository=local_repo,
        site_host=sshd.host,
        ssh_port=sshd.port,
        ssh_user=sshd.user,
        ssh_key=sshd.private_key,
        known_hosts=sshd.known_hosts,
    )
    return site


def test_for_site_shares_one_shell_and_names_missing_settings(remote_site: Site) -> None:
    config = SiteBackup.objects.get(site=remote_site)
    first = SshShell.for_site(config)
    assert SshShell.for_site(SiteBackup.objects.get(site=remote_site)) is first
    assert first.run(["echo", "ok"]) == b"ok\n"
    first.close()
    assert SshShell.for_site(config) is not first
    config.known_hosts = ""
    with pytest.raises(SourceError, match="known_hosts not set"):
        SshShell.for_site(config)


@pytest.mark.slow
def test_files_over_ssh_back_up_restore_and_verify(
    remote_site: Site, site_root: Path, tmp_path: Path
) -> None:
    Source.objects.create(
        site=remote_site,
        name="uploads",
        layer=Layer.DATA,
        kind="files",
        path=str(site_root / "uploads"),
        over_ssh=True,
    )
    run = jobs.backup(remote_site, "data")
    assert run is not None
    assert run.status == RunStatus.SUCCEEDED, run.log
    snap = Snapshot.objects.get(run=run, source_name="uploads")
    assert snap.manifest["format"] == "tar"
    assert snap.manifest["files"] == 20
    assert len(snap.manifest["sample"]) == 16

    # The site changes after the backup; the restore brings the old state back, in another remote folder.
    (site_root / "uploads" / "2026" / "photo-3.jpg").write_bytes(b"changed")
    dest = Source(
        site=remote_site,
        environment="stage",
        name="uploads",
        layer=Layer.DATA,
        kind="files",
        path=str(tmp_path / "stage" / "uploads"),
        over_ssh=True,
    )
    files = module("files")
    from sitekeeper.backups.restic import Restic

    with Restic(remote_site.backup.repository) as restic:
        done = files.restore(snap.manifest, snap.restic_id, restic, dest)
    assert done["folder"] == dest.path
    restored = tmp_path / "stage" / "uploads" / "2026" / "photo-3.jpg"
    assert restored.read_bytes() == bytes([3]) * 1003
    checks = files.verify(dest, snap.manifest)
    assert checks
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]


# -- MariaDB over SSH (the WordPress test site's private MariaDB) -------------------------------------------
from tests.monitoring.test_wordpress import WordPress, wordpress  # noqa: E402, F401 (fixture)


def _root_sql(wp: WordPress, sql: str) -> None:
    socket = wp.base / "run" / "mysqld.sock"
    subprocess.run(
        ["mariadb", "--no-defaults", f"--socket={socket}", "-uroot", "-e", sql],
        check=True,
        capture_output=True,
        timeout=30,
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_mariadb_over_ssh_dump_restore_verify(remote_site: Site, wordpress: WordPress) -> None:
    port = wordpress.env["SITEKEEPER_WP_DB_PORT"]
    url = f"mysql://wordpress:wordpress-test-password@127.0.0.1:{port}/wordpress"
    Source.objects.create(
        site=remote_site, name="db", layer=Layer.DATA, kind="mariadb", db_url=url, over_ssh=True
    )
    run = jobs.backup(remote_site, "data")
    assert run is not None
    assert run.status == RunStatus.SUCCEEDED, run.log
    snap = Snapshot.objects.get(run=run, source_name="db")
    assert snap.manifest["tables"]["wp_posts"]["rows"] >= 1

    scratch = f"sk_remote_{secrets.token_hex(4)}"
    _root_sql(wordpress, f"CREATE DATABASE {scratch}; GRANT ALL ON {scratch}.* TO 'wordpress'@'127.0.0.1'")
    try:
        dest = Source(
            site=remote_site,
            environment="stage",
            name="db",
            layer=Layer.DATA,
            kind="mariadb",
            db_url=url.rsplit("/", 1)[0] + f"/{scratch}",
            over_ssh=True,
        )
        mariadb = module("mariadb")
        from sitekeeper.backups.restic import Restic

        with Restic(remote_site.backup.repository) as restic:
            mariadb.restore(snap.manifest, snap.restic_id, restic, dest)
        checks = mariadb.verify(dest, snap.manifest)
        assert all(c.ok for c in checks), [c for c in checks if not c.ok]
        assert any(c.name == "rows wp_posts" for c in checks)
    finally:
        _root_sql(wordpress, f"DROP DATABASE IF EXISTS {scratch}")
