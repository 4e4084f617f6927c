"""The update pages in a real browser: the staff overview with a pending update, a release that is staging
(its progress polled by htmx until the step ends, then the page reloads with the checks), planning a release
from the site page; then the client's release record without the log."""

from __future__ import annotations

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture names what to install
    expect = None

from sitekeeper.releases.models import Release
from tests.browser.test_login_portal import log_in
from tests.releases.releases_common import (
    LOG,
    URLS,
    Records,
    installed,
    package,
    packages_dir,
    records,
)

__all__ = ["installed", "package", "packages_dir", "records"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.urls(URLS),
]


@pytest.mark.usefixtures("owner")
def test_staff_release_pages_and_the_portal_record(
    live_server, page, screenshot, records: Records, monkeypatch
):
    monkeypatch.setattr("sitekeeper.releases.tasks.release_task", lambda pk: None)  # no worker here
    log_in(page, live_server, "engineer")
    page.goto(f"{live_server.url}/staff/updates/")
    expect(page.get_by_role("heading", name="Updates", level=1)).to_be_visible()
    expect(page.locator("#sites")).to_contain_text("Akismet Anti-spam 5.0.2→5.0.3")
    expect(page.locator("#recent")).to_contain_text("Rolled back")
    screenshot("updates-overview")
    page.set_viewport_size({"width": 390, "height": 900})  # a phone: tables scroll inside their cards
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    screenshot("updates-overview-390")
    page.set_viewport_size({"width": 1366, "height": 900})

    # A release staging: the progress bar is polled; when the step ends the page reloads by itself.
    page.goto(f"{live_server.url}/staff/updates/releases/{records.running.pk}/")
    expect(page.locator("#release-live")).to_contain_text("apply akismet (2/5)")
    screenshot("updates-release-staging")
    Release.objects.filter(pk=records.running.pk).update(
        status="awaiting_window",
        checks=[{"environment": "stage", "name": "home page 200", "ok": True, "detail": "200", "at": None}],
    )
    expect(page.locator("#checks")).to_contain_text("home page 200", timeout=8000)
    expect(page.locator("#release-live")).not_to_contain_text("apply akismet")

    page.goto(f"{live_server.url}/staff/updates/releases/{records.deployed.pk}/")
    expect(page.locator("#log")).to_contain_text("/srv/acme-internal-path")
    expect(page.locator("#restore-point")).to_contain_text("ab12cd34")
    screenshot("updates-release-rolled-back")

    # Plan a release from the site page (the pending akismet update is ticked already).
    page.goto(f"{live_server.url}/staff/updates/site/{records.site.pk}/")
    screenshot("updates-site")
    page.get_by_role("button", name="Plan a release now").click()
    expect(page.locator(".flash")).to_contain_text("planned with 1 change(s)")
    expect(page.get_by_role("button", name="Approve for production")).to_be_visible()

    # The client's record: what changed, the checks and the outcome; never the log.
    page.context.clear_cookies()
    log_in(page, live_server, "owner")
    page.goto(f"{live_server.url}/portal/updates/releases/{records.deployed.pk}/")
    expect(page.locator("#changes")).to_contain_text("5.0.3")
    expect(page.locator("#outcome")).to_contain_text("rolled back")
    assert LOG.strip() not in page.content()
    assert page.locator("#log").count() == 0
    screenshot("updates-portal-release")
