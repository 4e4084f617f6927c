# ruff: noqa: F811  (the wordpress fixture is imported by name, then used as an argument)
"""ACCEPTANCE of the staged update pipeline on two real WordPress instances (scripts/wordpress-test.sh): the
session's `wordpress` site is prod, a second one started here is stage. Backups Sources for both (code folder,
MariaDB database), a local restic repository for the restore point; akismet activated in both databases.

1. akismet 5.0.2 -> 5.0.3 goes stage -> prod in the maintenance window and is recorded;
2. a zip whose akismet.php fatals on load is caught on stage; prod is untouched;
3. a zip that fatals only on prod's port passes stage, fails prod and is rolled back automatically.

Each test puts the Debian akismet back into both instances afterwards (other tests share the prod site).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sitekeeper import http
from sitekeeper.backups.models import Layer, Repository, SiteBackup, Snapshot, Source
from sitekeeper.backups.sources import DbUrl
from sitekeeper.contracts.models import Environment, Site
from sitekeeper.health.models import HealthConfig, KeyPage
from sitekeeper.releases import updates
from sitekeeper.releases.models import ReleaseStatus
from sitekeeper.releases.packages import add_package
from sitekeeper.security.models import Component
from sitekeeper.security.vulns import refresh_site
from tests.monitoring.test_wordpress import TITLE, WordPress, running_wordpress, wordpress  # noqa: F401
from tests.releases.data import zips

pytestmark = pytest.mark.slow

ACTIVE_AKISMET = 'a:1:{i:0;s:19:"akismet/akismet.php";}'
BEFORE = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)  # Monday; acme's window is Tuesday 23:00 Berlin
INSIDE = dt.datetime(2026, 3, 3, 22, 30, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def wordpress_stage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WordPress]:
    with running_wordpress(tmp_path_factory.mktemp("wordpress-stage")) as site:
        yield site


def db_url(instance: WordPress) -> str:
    port = instance.env["SITEKEEPER_WP_DB_PORT"]
    return f"mysql://wordpress:wordpress-test-password@127.0.0.1:{port}/wordpress"


def execute(url: str, sql: str, *args: Any) -> Any:
    import pymysql

    db = DbUrl.parse(url)
    conn = pymysql.connect(
        host=db.host, port=db.port or 3306, user=db.user, password=db.password, database=db.name
    )
    with contextlib.closing(conn), conn.cursor() as cursor:
        cursor.execute(sql, args)
        conn.commit()
        row = cursor.fetchone()
    return row[0] if row else None


def akismet_file(instance: WordPress) -> Path:
    return instance.base / "site" / "wp-content" / "plugins" / "akismet" / "akismet.php"


def put_back_akismet(instance: WordPress) -> None:
    folder = akismet_file(instance).parent
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(zips.AKISMET, folder)


def home(instance: WordPress) -> tuple[int, str]:
    with http.client(timeout=30, follow_redirects=True) as session:
        response = session.get(instance.url)
    return response.status_code, response.text


@pytest.fixture
def wp_pair(
    acme, wordpress: WordPress, wordpress_stage: WordPress, tmp_path: Path, settings
) -> Iterator[tuple[Site, WordPress, WordPress]]:
    if not zips.AKISMET.is_dir():
        pytest.skip("Debian package 'wordpress' is not installed (/usr/share/wordpress)")
    settings.HOME = tmp_path / "home"
    settings.SITEKEEPER_PACKAGES_DIR = str(tmp_path / "packages")
    settings.SITEKEEPER_UPDATE_SETTLE_SECONDS = 3  # php -S caches compiled plugins (OPcache), as prod does
    site = acme.sites.get()
    pairs = {"prod": wordpress, "stage": wordpress_stage}
    previous = {}
    for name, instance in pairs.items():
        put_back_akismet(instance)
        url = db_url(instance)
        previous[name] = execute(
            url, "SELECT option_value FROM wp_options WHERE option_name = 'active_plugins'"
        )
        execute(
            url,
            "UPDATE wp_options SET option_value = %s WHERE option_name = 'active_plugins'",
            ACTIVE_AKISMET,
        )
        Environment.objects.filter(site=site, kind=name).update(url=instance.url.rstrip("/"))
        root = instance.base / "site"
        Source.objects.create(
            site=site, environment=name, name="code", layer=Layer.CODE, kind="files", path=str(root),
            excludes=["wp-content/uploads"],
        )  # fmt: skip
        Source.objects.create(
            site=site, environment=name, name="wp-db", layer=Layer.DATA, kind="mariadb", db_url=url
        )
    repo = Repository.objects.create(client=acme, name="main", kind="local", location=str(tmp_path / "repo"))
    SiteBackup.objects.create(site=site, repository=repo)
    HealthConfig.objects.create(
        site=site,
        smoke_lighthouse=False,
        error_logs={name: str(instance.base / "log" / "php-server.log") for name, instance in pairs.items()},
    )
    KeyPage.objects.create(site=site, path="/", label="Home", kind="home", expected_text=TITLE)
    refresh_site(site, "prod", now=BEFORE)
    refresh_site(site, "stage", now=BEFORE)
    assert Component.objects.get(site=site, environment="prod", slug="akismet").version == "5.0.2"
    try:
        yield site, wordpress, wordpress_stage
    finally:
        for name, instance in pairs.items():
            put_back_akismet(instance)
            execute(
                db_url(instance),
                "UPDATE wp_options SET option_value = %s WHERE option_name = 'active_plugins'",
                previous[name],
            )


def test_plugin_update_goes_stage_then_prod_in_the_window(wp_pair) -> None:
    site, prod, stage = wp_pair
    add_package(zips.akismet("5.0.3"), filename="akismet.5.0.3.zip")
    release = updates.plan_release(site, now=BEFORE)
    assert release is not None
    assert [(c.slug, c.from_version, c.to_version) for c in release.changes.all()] == [
        ("akismet", "5.0.2", "5.0.3")
    ]

    release = updates.advance(release, now=BEFORE)  # outside the window: stage only
    assert release.status == ReleaseStatus.AWAITING_WINDOW, release.log
    assert "Version: 5.0.3" in akismet_file(stage).read_text()
    assert "Version: 5.0.2" in akismet_file(prod).read_text()

    release = updates.advance(release, now=INSIDE)
    assert release.status == ReleaseStatus.DEPLOYED, release.log
    assert all(c["ok"] for c in release.checks), release.checks
    assert {c["environment"] for c in release.checks} == {"stage", "prod"}
    assert "Version: 5.0.3" in akismet_file(prod).read_text()
    assert {p["source"] for p in release.restore_point} == {"code", "wp-db"}
    assert Snapshot.objects.filter(pk__in=[p["snapshot"] for p in release.restore_point]).count() == 2
    assert Component.objects.get(site=site, environment="prod", slug="akismet").version == "5.0.3"
    status, body = home(prod)
    assert status == 200
    assert TITLE in body


def test_broken_plugin_is_caught_on_stage(wp_pair) -> None:
    site, prod, _stage = wp_pair
    prod_before = akismet_file(prod).read_bytes()
    add_package(zips.akismet("5.0.3", inject=zips.fatal_always()))
    release = updates.advance(updates.plan_release(site, now=BEFORE), now=INSIDE)
    assert release.status == ReleaseStatus.STAGE_FAILED, release.log
    failed = {c["name"] for c in release.checks if not c["ok"]}
    assert "page /" in failed
    assert "no PHP fatal on /" in failed
    assert any(name.startswith("PHP error log") and name.endswith("php-server.log") for name in failed), (
        failed
    )
    assert akismet_file(prod).read_bytes() == prod_before
    assert home(prod)[0] == 200
    assert release.restore_point == []


def test_prod_only_failure_is_rolled_back(wp_pair) -> None:
    site, prod, _stage = wp_pair
    prod_before = akismet_file(prod).read_bytes()
    port = int(prod.env["SITEKEEPER_WP_PORT"])
    add_package(zips.akismet("5.0.3", inject=zips.fatal_on_port(port)))
    release = updates.advance(updates.plan_release(site, now=BEFORE), now=BEFORE)
    assert release.status == ReleaseStatus.AWAITING_WINDOW, release.log  # stage passed
    release = updates.advance(release, now=INSIDE)
    assert release.status == ReleaseStatus.ROLLED_BACK, release.log
    assert akismet_file(prod).read_bytes() == prod_before
    status, body = home(prod)
    assert status == 200
    assert TITLE in body
    after = [c for c in release.checks if c["name"].startswith("after rollback")]
    assert after
    assert all(c["ok"] for c in after), after
    assert release.ticket is not None
    assert release.ticket.type == "incident"
    assert release.ticket.priority == "P2"
