"""Playwright driving Debian's Chromium against pytest-django's live server.

A missing /usr/bin/chromium skips these tests with the package to install, except under
SITEKEEPER_REQUIRE_ALL=1 (CI), where a missing component is a failure, never a silent skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections

from sitekeeper.access.models import User
from tests.conftest import PASSWORD, authenticator_for, fresh_totp_code
from tests.serving import ready_seconds

# Playwright's sync API runs an event loop in this thread; Django would then refuse the fixtures' ORM calls
# as "async-unsafe" although nothing here is concurrent. The live server runs in its own thread.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# How long an assertion on the page waits for it to become true (Playwright's default is 5 s): with the suite
# on every core and other work beside it, a live-server page can take longer. A passing test waits no longer.
EXPECT_SECONDS = 20


def _missing(message: str) -> None:
    if os.environ.get("SITEKEEPER_REQUIRE_ALL") == "1":
        pytest.fail(f"{message}; SITEKEEPER_REQUIRE_ALL=1 forbids skipping browser tests", pytrace=False)
    pytest.skip(message)


@pytest.fixture
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} not found: install the Debian package `chromium` to run the browser tests")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        _missing("the Python package `playwright` is not installed (pip install -e '.[dev]')")
    expect.set_options(timeout=EXPECT_SECONDS * 1000)  # assertions that pass their own timeout keep it
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(ready_seconds() * 1000)  # clicks, typing, navigation: the readiness deadline
    yield page
    context.close()
    # Under Playwright's greenlets the test body may have opened its own database connection; a left-open
    # one would block dropping the PostgreSQL test database at the end of the run.
    connections.close_all()


@pytest.fixture
def screenshot(page):
    """screenshot("name") saves test-artifacts/name.png (full page) for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def log_in(page, live_server, username: str, password: str = PASSWORD) -> None:
    """Log in as a person does — username, password, then the code their authenticator app shows (computed
    from the device's key; a device is made for the test if the person has none). Every browser test logs in
    this way, with a second factor (access/twofactor.py)."""
    device = authenticator_for(User.objects.get(username=username))
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/account/two-factor/verify/**")
    page.get_by_label("Code").fill(fresh_totp_code(device))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(lambda url: "/account/two-factor/" not in url)


def log_out(page) -> None:
    """Log out as a person does: open the account menu under their name, then "Log out"."""
    page.locator("header.topbar details.account-menu > summary").click()
    page.get_by_role("button", name="Log out").click()


def open_account_menu(page) -> None:
    page.locator("header.topbar details.account-menu > summary").click()


def go_to(page, name: str) -> None:
    """Follow a top-bar link by its text, opening the "Agency" menu first when the link is in it."""
    topbar = page.locator("header.topbar")
    menu = topbar.locator("details.nav-menu:not(.account-menu)")
    in_menu = menu.locator("ul").get_by_role("link", name=name, exact=True, include_hidden=True)
    if menu.count() and in_menu.count():
        if menu.get_attribute("open") is None:
            menu.locator("> summary").click()
        menu.locator("ul").get_by_role("link", name=name, exact=True).click()
        return
    topbar.get_by_role("link", name=name, exact=True).click()
