"""The client's home on the demo, in a real browser: "my sites, now" — every part of the bakery's card
filled from the seeded data (uptime against the SLA with coverage, requests with their clock, last backup
and last verified restorable, security findings and the open incident, updates waiting for the window,
links and Lighthouse with trend arrows), the New request button, and no horizontal scrolling at 1366 or
390 px on the home or the site page."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture names what to install
    expect = None

from sitekeeper.access.models import User
from sitekeeper.contracts.models import Site
from sitekeeper.demo.seed import DEMO_PASSWORD
from tests.conftest import authenticator_for, fresh_totp_code

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

BAKERY = "https://brot-und-butter.test"
DATE = re.compile(r"\d{1,2} [A-Z][a-z]{2} \d{4}")  # sitekeeper_time's day: "7 Dec 2026"


@pytest.fixture
def demo(settings, tmp_path, live_server) -> Site:
    """The demo agency, seeded as `sitekeeper demo --no-serve` does (tests/test_demo.py)."""
    settings.HOME = tmp_path  # the demo's restic repository and site trees
    call_command("demo", no_serve=True)
    return Site.objects.get(url=BAKERY)


def log_in(page, live_server, username: str) -> None:
    """Username and the demo's password; then the authenticator code if the person is asked for one (the
    demo's client people have no second factor set up, so they go straight to their portal)."""
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/login/" not in url)
    if "/account/two-factor/verify/" in page.url:
        page.get_by_label("Code").fill(
            fresh_totp_code(authenticator_for(User.objects.get(username=username)))
        )
        page.get_by_role("button", name="Continue").click()
        page.wait_for_url(lambda url: "/account/two-factor/" not in url)


def no_overflow(page) -> None:
    width = page.evaluate("window.innerWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_client_home_shows_every_card_filled_from_the_demo(live_server, page, screenshot, demo: Site):
    log_in(page, live_server, "bakery-owner")
    expect(page).to_have_url(f"{live_server.url}/portal/")
    card = page.locator(f'article.site-card[data-site="{demo.pk}"]')
    expect(card.get_by_role("heading", name=demo.name)).to_be_visible()

    uptime = card.locator('[data-part="uptime"]')
    expect(uptime).to_contain_text(re.compile(r"\d+(\.\d+)? %"))  # a measured figure …
    expect(uptime).to_contain_text("agreed 99 %")  # … against the SLA …
    expect(uptime).to_contain_text(re.compile(r"watched \d+(\.\d+)? % of the month"))  # … with its coverage
    expect(uptime).not_to_contain_text("Not measured")

    requests = card.locator('[data-part="requests"]')
    expect(requests).to_contain_text(re.compile(r"\d+ open"))
    expect(requests.locator(".clock")).to_contain_text(
        re.compile(r"(Response|Resolution|Recovery) (due|overdue)")
    )

    backups = card.locator('[data-part="backups"]')
    expect(backups).to_contain_text(re.compile(r"Last backup\s*" + DATE.pattern))
    expect(backups).to_contain_text(re.compile(r"Last verified restorable\s*" + DATE.pattern))

    security = card.locator('[data-part="security"]')
    expect(security.locator(".sev-critical")).to_contain_text("critical")
    expect(security.locator(".sev-high")).to_contain_text("high")
    expect(security).to_contain_text("Security incident")

    updates = card.locator('[data-part="updates"]')
    expect(updates).to_contain_text(re.compile(r"\d+ pending"))
    expect(updates).to_contain_text("waiting for the window")

    health = card.locator('[data-part="health"]')
    expect(health).to_contain_text(re.compile(r"\d+ broken links?"))
    expect(health.locator("table.scores")).to_contain_text("Performance")
    expect(health.locator("td.trend-down .arrow").first).to_have_text("↓")  # the 48-point drop
    expect(health).to_contain_text("slower")

    new_request = page.get_by_role("button", name="New request")
    expect(new_request).to_be_visible()
    for path in (
        "/portal/backups/",
        "/portal/uptime/",
        "/portal/security/",
        "/portal/health/",
        "/portal/updates/",
    ):
        expect(page.locator("header.topbar").locator(f'a[href="{path}"]')).to_have_count(1)
    main = page.locator("main")
    for detail in ("/staff/", "sha256", "Traceback"):
        expect(main).not_to_contain_text(detail)

    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server.url}/portal/")
        no_overflow(page)
        screenshot(f"portal-home-{width}")
        page.goto(f"{live_server.url}/portal/sites/{demo.pk}/")
        expect(page.locator(f'article.site-card[data-site="{demo.pk}"]')).to_be_visible()
        expect(page.locator("main")).to_contain_text("How this site is looked after")
        no_overflow(page)
        screenshot(f"portal-site-{width}")

    page.goto(f"{live_server.url}/portal/")
    page.get_by_role("button", name="New request").click()
    expect(page).to_have_url(f"{live_server.url}/portal/requests/new/")
