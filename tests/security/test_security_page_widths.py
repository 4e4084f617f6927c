"""The security page of a site never scanned, in a real browser at a laptop's and a phone's width (1366 and
390 px): staff read "Never scanned" and "Agency action needed", the client reads that nothing has been
scanned yet — never "Nothing found" — and neither page scrolls sideways. A site with a web shell shows its
incident opened at detection, in plain words for the client. Screenshots in test-artifacts/."""

from __future__ import annotations

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture names what to install
    expect = None

from sitekeeper.security import findings
from tests.browser.conftest import browser, page, screenshot  # noqa: F401 (fixtures)
from tests.browser.test_login_portal import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

WIDTHS = (1366, 390)


# What of the page's content reaches past the window (a wide table is wrapped in a scroll box of its own).
# The staff top bar is base.html's, not this page's, and is left out.
WIDEST = """() => [...document.querySelectorAll('main *')]
  .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1
               && !e.closest('.scroll-x'))
  .slice(0, 5).map(e => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`)"""


def _no_sideways_scroll(page) -> None:  # noqa: F811 (the fixture's name)
    wide = page.evaluate(WIDEST)
    assert not wide, f"the page's content is wider than the window: {wide}"


@pytest.mark.usefixtures("engineer", "owner")
def test_never_scanned_site_at_both_widths(live_server, page, screenshot, acme):  # noqa: F811
    site = acme.sites.get()
    for who, url in (
        ("engineer", f"/staff/security/site/{site.pk}/"),
        ("owner", f"/portal/security/site/{site.pk}/"),
    ):
        page.context.clear_cookies()
        log_in(page, live_server, who)
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{live_server.url}{url}")
            main = page.locator("main")
            expect(page.locator("#last-scan")).to_contain_text("Never scanned")
            expect(page.locator("#findings-malware")).to_contain_text("Never scanned")
            expect(main).not_to_contain_text("Nothing found")
            if who == "engineer":
                expect(page.locator("#scan-overdue")).to_contain_text("Agency action needed")
            else:
                expect(page.locator("#scan-never")).to_contain_text("has not been scanned")
                expect(main).not_to_contain_text("Agency action needed")
            screenshot(f"security-never-scanned-{'staff' if who == 'engineer' else 'portal'}-{width}")
            _no_sideways_scroll(page)


@pytest.mark.usefixtures("engineer", "owner")
def test_incident_opened_at_detection_at_both_widths(live_server, page, screenshot, acme):  # noqa: F811
    site = acme.sites.get()
    shell, _ = findings.record(
        site, kind="malware", key="wp-content/uploads/2026/11/cache-img.php", severity="critical",
        title="Malware (web shell) in wp-content/uploads/2026/11/cache-img.php",
        details={"path": "wp-content/uploads/2026/11/cache-img.php"}, remediation="Quarantine the file.",
        priority="P1",
    )  # fmt: skip
    log_in(page, live_server, "engineer")
    page.goto(f"{live_server.url}/staff/security/site/{site.pk}/")
    expect(page.locator("#incidents")).to_contain_text("opened by sitekeeper at detection")
    page.locator(f"#finding-{shell.pk}").get_by_role("link", name="Incident").click()
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        expect(page.locator("#deadline")).to_contain_text("Client notification (clause 6.3): due")
        expect(page.locator("#dismissal")).to_contain_text("Dismiss as a false positive")
        _no_sideways_scroll(page)
        screenshot(f"security-incident-at-detection-staff-{width}")
    page.context.clear_cookies()
    log_in(page, live_server, "owner")
    page.goto(f"{live_server.url}/portal/security/site/{site.pk}/")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        expect(page.locator("#incidents")).to_contain_text("possible security incident")
        expect(page.locator("#incidents")).to_contain_text("looks like malware")
        _no_sideways_scroll(page)
        screenshot(f"security-incident-at-detection-portal-{width}")
