"""Update pages: the staff console (overview, a site's pending updates and "plan a release now", a release
with checks, restore point, log and actions, live progress, update packages with upload and fetch) and the
portal's release records (no log, no check details); every action a person's audited change; another
client's people get 404, client people 403 on the console."""

from __future__ import annotations

import datetime as dt
import http.server
import threading
from collections.abc import Iterator

import pytest

from sitekeeper.access.models import AuditEntry
from sitekeeper.releases import views as views_updates
from sitekeeper.releases.models import Release, ReleaseChange, UpdatePackage
from tests.http_clients import browser
from tests.releases.releases_common import (
    LOG,
    URLS,
    Records,
    installed,
    package,
    packages_dir,
    plugin_zip,
    records,
)

__all__ = ["installed", "package", "packages_dir", "records"]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(URLS)]


def page(user, url: str, status: int = 200) -> str:
    response = browser(user).get(url)
    assert response.status_code == status, (url, response.status_code)
    return response.content.decode()


# Staff console --------------------------------------------------------------------------------------------


def test_overview_shows_pending_next_batch_in_progress_and_recent(records: Records, engineer):
    html = page(engineer, "/staff/updates/")
    assert "Akismet Anti-spam 5.0.2" in html
    assert "5.0.3" in html
    assert 'id="pending-total"><small>Pending updates</small><b>1</b>' in html
    assert f"/staff/updates/releases/{records.running.pk}/" in html
    assert "Applying to stage" in html
    assert "tone tone-bad" in html
    assert "Rolled back" in html
    assert "the agreement&#x27;s update schedule" in html  # a scheduled batch is approved by the contract
    upcoming = views_updates.next_batch(records.site)
    assert upcoming is not None
    assert upcoming >= dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    assert f"{upcoming.day} {upcoming:%b %Y}" in html  # the pages' one day format (sitekeeper_time |day)


def test_site_page_lists_pending_with_plan_form_and_history(records: Records, engineer):
    html = page(engineer, f"/staff/updates/site/{records.site.pk}/")
    assert f'name="packages" value="{records.package.pk}" checked' in html
    assert f'action="/staff/updates/site/{records.site.pk}/plan/"' in html
    assert "Plan a release now" in html
    assert "batch-2026-05-12" in html
    assert "manual-1" in html
    assert "next scheduled batch" in html


def test_release_page_shows_checks_restore_point_log_ticket_and_actions(records: Records, engineer):
    html = page(engineer, f"/staff/updates/releases/{records.deployed.pk}/")
    assert "5.0.2" in html
    assert "5.0.3" in html
    assert 'class="check-ok">ok' in html
    assert 'class="check-bad">failed' in html
    assert 'class="check-skipped">skipped' in html
    assert "HTTP 500 from /srv/acme/secret-path" in html  # staff see details
    assert "ab12cd34" in html  # restore point snapshot
    assert "/srv/acme-internal-path" in html  # the log
    assert f"/staff/desk/{records.ticket.pk}/" in html
    assert records.ticket.reference in html
    assert "Production failed its checks and was rolled back." in html
    # Rolled back: no more actions, no polling.
    assert "/approve/" not in html
    assert "/advance/" not in html
    assert "hx-get" not in html


