"""The staff queue's search in a real browser: an engineer types a word that is only in a message of a
request and finds it, then one that is only in a request's description; the page fits 1,366 px and 390 px
(no horizontal scrolling), with screenshots."""

from __future__ import annotations

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture names what to install (and fails under SITEKEEPER_REQUIRE_ALL=1)
    expect = None

from sitekeeper.desk import services
from tests.browser.test_login_portal import log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _file(acme, subject: str, description: str, priority: str = "P3"):
    return services.file_request(
        acme,
        channel="email",
        type="bug",
        priority=priority,
        site=acme.sites.get(),
        environment="prod",
        subject=subject,
        description=description,
    )


def _overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


@pytest.mark.usefixtures("globex", "engineer")
def test_search_finds_a_request_by_a_word_of_a_message(live_server, page, screenshot, acme, owner):
    ticket = _file(acme, "Checkout is slow", "Since this morning the checkout takes a minute.", "P2")
    services.add_message(ticket, "The Zeppelin payment plugin times out.", channel="portal", author=owner)
    _file(acme, "Header image blurry", "On the home page.")
    _file(acme, "Opening hours wrong", "Sunday shows open.")

    log_in(page, live_server, "engineer")
    page.goto(f"{live_server.url}/staff/desk/")
    page.get_by_role("searchbox", name="Search").fill("zeppelin")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("main")).to_contain_text("1 request matches “zeppelin”")
    rows = page.locator("table.queue tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Checkout is slow")
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        assert _overflow(page) <= 0, f"the queue scrolls sideways at {width} px"
        screenshot(f"queue-search-{width}")

    page.set_viewport_size({"width": 1366, "height": 900})
    # A word that is only in a request's body (its description), not in any subject or message.
    page.get_by_role("searchbox", name="Search").fill("Sunday")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("main")).to_contain_text("1 request matches “Sunday”")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Opening hours wrong")

    page.get_by_role("searchbox", name="Search").fill("xylophone")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("main")).to_contain_text("No request mentions “xylophone” — search looks in subjects")
    screenshot("queue-search-empty-1366")
    page.get_by_role("searchbox", name="Search").fill("?!")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("alert")).to_contain_text("no letter or digit")
