"""The console's edit pages in a real browser.

An account manager changes a contract's monthly fee in the console, sees it on the client's page, and
`sitekeeper export` writes the new fee; a fee the contract file would refuse is refused beside the field
with apply's message and nothing is saved. An engineer edits a site but is offered no contract edit. The
edit pages and the admin index fit 1,366 px and 390 px without sideways scrolling; screenshots are saved
(test-artifacts/ and, when SITEKEEPER_SHOTS names a folder, there too) for a person to look at.
"""

from __future__ import annotations

import os
import shutil
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture names what to install (and fails under SITEKEEPER_REQUIRE_ALL=1)
    expect = None

from sitekeeper.access.models import AuditEntry
from sitekeeper.contracts.models import Contract
from tests.browser.conftest import log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

WIDTHS = (1366, 390)


def _overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def _shoot(page, screenshot, name: str) -> None:
    """Both widths: no sideways scrolling, and a full-page screenshot of each."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        assert _overflow(page) <= 0, f"{name} scrolls sideways at {width} px"
        path = screenshot(f"console-{name}-{width}")
        folder = os.environ.get("SITEKEEPER_SHOTS")
        if folder:
            shutil.copy(path, Path(folder) / path.name)
    page.set_viewport_size({"width": 1366, "height": 900})


def _export() -> str:
    out = StringIO()
    call_command("export", stdout=out)
    return out.getvalue()


def test_manager_edits_the_fee_and_export_shows_it(live_server, page, screenshot, acme, manager):
    log_in(page, live_server, "manager")
    page.goto(f"{live_server.url}/staff/clients/{acme.slug}/")
    page.get_by_role("button", name="Edit contract").click()
    expect(page.get_by_role("heading", name="Contract of Acme GmbH")).to_be_visible()
    fee = page.get_by_label("Monthly fee")
    expect(fee).to_have_value("900.00")
    _shoot(page, screenshot, "edit-contract")

    # A value the contract file refuses: apply's message beside the field, nothing saved.
    fee.fill("12.345")
    page.get_by_role("button", name="Save contract").click()
    expect(page.get_by_role("alert")).to_contain_text("Nothing was saved")
    message = "'12.345' is not a decimal with at most 10 digits before and 2 after the point"
    expect(page.get_by_role("alert")).to_contain_text(f"Monthly fee: {message}")
    expect(page.locator("#id_monthly_fee_error")).to_contain_text(message)
    expect(page.get_by_label("Monthly fee")).to_have_attribute("aria-invalid", "true")
    assert Contract.objects.get(client=acme).monthly_fee == Decimal("900.00")
    _shoot(page, screenshot, "edit-contract-error")

    page.get_by_label("Monthly fee").fill("1375.00")
    page.get_by_role("button", name="Save contract").click()
    page.wait_for_url(f"**/staff/clients/{acme.slug}/")
    expect(page.locator(".flash")).to_contain_text("update contract acme: monthly_fee: 900.00 → 1375.00")
    expect(page.locator("main")).to_contain_text("EUR 1,375.00")

    assert Contract.objects.get(client=acme).monthly_fee == Decimal("1375.00")
    exported = _export()
    assert "monthly_fee: '1375.00'" in exported or 'monthly_fee: "1375.00"' in exported
    entry = AuditEntry.objects.get(model="contracts.Contract", action="update")
    assert entry.actor == manager
    assert entry.after == {"monthly_fee": "1375.00"}


def test_client_and_site_edit_pages(live_server, page, screenshot, acme, admin):
    log_in(page, live_server, "admin")
    page.goto(f"{live_server.url}/staff/clients/{acme.slug}/")
    page.get_by_role("button", name="Edit client and contacts").click()
    expect(page.get_by_role("heading", name="Edit Acme GmbH")).to_be_visible()
    _shoot(page, screenshot, "edit-client")
    page.get_by_label("Name").first.fill("Acme Holding GmbH")
    page.get_by_role("button", name="Save client").click()
    page.wait_for_url(f"**/staff/clients/{acme.slug}/")
    expect(page.get_by_role("heading", name="Acme Holding GmbH")).to_be_visible()

    site = acme.sites.get()
    page.goto(f"{live_server.url}/staff/sites/{site.pk}/")
    page.get_by_role("button", name="Edit site and environments").click()
    page.get_by_label("Development URL").fill("not a url")
    page.get_by_role("button", name="Save site").click()
    expect(page.get_by_role("alert")).to_contain_text("Development URL: 'not a url' is not an http(s) URL")
    _shoot(page, screenshot, "edit-site-error")
    page.get_by_label("Development URL").fill("https://dev.acme.test")
    page.get_by_role("button", name="Save site").click()
    page.wait_for_url(f"**/staff/sites/{site.pk}/")
    expect(page.locator("main")).to_contain_text("https://dev.acme.test")
    assert "dev: https://dev.acme.test" in _export()


def test_engineer_edits_sites_not_contracts(live_server, page, acme, engineer):
    log_in(page, live_server, "engineer")
    page.goto(f"{live_server.url}/staff/clients/{acme.slug}/")
    expect(page.get_by_role("button", name="Edit contract")).to_have_count(0)
    response = page.goto(f"{live_server.url}/staff/clients/{acme.slug}/contract/edit/")
    assert response.status == 403
    site = acme.sites.get()
    page.goto(f"{live_server.url}/staff/sites/{site.pk}/edit/")
    page.get_by_label("Hosting").fill("Hetzner, Falkenstein")
    page.get_by_role("button", name="Save site").click()
    page.wait_for_url(f"**/staff/sites/{site.pk}/")
    expect(page.locator("main")).to_contain_text("Hetzner, Falkenstein")


def test_admin_index_names(live_server, page, screenshot, acme, admin):
    log_in(page, live_server, "admin")
    page.goto(f"{live_server.url}/admin/")
    main = page.locator("#content-main")
    for name in ("Backup repositories", "Site backup settings", "Business calendars", "Restore tests"):
        expect(main).to_contain_text(name)
    expect(main).not_to_contain_text("Repositorys")
    _shoot(page, screenshot, "admin-index")


@pytest.mark.usefixtures("globex", "manager")
def test_staff_book_pages_fit(live_server, page, screenshot, acme):
    """The staff pages of the book (clients, contracts, sites, a client, a site) at both widths."""
    log_in(page, live_server, "manager")
    site = acme.sites.get()
    pages = {
        "clients": "/staff/clients/",
        "contracts": "/staff/contracts/",
        "sites": "/staff/sites/",
        "client-detail": f"/staff/clients/{acme.slug}/",
        "site-detail": f"/staff/sites/{site.pk}/",
    }
    for name, path in pages.items():
        page.goto(f"{live_server.url}{path}")
        expect(page.locator("main")).not_to_contain_text("Traceback")
        _shoot(page, screenshot, name)
    page.goto(f"{live_server.url}/staff/contracts/")
    expect(page.locator("main")).to_contain_text("1 Jan 2026")  # the one date format (sitekeeper_time)
    page.goto(f"{live_server.url}/staff/clients/?q=nobody")
    expect(page.locator("main")).to_contain_text("No client matches “nobody”")
