"""A site with no backup configured must not look fine (issue 12, item 1): the client reads plainly that
backups are not set up yet and that the agency is arranging it — no green, no figures that suggest a backup
exists — and staff see an agency-side problem: "no backup source — agency action needed"."""

from __future__ import annotations

import pytest
from django.urls import reverse

from sitekeeper.access.models import User
from sitekeeper.backups import presenters
from sitekeeper.backups.models import Repository, SiteBackup, Source
from sitekeeper.contracts.models import Client, Contract, Site
from tests.backups.test_views import signed_in, text

AGENCY_GAP = "No backup source — agency action needed:"


def main(body: str) -> str:
    """The page's content (the shared style sheet names every class, green ones included)."""
    return body[body.index("<main") : body.index("</main>")]


@pytest.fixture
def site(acme: Client) -> Site:
    return acme.sites.get()


@pytest.fixture
def config(site: Site, tmp_path) -> SiteBackup:
    repo = Repository.objects.create(client=site.client, name="main", kind="local", location=str(tmp_path))
    return SiteBackup.objects.create(site=site, repository=repo)


def test_has_backup_source_needs_settings_switched_on_and_a_production_source(site: Site, config) -> None:
    Source.objects.create(site=site, environment="stage", name="db", layer="data", kind="sqlite", path="/x")
    assert presenters.has_backup_source(site) is False  # a stage source backs nothing of prod up
    Source.objects.create(site=site, name="db", layer="data", kind="sqlite", path="/srv/site.sqlite3")
    assert presenters.has_backup_source(site) is True
    SiteBackup.objects.filter(pk=config.pk).update(enabled=False)
    assert presenters.has_backup_source(site) is False
    SiteBackup.objects.all().delete()
    assert presenters.has_backup_source(site) is False


def test_client_page_without_backups_says_they_are_not_set_up_yet(site: Site, owner: User) -> None:
    http = signed_in(owner)
    body = main(text(http.get(reverse("portal_backups_site", args=[site.pk]))))
    assert "Backups are not set up yet for this site — we are arranging it." in body
    # Nothing that reads as fine, and nothing only staff should read.
    assert "flag-ok" not in body
    assert "ok-box" not in body
    assert "Last verified restorable" not in body
    assert "Retention" not in body
    assert "agency action" not in body
    assert "backup settings" not in body
    listing = main(text(http.get(reverse("portal_backups"))))
    assert "not set up yet" in listing
    assert "we are arranging it" in listing
    assert "flag-ok" not in listing


def test_client_page_with_settings_but_no_source_says_the_same(site: Site, config, owner: User) -> None:
    body = main(text(signed_in(owner).get(reverse("portal_backups_site", args=[site.pk]))))
    assert "Backups are not set up yet for this site — we are arranging it." in body
    assert "flag-ok" not in body  # nothing green
    assert "production source" not in body


def test_staff_pages_flag_the_gap_as_the_agencys(site: Site, config, engineer: User) -> None:
    http = signed_in(engineer)
    body = text(http.get(reverse("staff_backups_site", args=[site.pk])))
    assert 'class="warn-box" id="backup-gap"' in body
    assert f"{AGENCY_GAP}</strong> no production source (database, files) is set up for this site" in body
    listing = text(http.get(reverse("staff_backups")))
    assert "no backup source — agency action needed" in listing
    Source.objects.create(site=site, name="db", layer="data", kind="sqlite", path="/srv/site.sqlite3")
    SiteBackup.objects.filter(pk=config.pk).update(enabled=False)
    body = text(http.get(reverse("staff_backups_site", args=[site.pk])))
    assert f"{AGENCY_GAP}</strong> automatic backups are switched off for this site" in body
    SiteBackup.objects.filter(pk=config.pk).update(enabled=True)
    body = text(http.get(reverse("staff_backups_site", args=[site.pk])))
    assert 'id="backup-gap"' not in body


def test_no_contract_in_service_is_not_an_agency_problem(site: Site, engineer: User) -> None:
    Contract.objects.filter(client=site.client).update(status=Contract.Status.DRAFT)
    body = text(signed_in(engineer).get(reverse("staff_backups_site", args=[site.pk])))
    assert AGENCY_GAP not in body
    assert "No contract of this client is in service" in body
