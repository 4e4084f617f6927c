"""The staff security page of a site in a real browser: findings grouped by kind with the diff as
preformatted text, the inventory with a known issue, escalation to a security incident and its page with the
6.3 clock and checklist; then the client's read-only view."""

from __future__ import annotations

import datetime as dt
import re

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture names what to install
    expect = None

from sitekeeper.security import findings
from sitekeeper.security.models import Component, ComponentVersion, SecurityIncident
from tests.browser.test_login_portal import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

DIFF = """--- a/wp-includes/version.php
+++ b/wp-includes/version.php
@@ -16 +16,2 @@
-$wp_version = '6.1.9';
+$wp_version = '6.1.9'; @eval(base64_decode($_POST['k']));"""


@pytest.mark.usefixtures("engineer", "owner")
def test_staff_security_site_page(live_server, page, screenshot, acme):
    site, now = acme.sites.get(), dt.datetime.now(dt.UTC)
    findings.record(
        site,
        kind="integrity",
        key="wp-includes/version.php",
        severity="high",
        title="Core file changed: wp-includes/version.php",
        details={"change": "changed", "size": "1,210 → 1,265 bytes", "diff": DIFF},
        remediation="Restore the file from WordPress 6.1.9 or approve the baseline.",
        priority="P2",
    )
    shell, _ = findings.record(
        site,
        kind="malware",
        key="wp-content/uploads/2026/11/x.php",
        severity="critical",
        title="PHP web shell: wp-content/uploads/2026/11/x.php",
        details={"rule": "php_webshell_eval_post", "size": 412},
        remediation="Quarantine the file, rotate all passwords.",
        priority="P1",
    )
    findings.record(
        site,
        kind="suspicious",
        key="admin:wpsupport",
        severity="high",
        title="New administrator account 'wpsupport'",
        details={"email": "support@evil.test"},
        remediation="Confirm with the client.",
        priority="P2",
    )
    akismet = Component.objects.create(
        site=site,
        ecosystem="wordpress-plugin",
        slug="akismet",
        name="Akismet Anti-spam",
        version="5.0.2",
        active=True,
        path="wp-content/plugins/akismet/akismet.php",
        first_seen=now,
        last_seen=now,
    )
    ComponentVersion.objects.create(component=akismet, version="5.0.1", seen_at=now - dt.timedelta(days=30))
    ComponentVersion.objects.create(component=akismet, version="5.0.2", seen_at=now)
    Component.objects.create(
        site=site,
        ecosystem="wordpress-core",
        slug="wordpress",
        name="WordPress",
        version="6.1.9",
        path="wp-includes/version.php",
        first_seen=now,
        last_seen=now,
    )
    findings.record(site, kind="vulnerability", key="WF-0042:wordpress-plugin:akismet", severity="medium",
                    title="Akismet Anti-spam 5.0.2: stored XSS", details={"advisory": "WF-0042"},
                    remediation="Update to 5.0.3 or later.", priority="P3")  # fmt: skip

    log_in(page, live_server, "engineer")
    page.goto(f"{live_server.url}/staff/security/site/{site.pk}/")
    expect(page.get_by_role("heading", name=re.compile("Security"), level=1)).to_be_visible()
    expect(page.locator("#open-findings")).to_contain_text("4")
    expect(page.locator("#findings-integrity pre.diff")).to_contain_text("base64_decode")
    expect(page.locator("#inventory")).to_contain_text("WF-0042")
    screenshot("staff-security-site")

    page.locator(f"#finding-{shell.pk}").get_by_role("button", name="Escalate").click()
    expect(page.locator("#deadline")).to_contain_text("Client notification (clause 6.3)")
    expect(page.locator("#deadline")).to_contain_text(re.compile(r"23 h 5\d min left"))
    expect(page.locator("#checklist li")).to_have_count(5)
    page.locator("#checklist li").first.get_by_role("button", name="Done").click()
    expect(page.locator("#checklist li").first).to_contain_text("engineer")
    screenshot("staff-security-incident")
    incident = SecurityIncident.objects.get(finding=shell)  # the new admin opened its own at detection
    assert incident.ticket.priority == "P1"

    page.get_by_label("What happened").fill("A web shell was uploaded through a vulnerable form plugin.")
    page.get_by_label("What was done").fill("Shell quarantined, passwords rotated, plugin updated.")
    page.get_by_label("What prevents a recurrence").fill("Uploads no longer execute PHP.")
    page.get_by_role("button", name="Save and publish to the client").click()
    expect(page.locator("#report")).to_contain_text("published")

    page.context.clear_cookies()
    log_in(page, live_server, "owner")
    page.goto(f"{live_server.url}/portal/security/site/{site.pk}/")
    expect(page.locator("main")).to_contain_text("PHP web shell")
    expect(page.locator("pre.diff")).to_have_count(0)
    expect(page.get_by_role("button", name="Escalate")).to_have_count(0)
    page.get_by_role("link", name=re.compile(f"#{incident.pk}")).click()
    expect(page.locator("main")).to_contain_text("vulnerable form plugin")
    screenshot("portal-security-report")


