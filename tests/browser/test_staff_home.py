"""An engineer logs in and the staff home — the operations console — shows what needs a person now: a
breached request, a down site and a failed backup, each linking to where it is handled; a manager finds the
revenue on the business page. Both readable at 1366 and 390 px without sideways scrolling."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture names what to install (and fails under SITEKEEPER_REQUIRE_ALL=1)
    expect = None

from sitekeeper.backups.models import BackupRun
from sitekeeper.contracts.models import Client
from sitekeeper.desk import services
from sitekeeper.monitoring.models import Monitor, Outage
from tests.browser.conftest import log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _trouble(acme: Client, globex: Client) -> dict[str, object]:
    """acme: a P2 request received ten days ago, never answered (its response clock breached long ago) and
    a backup whose latest run failed; globex: a site down for twenty minutes."""
    now = timezone.now()
    ticket = services.file_request(
        acme,
        channel="portal",
        type="bug",
        priority="P2",
        site=acme.sites.get(),
        environment="prod",
        subject="Checkout adds VAT twice",
        description="The basket total includes VAT twice since Tuesday.",
        steps="1. Add a product\n2. Open the basket",
        received_at=now - dt.timedelta(days=10),
        allow_incomplete=False,
    )
    BackupRun.objects.create(
        site=acme.sites.get(),
        layer="data",
        trigger="schedule",
        slot="browser-test",
        status="failed",
        error="restic: unable to open repository: permission denied",
        finished_at=now - dt.timedelta(hours=3),
    )
    site = globex.sites.get()
    monitor = Monitor.objects.create(site=site, url=site.url, name="Globex home page", state="down")
    Outage.objects.create(monitor=monitor, site=site, start=now - dt.timedelta(minutes=20), cause="HTTP 503")
    return {"ticket": ticket, "down": site}


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("width", [1366, 390])
def test_engineer_sees_breach_down_site_and_failed_backup(live_server, page, screenshot, width, request):
    acme, globex = request.getfixturevalue("acme"), request.getfixturevalue("globex")
    request.getfixturevalue("engineer")
    made = _trouble(acme, globex)
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_server, "engineer")
    expect(page).to_have_url(f"{live_server.url}/staff/")
    expect(page.get_by_role("heading", name="What needs a person now", level=1)).to_be_visible()

    clocks = page.locator("section#clocks")
    expect(clocks).to_contain_text(f"{made['ticket'].reference} Checkout adds VAT twice")
    expect(clocks).to_contain_text("Breached")
    expect(clocks).to_contain_text("Response overdue since")
    sites = page.locator("section#sites")
    expect(sites).to_contain_text("Globex Inc website — HTTP 503")
    expect(sites.locator(".ops-badge")).to_have_text(["Down"])
    backups = page.locator("section#backups")
    expect(backups).to_contain_text("Acme GmbH website — Data (database + uploads) backup failed")
    expect(backups).to_contain_text("restic: unable to open repository: permission denied")
    # The summary strip counts them and leads to the sections; no revenue on an engineer's home.
    strip = page.get_by_role("navigation", name="Summary")
    expect(strip.get_by_role("link", name="SLA clocks")).to_contain_text("1 breached")
    expect(page.locator("main")).not_to_contain_text("Monthly recurring fees")
    screenshot(f"staff-home-{width}")
    assert no_sideways_scroll(page)

    # Every line links to where it is handled: the request's page.
    clocks.get_by_role("link", name=f"{made['ticket'].reference} Checkout adds VAT twice").click()
    expect(page).to_have_url(f"{live_server.url}/staff/desk/{made['ticket'].pk}/")
    page.go_back()
    sites.get_by_role("link", name="Globex Inc website — HTTP 503").click()
    expect(page).to_have_url(f"{live_server.url}/staff/monitoring/sites/{made['down'].pk}/")


@pytest.mark.parametrize("width", [1366, 390])
def test_manager_reads_revenue_on_the_business_page(live_server, page, screenshot, width, request):
    request.getfixturevalue("acme")
    request.getfixturevalue("globex")
    request.getfixturevalue("manager")
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_server, "manager")
    page.get_by_role("link", name="business page").click()
    expect(page).to_have_url(f"{live_server.url}/staff/business/")
    fees = page.locator("article", has=page.get_by_role("heading", name="Monthly recurring fees"))
    expect(fees).to_contain_text("EUR 1,150.00")
    expect(page.locator("main")).to_contain_text("Active contracts by plan")
    screenshot(f"staff-business-{width}")
    assert no_sideways_scroll(page)
