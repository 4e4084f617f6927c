"""A client owner and an engineer log in with a real browser and see their start pages."""

from __future__ import annotations

import re

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture names what to install (and fails under SITEKEEPER_REQUIRE_ALL=1)
    expect = None

from sitekeeper.access.audit import acting_as
from tests.browser.conftest import go_to, log_in, log_out, open_account_menu

__all__ = ["log_in"]  # the other browser tests import it from here: username, password, then the TOTP code

# Live-server tests commit for real; serialized rollback restores the built-in plans the migrations made.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.mark.usefixtures("owner", "globex")
def test_client_owner_sees_their_portal(live_server, page, screenshot):
    log_in(page, live_server, "owner")
    expect(page).to_have_url(f"{live_server.url}/portal/")
    expect(page.get_by_role("heading", name="Acme GmbH", level=1)).to_be_visible()
    topbar = page.locator("header.topbar")
    expect(topbar).to_contain_text("owner")
    expect(topbar).to_contain_text("Client product owner")
    expect(topbar).to_contain_text("Acme GmbH")
    main = page.locator("main")
    facts = (
        "Business",
        "EUR 900.00",
        "1 Jan 2026",
        "up to and including 31 Mar 2026",
        "4 hours (24/7)",
        "99.9 %",
    )
    for text in facts:
        expect(main).to_contain_text(text)
    expect(main).not_to_contain_text("Globex")
    screenshot("portal-owner")

    page.get_by_role("link", name="Acme GmbH website").first.click()  # the sites table
    expect(page).to_have_url(re.compile(r"/portal/sites/\d+/$"))
    expect(page.locator("main")).to_contain_text("https://stage.acme.test")
    screenshot("portal-site")

    page.goto(f"{live_server.url}/staff/")  # the console is not for clients
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    screenshot("forbidden")

    open_account_menu(page)
    go_to(page, "API tokens")
    page.get_by_label("Token name").fill("reporting script")
    page.get_by_role("button", name="Create token").click()
    expect(page.locator("#new-key")).to_contain_text("sk_")
    screenshot("account-tokens")
    page.on("dialog", lambda dialog: dialog.accept())  # the "Revoke …?" confirmation
    page.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("button", name="Revoke")).to_have_count(0)  # htmx removed the row in place

    log_out(page)
    expect(page).to_have_url(f"{live_server.url}/login/")
    screenshot("login")


@pytest.mark.usefixtures("engineer", "acme", "globex")
def test_engineer_sees_the_staff_client_list(live_server, page, screenshot):
    log_in(page, live_server, "engineer")
    expect(page).to_have_url(f"{live_server.url}/staff/")
    expect(page.locator("header.topbar")).to_contain_text("Engineer")
    screenshot("staff-dashboard")

    go_to(page, "Clients")
    expect(page).to_have_url(f"{live_server.url}/staff/clients/")
    rows = page.locator("#client-rows tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Acme GmbH")
    expect(rows.last).to_contain_text("Globex Inc")
    screenshot("staff-clients")

    # The search box filters through htmx without a page load.
    page.get_by_label("Search clients").fill("glob")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Globex Inc")
    expect(page).to_have_url(re.compile(r"/staff/clients/\?q=glob$"))

    page.get_by_label("Search clients").fill("")
    expect(rows).to_have_count(2)
    page.get_by_role("link", name="Acme GmbH").click()
    expect(page.get_by_role("heading", name="Acme GmbH", level=1)).to_be_visible()
    expect(page.locator("main")).to_contain_text("Acme GmbH Oncall")
    screenshot("staff-client-detail")

    go_to(page, "Contracts")
    expect(page.locator("main table")).to_contain_text("EUR 250.00")
    screenshot("staff-contracts")
    go_to(page, "Sites")
    expect(page.locator("main table")).to_contain_text("Globex Inc website")
    screenshot("staff-sites")

    go_to(page, "Plans")
    expect(page.locator("table.plans")).to_contain_text("Quarterly review")
    screenshot("staff-plans")


@pytest.mark.usefixtures("manager", "admin")
def test_audit_log_for_managers_and_django_admin_for_the_admin(live_server, page, screenshot, acme):
    with acting_as(label="cli:apply"):
        acme.legal_name = "Acme GmbH & Co. KG"
        acme.save()
    log_in(page, live_server, "manager")
    go_to(page, "Audit log")
    expect(page.locator("table.audit")).to_contain_text("cli:apply")
    expect(page.locator("table.audit")).to_contain_text("legal_name")
    screenshot("staff-audit")
    page.set_viewport_size({"width": 390, "height": 800})
    screenshot("staff-audit-390")
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth"), "the table scrolls in place"
    page.set_viewport_size({"width": 1280, "height": 800})
    log_out(page)

    log_in(page, live_server, "admin")
    go_to(page, "Django admin")
    expect(page).to_have_url(f"{live_server.url}/admin/")
    expect(page.locator("#content")).to_contain_text("Audit entries")
    page.goto(f"{live_server.url}/admin/contracts/contract/{acme.contract.pk}/change/")
    expect(page.locator("#content")).to_contain_text("Maintenance windows")
    screenshot("admin-contract")


def overflowing(page, selector: str) -> list[str]:
    """Tags of the elements matching `selector` that run past the viewport's right edge."""
    return page.evaluate(
        f"[...document.querySelectorAll({selector!r})]"
        ".filter(e => e.getBoundingClientRect().right > innerWidth + 1).map(e => e.tagName)"
    )


@pytest.mark.usefixtures("owner", "engineer")
@pytest.mark.parametrize("width", [1366, 390])
def test_service_gaps_read_as_not_measured_to_the_client_and_as_agency_action_to_staff(
    live_server, page, screenshot, width
):
    """Issue 12, item 1: acme's site has no monitor, no backup source and was never scanned. The portal says
    what is not measured yet — nothing green, no all-clear; the staff dashboard lists the gaps. Both readable
    at 390 px without sideways scrolling."""
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_server, "owner")
    card = page.locator("main article.site-card")
    expect(card).to_contain_text("Uptime: not measured yet — we are setting up monitoring.")
    expect(card).to_contain_text("Security scans: not scanned yet — we are setting up security scanning.")
    expect(card.locator("strong.not-measured")).to_have_text("Not measured")
    expect(card.locator(".headline")).to_contain_text("Not measured yet")
    for part in ("uptime", "backups", "security"):  # not measured: grey ("none"), never the all-clear tone
        expect(card.locator(f'[data-part="{part}"]')).to_have_class(re.compile(r"\btone-none\b"))
    expect(page.locator("main")).not_to_contain_text("Watched around the clock")
    screenshot(f"portal-home-gaps-{width}")
    assert overflowing(page, "main article.site-card, main article.site-card *") == []
    # Wide tables scroll inside their card on a phone; nothing else runs past the screen.
    assert overflowing(page, "main article, main article > :not(table)") == []
    assert overflowing(page, "header.topbar, header.topbar *") == []  # the links wrap on a phone
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    log_out(page)

    log_in(page, live_server, "engineer")
    gaps = page.locator("main section#gaps")
    expect(gaps).to_contain_text("Service gaps — agency action needed")
    for title in ("No production uptime monitor", "No backup source", "No security scan in the last 48 h"):
        expect(gaps).to_contain_text(title)
    screenshot(f"staff-dashboard-gaps-{width}")
    assert overflowing(page, "main section#gaps, main section#gaps *") == []
    assert overflowing(page, "header.topbar, header.topbar *") == []
