"""Two-factor sign-in in a real browser (issue 14, item 2): an engineer sets up an authenticator app from the
QR page, keeps the recovery codes, and later signs in with one; a client owner requires a second factor for
their organisation and their colleague is then asked to set one up. At 1366 and 390 px, nothing wider than
the screen."""

from __future__ import annotations

import re

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture names what to install (and fails under SITEKEEPER_REQUIRE_ALL=1)
    expect = None

from django_otp.plugins.otp_totp.models import TOTPDevice

from sitekeeper.access.models import AuditEntry, Role
from sitekeeper.contracts.models import Client
from tests.browser.conftest import log_in, log_out
from tests.conftest import PASSWORD, fresh_totp_code, make_user

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

WIDTHS = [1366, 390]


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= innerWidth")


def password_step(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


@pytest.mark.parametrize("width", WIDTHS)
def test_an_engineer_sets_up_an_authenticator_and_later_uses_a_recovery_code(
    live_server, page, screenshot, engineer, width
):
    page.set_viewport_size({"width": width, "height": 900})
    demo = make_user("demo-erin", Role.ENGINEER)
    demo.is_demo = True
    demo.save()

    page.goto(f"{live_server.url}/login/")
    note = page.locator(".demo-note")
    expect(note).to_contain_text("These demo accounts need no second factor")
    expect(note).to_contain_text("demo-erin")
    expect(note.locator("code").filter(has_text=re.compile(r"^engineer$"))).to_have_count(0)  # a real one
    screenshot(f"twofactor-login-demo-{width}")
    assert fits_the_screen(page)

    password_step(page, live_server, "engineer")
    expect(page).to_have_url(re.compile(r"/account/two-factor/enrol/\?next=%2F$"))
    expect(page.locator("figure.qr svg")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text()
    assert re.fullmatch(r"[A-Z2-7]{4}( [A-Z2-7]{4}){7}", secret), secret
    screenshot(f"twofactor-enrol-{width}")
    assert fits_the_screen(page)

    device = TOTPDevice.objects.get(user=engineer, confirmed=False)
    page.get_by_label("Type the 6-digit code the app shows now").fill(fresh_totp_code(device))
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Two-factor sign-in is on")).to_be_visible()
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    screenshot(f"twofactor-recovery-codes-{width}")
    assert fits_the_screen(page)
    page.get_by_role("button", name="I have saved them — continue").click()
    expect(page).to_have_url(f"{live_server.url}/staff/")

    log_out(page)
    password_step(page, live_server, "engineer")
    expect(page).to_have_url(re.compile(r"/account/two-factor/verify/"))
    screenshot(f"twofactor-verify-{width}")
    assert fits_the_screen(page)
    page.get_by_label("Code").fill("123456" if fresh_totp_code(device) != "123456" else "654321")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".form-error")).to_contain_text("That code did not match")
    page.wait_for_timeout(1100)  # django-otp's back-off after one wrong code: one second
    page.get_by_label("Code").fill(codes[0])
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{live_server.url}/staff/")
    expect(page.locator(".flash")).to_contain_text("You used a recovery code; 9 left")
    assert AuditEntry.objects.filter(actor=engineer, after={"second_factor": "authenticator set up"}).exists()


@pytest.mark.usefixtures("owner", "member")
@pytest.mark.parametrize("width", WIDTHS)
def test_a_client_owner_requires_a_second_factor_and_a_colleague_must_set_one_up(
    live_server, page, screenshot, width
):
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_server, "owner")
    page.goto(f"{live_server.url}/account/two-factor/organisation/")
    expect(page.get_by_role("heading", name="Two-factor sign-in for Acme GmbH")).to_be_visible()
    expect(page.locator("main")).to_contain_text("optional — each person decides")
    page.get_by_label("Everyone at Acme GmbH must use a second factor").check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash")).to_contain_text("Everyone at your organisation now needs a second factor")
    expect(page.locator("main")).to_contain_text("required for everyone")
    screenshot(f"twofactor-organisation-{width}")
    assert fits_the_screen(page)
    assert Client.objects.get(slug="acme").require_second_factor is True
    log_out(page)

    password_step(page, live_server, "member")
    expect(page).to_have_url(re.compile(r"/account/two-factor/enrol/"))
    expect(page.locator("main")).to_contain_text("Your account needs a second factor")
