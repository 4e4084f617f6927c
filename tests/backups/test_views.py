"""The backups pages: staff console and client portal render real catalogue rows, scope by client, never show
a secret, flag a repository next to prod, and every staff action is queued for the worker and audited.

No restic here: the catalogue rows (snapshots, runs, restore tests) are written directly, as the jobs do.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from sitekeeper.access.models import AuditEntry, User
from sitekeeper.backups import views
from sitekeeper.backups.models import (
    BackupRun,
    Export,
    Repository,
    Restore,
    RestoreTest,
    SiteBackup,
    Snapshot,
    Source,
)
from sitekeeper.contracts.models import Client, Site

REPO_PASSWORD = "repo-pass-NEVER-SHOWN-7f3a"
SITE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nSITEKEY-NEVER-SHOWN\n-----END OPENSSH PRIVATE KEY-----"
DB_PASSWORD = "dbpass-NEVER-SHOWN-91c2"
S3_SECRET = "s3secret-NEVER-SHOWN-44d1"
REST_PASSWORD = "restpw-NEVER-SHOWN-0b7e"
SECRETS = (REPO_PASSWORD, "SITEKEY-NEVER-SHOWN", DB_PASSWORD, S3_SECRET, REST_PASSWORD, "AKIA-NEVER-SHOWN")


@dataclass
class Catalogue:
    site: Site
    config: SiteBackup
    snapshots: list[Snapshot]
    passed: RestoreTest
    failed_test: RestoreTest
    failed_run: BackupRun
    running: BackupRun
    globex_site: Site


def _snap(site: Site, repo: Repository, source: Source, n: int, when: dt.datetime, **extra: Any) -> Snapshot:
    return Snapshot.objects.create(
        repository=repo,
        site=site,
        source=source,
        source_name=source.name,
        source_kind=source.kind,
        layer=source.layer,
        restic_id=f"{n:02x}" * 32,
        time=when,
        bytes_processed=extra.pop("processed", 50_000_000),
        bytes_added=extra.pop("added", 5_000_000),
        files=extra.pop("files", 120),
        duration_seconds=12.5,
        **extra,
    )


@pytest.fixture
def catalogue(acme: Client, globex: Client) -> Catalogue:
    """acme's site backed up to a local folder on this machine (not off-site), with a WordPress database
    whose URL holds a password; globex's site to S3 and REST repositories with credentials."""
    now = timezone.now()
    site = acme.sites.get()
    repo = Repository.objects.create(
        client=acme, name="main", kind="local", location="/var/backups/acme", password=REPO_PASSWORD
    )
    config = SiteBackup.objects.create(site=site, repository=repo, ssh_key=SITE_KEY, ssh_user="deploy")
    uploads = Source.objects.create(
        site=site, name="uploads", layer="data", kind="files", path="/srv/acme/wp-content/uploads"
    )
    db = Source.objects.create(
        site=site,
        name="wordpress",
        layer="data",
        kind="mariadb",
        db_url=f"mysql://wp:{DB_PASSWORD}@127.0.0.1:3307/wordpress",
    )
    code = Source.objects.create(site=site, name="code", layer="code", kind="files", path="/srv/acme")
    snaps = [
        _snap(site, repo, uploads, 1, now - dt.timedelta(days=2)),
        _snap(site, repo, db, 2, now - dt.timedelta(days=2), files=1),
        _snap(site, repo, uploads, 3, now - dt.timedelta(hours=5), added=1_000_000),
        _snap(site, repo, db, 4, now - dt.timedelta(hours=5), files=1, added=2_000_000),
        _snap(site, repo, code, 5, now - dt.timedelta(days=10)),  # older than a week: stale
        _snap(
            site, repo, uploads, 6, now - dt.timedelta(days=200), forgotten_at=now - dt.timedelta(days=100)
        ),
    ]
    BackupRun.objects.create(
        site=site,
        layer="data",
        trigger="schedule",
        slot="2026-05-01",
        status="succeeded",
        started_at=now - dt.timedelta(hours=5, minutes=2),
        finished_at=now - dt.timedelta(hours=5),
        bytes_processed=100_000_000,
        bytes_added=3_000_000,
        files=121,
    )
    failed_run = BackupRun.objects.create(
        site=site,
        layer="code",
        trigger="schedule",
        slot="2026-05-02",
        status="failed",
        error="restic exited 1: unable to open repository",
        log="03:00:01 start\n03:00:02 code: unable to open repository at /var/backups/acme",
    )
    running = BackupRun.objects.create(
        site=site,
        layer="data",
        trigger="manual",
        slot="manual-now",
        status="running",
        started_at=now,
        progress={"phase": "dump", "source": "wordpress", "percent": 42.4, "bytes": 3_500_000},
    )
    passed = RestoreTest.objects.create(
        site=site,
        slot="2026-04",
        status="passed",
        finished_at=now - dt.timedelta(days=20),
        check_subset="3/30",
        check_passed=True,
        check_output="no errors were found",
        evidence=[
            {
                "source": "wordpress",
                "kind": "mariadb",
                "snapshot": "02" * 32,
                "restored_to": "sk_scratch_1 on 127.0.0.1:3306",
                "duration_seconds": 4.2,
                "passed": True,
                "checks": [
                    {"name": "rows wp_posts", "expected": 42, "actual": 42, "ok": True, "note": ""},
                    {"name": "checksum wp_posts", "expected": "9f2c", "actual": "9f2c", "ok": True},
                ],
            },
            {"source": "uploads", "kind": "files", "skipped": "no data snapshot yet", "checks": []},
        ],
    )
    failed_test = RestoreTest.objects.create(
        site=site,
        slot="2026-05",
        status="failed",
        finished_at=now - dt.timedelta(days=1),
        check_subset="4/30",
        check_passed=False,
        check_output="pack 4f2e… ciphertext verification failed",
        error="integrity check failed",
    )
    for test in (passed, failed_test):  # started_at is set on create; a test takes minutes
        RestoreTest.objects.filter(pk=test.pk).update(started_at=test.finished_at - dt.timedelta(minutes=4))
    globex_site = globex.sites.get()
    s3 = Repository.objects.create(
        client=globex,
        name="s3",
        kind="s3",
        location="https://s3.example.net/globex-backups",
        access_key="AKIA-NEVER-SHOWN",
        secret_key=S3_SECRET,
    )
    SiteBackup.objects.create(site=globex_site, repository=s3)
    Repository.objects.create(
        client=globex,
        name="rest",
        kind="rest",
        location=f"https://backup:{REST_PASSWORD}@rest.example.net:8000/globex",
    )
    return Catalogue(site, config, snaps, passed, failed_test, failed_run, running, globex_site)


