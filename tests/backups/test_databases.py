"""Database sources end to end: a real PostgreSQL database (127.0.0.1:5432, user postgres) and a SQLite file,
backed up with jobs.backup into a real restic repository, restored into scratch space and verified, whole and
as a table subset; and dumps that fail (half-way, or before they start) leave nothing behind but a P2 ticket.
"""

from __future__ import annotations

import secrets
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sitekeeper.backups import jobs
from sitekeeper.backups.models import BackupRun, Layer, Repository, RunStatus, SiteBackup, Snapshot, Source
from sitekeeper.backups.restic import Restic
from sitekeeper.backups.sources import database, module
from sitekeeper.contracts.models import Site
from tests.backups.services import unavailable

pytestmark = pytest.mark.slow

PG_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def all_ok(checks: list) -> bool:
    return bool(checks) and all(c.ok for c in checks)


def failures(checks: list) -> list[dict[str, Any]]:
    return [c.as_dict() for c in checks if not c.ok]


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A throwaway database with two tables (one in its own schema) and some rows; its postgres:// URL."""
    import psycopg

    name = f"sk_test_src_{secrets.token_hex(4)}"
    try:
        admin = psycopg.connect(PG_SERVER, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL is not reachable on 127.0.0.1:5432 as postgres: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}", autocommit=True) as conn:
            conn.execute("CREATE TABLE posts (id serial PRIMARY KEY, title text, body text)")
            conn.execute(
                "INSERT INTO posts (title, body) "
                "SELECT 'post ' || i, repeat('x', i) FROM generate_series(1, 500) i"
            )
            conn.execute("CREATE SCHEMA shop")
            conn.execute("CREATE TABLE shop.orders (id serial PRIMARY KEY, total numeric(10, 2))")
            conn.execute("INSERT INTO shop.orders (total) SELECT i * 1.5 FROM generate_series(1, 120) i")
        yield f"postgres://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_SERVER, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_site(site: Site, local_repo: Repository, pg_database: str, settings) -> Site:
    settings.SITEKEEPER_SCRATCH_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"
    SiteBackup.objects.create(site=site, repository=local_repo)
    Source.objects.create(site=site, name="pg", layer=Layer.DATA, kind="postgres", db_url=pg_database)
    return site


def test_postgres_backup_restores_into_a_scratch_database_and_verifies(pg_site: Site, tmp_path) -> None:
    run = jobs.backup(pg_site, Layer.DATA, slot="pg-1")
    assert run is not None
    assert run.status == RunStatus.SUCCEEDED, run.log
    snap = Snapshot.objects.get(run=run)
    assert snap.manifest["tables"]["public.posts"]["rows"] == 500
    assert snap.manifest["tables"]["shop.orders"]["rows"] == 120
    assert snap.manifest["moving"] == {}

    pg = module("postgres")
    with Restic(pg_site.backup.repository) as restic, pg.scratch(snap.source, tmp_path) as dest:
        pg.restore(snap.manifest, snap.restic_id, restic, dest)
        checks = pg.verify(dest, snap.manifest)
        assert all_ok(checks), failures(checks)
        assert {c.name for c in checks} >= {"rows public.posts", "checksum shop.orders"}

        # A table subset into a database that has moved on: shop.orders rolls back, posts keeps its change.
        import psycopg

        with psycopg.connect(dest.db_url.replace("postgres://", "postgresql://"), autocommit=True) as conn:
            conn.execute("DELETE FROM shop.orders WHERE id > 20")
            conn.execute("UPDATE posts SET title = 'changed' WHERE id = 1")
        pg.restore(snap.manifest, snap.restic_id, restic, dest, tables=["shop.orders"])
        now = pg.figures(pg.shell_for(dest), pg._db(dest))
        assert now["shop.orders"] == snap.manifest["tables"]["shop.orders"]
        assert now["public.posts"]["rows"] == 500
        assert now["public.posts"]["checksum"] != snap.manifest["tables"]["public.posts"]["checksum"]

        with pytest.raises(pg.SourceError, match="no table"):
            pg.restore(snap.manifest, snap.restic_id, restic, dest, tables=["public.nope"])


