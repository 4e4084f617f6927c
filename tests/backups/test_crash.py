# ruff: noqa: F811  (the database_url fixture is imported by name, then used as an argument)
"""ACCEPTANCE: kill the worker (SIGKILL) in the middle of a backup: the next run completes, the repository
checks clean, the previous snapshot is intact.

Everything runs in real processes against a data folder of its own (SQLite database, or a fresh PostgreSQL
database when SITEKEEPER_DATABASE_URL points at PostgreSQL — the fixture of tests/desk/test_worker.py):
`sitekeeper backup run` backs up a small site (the previous snapshot), then ~240 MB of random files are added
and a second run of the same slot is started; once its progress shows bytes stored it is killed with SIGKILL
(its restic dies with it: PR_SET_PDEATHSIG). The same command for the same slot then takes the dead run over
and completes; `restic check` passes; both snapshots restore into scratch space and verify.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.desk.test_worker import REPO, SITEKEEPER, database_url  # noqa: F401 (fixture)
from tests.serving import ready_seconds

pytestmark = pytest.mark.slow

BIG_FILES = 60
BIG_FILE_SIZE = 4 * 1024 * 1024  # 240 MB in all: restic needs a few seconds for it

SEED = """
from sitekeeper.backups.models import Repository, SiteBackup, Source
from sitekeeper.contracts.models import Calendar, CalendarVersion
from tests.conftest import WEEKDAY_HOURS, make_client

calendar = Calendar.objects.create(slug="hq", name="Berlin office")
CalendarVersion.objects.create(calendar=calendar, number=1, timezone="Europe/Berlin", hours=WEEKDAY_HOURS)
client = make_client("acme", "Acme GmbH", "business", calendar)
site = client.sites.get()
repo = Repository.objects.create(client=client, name="main", kind="local", location={repo!r})
SiteBackup.objects.create(site=site, repository=repo)
Source.objects.create(site=site, name="uploads", layer="data", kind="files", path={folder!r})
print("SEEDED", site.pk)
"""

PROOF = """
import json, tempfile
from pathlib import Path
from sitekeeper.backups.models import BackupRun, Snapshot
from sitekeeper.backups.restic import Restic
from sitekeeper.backups.sources import module

site_runs = {{r.slot: r for r in BackupRun.objects.filter(site_id={site})}}
out = {{"runs": {{s: [r.status, r.attempts] for s, r in site_runs.items()}}, "snapshots": {{}}}}
repo = site_runs["day-1"].site.backup.repository
with Restic(repo) as restic:
    # As the monthly check does: `restic unlock` first (it removes only locks of dead processes).
    out["locks"] = restic.run("list", "locks").text.split()
    restic.unlock()
    check = restic.check()
    out["check"] = [check.ok, check.output[-2000:]]
    out["restic"] = sorted(s["id"] for s in restic.snapshots())
    files = module("files")
    for slot, run in site_runs.items():
        for snap in Snapshot.objects.filter(run=run):
            with tempfile.TemporaryDirectory() as folder, files.scratch(snap.source, Path(folder)) as dest:
                files.restore(snap.manifest, snap.restic_id, restic, dest)
                checks = files.verify(dest, snap.manifest)
            out["snapshots"][slot] = {{
                "id": snap.restic_id, "files": snap.manifest["files"],
                "ok": bool(checks) and all(c.ok for c in checks),
                "failed": [c.as_dict() for c in checks if not c.ok],
            }}
print("PROOF", json.dumps(out))
"""


def _checked(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(SITEKEEPER), *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, f"sitekeeper {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


def marked(done: subprocess.CompletedProcess[str], marker: str) -> str:
    return next(line for line in done.stdout.splitlines() if line.startswith(marker)).split(" ", 1)[1]


def run_row(env: dict[str, str], home: Path, site: int, slot: str) -> dict[str, Any] | None:
    """The run's status and progress, read straight from the database the processes share."""
    sql = "SELECT status, progress, owner FROM backups_backuprun WHERE site_id = %s AND slot = %s"
    url = env.get("SITEKEEPER_DATABASE_URL")
    if url:
        import psycopg

        with psycopg.connect(url.replace("postgres://", "postgresql://", 1)) as conn:
            row = conn.execute(sql, (site, slot)).fetchone()
    else:
        with contextlib.closing(sqlite3.connect(home / "sitekeeper.sqlite3", timeout=5)) as conn:
            row = conn.execute(sql.replace("%s", "?"), (site, slot)).fetchone()
    if row is None:
        return None
    progress = row[1] if isinstance(row[1], dict) else json.loads(row[1] or "{}")
    return {"status": row[0], "progress": progress, "owner": row[2]}


