"""Shared by the release views, API and CLI tests: acme's site with akismet 5.0.2 installed, a stored akismet
5.0.3 package (a real zip checked by audits.packages), and release records written directly as the pipeline
writes them (a deployed one with checks, restore point, log and an incident ticket; one in progress).

`urlpatterns` is a URL conf with the update pages and the /api/v1/releases router, for use with
`pytest.mark.urls` until the lead wires them into sitekeeper/urls.py and api/views.py (then it is the
project's own URL conf unchanged).
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from dataclasses import dataclass

import pytest
from django.urls import Resolver404, include, path, resolve
from ninja import NinjaAPI

from sitekeeper import urls as root
from sitekeeper.api.auth import TokenAuth
from sitekeeper.backups.models import Repository, Snapshot, Source
from sitekeeper.contracts.models import Client, Site
from sitekeeper.desk import services
from sitekeeper.desk.models import Ticket
from sitekeeper.releases import packages
from sitekeeper.releases.models import Release, ReleaseChange, UpdatePackage
from sitekeeper.security.models import Component


def _wired(url: str) -> bool:
    try:
        resolve(url, urlconf=root)
    except Resolver404:
        return False
    return True


def _urlpatterns() -> list:
    extra: list = []
    if not _wired("/api/v1/releases/1"):
        from sitekeeper.api.releases import router

        api = NinjaAPI(urls_namespace="releases_test", auth=TokenAuth(), docs_url=None, openapi_url=None)
        api.add_router("/releases", router)
        extra.append(path("api/v1/", api.urls))
    if not _wired("/staff/updates/"):
        extra.append(path("", include("sitekeeper.releases.urls")))
    return [*extra, *root.urlpatterns]


urlpatterns = _urlpatterns()
URLS = __name__

AT = "2026-05-12T{}:00+00:00"
CHECKS = [
    {"environment": "stage", "name": "home page 200", "ok": True, "detail": "200 in 0.2 s",
     "at": AT.format("21:01")},
    {"environment": "stage", "name": "no PHP fatal", "ok": True, "detail": "error log unchanged",
     "at": AT.format("21:02")},
    {"environment": "stage", "name": "lighthouse", "ok": False, "skipped": True,
     "detail": "lighthouse not installed", "at": AT.format("21:03")},
    {"environment": "prod", "name": "home page 200", "ok": False,
     "detail": "HTTP 500 from /srv/acme/secret-path", "at": AT.format("23:05")},
]  # fmt: skip
LOG = "2026-05-12 21:00 stage: applied akismet 5.0.3 via tar into /srv/acme-internal-path\n"


def plugin_zip(version: str = "5.0.3", slug: str = "akismet") -> bytes:
    """A minimal plugin zip: `<slug>/<slug>.php` with the WordPress plugin header."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{slug}/", "")
        archive.writestr(
            f"{slug}/{slug}.php",
            f"<?php\n/*\nPlugin Name: {slug.title()}\nVersion: {version}\n*/\n",
        )
        archive.writestr(f"{slug}/readme.txt", f"=== {slug} ===\nStable tag: {version}\n")
    return buffer.getvalue()


@dataclass
class Records:
    site: Site
    package: UpdatePackage
    deployed: Release
    running: Release
    snapshot: Snapshot
    ticket: Ticket


@pytest.fixture
def packages_dir(settings, tmp_path):
    settings.SITEKEEPER_PACKAGES_DIR = str(tmp_path / "packages")
    return tmp_path / "packages"


@pytest.fixture
def installed(acme: Client) -> Component:
    now = dt.datetime.now(dt.UTC)
    return Component.objects.create(
        site=acme.sites.get(), environment="prod", ecosystem="wordpress-plugin", slug="akismet",
        name="Akismet Anti-spam", version="5.0.2", path="wp-content/plugins/akismet/akismet.php",
        first_seen=now, last_seen=now,
    )  # fmt: skip


@pytest.fixture
def package(packages_dir, installed, engineer) -> UpdatePackage:
    return packages.add_package(plugin_zip(), filename="akismet.5.0.3.zip", user=engineer, notes="Fixes XSS")


@pytest.fixture
def records(acme: Client, package: UpdatePackage, engineer) -> Records:
    site = acme.sites.get()
    repo = Repository.objects.create(client=acme, name="main", kind="local", location="/var/backups/acme")
    source = Source.objects.create(site=site, name="code", layer="code", kind="files", path="/srv/acme")
    snapshot = Snapshot.objects.create(
        repository=repo, site=site, source=source, source_name="code", source_kind="files", layer="code",
        restic_id="ab12cd34" * 8, time=dt.datetime(2026, 5, 12, 22, 59, tzinfo=dt.UTC),
    )  # fmt: skip
    ticket = services.file_request(
        acme, channel="monitor", type="incident", priority="P2", site=site, environment="prod",
        subject="Release rolled back", description="prod checks failed",
    )  # fmt: skip
    deployed = Release.objects.create(
        site=site, kind="scheduled", slot="batch-2026-05-12", status="rolled_back",
        window_start=dt.datetime(2026, 5, 12, 21, tzinfo=dt.UTC),
        window_end=dt.datetime(2026, 5, 13, 0, tzinfo=dt.UTC),
        checks=CHECKS, log=LOG, outcome="Production failed its checks and was rolled back.",
        restore_point=[{"source": "code", "snapshot": snapshot.pk, "restic_id": snapshot.restic_id}],
        ticket=ticket,
    )  # fmt: skip
    ReleaseChange.objects.create(
        release=deployed, package=package, ecosystem="wordpress-plugin", slug="akismet",
        name="Akismet Anti-spam", from_version="5.0.2", to_version="5.0.3",
    )  # fmt: skip
    running = Release.objects.create(
        site=site, kind="manual", slot="manual-1", status="staging", requested_by=engineer,
        progress={"phase": "stage", "step": "apply akismet", "done": 2, "total": 5},
    )  # fmt: skip
    ReleaseChange.objects.create(
        release=running, package=package, ecosystem="wordpress-plugin", slug="akismet",
        from_version="5.0.2", to_version="5.0.3",
    )  # fmt: skip
    return Records(site, package, deployed, running, snapshot, ticket)