def test_sqlite_whole_and_table_subset_restore(backed_site: Site, site_root: Path, tmp_path) -> None:
    run = jobs.backup(backed_site, Layer.DATA, slot="sq-1")
    assert run is not None
    assert run.status == RunStatus.SUCCEEDED, run.log
    snap = Snapshot.objects.get(run=run, source_name="db")
    live = site_root / "site.sqlite3"
    with sqlite3.connect(live) as conn:
        conn.execute("UPDATE posts SET title = 'changed' WHERE id <= 10")
        conn.execute("CREATE TABLE comments (id INTEGER PRIMARY KEY)")
    conn.close()

    sq = module("sqlite")
    with Restic(backed_site.backup.repository) as restic:
        with sq.scratch(snap.source, tmp_path) as dest:
            sq.restore(snap.manifest, snap.restic_id, restic, dest)
            checks = sq.verify(dest, snap.manifest)
            assert all_ok(checks), failures(checks)

        # Only the posts table into a copy of today's database: posts rolls back, comments stays.
        copy = tmp_path / "today.sqlite3"
        shutil.copy(live, copy)
        dest = Source(site=backed_site, name="db", layer=Layer.DATA, kind="sqlite", path=str(copy))
        sq.restore(snap.manifest, snap.restic_id, restic, dest, tables=["posts"])
    now = sq.figures_of(str(copy))
    assert now["posts"] == snap.manifest["tables"]["posts"]
    assert "comments" in now


def assert_failed_cleanly(site: Site, run: BackupRun, previous: Snapshot, folder: Path) -> None:
    """FAILED, no catalogue row, no restic snapshot of the run left, a P2 ticket, the previous one intact."""
    assert run.status == RunStatus.FAILED, run.log
    run.refresh_from_db()
    assert run.error
    assert not Snapshot.objects.filter(run=run).exists()
    assert run.ticket is not None
    assert run.ticket.priority == "P2"
    assert run.ticket.type == "incident"
    with Restic(site.backup.repository) as restic:
        assert restic.snapshots([f"run-{run.pk}"]) == []
        ids = {s["id"] for s in restic.snapshots([f"site-{site.pk}"])}
        assert any(
            i.startswith(previous.restic_id) for i in ids
        )  # the catalogue holds the short id until retention resolves it
        kind = module(previous.source_kind)
        with kind.scratch(previous.source, folder) as dest:
            kind.restore(previous.manifest, previous.restic_id, restic, dest)
            checks = kind.verify(dest, previous.manifest)
            assert all_ok(checks), failures(checks)


def test_a_dump_that_fails_half_way_leaves_no_snapshot(pg_site: Site, monkeypatch, tmp_path) -> None:
    first = jobs.backup(pg_site, Layer.DATA, slot="good")
    assert first is not None
    assert first.status == RunStatus.SUCCEEDED, first.log
    previous = Snapshot.objects.get(run=first)

    # The real pg_dump, cut off after 2 KB by a real failure (exit 1) — restic has by then stored the
    # truncated stream as a snapshot, which the failed run must let go.
    real_take = database.take

    def truncated(**kwargs: Any) -> Any:
        argv = ["sh", "-c", '"$@" | head -c 2048; exit 1', "sh", *kwargs.pop("dump_argv")]
        return real_take(dump_argv=argv, **kwargs)

    monkeypatch.setattr(database, "take", truncated)
    run = jobs.backup(pg_site, Layer.DATA, slot="broken")
    assert run is not None
    assert "status 1" in run.error, run.error
    assert "let go 1 incomplete snapshot" in run.log
    assert_failed_cleanly(pg_site, run, previous, tmp_path)


def test_a_source_naming_a_missing_database_fails_with_a_ticket(pg_site: Site, tmp_path) -> None:
    first = jobs.backup(pg_site, Layer.DATA, slot="good")
    assert first is not None
    assert first.status == RunStatus.SUCCEEDED, first.log
    previous = Snapshot.objects.get(run=first)
    Source.objects.create(
        site=pg_site,
        name="a-wp",  # sources run by name: this one first, so the run stores nothing
        layer=Layer.DATA,
        kind="mariadb",
        db_url="mysql://root@127.0.0.1:3306/sk_no_such_database",
    )
    run = jobs.backup(pg_site, Layer.DATA, slot="missing-db")
    assert run is not None
    assert "sk_no_such_database" in run.error or "Unknown database" in run.error, run.error
    assert_failed_cleanly(pg_site, run, previous, tmp_path)