def restic_child(parent: int) -> int | None:
    """The pid of a `restic` process whose parent is `parent`, if one runs."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            if name == "restic" and ppid == parent:
                return int(entry.name)
    return None


def read_bytes(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/io").read_text().splitlines():
            if line.startswith("rchar:"):
                return int(line.split()[1])
    return 0


def test_a_backup_killed_half_way_is_completed_by_the_next_run(
    tmp_path: Path, database_url: str | None
) -> None:
    home, folder = tmp_path / "home", tmp_path / "uploads"
    folder.mkdir()
    for i in range(20):
        (folder / f"small-{i}.txt").write_text(f"upload {i}\n" * (i + 1))
    env = {key: value for key, value in os.environ.items() if not key.startswith("SITEKEEPER_")}
    env.update(SITEKEEPER_HOME=str(home), PYTHONPATH=str(REPO))
    if database_url:
        env["SITEKEEPER_DATABASE_URL"] = database_url
    _checked(env, "migrate", "-v", "0")
    site = int(
        marked(
            _checked(env, "shell", "-c", SEED.format(repo=str(tmp_path / "repo"), folder=str(folder))),
            "SEEDED",
        )
    )

    first = _checked(env, "backup", "run", "--site", str(site), "--layer", "data", "--slot", "day-1")
    assert "succeeded" in first.stdout

    for i in range(BIG_FILES):
        (folder / f"big-{i:03}.bin").write_bytes(os.urandom(BIG_FILE_SIZE))
    log = (tmp_path / "killed.log").open("w")
    worker = subprocess.Popen(
        [str(SITEKEEPER), "backup", "run", "--site", str(site), "--layer", "data", "--slot", "day-2"],
        env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        # Mid-backup, deterministically: once the worker's restic has read 16 MB of the new files, freeze it
        # (SIGSTOP) so it cannot finish, then kill the worker. The kernel then kills restic too (it dies with
        # its parent), as it would if the worker were OOM-killed.
        deadline = time.monotonic() + 120
        while (child := restic_child(worker.pid)) is None or read_bytes(child) < 16 * 1024 * 1024:
            assert worker.poll() is None, (
                f"the backup ended before it could be killed: {(tmp_path / 'killed.log').read_text()}"
            )
            assert time.monotonic() < deadline, "restic did not start reading within 120 s"
            time.sleep(0.01)
        os.kill(child, signal.SIGSTOP)
        os.kill(worker.pid, signal.SIGKILL)
        assert worker.wait(timeout=30) == -signal.SIGKILL
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        log.close()
    killed = run_row(env, home, site, "day-2")
    assert killed is not None
    assert killed["status"] == "running"  # as the dead worker left it
    assert killed["progress"].get("bytes_done", 0) < BIG_FILES * BIG_FILE_SIZE
    pid = int(killed["owner"].rsplit(":", 1)[1])
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)

    # Its restic died with it: no process still holds the repository (the lock it left is stale).
    # The kernel signals it at once; on a loaded machine it may take a moment to be gone (a fixed 0.5 s
    # was a guess). A restic that outlived its parent stays, stopped, and is still found after the deadline.
    deadline = time.monotonic() + ready_seconds()
    while True:
        holders = subprocess.run(["pgrep", "-f", str(folder)], capture_output=True, text=True, check=False)
        if not holders.stdout.strip() or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert holders.stdout.strip() == "", f"restic outlived its parent: {holders.stdout}"

    again = _checked(env, "backup", "run", "--site", str(site), "--layer", "data", "--slot", "day-2")
    assert "taking over" in again.stdout, again.stdout
    assert "succeeded" in again.stdout

    proof = json.loads(marked(_checked(env, "shell", "-c", PROOF.format(site=site)), "PROOF"))
    assert proof["runs"] == {"day-1": ["succeeded", 1], "day-2": ["succeeded", 2]}
    assert proof["check"][0], proof["check"][1]
    assert len(proof["locks"]) <= 1, proof["locks"]  # at most the killed run's, if anything
    day1, day2 = proof["snapshots"]["day-1"], proof["snapshots"]["day-2"]
    assert day1["ok"], day1["failed"]
    assert day1["files"] == 20
    assert day2["ok"], day2["failed"]
    assert day2["files"] == 20 + BIG_FILES
    # The killed attempt left no snapshot: restic holds exactly the two catalogued ones.
    assert [i[:8] for i in proof["restic"]] == sorted(
        [day1["id"][:8], day2["id"][:8]]
    )  # short ids until retention
