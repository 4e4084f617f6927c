"""Client pages speak the client's language: on the demo (real restic snapshots, a failed backup run, a
passed restore test, a download), the portal's home, site, area and backups pages and the client runbook
carry no snapshot id, checksum, server path, repository location, /staff/ link, file mode, raw error text or
microsecond timestamp — while the staff backups page of the same site keeps that detail."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.test import Client as HttpClient
from django.urls import reverse

from sitekeeper.access.models import User
from sitekeeper.backups.models import BackupRun, Export, Repository, RestoreTest, Snapshot, Source
from sitekeeper.contracts.models import Site

BAKERY = "https://brot-und-butter.test"
MICROSECONDS = re.compile(r"\d{2}:\d{2}:\d{2}\.\d{3,6}")
FILE_MODE = re.compile(r"\b0o[0-7]{3,4}\b")


@pytest.fixture
def demo(settings, tmp_path, db) -> Site:
    settings.HOME = tmp_path  # the demo's restic repository and site trees
    call_command("demo", no_serve=True)
    return Site.objects.get(url=BAKERY)


def forbidden(site: Site) -> list[str]:
    """What only staff may read about this site's backups, taken from the seeded rows themselves."""
    words = ["/staff/", "sha256", "Traceback", "restic", "deduplication", "RESTIC_"]
    for snapshot in Snapshot.objects.filter(site=site):
        words += [snapshot.restic_id, snapshot.short_id]
    words += [repo.location for repo in Repository.objects.filter(client=site.client) if repo.location]
    words += [source.path for source in Source.objects.filter(site=site) if source.path]
    errors = [run.error for run in BackupRun.objects.filter(site=site) if run.error]
    errors += [test.error for test in RestoreTest.objects.filter(site=site) if test.error]
    words += [error.strip().splitlines()[0][:40] for error in errors if error.strip()]
    words += [export.sha256[:12] for export in Export.objects.filter(snapshot__site=site) if export.sha256]
    return [word for word in words if word]


def client_pages(site: Site) -> list[str]:
    pk = site.pk
    return [
        "/portal/",
        f"/portal/sites/{pk}/",
        "/portal/health/",
        reverse("portal_backups"),
        reverse("portal_backups_site", args=[pk]),
        reverse("portal_backups_live", args=[pk]),
        reverse("portal_backups_runbook", args=[pk]),
        reverse("portal_backups_runbook_md", args=[pk]),
    ]


@pytest.mark.django_db
def test_client_pages_carry_none_of_the_staff_detail_staff_pages_keep_it(demo: Site):
    assert Snapshot.objects.filter(site=demo).exists()  # real restic snapshots to leak, if anything did
    words = forbidden(demo)
    assert any(len(word) == 8 for word in words)  # the snapshot ids are among what is checked
    http = HttpClient()
    http.force_login(User.objects.get(username="bakery-owner"))
    for path in client_pages(demo):
        response = http.get(path)
        assert response.status_code == 200, path
        body = response.content.decode()
        for word in words:
            assert word not in body, f"{path} shows {word!r}"
        assert not MICROSECONDS.search(body), path
        assert not FILE_MODE.search(body), path
    # The staff page of the same site keeps the detail (one seeding of the demo for both halves).
    http.force_login(User.objects.get(username="engineer"))
    body = http.get(reverse("staff_backups_site", args=[demo.pk])).content.decode()
    newest = Snapshot.objects.filter(site=demo, forgotten_at=None).latest("time")
    assert newest.short_id in body  # engineers pick snapshots by id
    runbook = http.get(reverse("staff_backups_runbook", args=[demo.pk])).content.decode()
    assert "restic snapshots --tag" in runbook  # the engineers' procedure stays theirs
