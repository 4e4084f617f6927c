# ruff: noqa: F811
"""The staff backups page of a site in a real browser: the not-off-site warning, last verified restorable,
snapshots per layer, evidence, and the live status fragment that htmx refreshes every 2 s."""

from __future__ import annotations

import re

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture names what to install
    expect = None

from sitekeeper.backups.models import BackupRun
from tests.backups.test_views import Catalogue, catalogue  # noqa: F401
from tests.browser.test_login_portal import log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_staff_backups_site_page(live_server, page, screenshot, catalogue: Catalogue, engineer):
    log_in(page, live_server, "engineer")
    page.goto(f"{live_server.url}/staff/backups/site/{catalogue.site.pk}/")
    expect(page.get_by_role("heading", name=re.compile("Backups"), level=1)).to_be_visible()
    expect(page.locator("#not-off-site")).to_contain_text("Not off-site")
    expect(page.locator("#last-verified")).to_contain_text(f"{catalogue.passed.finished_at:%-d %b %Y}")
    expect(page.locator("table.snapshots")).to_have_count(2)  # data and code
    expect(page.locator("#live-jobs")).to_contain_text("42 %")
    screenshot("staff-backups-site")
    # The job finishes: the polled fragment shows it without a reload.
    BackupRun.objects.filter(pk=catalogue.running.pk).update(status="succeeded")
    expect(page.locator("#live-jobs")).to_contain_text("Nothing running", timeout=6000)
    page.goto(f"{live_server.url}/staff/backups/site/{catalogue.site.pk}/runbook/")
    expect(page.get_by_role("heading", name=re.compile("Recovery runbook"), level=1)).to_be_visible()
    screenshot("staff-backups-runbook")


def test_portal_backups_page(live_server, page, screenshot, catalogue: Catalogue, owner):
    log_in(page, live_server, "owner")
    page.goto(f"{live_server.url}/portal/backups/")
    expect(page.locator("main")).to_contain_text("not off-site")
    page.get_by_role("link", name="Acme GmbH website").click()
    expect(page.locator("#last-verified")).to_contain_text(f"{catalogue.passed.finished_at:%-d %b %Y}")
    expect(page.get_by_role("button", name="Back up now")).to_have_count(0)
    page.locator("form.export").first.get_by_role("button", name="Request").click()
    expect(page.locator("main")).to_contain_text("Download requested")
    screenshot("portal-backups-site")


@pytest.mark.usefixtures("engineer")
@pytest.mark.parametrize("width", [1366, 390])
def test_portal_site_without_backups_says_so_plainly(live_server, page, screenshot, owner, width):
    """Issue 12, item 1: a site with no backup set up never looks fine. The client reads that backups are
    not set up yet and that the agency is arranging it — nothing green, no horizontal scrolling on a phone;
    the staff page flags it as the agency's problem."""
    site = owner.client.sites.get()
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_server, "owner")
    page.goto(f"{live_server.url}/portal/backups/site/{site.pk}/")
    notice = page.locator("#backup-gap")
    expect(notice).to_contain_text("Backups are not set up yet for this site — we are arranging it.")
    expect(page.locator("main .flag-ok, main .ok-box")).to_have_count(0)
    expect(page.locator("#last-verified")).to_have_count(0)
    screenshot(f"portal-backups-not-set-up-{width}")
    # Nothing on the page's own content runs past the viewport (the shared top bar is the layout's own).
    overflowing = page.evaluate(
        "[...document.querySelectorAll('main *')]"
        ".filter(e => e.getBoundingClientRect().right > innerWidth + 1).map(e => e.tagName)"
    )
    assert overflowing == []
    page.goto(f"{live_server.url}/portal/backups/")
    expect(page.locator("main")).to_contain_text("not set up yet")
    page.context.clear_cookies()
    log_in(page, live_server, "engineer")
    page.goto(f"{live_server.url}/staff/backups/site/{site.pk}/")
    expect(page.locator("#backup-gap")).to_contain_text("No backup source — agency action needed")
    screenshot(f"staff-backups-no-source-{width}")
