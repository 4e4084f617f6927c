"""Backups fixtures: a local restic repository for acme's site; files + SQLite data layer in a temp folder."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sitekeeper.backups import jobs
from sitekeeper.backups.models import Layer, Repository, RunStatus, SiteBackup, Source
from sitekeeper.contracts.models import Client, Site


@pytest.fixture(autouse=True)
def _home(settings, tmp_path: Path) -> None:
    """Each test its own SITEKEEPER_HOME: restic's cache, scratch space and exports never mix."""
    settings.HOME = tmp_path / "home"


def back_up(site: Site, layers: tuple[str, ...] = ("data", "code")) -> None:
    for layer in layers:
        run = jobs.backup(site, layer, slot=f"first-{layer}")
        assert run is not None
        assert run.status == RunStatus.SUCCEEDED, run.log


@pytest.fixture
def site(acme: Client) -> Site:
    return acme.sites.get()


@pytest.fixture
def local_repo(acme: Client, tmp_path: Path) -> Repository:
    return Repository.objects.create(client=acme, name="main", kind="local", location=str(tmp_path / "repo"))


@pytest.fixture
def site_root(tmp_path: Path) -> Path:
    """A small site tree: an uploads folder and a SQLite database."""
    root = tmp_path / "site"
    (root / "uploads" / "2026").mkdir(parents=True)
    for i in range(20):
        (root / "uploads" / "2026" / f"photo-{i}.jpg").write_bytes(bytes([i]) * (1000 + i))
    (root / "index.php").write_text("<?php echo 'hello';\n")
    with sqlite3.connect(root / "site.sqlite3") as conn:
        conn.execute("CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT)")
        conn.executemany("INSERT INTO posts (title) VALUES (?)", [(f"post {i}",) for i in range(50)])
    conn.close()
    return root


@pytest.fixture
def backed_site(site: Site, local_repo: Repository, site_root: Path) -> Site:
    """acme's site with a data layer (uploads + SQLite) and a code layer, backed up into `local_repo`."""
    SiteBackup.objects.create(site=site, repository=local_repo)
    Source.objects.create(
        site=site, name="uploads", layer=Layer.DATA, kind="files", path=str(site_root / "uploads")
    )
    Source.objects.create(
        site=site, name="db", layer=Layer.DATA, kind="sqlite", path=str(site_root / "site.sqlite3")
    )
    Source.objects.create(
        site=site, name="code", layer=Layer.CODE, kind="files", path=str(site_root), excludes=["uploads"]
    )
    return site
