# ruff: noqa: F811
"""The recovery runbook: generated from the configuration (what, where, how, checks, contacts), never with a
secret, flagged stale by releases and infrastructure changes until someone marks it reviewed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from sitekeeper.access.audit import acting_as
from sitekeeper.access.models import User
from sitekeeper.backups import runbook
from sitekeeper.backups.models import BackupRun, SiteBackup, Source
from sitekeeper.monitoring.models import Monitor
from tests.backups.test_views import SECRETS, Catalogue, catalogue  # noqa: F401

T0 = dt.datetime(2026, 5, 4, 10, 0, tzinfo=dt.UTC)


def signed_in(user: User) -> HttpClient:
    http = HttpClient()
    http.force_login(user)
    return http


def test_runbook_contents(catalogue: Catalogue, admin: User):
    site = catalogue.site
    Monitor.objects.create(
        site=site, url="https://acme.test/shop/", name="Shop checkout", keyword="Add to cart"
    )
    book = runbook.runbook(site, now=T0)
    sources = {s["name"]: s for group in book["backed_up"] for s in group["sources"]}
    assert set(sources) == {"uploads", "wordpress", "code"}
    assert sources["wordpress"]["database"] == "wordpress on 127.0.0.1:3307"  # named without its password
    assert book["schedule"][0] == "Data (databases + uploads): daily at 02:00 Europe/Berlin."
    assert book["retention"]["days"] == 90
    assert book["repository"]["location"] == "/var/backups/acme"
    assert book["repository"]["off_site"] is False
    assert book["last_verified"] == catalogue.passed.finished_at
    steps = " ".join(book["restore_steps"])
    assert "Stage" in steps
    assert "typed confirmation" in steps
    commands = "\n".join(book["manual"]["commands"] + book["manual"]["databases"])
    assert "export RESTIC_REPOSITORY=/var/backups/acme" in commands
    assert f"restic snapshots --tag site-{site.pk}" in commands
    assert "restic dump <snapshot-id> /wordpress.sql | mariadb <stage-database>" in commands
    assert "RESTIC_PASSWORD_FILE" in commands
    assert "-p " not in commands  # the password never goes on a command line
    assert (
        f"Repository.objects.get(pk={catalogue.config.repository_id}).password"
        in book["manual"]["password_command"]
    )
    checks = {c["name"]: c for c in book["checks"]}
    assert checks["Shop checkout"]["url"] == "https://acme.test/shop/"
    assert 'shows "Add to cart"' in checks["Shop checkout"]["expect"]
    assert "Home page" in checks
    assert checks["Log-in"]["url"] == "https://acme.test/wp-login.php"  # a WordPress site
    client_contacts = {c["name"]: c for c in book["contacts"]["client"]}
    assert client_contacts["Acme GmbH Oncall"]["phone"] == "+49 30 1234567"
    assert "Acme GmbH Owner" in client_contacts
    assert [c["target"] for c in book["contacts"]["agency"]] == [admin.email]  # default: the agency admins
    markdown = runbook.to_markdown(book)
    for secret in SECRETS:
        assert secret not in markdown
        assert secret not in str(book)
    assert "**NOT OFF-SITE**" in markdown
    assert "- [ ] Shop checkout: https://acme.test/shop/" in markdown


def test_escalation_list_from_the_environment(catalogue: Catalogue, monkeypatch):
    monkeypatch.setenv("SITEKEEPER_ESCALATION_EMAILS", "ops@agency.test")
    assert runbook.contacts(catalogue.site)["agency"] == [
        {"name": "ops@agency.test", "channel": "email", "target": "ops@agency.test"}
    ]


def test_unconfigured_site_says_nothing_is_backed_up(acme):
    site = acme.sites.get()
    book = runbook.runbook(site, now=T0)
    assert book["configured"] is False
    assert "nothing is backed up" in runbook.to_markdown(book)
    assert runbook.mark_stale(site, "release 1.0") is False


def test_mark_stale_keeps_the_first_moment_and_every_reason(catalogue: Catalogue):
    site = catalogue.site
    t0 = timezone.now() + dt.timedelta(hours=1)  # after the fixture's own changes
    config = SiteBackup.objects.get(site=site)
    assert runbook.is_stale(config)  # the fixture added sources after the configuration
    assert config.runbook_stale_reason == "source uploads added; source wordpress added; source code added"
    runbook.mark_reviewed(config, now=t0 - dt.timedelta(minutes=30))
    assert not runbook.is_stale(config)
    assert runbook.mark_stale(site, "release 2.4", now=t0)
    runbook.mark_stale(site, "release 2.5", now=t0 + dt.timedelta(days=1))
    runbook.mark_stale(site, "release 2.5", now=t0 + dt.timedelta(days=2))
    config.refresh_from_db()
    assert runbook.is_stale(config)
    assert config.runbook_stale_since == t0
    assert config.runbook_stale_reason == "release 2.4; release 2.5"
    runbook.mark_reviewed(config, now=t0 + dt.timedelta(days=3))
    assert not runbook.is_stale(config)
    runbook.mark_stale(site, "new host", now=t0 + dt.timedelta(days=4))
    config.refresh_from_db()
    assert config.runbook_stale_since == t0 + dt.timedelta(days=4)
    assert config.runbook_stale_reason == "new host"
    with pytest.raises(ValueError, match="give the reason"):
        runbook.mark_stale(site, "  ")


def _fresh(config: SiteBackup) -> SiteBackup:
    runbook.mark_reviewed(config)
    config.refresh_from_db()
    assert not runbook.is_stale(config)
    return config


def test_infrastructure_changes_flag_it_stale(catalogue: Catalogue, engineer: User):
    config = _fresh(catalogue.config)
    # Job bookkeeping is not a change of the procedure.
    repo = config.repository
    repo.check_cursor = 5
    repo.save()
    config.alerts = {"stale:data": 12}
    config.save()
    BackupRun.objects.create(site=catalogue.site, layer="data", trigger="manual", slot="x")
    config.refresh_from_db()
    assert not runbook.is_stale(config)
    # Another host for the site.
    with acting_as(engineer):
        config.site_host = "web2.acme.test"
        config.save()
    config.refresh_from_db()
    assert runbook.is_stale(config)
    assert "site host" in config.runbook_stale_reason or "site_host" in config.runbook_stale_reason
    # The repository moves.
    config = _fresh(config)
    repo.refresh_from_db()
    repo.location = "/mnt/offsite/acme"
    repo.save()
    config.refresh_from_db()
    assert "location" in config.runbook_stale_reason
    # A source is added, changed, removed.
    config = _fresh(config)
    source = Source.objects.create(
        site=catalogue.site, name="media", layer="data", kind="files", path="/srv/m"
    )
    config.refresh_from_db()
    assert config.runbook_stale_reason == "source media added"
    config = _fresh(config)
    source.path = "/srv/media"
    source.save()
    config.refresh_from_db()
    assert "path" in config.runbook_stale_reason
    config = _fresh(config)
    source.delete()
    config.refresh_from_db()
    assert config.runbook_stale_reason == "source media removed"


def test_runbook_pages_and_markdown(catalogue: Catalogue, engineer: User, owner: User, outsider: User):
    runbook.mark_stale(catalogue.site, "release 2.4")
    pk = catalogue.site.pk
    staff = signed_in(engineer).get(reverse("staff_backups_runbook", args=[pk]))
    body = staff.content.decode()
    assert staff.status_code == 200
    assert 'id="runbook-stale"' in body
    assert "release 2.4" in body
    assert "Mark runbook reviewed" in body
    assert "restic snapshots --tag site-" in body
    staff_md = signed_in(engineer).get(reverse("staff_backups_runbook_md", args=[pk])).content.decode()
    assert staff_md.startswith("# Recovery runbook: Acme GmbH website")
    assert "**STALE since" in staff_md
    # The client's version: what to expect, who decides, what to provide — not the engineers' procedure.
    portal = signed_in(owner).get(reverse("portal_backups_runbook", args=[pk])).content.decode()
    assert "If Acme GmbH website needs restoring" in portal
    for words in ("What happens", "Who decides", "What we need from you", "How long it takes"):
        assert words in portal, words
    assert "Mark runbook reviewed" not in portal  # clients read it; staff review it
    md = signed_in(owner).get(reverse("portal_backups_runbook_md", args=[pk]))
    assert md["Content-Type"].startswith("text/markdown")
    assert f'filename="runbook-site-{pk}.md"' in md["Content-Disposition"]
    assert md.content.decode().startswith("# If Acme GmbH website needs restoring")
    for client_text in (portal, md.content.decode()):
        assert "restic" not in client_text
        assert "/staff/" not in client_text
        assert "RESTIC_" not in client_text
        assert "<snapshot-id>" not in client_text
        assert "STALE" not in client_text
    for response in (staff, md):
        for secret in SECRETS:
            assert secret not in response.content.decode()
    assert signed_in(outsider).get(reverse("portal_backups_runbook_md", args=[pk])).status_code == 404