def test_running_release_polls_its_progress(records: Records, engineer):
    url = f"/staff/updates/releases/{records.running.pk}/"
    html = page(engineer, url)
    assert f'hx-get="{url}live/"' in html
    assert "apply akismet (2/5)" in html
    assert 'value="40"' in html
    assert f"{url}approve/" in html
    assert f"{url}advance/" in html
    assert f"{url}cancel/" not in html  # the worker is applying to stage right now: let that step end first
    fragment = browser(engineer).get(f"{url}live/", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "HX-Refresh" not in fragment
    Release.objects.filter(pk=records.running.pk).update(status="awaiting_window")
    fragment = browser(engineer).get(f"{url}live/", headers={"HX-Request": "true"})
    assert fragment["HX-Refresh"] == "true"  # the step ended: the page reloads with its checks and log


def test_plan_a_release_now_is_audited(
    package, engineer, acme, monkeypatch, django_capture_on_commit_callbacks
):
    queued: list[int] = []
    monkeypatch.setattr("sitekeeper.releases.tasks.release_task", queued.append)
    site = acme.sites.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = browser(engineer).post(
            f"/staff/updates/site/{site.pk}/plan/", {"kind": "manual", "packages": [package.pk]}
        )
    release = Release.objects.get(site=site)
    assert queued == [release.pk]  # staging starts now, not at the worker's next pass
    assert response.status_code == 302
    assert response["Location"] == f"/staff/updates/releases/{release.pk}/"
    assert (release.kind, release.status, release.requested_by) == ("manual", "planned", engineer)
    change = ReleaseChange.objects.get(release=release)
    assert (change.slug, change.from_version, change.to_version) == ("akismet", "5.0.2", "5.0.3")
    assert AuditEntry.objects.filter(
        model="releases.Release", object_pk=str(release.pk), actor=engineer, action="create"
    ).exists()


def test_plan_needs_a_ticked_pending_update(package, acme, engineer):
    site = acme.sites.get()
    response = browser(engineer).post(f"/staff/updates/site/{site.pk}/plan/", {"kind": "manual"}, follow=True)
    assert "tick at least one pending update" in response.content.decode()
    response = browser(engineer).post(
        f"/staff/updates/site/{site.pk}/plan/", {"kind": "sideways", "packages": [package.pk]}, follow=True
    )
    assert "Release not planned: kind" in response.content.decode()
    assert not Release.objects.exists()


def test_plan_of_a_package_no_longer_pending_says_so(package, installed, acme, engineer):
    installed.version = "5.0.3"  # updated meanwhile (e.g. by hand): nothing left to release
    installed.save()
    site = acme.sites.get()
    response = browser(engineer).post(
        f"/staff/updates/site/{site.pk}/plan/", {"kind": "manual", "packages": [package.pk]}, follow=True
    )
    assert "Release not planned: akismet 5.0.3 is not an update for" in response.content.decode()
    assert not Release.objects.exists()


def test_approve_is_an_audited_decision(records: Records, engineer):
    release = records.running
    Release.objects.filter(pk=release.pk).update(status="awaiting_window")
    assert browser(engineer).post(f"/staff/updates/releases/{release.pk}/approve/").status_code == 302
    release.refresh_from_db()
    assert release.approved_by == engineer
    assert release.approved_at is not None
    entry = AuditEntry.objects.get(model="releases.Release", object_pk=str(release.pk), actor=engineer)
    assert "approved_by_id" in entry.after


def test_cancel_needs_a_reason(records: Records, admin):
    release = records.running
    Release.objects.filter(pk=release.pk).update(status="awaiting_window")
    response = browser(admin).post(
        f"/staff/updates/releases/{release.pk}/cancel/", {"reason": ""}, follow=True
    )
    assert "Give a reason" in response.content.decode()
    release.refresh_from_db()
    assert release.status == "awaiting_window"
    response = browser(admin).post(
        f"/staff/updates/releases/{release.pk}/cancel/", {"reason": "client asked"}
    )
    assert response.status_code == 302
    release.refresh_from_db()
    assert release.status == "cancelled"
    assert "client asked" in release.outcome


def test_cancel_is_an_audited_decision(records: Records, admin):
    release = records.running
    Release.objects.filter(pk=release.pk).update(status="awaiting_window")
    browser(admin).post(f"/staff/updates/releases/{release.pk}/cancel/", {"reason": "client asked"})
    entry = AuditEntry.objects.get(model="releases.Release", object_pk=str(release.pk), actor=admin)
    assert entry.after["status"] == "cancelled"


def test_advance_hands_the_release_to_the_worker(
    records: Records, engineer, monkeypatch, django_capture_on_commit_callbacks
):
    queued: list[int] = []
    monkeypatch.setattr("sitekeeper.releases.tasks.release_task", queued.append)
    url = f"/staff/updates/releases/{records.running.pk}/advance/"
    with django_capture_on_commit_callbacks(execute=True):
        response = browser(engineer).post(url)
    assert response.status_code == 302
    assert queued == [records.running.pk]
    entry = AuditEntry.objects.get(model="releases.Release", actor=engineer)
    assert entry.object_repr.startswith("Advance now")
    assert entry.client_id == records.site.client_id
    # A finished release has nothing to advance.
    with django_capture_on_commit_callbacks(execute=True):
        browser(engineer).post(f"/staff/updates/releases/{records.deployed.pk}/advance/")
    assert queued == [records.running.pk]


def test_actions_are_post_only_and_staff_only(records: Records, engineer, owner, member, outsider):
    pk = records.running.pk
    for action in ("approve", "cancel", "advance"):
        url = f"/staff/updates/releases/{pk}/{action}/"
        assert browser(engineer).get(url).status_code == 405
        for person in (owner, member, outsider):
            assert browser(person).post(url, {"reason": "x"}).status_code == 403
    for url in ("/staff/updates/", f"/staff/updates/site/{records.site.pk}/", "/staff/updates/packages/"):
        assert browser(owner).get(url).status_code == 403
    records.running.refresh_from_db()
    assert (records.running.status, records.running.approved_by) == ("staging", None)


def test_staff_post_needs_a_csrf_token(records: Records, engineer):
    from django.test import Client as HttpClient

    http = HttpClient(enforce_csrf_checks=True)
    http.force_login(engineer)
    assert http.post(f"/staff/updates/releases/{records.running.pk}/approve/").status_code == 403


# Update packages ------------------------------------------------------------------------------------------


def test_upload_a_package_is_stored_listed_and_audited(packages_dir, installed, engineer):
    from django.core.files.uploadedfile import SimpleUploadedFile

    http = browser(engineer)
    upload = SimpleUploadedFile("akismet.5.0.3.zip", plugin_zip(), content_type="application/zip")
    response = http.post(
        "/staff/updates/packages/", {"file": upload, "security": "on", "notes": "Fixes an XSS"}
    )
    assert response.status_code == 302
    stored = UpdatePackage.objects.get()
    assert (stored.slug, stored.version, stored.security, stored.added_by) == (
        "akismet",
        "5.0.3",
        True,
        engineer,
    )
    assert (packages_dir / "wordpress-plugin" / "akismet" / "5.0.3.zip").is_file()
    assert AuditEntry.objects.filter(model="releases.UpdatePackage", actor=engineer, action="create").exists()
    html = page(engineer, "/staff/updates/packages/")
    assert stored.sha256[:16] in html
    assert "engineer" in html
    assert "Fixes an XSS" in html
    assert "security" in html


def test_upload_of_a_bad_zip_is_refused_with_the_reason(packages_dir, engineer):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("notes.zip", b"this is not a zip", content_type="application/zip")
    response = browser(engineer).post("/staff/updates/packages/", {"file": upload})
    assert response.status_code == 400
    assert "not a zip" in response.content.decode()
    assert not UpdatePackage.objects.exists()


@pytest.fixture
def zip_server() -> Iterator[str]:
    """A loopback HTTP server with /akismet.5.0.4.zip (anything else: 404)."""
    body = plugin_zip("5.0.4")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/akismet.5.0.4.zip":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_a_package_by_url(packages_dir, engineer, zip_server):
    http = browser(engineer)
    response = http.post("/staff/updates/packages/fetch/", {"url": f"{zip_server}/akismet.5.0.4.zip"})
    assert response.status_code == 302
    stored = UpdatePackage.objects.get()
    assert (stored.version, stored.source_url, stored.added_by) == (
        "5.0.4", f"{zip_server}/akismet.5.0.4.zip", engineer,
    )  # fmt: skip
    response = http.post("/staff/updates/packages/fetch/", {"url": f"{zip_server}/missing.zip"})
    assert response.status_code == 400
    assert "HTTP 404" in response.content.decode()
    assert UpdatePackage.objects.count() == 1


# Client portal ----------------------------------------------------------------------------------------------


def test_portal_shows_release_records_without_the_log(records: Records, owner, member):
    for person in (owner, member):
        html = page(person, f"/portal/updates/site/{records.site.pk}/")
        assert f"/portal/updates/releases/{records.deployed.pk}/" in html
        assert "Plan a release now" not in html
        assert "/staff/" not in html.split("<main")[1]
        html = page(person, f"/portal/updates/releases/{records.deployed.pk}/")
        assert "5.0.2" in html
        assert "5.0.3" in html
        assert "Rolled back" in html
        assert "the agreement&#x27;s update schedule" in html
        assert "Production failed its checks and was rolled back." in html
        assert LOG.strip() not in html
        assert "/srv/acme" not in html
        assert "ab12cd34" not in html  # no snapshot ids
        assert f"/portal/requests/{records.ticket.pk}/" in html
        assert 'class="check-bad">failed' in html


def test_portal_names_the_person_who_approved(records: Records, owner, engineer):
    engineer.first_name, engineer.last_name = "Erin", "Engineer"
    engineer.save()
    Release.objects.filter(pk=records.running.pk).update(approved_by=engineer)
    html = page(owner, f"/portal/updates/releases/{records.running.pk}/")
    assert "Erin Engineer" in html


def test_other_clients_people_get_404(records: Records, outsider):
    page(outsider, f"/portal/updates/site/{records.site.pk}/", 404)
    page(outsider, f"/portal/updates/releases/{records.deployed.pk}/", 404)


def test_agency_people_are_sent_to_the_console(records: Records, engineer):
    response = browser(engineer).get(f"/portal/updates/releases/{records.deployed.pk}/")
    assert response["Location"] == f"/staff/updates/releases/{records.deployed.pk}/"


def test_anonymous_people_are_sent_to_login(records: Records, client):
    for url in ("/staff/updates/", f"/portal/updates/releases/{records.deployed.pk}/"):
        response = client.get(url)
        assert response.status_code == 302
        assert "/login/" in response["Location"]
