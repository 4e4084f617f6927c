"""Restores (stage by default, prod only with the typed confirmation, subsets) and client downloads, on a real
restic repository."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import sqlite3
import tarfile
import zipfile
from collections.abc import Iterator
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import pytest

from sitekeeper.backups import jobs, restore, verify
from sitekeeper.backups.models import (
    Export,
    Layer,
    Restore,
    RestoreTest,
    RunStatus,
    SiteBackup,
    Snapshot,
    Source,
)
from tests.backups.services import unavailable

pytestmark = pytest.mark.slow


def _backup(site, slot: str) -> dict[str, Snapshot]:
    run = jobs.backup(site, "data", slot=slot)
    assert run is not None
    assert run.status == RunStatus.SUCCEEDED, run.log
    return {s.source_name: s for s in Snapshot.objects.filter(run=run)}


def _titles(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as conn:
        return [row[0] for row in conn.execute("SELECT title FROM posts ORDER BY id")]


@pytest.fixture
def stage(backed_site, tmp_path: Path) -> Path:
    """Stage twins of the data sources: an empty uploads folder and a database with the same tables."""
    root = tmp_path / "stage"
    (root / "uploads").mkdir(parents=True)
    with closing(sqlite3.connect(root / "site.sqlite3")) as conn, conn:
        conn.execute("CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT)")
        conn.execute("CREATE TABLE comments (id INTEGER PRIMARY KEY, body TEXT)")
        conn.execute("INSERT INTO comments (body) VALUES ('stage only')")
    for name, kind, path in (("uploads", "files", root / "uploads"), ("db", "sqlite", root / "site.sqlite3")):
        Source.objects.create(
            site=backed_site, environment="stage", name=name, layer=Layer.DATA, kind=kind, path=str(path)
        )
    return root


def test_prod_restore_needs_the_exact_confirmation_and_brings_back_old_versions(
    backed_site, site_root: Path, engineer
) -> None:
    first = _backup(backed_site, "day-1")
    photo = site_root / "uploads" / "2026" / "photo-0.jpg"
    old_bytes = photo.read_bytes()
    photo.write_bytes(b"changed after the first backup")
    (site_root / "uploads" / "2026" / "new.jpg").write_bytes(b"new")
    with closing(sqlite3.connect(site_root / "site.sqlite3")) as conn, conn:
        conn.execute("UPDATE posts SET title = 'edited' WHERE id = 1")
    _backup(backed_site, "day-2")

    snap = first["uploads"]
    expected = f"https://acme.test {snap.short_id}"
    with pytest.raises(restore.RestoreRefused, match=f"type exactly: {expected}"):
        restore.request_restore(snap, target="prod", user=engineer)
    with pytest.raises(restore.RestoreRefused, match="type exactly"):
        restore.request_restore(snap, target="prod", user=engineer, confirmation=f"{expected} ")
    with pytest.raises(restore.RestoreRefused, match="target must be one of"):
        restore.request_restore(snap, target="production", user=engineer, confirmation=expected)

    files = restore.request_restore(
        snap, target="prod", user=engineer, confirmation=expected, reason="photo overwritten by a plugin"
    )
    assert files.decided_by == engineer
    assert files.reason == "photo overwritten by a plugin"
    done = restore.run_restore(files)
    assert done.status == Restore.Status.SUCCEEDED, done.log
    assert photo.read_bytes() == old_bytes
    assert not (site_root / "uploads" / "2026" / "new.jpg").exists()  # a rollback: newer files go
    assert "data written after that was replaced. Decided by" in done.log
    assert "photo overwritten by a plugin" in done.log
    assert "compared with the snapshot" in done.log

    db_snap = first["db"]
    db = restore.request_restore(
        db_snap, target="prod", user=engineer, confirmation=f"https://acme.test {db_snap.short_id}"
    )
    assert restore.run_restore(db).status == Restore.Status.SUCCEEDED
    assert _titles(site_root / "site.sqlite3")[0] == "post 0"
    # Run again: a finished restore is returned as it is.
    assert restore.run_restore(db).finished_at == Restore.objects.get(pk=db.pk).finished_at


def test_file_and_table_subsets_restore_to_stage(backed_site, stage: Path, site_root: Path, engineer) -> None:
    snaps = _backup(backed_site, "day-1")
    files = restore.request_restore(snaps["uploads"], user=engineer, paths=["2026/photo-3.jpg"])
    assert files.target == "stage"
    done = restore.run_restore(files)
    assert done.status == Restore.Status.SUCCEEDED, done.log
    restored = sorted(p.relative_to(stage / "uploads") for p in (stage / "uploads").rglob("*") if p.is_file())
    assert restored == [Path("2026/photo-3.jpg")]
    assert (stage / "uploads" / "2026" / "photo-3.jpg").read_bytes() == bytes([3]) * 1003

    tables = restore.request_restore(snaps["db"], user=engineer, tables=["posts"])
    done = restore.run_restore(tables)
    assert done.status == Restore.Status.SUCCEEDED, done.log
    assert len(_titles(stage / "site.sqlite3")) == 50
    with closing(sqlite3.connect(stage / "site.sqlite3")) as conn:
        assert conn.execute("SELECT body FROM comments").fetchall() == [("stage only",)]  # untouched

    with pytest.raises(restore.RestoreRefused, match="no table 'nope'; it has: posts"):
        restore.request_restore(snaps["db"], user=engineer, tables=["nope"])
    # A restore that fails while running is recorded as failed, with the reason in its log.
    Snapshot.objects.filter(pk=snaps["db"].pk).update(
        manifest={**snaps["db"].manifest, "file": "gone.sqlite3"}
    )
    snaps["db"].refresh_from_db()
    failed = restore.run_restore(restore.request_restore(snaps["db"], user=engineer))
    assert failed.status == Restore.Status.FAILED
    assert "gone.sqlite3" in failed.error
    assert "FAILED" in failed.log


def test_requests_that_cannot_work_are_refused_with_the_reason(backed_site, engineer) -> None:
    snaps = _backup(backed_site, "day-1")
    with pytest.raises(restore.RestoreRefused, match="no stage source named 'uploads'"):
        restore.request_restore(snaps["uploads"], user=engineer)
    Source.objects.create(
        site=backed_site, environment="stage", name="db", layer=Layer.DATA, kind="files", path="/srv/stage/db"
    )
    with pytest.raises(restore.RestoreRefused, match="the snapshot holds SQLite"):
        restore.request_restore(snaps["db"], user=engineer)
    with pytest.raises(restore.RestoreRefused, match="no file paths"):
        restore.request_restore(snaps["db"], target="prod", user=engineer, paths=["x"])
    with pytest.raises(restore.RestoreRefused, match="must be relative"):
        restore.request_restore(
            snaps["uploads"],
            target="prod",
            user=engineer,
            paths=["../etc/passwd"],
            confirmation=restore.confirmation_text(snaps["uploads"]),
        )
    code = jobs.backup(backed_site, "code", slot="code-1")
    assert code is not None
    code_snap = code.snapshots.get()
    chosen = restore.request_restore(
        code_snap, target="prod", user=engineer, paths=["index.php"],
        confirmation=restore.confirmation_text(code_snap),
    )  # fmt: skip
    assert chosen.paths == ["index.php"]
    Snapshot.objects.filter(pk=snaps["uploads"].pk).update(forgotten_at=dt.datetime.now(dt.UTC))
    snaps["uploads"].refresh_from_db()
    with pytest.raises(restore.RestoreRefused, match="let go"):
        restore.request_export(snaps["uploads"], user=engineer)


def test_whole_code_restore_mirrors_the_snapshot_but_spares_what_the_backup_left_out(
    backed_site, site_root: Path, engineer
) -> None:
    code = jobs.backup(backed_site, "code", slot="code-1")
    assert code is not None
    code_snap = code.snapshots.get()
    (site_root / "index.php").write_text("<?php echo 'defaced';\n")
    (site_root / "shell.php").write_text("<?php system($_GET['c']);\n")
    whole = restore.request_restore(
        code_snap, target="prod", user=engineer, confirmation=restore.confirmation_text(code_snap)
    )
    done = restore.run_restore(whole)
    assert done.status == Restore.Status.SUCCEEDED, done.log
    assert (site_root / "index.php").read_text() == "<?php echo 'hello';\n"
    assert not (site_root / "shell.php").exists()  # a rollback removes what came after
    # uploads/ is excluded from the code layer: the mirror leaves it alone.
    assert len(list((site_root / "uploads" / "2026").iterdir())) == 20


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_exports_as_tar_and_zip_are_readable_and_expire(backed_site, site_root: Path, owner) -> None:
    snaps = _backup(backed_site, "day-1")
    with pytest.raises(restore.RestoreRefused, match="format must be one of"):
        restore.request_export(snaps["uploads"], user=owner, format="rar")

    tar_export = restore.run_export(restore.request_export(snaps["uploads"], user=owner))
    assert tar_export.status == Export.Status.READY, tar_export.error
    path = restore.export_path(tar_export)
    assert path.is_relative_to(restore.exports_root() / "acme")
    assert _sha256(path) == tar_export.sha256
    assert path.stat().st_size == tar_export.size
    with tarfile.open(path) as archive:
        files = {m.name: m for m in archive.getmembers() if m.isfile()}
        assert len(files) == 20
        content = archive.extractfile(files["uploads/2026/photo-5.jpg"])
        assert content is not None
        assert content.read() == bytes([5]) * 1005
    assert tar_export.expires_at is not None
    assert tar_export.expires_at - tar_export.finished_at == dt.timedelta(days=7)

    zip_export = restore.run_export(restore.request_export(snaps["uploads"], user=owner, format="zip"))
    assert zip_export.status == Export.Status.READY, zip_export.error
    zpath = restore.export_path(zip_export)
    assert _sha256(zpath) == zip_export.sha256
    with zipfile.ZipFile(zpath) as archive:
        assert archive.testzip() is None
        names = [n for n in archive.namelist() if not n.endswith("/")]
        assert len(names) == 20
        assert archive.read("uploads/2026/photo-7.jpg") == bytes([7]) * 1007

    db_export = restore.run_export(restore.request_export(snaps["db"], user=owner, format="zip"))
    assert db_export.status == Export.Status.READY, db_export.error
    with zipfile.ZipFile(restore.export_path(db_export)) as archive:
        assert archive.namelist() == ["db/db.sqlite3"]
        extracted = Path(archive.extract("db/db.sqlite3", site_root.parent / "out"))
    assert len(_titles(extracted)) == 50

    assert restore.purge_expired_exports(dt.datetime.now(dt.UTC)) == 0
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=8)
    assert restore.purge_expired_exports(later) == 3
    assert not path.exists()
    assert not zpath.exists()
    assert Export.objects.filter(status=Export.Status.EXPIRED).count() == 3


PG_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def pg_pair(settings) -> Iterator[tuple[str, str]]:
    """Two throwaway PostgreSQL databases (prod with rows, stage with the same empty table); their URLs."""
    import psycopg

    names = [f"sk_test_a_{secrets.token_hex(4)}" for _ in range(2)]
    try:
        admin = psycopg.connect(PG_SERVER, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL is not reachable on 127.0.0.1:5432 as postgres: {exc}")
    settings.SITEKEEPER_SCRATCH_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"
    with admin:
        for name in names:
            admin.execute(f'CREATE DATABASE "{name}"')
    try:
        for name, rows in zip(names, (300, 0), strict=True):
            with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}", autocommit=True) as conn:
                conn.execute("CREATE TABLE orders (id serial PRIMARY KEY, total numeric(10, 2))")
                conn.execute("CREATE TABLE notes (id serial PRIMARY KEY, body text)")
                conn.execute(
                    "INSERT INTO orders (total) SELECT i * 1.5 FROM generate_series(1, %s) i", (rows,)
                )
                conn.execute("INSERT INTO notes (body) VALUES (%s)", (f"{rows}",))
        yield tuple(f"postgres://postgres@127.0.0.1:5432/{name}" for name in names)  # type: ignore[misc]
    finally:
        with psycopg.connect(PG_SERVER, autocommit=True) as admin:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg(url: str, sql: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(url.replace("postgres://", "postgresql://", 1)) as conn:
        return conn.execute(sql).fetchall()


def test_postgres_restore_test_table_subset_to_stage_and_rollback_in_prod(
    site, local_repo, pg_pair, engineer
) -> None:
    prod_url, stage_url = pg_pair
    SiteBackup.objects.create(site=site, repository=local_repo)
    for env, url in (("prod", prod_url), ("stage", stage_url)):
        Source.objects.create(
            site=site, environment=env, name="shop", layer=Layer.DATA, kind="postgres", db_url=url
        )
    first = _backup(site, "day-1")["shop"]
    _pg(prod_url, "UPDATE orders SET total = 0 WHERE id <= 10 RETURNING id")
    _backup(site, "day-2")

    test = verify.restore_test(site, slot="2026-11")
    assert test.status == RestoreTest.Status.PASSED, test.error
    (item,) = test.evidence
    assert item["passed"]
    rows = {c["name"]: c for c in item["checks"]}
    assert rows["rows public.orders"]["expected"] == rows["rows public.orders"]["actual"] == 300
    assert item["restored_to"].startswith("127.0.0.1:5432/sk_scratch_")  # no credentials in the evidence

    request = restore.request_restore(first, user=engineer, tables=["orders"])
    assert request.tables == ["public.orders"]
    stage = restore.run_restore(request)
    assert stage.status == Restore.Status.SUCCEEDED, stage.log
    assert _pg(stage_url, "SELECT count(*), sum(total) FROM orders") == [(300, Decimal("67725.00"))]
    assert _pg(stage_url, "SELECT body FROM notes") == [("0",)]  # not in the subset: untouched

    prod = restore.run_restore(
        restore.request_restore(
            first, target="prod", user=engineer, confirmation=restore.confirmation_text(first)
        )
    )
    assert prod.status == Restore.Status.SUCCEEDED, prod.log
    assert _pg(prod_url, "SELECT count(*) FROM orders WHERE total = 0") == [(0,)]
    assert "match" in prod.log


@pytest.mark.parametrize(
    ("strip", "name", "expected"),
    [
        ("tmp/site/uploads/", "tmp/site/uploads/2026/a.jpg", "uploads/2026/a.jpg"),
        ("tmp/site/uploads/", "tmp/site/uploads", "uploads"),
        ("tmp/site/uploads/", "tmp/site", None),  # restic's parent folders stay out
        ("", "./2026/a.jpg", "uploads/2026/a.jpg"),  # a folder read over SSH, stored as a tar
        ("", ".", "uploads"),
        ("", "../etc/passwd", None),
    ],
)
def test_export_member_names_are_relative_to_the_source(strip: str, name: str, expected: str | None) -> None:
    assert restore._Renamer("uploads", strip)(name) == expected