@pytest.fixture
def queued(monkeypatch) -> list[tuple[str, dict[str, Any]]]:
    """Jobs handed to the worker (backups/tasks.enqueue), recorded instead of run."""
    calls: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(views, "enqueue", lambda kind, **kwargs: calls.append((kind, kwargs)))
    return calls


def signed_in(user: User) -> HttpClient:
    http = HttpClient()
    http.force_login(user)
    return http


def text(response) -> str:
    return b"".join(response.streaming_content if response.streaming else [response.content]).decode()


def assert_no_secret(body: str) -> None:
    for secret in SECRETS:
        assert secret not in body


# Pages --------------------------------------------------------------------------------------------------


def test_staff_overview_lists_every_site_with_flags(catalogue: Catalogue, engineer: User):
    body = text(signed_in(engineer).get(reverse("staff_backups")))
    assert "Acme GmbH" in body
    assert "Globex" in body
    assert "not off-site" in body  # acme: a local folder on the site's own machine
    assert body.count("not off-site") == 1  # globex: S3 on another host
    assert "stale" in body  # acme's code layer is ten days old
    assert f"{catalogue.passed.finished_at:%-d %b %Y}" in body  # last verified = the passed test
    assert_no_secret(body)


def test_staff_site_page_shows_the_catalogue(catalogue: Catalogue, engineer: User):
    response = signed_in(engineer).get(reverse("staff_backups_site", args=[catalogue.site.pk]))
    assert response.status_code == 200
    body = text(response)
    assert 'id="not-off-site"' in body
    assert "/var/backups/acme" in body
    for snap in catalogue.snapshots[:5]:
        assert snap.short_id in body
    assert catalogue.snapshots[5].short_id not in body  # forgotten by retention
    assert "90 days" in body  # acme's Business plan
    assert "5 kept · 1 forgotten" in body  # retention over every layer
    # Deduplication over the kept data snapshots: 4 × 50 MB read ÷ (5 + 5 + 1 + 2) MB added.
    assert "15.4×" in body
    # Last verified restorable is the passed test, not the later failed one.
    assert f"{catalogue.passed.finished_at:%-d %b %Y}" in body
    # Evidence: each check's expected and actual; a skipped source says why.
    assert "rows wp_posts" in body
    assert "checksum wp_posts" in body
    assert "no data snapshot yet" in body
    # Staff see failures with their logs and restic's check output.
    assert "unable to open repository at /var/backups/acme" in body
    assert "ciphertext verification failed" in body
    # The running job is shown with its progress and the fragment polls every 2 s.
    assert "wordpress" in body
    assert "42 %" in body
    assert 'hx-trigger="every 2s"' in body
    assert "Back up now" in body
    assert "Run restore test" in body
    assert_no_secret(body)