LONG = "wp-content/uploads/2026/11/" + "a-very-long-folder-name-that-a-plugin-made/" * 4 + "cache-img.php"
WIDTHS = (1366, 390)
# Content reaching past the window or a scroll box that scrolls at all: at 1366 px nothing may scroll
# sideways, not even inside a table's own scroll box; at 390 px tables become cards and must fit too.
OVERFLOW = """() => ({page: document.documentElement.scrollWidth - window.innerWidth,
  boxes: [...document.querySelectorAll('main .scroll-x')]
    .filter(e => e.scrollWidth > e.clientWidth + 1).length})"""


def _seed_long_findings(site) -> None:
    """A web shell in a deep folder and its integrity change, on production and on staging: each is one row
    naming both environments, with its details as labelled fields."""
    for environment in ("prod", "stage"):
        findings.record(
            site, environment=environment, kind="integrity", key=LONG, severity="high",
            title=f"File added outside an approved change: {LONG}",
            details={"path": LONG, "change": "added", "mode": "0o644", "size": 1265, "sha256": "5c98" * 16,
                     "detected_at": "2026-12-07T11:07:15.373544+00:00", "diff": DIFF},
            remediation="Restore the file or approve the baseline.", priority="P2",
        )  # fmt: skip
    findings.record(
        site, kind="malware", key=LONG, severity="critical", title=f"Malware (web shell) in {LONG}",
        details={"path": LONG, "matches": [{"rule": "php_eval_base64_chain", "category": "webshell",
                 "description": "eval of decoded data", "excerpt": "eval(base64_decode("}],
                 "clamav": "not installed"},
        remediation="Quarantine the file and add its sha256 to the allow-list if it is a false positive.",
        priority="P1",
    )  # fmt: skip


@pytest.mark.usefixtures("engineer", "owner")
def test_security_pages_fit_at_both_widths_with_long_findings(live_server, page, screenshot, acme):
    site = acme.sites.get()
    _seed_long_findings(site)
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
            expect(main).to_contain_text("File added outside an approved change")
            name = f"security-long-{'staff' if who == 'engineer' else 'portal'}-{width}"
            screenshot(name)
            overflow = page.evaluate(OVERFLOW)
            assert overflow["page"] <= 0, f"{name}: the page is {overflow['page']} px wider than the window"
            if width == 1366:
                assert overflow["boxes"] == 0, f"{name}: a table scrolls sideways at 1366 px"
            text = main.inner_text()
            assert "{'" not in text
            assert "0o" not in text
            # One row for the integrity change found on production and staging, naming both.
            expect(page.locator("#findings-integrity tbody tr")).to_have_count(1)
            if who == "engineer":
                expect(page.locator("#findings-integrity")).to_contain_text("prod, stage")
                expect(page.locator("#findings-integrity")).to_contain_text("rw-r--r--")
                expect(page.locator("#findings-integrity")).to_contain_text("7 Dec 2026 12:07 CET")
                expect(page.locator("#findings-malware")).to_contain_text("Matched rules")
            else:
                expect(page.locator("#findings-integrity")).to_contain_text("production, staging")
                assert LONG not in text
                assert "sha256" not in text.lower()
                assert "/staff/" not in page.content()
