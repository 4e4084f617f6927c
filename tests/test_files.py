"""The data folder is owner-only (issue 14.8): 0700 folders and 0600 files, created so and tightened on
start; clients' site folders keep their usual modes."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from sitekeeper import files
from sitekeeper.backups.shell import LocalShell

SITEKEEPER = Path(sys.executable).with_name("sitekeeper")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def restricted() -> Iterator[None]:
    """This process under restrict_umask(), as the `sitekeeper` command runs; undone afterwards."""
    saved, started = os.umask(0o022), dict(files._started)
    files._started.clear()
    files.restrict_umask()
    yield
    os.umask(saved)
    files._started.clear()
    files._started.update(started)


def cli_env(home: Path) -> dict[str, str]:
    env = {**os.environ, "SITEKEEPER_HOME": str(home)}
    for name in ("SITEKEEPER_DATABASE_URL", "SITEKEEPER_QUEUE_URL", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    return env


def everything(home: Path) -> list[Path]:
    return [home, *home.rglob("*")]


def test_private_dir_makes_every_missing_level_0700_whatever_the_umask(tmp_path):
    saved = os.umask(0o022)
    try:
        made = files.private_dir(tmp_path / "a" / "b")
    finally:
        os.umask(saved)
    assert (mode(tmp_path / "a"), mode(made)) == (0o700, 0o700)


def test_write_private_is_0600_replaces_a_loose_file_and_refuses_a_link(tmp_path):
    loose = tmp_path / "attachments" / "x.pdf"
    loose.parent.mkdir()
    loose.write_bytes(b"old")
    loose.chmod(0o644)

    files.write_private(loose, b"new")

    assert (loose.read_bytes(), mode(loose), mode(loose.parent)) == (b"new", 0o600, 0o700)
    outside = tmp_path / "outside"
    outside.write_text("keep")
    link = tmp_path / "attachments" / "link.pdf"
    link.symlink_to(outside)
    with pytest.raises(OSError, match="Too many levels of symbolic links"):
        files.write_private(link, b"planted")
    assert outside.read_text() == "keep"


def test_site_folders_get_the_umask_the_process_started_with(tmp_path, restricted):
    made = files.site_dirs(tmp_path / "site" / "wp-content" / "uploads")
    assert mode(made) == 0o755
    assert mode(tmp_path / "site") == 0o755
    # Commands on a local site (tar of a restore, mkdir of an update) run with the site's umask too.
    assert LocalShell().run(["sh", "-c", "umask"]).strip() == b"0022"
    (tmp_path / "ours").touch()
    assert mode(tmp_path / "ours") == 0o600  # while this process's own files are owner-only


def test_tighten_makes_an_old_data_folder_owner_only_and_leaves_the_rest_alone(tmp_path):
    home = tmp_path / "var"
    for folder in ("attachments/acme/2026", "exports/acme", "cache/restic/data", "demo-sites/bakery", "mine"):
        (home / folder).mkdir(parents=True)
    for name in ("sitekeeper.sqlite3", "sitekeeper.sqlite3-wal", "secret_key", "queue.sqlite3"):
        (home / name).write_text("x")
    (home / "attachments/acme/2026/invoice.pdf").write_text("x")
    (home / "cache/restic/data/pack").write_text("x")
    (home / "demo-sites/bakery/index.php").write_text("x")
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("x")
    (home / "attachments/acme/link").symlink_to(outside)
    for path in [*everything(home), outside]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)

    changed = files.tighten(home)

    private = [home, home / "attachments", home / "attachments/acme", home / "attachments/acme/2026",
               home / "exports", home / "exports/acme", home / "cache"]  # fmt: skip
    assert {mode(path) for path in private} == {0o700}
    owned = ["sitekeeper.sqlite3", "sitekeeper.sqlite3-wal", "secret_key", "queue.sqlite3",
             "attachments/acme/2026/invoice.pdf"]  # fmt: skip
    assert {mode(home / name) for name in owned} == {0o600}
    assert changed == len(private) + len(owned)
    # A client's site, a name sitekeeper does not own, what a link points at, and the insides of the
    # restic cache (unreachable now that cache/ is 0700) keep their modes.
    assert mode(home / "demo-sites") == mode(home / "demo-sites/bakery") == 0o755
    assert mode(home / "demo-sites/bakery/index.php") == mode(outside) == 0o644
    assert mode(home / "mine") == mode(home / "cache/restic") == 0o755
    assert files.tighten(home) == 0  # a second start has nothing left to do


def test_tighten_reaches_files_that_settings_keep_outside_the_data_folder(tmp_path):
    database, packages = tmp_path / "db" / "sk.sqlite3", tmp_path / "packages"
    database.parent.mkdir()
    database.write_text("x")
    (packages / "acme").mkdir(parents=True)
    # Modes set outright: another test in this worker may have left the process umask at 077 (the WSGI
    # entry sets it), and mkdir obeys the umask.
    for path in (database, database.parent, packages, packages / "acme"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    settings = SimpleNamespace(
        HOME=tmp_path / "var",
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(database)}},
        HUEY={"huey_class": "huey.RedisHuey", "url": "redis://127.0.0.1:6379"},  # no queue file
        SITEKEEPER_PACKAGES_DIR=str(packages),
    )
    settings.HOME.mkdir()
    settings.HOME.chmod(0o700)

    assert files.tighten_data_folder(settings) == 3
    assert (mode(database), mode(packages), mode(packages / "acme")) == (0o600, 0o700, 0o700)
    assert mode(database.parent) == 0o755  # the database's folder is the operator's choice


def test_a_fresh_home_is_owner_only_after_a_command(tmp_path):
    home = tmp_path / "home"
    done = subprocess.run(
        [SITEKEEPER, "migrate", "-v0"],
        env=cli_env(home),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr

    made = everything(home)
    assert {home / "sitekeeper.sqlite3", home / "secret_key"} <= set(made)
    assert {path.name: oct(mode(path)) for path in made if path.is_dir() and mode(path) != 0o700} == {}
    assert {path.name: oct(mode(path)) for path in made if path.is_file() and mode(path) != 0o600} == {}


def test_an_old_open_data_folder_is_tightened_when_the_server_starts(tmp_path):
    home = tmp_path / "home"
    (home / "attachments" / "acme").mkdir(parents=True)
    (home / "attachments" / "acme" / "contract.pdf").write_text("x")
    (home / "sitekeeper.sqlite3").write_text("")
    for path in everything(home):
        path.chmod(0o755 if path.is_dir() else 0o644)

    done = subprocess.run(
        [SITEKEEPER, "serve", "--help"],
        env=cli_env(home),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    # The folder itself was made 0700 as the settings loaded; the four inside it at start.
    assert f"data folder {home}: 4 files and folders made owner-only (0600/0700)" in done.stderr
    assert {mode(path) for path in everything(home) if path.is_dir()} == {0o700}
    assert {mode(path) for path in everything(home) if path.is_file()} == {0o600}