def test_live_fragment_polls_progress(catalogue: Catalogue, engineer: User, owner: User):
    body = text(signed_in(engineer).get(reverse("staff_backups_live", args=[catalogue.site.pk])))
    assert "dump" in body
    assert "wordpress" in body
    assert "42 %" in body
    assert "3.3 MiB" in body
    assert 'hx-get="/staff/backups/site/' in body
    BackupRun.objects.filter(pk=catalogue.running.pk).update(status="succeeded")
    body = text(signed_in(owner).get(reverse("portal_backups_live", args=[catalogue.site.pk])))
    assert "Nothing running" in body
    assert 'hx-get="/portal/backups/site/' in body


def test_portal_pages_for_the_clients_own_site(catalogue: Catalogue, owner: User, member: User):
    for user in (owner, member):
        http = signed_in(user)
        listing = text(http.get(reverse("portal_backups")))
        assert "Acme GmbH" in listing
        assert "Globex" not in listing
        assert "not off-site" in listing
        body = text(http.get(reverse("portal_backups_site", args=[catalogue.site.pk])))
        # Each backup by what it holds and when — in the client's words, without the backup tool's detail.
        assert "Site content (database and uploaded files)" in body
        assert "Last verified restorable" in body
        assert "can be restored" in body  # the passed restore test, as a sentence
        assert catalogue.snapshots[0].short_id not in body
        assert catalogue.snapshots[0].restic_id not in body
        assert "rows wp_posts" not in body  # the evidence table is the engineers'
        for detail in ("/var/backups", "/staff/", "sha256"):
            assert detail not in body, detail
        assert "deduplication" not in body.lower()
        # Read-only: no staff actions, no job logs or restic output.
        assert "Back up now" not in body
        assert "Run restore test" not in body
        assert "unable to open repository" not in body
        assert "ciphertext verification failed" not in body
        assert_no_secret(body)
    assert "Request" in text(signed_in(owner).get(reverse("portal_backups_site", args=[catalogue.site.pk])))
    member_page = text(signed_in(member).get(reverse("portal_backups_site", args=[catalogue.site.pk])))
    assert 'class="export"' not in member_page  # only the product owner asks for downloads


def test_outsider_gets_404_on_acmes_pages(catalogue: Catalogue, outsider: User):
    http = signed_in(outsider)
    pk = catalogue.site.pk
    for name in (
        "portal_backups_site",
        "portal_backups_live",
        "portal_backups_runbook",
        "portal_backups_runbook_md",
    ):
        response = http.get(reverse(name, args=[pk]))
        assert response.status_code == 404, name
        assert "acme" not in text(response).lower()
    assert http.post(reverse("portal_backups_export_request", args=[pk]), {"snapshot": 1}).status_code == 404
    listing = text(http.get(reverse("portal_backups")))
    assert "Globex" in listing
    assert "Acme" not in listing


def test_clients_cannot_use_the_console(catalogue: Catalogue, owner: User):
    assert signed_in(owner).get(reverse("staff_backups_site", args=[catalogue.site.pk])).status_code == 403
    response = signed_in(owner).post(
        reverse("staff_backups_backup_now", args=[catalogue.site.pk]), {"layer": "data"}
    )
    assert response.status_code == 403


