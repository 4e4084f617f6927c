# ruff: noqa: F811  (the wordpress fixture is imported by name, then used as an argument)
"""ACCEPTANCE on the real WordPress test site (scripts/wordpress-test.sh: private MariaDB + php -S, loopback):
back up uploads + the MariaDB database, change a post and an upload, back up again, restore the FIRST
snapshots into a scratch database + folder: the old post and file are back and every check matches.

The scratch database server is the system MariaDB on 127.0.0.1:3306 (root, no password): the test site's
own root logs in by socket only. Needs the Debian packages of tests/monitoring/test_wordpress.py.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest

from sitekeeper.backups import jobs
from sitekeeper.backups.models import Layer, Repository, RunStatus, SiteBackup, Snapshot, Source
from sitekeeper.backups.restic import Restic
from sitekeeper.backups.sources import DbUrl, module
from sitekeeper.contracts.models import Site
from tests.backups.services import unavailable
from tests.monitoring.test_wordpress import WordPress, wordpress  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow

SCRATCH_MARIADB = "mysql://root@127.0.0.1:3306/"
OLD_FILE = b"the original upload, before the change\n"


def connect(url: str) -> Any:
    import pymysql

    db = DbUrl.parse(url)
    return pymysql.connect(
        host=db.host, port=db.port or 3306, user=db.user, password=db.password, database=db.name or None
    )


def scalar(url: str, sql: str, *args: Any) -> Any:
    with contextlib.closing(connect(url)) as conn, conn.cursor() as cursor:
        cursor.execute(sql, args)
        conn.commit()
        row = cursor.fetchone()
    return row[0] if row else None


@pytest.fixture
def wp_site(site: Site, local_repo: Repository, wordpress: WordPress, settings) -> tuple[Site, Path, str]:
    try:
        scalar(SCRATCH_MARIADB, "SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any connection failure means: no scratch server here
        unavailable(
            f"the scratch MariaDB (root on 127.0.0.1:3306, package mariadb-server) is unreachable: {exc}"
        )
    settings.SITEKEEPER_SCRATCH_MARIADB_URL = SCRATCH_MARIADB
    uploads = wordpress.base / "site" / "wp-content" / "uploads"
    (uploads / "2026" / "11").mkdir(parents=True, exist_ok=True)
    (uploads / "2026" / "11" / "note.txt").write_bytes(OLD_FILE)
    (uploads / "2026" / "11" / "logo.bin").write_bytes(bytes(range(256)) * 64)
    db_url = f"mysql://wordpress:wordpress-test-password@127.0.0.1:{wordpress.env['SITEKEEPER_WP_DB_PORT']}/wordpress"
    SiteBackup.objects.create(site=site, repository=local_repo)
    Source.objects.create(site=site, name="uploads", layer=Layer.DATA, kind="files", path=str(uploads))
    Source.objects.create(site=site, name="wp-db", layer=Layer.DATA, kind="mariadb", db_url=db_url)
    return site, uploads, db_url


def test_restore_the_first_snapshot_brings_back_the_old_post_and_file(wp_site, tmp_path: Path) -> None:
    site, uploads, db_url = wp_site
    post_id, old_title = 1, scalar(db_url, "SELECT post_title FROM wp_posts WHERE ID = 1")
    assert old_title  # WordPress's install made "Hello world!"
    posts = scalar(db_url, "SELECT COUNT(*) FROM wp_posts")

    first = jobs.backup(site, Layer.DATA, slot="wp-1")
    assert first is not None
    assert first.status == RunStatus.SUCCEEDED, first.log
    snaps = {s.source_name: s for s in Snapshot.objects.filter(run=first)}
    assert snaps["wp-db"].manifest["tables"]["wp_posts"]["rows"] == posts
    assert snaps["wp-db"].manifest["moving"] == {}  # a quiet site: every table is compared exactly
    assert snaps["uploads"].manifest["files"] >= 2

    # The site moves on: a post changes, an upload is overwritten, a new one appears.
    scalar(db_url, "UPDATE wp_posts SET post_title = %s WHERE ID = %s", "Changed after the backup", post_id)
    (uploads / "2026" / "11" / "note.txt").write_bytes(b"overwritten later\n")
    (uploads / "2026" / "11" / "new.txt").write_bytes(b"added later\n")
    second = jobs.backup(site, Layer.DATA, slot="wp-2")
    assert second is not None
    assert second.status == RunStatus.SUCCEEDED, second.log
    later = Snapshot.objects.get(run=second, source_name="wp-db")
    assert (
        later.manifest["tables"]["wp_posts"]["checksum"]
        != snaps["wp-db"].manifest["tables"]["wp_posts"]["checksum"]
    )

    with Restic(site.backup.repository) as restic:
        db_mod, files_mod = module("mariadb"), module("files")
        with db_mod.scratch(snaps["wp-db"].source, tmp_path) as dest_db:
            db_mod.restore(snaps["wp-db"].manifest, snaps["wp-db"].restic_id, restic, dest_db)
            checks = db_mod.verify(dest_db, snaps["wp-db"].manifest)
            restored_title = scalar(dest_db.db_url, "SELECT post_title FROM wp_posts WHERE ID = %s", post_id)
            assert dest_db.db_url.startswith(SCRATCH_MARIADB.rstrip("/"))  # not the site's own database
        assert restored_title == old_title
        assert all(c.ok for c in checks), [c.as_dict() for c in checks if not c.ok]
        by_name = {c.name: c for c in checks}
        assert by_name["rows wp_posts"].expected == by_name["rows wp_posts"].actual == posts
        assert by_name["checksum wp_posts"].ok
        assert scalar(db_url, "SELECT post_title FROM wp_posts WHERE ID = 1") == "Changed after the backup"

        with files_mod.scratch(snaps["uploads"].source, tmp_path) as dest_files:
            files_mod.restore(snaps["uploads"].manifest, snaps["uploads"].restic_id, restic, dest_files)
            folder = Path(dest_files.path)
            assert (folder / "2026" / "11" / "note.txt").read_bytes() == OLD_FILE
            assert not (folder / "2026" / "11" / "new.txt").exists()
            file_checks = files_mod.verify(dest_files, snaps["uploads"].manifest)
        assert all(c.ok for c in file_checks), [c.as_dict() for c in file_checks if not c.ok]
        assert {c.name for c in file_checks} >= {"file count", "total bytes"}

    # The monthly restore test, when it is there: it restores the newest snapshots and records the figures.
    try:
        from sitekeeper.backups.verify import restore_test
    except ImportError:
        return
    test = restore_test(site, slot="wp-test", trigger="manual")
    assert test.status == "passed", test.error
    db_item = next(item for item in test.evidence if item["source"] == "wp-db")
    assert db_item["snapshot"] == later.restic_id
    rows = next(c for c in db_item["checks"] if c["name"] == "rows wp_posts")
    assert rows["expected"] == rows["actual"] == posts
