"""An agency admin invites a client person in the browser; the person opens the mailed link, chooses a
username and password, logs in and reaches their portal; the client's owner sees them on /portal/people/."""

from __future__ import annotations

import re

import pytest
from django.core import mail

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture names what to install (and fails under SITEKEEPER_REQUIRE_ALL=1)
    expect = None

from sitekeeper.access.models import Invitation, Role, User
from sitekeeper.notify import deliver_pending
from tests.browser.conftest import ARTIFACTS, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

NEW_PASSWORD = "a-brand-new-and-long-passphrase"
WIDTHS = (1366, 390)


def fits(page, name: str) -> None:
    """At each width: no horizontal overflow, and a full-page screenshot (test-artifacts/) to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} overflows by {overflow} px at {width} px"
        page.screenshot(path=str(ARTIFACTS / f"people-{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})


@pytest.mark.usefixtures("admin", "owner", "globex")
def test_invite_accept_set_password_and_log_in(live_server, browser, page, settings):
    settings.SITEKEEPER_BASE_URL = live_server.url
    log_in(page, live_server, "admin")
    page.goto(f"{live_server.url}/staff/people/")
    expect(page.get_by_role("heading", name="People", level=1)).to_be_visible()
    page.get_by_label("E-mail address").fill("dora@acme.test")
    page.locator("select[name=role]").select_option(label="Client member")
    page.locator("select[name=client]").select_option(label="Acme GmbH")
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.locator(".flash")).to_contain_text("Invitation sent to dora@acme.test as Client member")
    expect(page.locator("main")).to_contain_text("dora@acme.test")
    fits(page, "staff")

    assert deliver_pending() == 1
    (message,) = [message for message in mail.outbox if message.to == ["dora@acme.test"]]
    (link,) = re.findall(rf"{re.escape(live_server.url)}/invite/[\w-]+/", message.body)

    invitee = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB").new_page()
    invitee.goto(link)
    expect(invitee.get_by_role("heading", name="Join Acme GmbH on sitekeeper")).to_be_visible()
    expect(invitee.get_by_label("Username")).to_have_value("dora")
    fits(invitee, "accept")
    invitee.get_by_label("First name").fill("Dora")
    invitee.get_by_label("Last name").fill("Example")
    invitee.locator("#id_password1").fill("short")
    invitee.locator("#id_password2").fill("short")
    invitee.get_by_role("button", name="Create my login").click()
    expect(invitee.locator("main")).to_contain_text("This password is too short")
    invitee.locator("#id_password1").fill(NEW_PASSWORD)
    invitee.locator("#id_password2").fill(NEW_PASSWORD)
    invitee.get_by_role("button", name="Create my login").click()
    expect(invitee).to_have_url(f"{live_server.url}/login/")
    expect(invitee.locator(".flash")).to_contain_text("Your login dora is ready: log in with it.")

    invitee.locator("#id_username").fill("dora")
    invitee.locator("#id_password").fill(NEW_PASSWORD)
    invitee.get_by_role("button", name="Log in").click()
    expect(invitee).to_have_url(f"{live_server.url}/portal/")
    topbar = invitee.locator("header.topbar")
    expect(topbar).to_contain_text("Dora Example")
    expect(topbar).to_contain_text("Client member")
    expect(topbar).to_contain_text("Acme GmbH")

    # The link worked once: opened again, it says so.
    invitee.goto(link)
    expect(invitee.get_by_role("heading", name="This invitation link no longer works")).to_be_visible()
    expect(invitee.locator("main")).to_contain_text("It was already used")
    fits(invitee, "used-link")
    invitee.context.close()

    dora = User.objects.get(username="dora")
    assert (dora.role, dora.client.slug, dora.get_full_name()) == (Role.CLIENT_MEMBER, "acme", "Dora Example")
    assert Invitation.objects.get().accepted_user == dora

    # Acme's product owner sees their new colleague, and nobody of Globex.
    owner_page = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB").new_page()
    log_in(owner_page, live_server, "owner")
    owner_page.goto(f"{live_server.url}/portal/people/")
    expect(owner_page.get_by_role("heading", name="People at Acme GmbH")).to_be_visible()
    expect(owner_page.locator("main")).to_contain_text("Dora Example")
    expect(owner_page.locator("main")).not_to_contain_text("Globex")
    owner_page.get_by_label("E-mail address").fill("ed@acme.test")
    owner_page.locator("select[name=role]").select_option(label="Client product owner")
    owner_page.get_by_role("button", name="Send the invitation").click()
    expect(owner_page.locator(".flash")).to_contain_text("Invitation sent to ed@acme.test")
    fits(owner_page, "portal")
    owner_page.context.close()