def test_site_without_configuration_says_so(acme: Client, engineer: User):
    body = text(signed_in(engineer).get(reverse("staff_backups_site", args=[acme.sites.get().pk])))
    # Under a contract in service this is the agency's problem, said as such (issue 12, item 1).
    assert "No backup source — agency action needed:</strong> this site has no backup settings" in body
    assert "never" in body


def test_off_site_repository_is_not_flagged(catalogue: Catalogue, engineer: User):
    body = text(signed_in(engineer).get(reverse("staff_backups_site", args=[catalogue.globex_site.pk])))
    assert 'id="not-off-site"' not in body
    assert "https://s3.example.net/globex-backups" in body
    assert_no_secret(body)


# Actions ------------------------------------------------------------------------------------------------


def test_back_up_now_is_queued_and_audited(
    catalogue: Catalogue, engineer: User, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(engineer).post(
            reverse("staff_backups_backup_now", args=[catalogue.site.pk]), {"layer": "code"}
        )
    assert response.status_code == 302
    assert queued == [("backup", {"site": catalogue.site, "layer": "code", "user": engineer})]
    entry = AuditEntry.objects.get(model="backups.BackupRun")
    assert entry.actor == engineer
    assert entry.after == {"layer": "code", "site": catalogue.site.pk}
    assert entry.client_id == catalogue.site.client_id


def test_back_up_now_refuses_an_unknown_layer(catalogue: Catalogue, engineer: User, queued):
    response = signed_in(engineer).post(
        reverse("staff_backups_backup_now", args=[catalogue.site.pk]), {"layer": "everything"}, follow=True
    )
    assert "Choose a layer to back up (data, code, config)" in text(response)
    assert queued == []
    assert not AuditEntry.objects.filter(model="backups.BackupRun").exists()


def test_restore_test_is_queued_and_audited(
    catalogue: Catalogue, admin: User, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        signed_in(admin).post(reverse("staff_backups_restore_test", args=[catalogue.site.pk]))
    assert queued == [("restore_test", {"site": catalogue.site, "user": admin})]
    assert AuditEntry.objects.get(model="backups.RestoreTest").actor == admin


def test_actions_are_posts(catalogue: Catalogue, engineer: User, queued):
    http = signed_in(engineer)
    for name in ("staff_backups_backup_now", "staff_backups_restore_test", "staff_backups_runbook_reviewed"):
        assert http.get(reverse(name, args=[catalogue.site.pk])).status_code == 405
    assert queued == []


@pytest.fixture
def stage_sources(catalogue: Catalogue) -> None:
    """Restores go into the stage environment's source of the same name."""
    site = catalogue.site
    Source.objects.create(
        site=site, environment="stage", name="uploads", layer="data", kind="files", path="/srv/stage/uploads"
    )
    Source.objects.create(site=site, environment="stage", name="wordpress", layer="data", kind="mariadb")
    Source.objects.create(
        site=site, environment="prod", name="x", layer="config", kind="files", path="/etc/x"
    )


def test_restore_to_stage_is_queued_with_who_decided(
    catalogue: Catalogue, stage_sources, engineer: User, queued, django_capture_on_commit_callbacks
):
    snap = catalogue.snapshots[3]  # the newest database snapshot
    url = reverse("staff_backups_restore", args=[catalogue.site.pk])
    form = text(signed_in(engineer).get(url))
    assert snap.short_id in form
    assert f"{catalogue.site.url} {snap.short_id}" in form
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(engineer).post(
            url,
            {"snapshot": snap.pk, "target": "stage", "tables": "wp_posts, wp_postmeta", "reason": "bad edit"},
        )
    assert response.status_code == 302
    restore = Restore.objects.get()
    assert (restore.target, restore.tables, restore.decided_by) == (
        "stage",
        ["wp_posts", "wp_postmeta"],
        engineer,
    )
    assert queued == [("restore", {"restore": restore})]
    entry = AuditEntry.objects.get(model="backups.Restore")
    assert entry.actor == engineer
    assert entry.after["tables"] == ["wp_posts", "wp_postmeta"]


def test_restore_to_prod_needs_the_typed_confirmation(
    catalogue: Catalogue, stage_sources, engineer: User, queued, django_capture_on_commit_callbacks
):
    snap = catalogue.snapshots[2]  # uploads, 5 hours ago
    url = reverse("staff_backups_restore", args=[catalogue.site.pk])
    http = signed_in(engineer)
    data = {"snapshot": snap.pk, "target": "prod", "reason": "defaced uploads", "confirmation": "yes"}
    response = http.post(url, data)
    assert response.status_code == 400
    assert f"type exactly: {catalogue.site.url} {snap.short_id}" in text(response)
    assert not Restore.objects.exists()
    assert queued == []
    with django_capture_on_commit_callbacks(execute=True):
        response = http.post(url, {**data, "confirmation": f"  {catalogue.site.url}   {snap.short_id} "})
    assert response.status_code == 302
    restore = Restore.objects.get()
    assert restore.target == "prod"
    assert restore.decided_by == engineer
    assert restore.confirmation == f"{catalogue.site.url} {snap.short_id}"
    assert queued == [("restore", {"restore": restore})]


def test_owner_requests_a_download(
    catalogue: Catalogue, owner: User, member: User, queued, django_capture_on_commit_callbacks
):
    url = reverse("portal_backups_export_request", args=[catalogue.site.pk])
    snap = catalogue.snapshots[0]
    assert signed_in(member).post(url, {"snapshot": snap.pk, "format": "zip"}).status_code == 403
    assert signed_in(owner).get(url).status_code == 405
    forgotten = catalogue.snapshots[5]
    response = signed_in(owner).post(url, {"snapshot": forgotten.pk, "format": "zip"}, follow=True)
    assert "is not one of this site" in text(response)
    with django_capture_on_commit_callbacks(execute=True):
        signed_in(owner).post(url, {"snapshot": snap.pk, "format": "zip"})
    export = Export.objects.get()
    assert (export.snapshot, export.format, export.requested_by) == (snap, "zip", owner)
    assert queued == [("export", {"export": export})]
    assert AuditEntry.objects.get(model="backups.Export").actor == owner


def test_ready_download_is_served_to_the_client_only(
    catalogue: Catalogue, owner: User, outsider: User, engineer: User, *, settings, tmp_path
):
    settings.HOME = tmp_path
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "acme-1.tar").write_bytes(b"tar bytes")
    snap = catalogue.snapshots[0]
    export = Export.objects.create(
        snapshot=snap,
        requested_by=owner,
        status="ready",
        file="acme-1.tar",
        expires_at=timezone.now() + dt.timedelta(days=7),
        sha256="ab" * 32,
    )
    url = reverse("portal_backups_export", args=[export.pk])
    response = signed_in(owner).get(url)
    assert response.status_code == 200
    assert text(response) == "tar bytes"
    assert f"site-{catalogue.site.pk}-{snap.short_id}.tar" in response["Content-Disposition"]
    assert signed_in(outsider).get(url).status_code == 404
    assert signed_in(engineer).get(reverse("staff_backups_export", args=[export.pk])).status_code == 200
    assert "Download" in text(signed_in(owner).get(reverse("portal_backups_site", args=[catalogue.site.pk])))
    Export.objects.filter(pk=export.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    assert signed_in(owner).get(url).status_code == 404
    Export.objects.filter(pk=export.pk).update(expires_at=None, file="../../etc/passwd")
    assert signed_in(owner).get(url).status_code == 404


def test_mark_runbook_reviewed_is_audited(catalogue: Catalogue, engineer: User):
    from sitekeeper.backups import runbook

    runbook.mark_stale(catalogue.site, "release 2.4")
    page = text(signed_in(engineer).get(reverse("staff_backups_site", args=[catalogue.site.pk])))
    assert "Recovery runbook needs review" in page
    assert "release 2.4" in page
    response = signed_in(engineer).post(reverse("staff_backups_runbook_reviewed", args=[catalogue.site.pk]))
    assert response.status_code == 302
    config = SiteBackup.objects.get(pk=catalogue.config.pk)
    assert not runbook.is_stale(config)
    entry = AuditEntry.objects.filter(model="backups.SiteBackup", actor=engineer).latest("at")
    assert "runbook_reviewed_at" in entry.after
    page = text(signed_in(engineer).get(reverse("staff_backups_site", args=[catalogue.site.pk])))
    assert "Recovery runbook needs review" not in page
