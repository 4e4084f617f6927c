# ruff: noqa: F811
"""Issue 14.4: the pages work in Chromium under the Content-Security-Policy of settings.py.

Each page is loaded as its people see it (logged in with the second factor); the test fails on any CSP
violation — the browser's console message or a `securitypolicyviolation` event, caught by a script that
Playwright injects before the page's own (injected scripts are not subject to the page's policy) — and on
any script error. The staff pages carry htmx (its live fragments swap in during the visit), the admin its
own scripts, the API docs django-ninja's Swagger UI, whose "Try it out" request is sent too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture names what to install
    expect = None

from sitekeeper.contracts.render import render_agreement
from tests.browser.test_login_portal import log_in
from tests.web.world import World, fast_passwords, world  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

WATCH = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline"}`
    + ` at ${event.sourceFile}:${event.lineNumber} ${event.sample || ""}`);
});
"""
STAFF_PAGES = {
    "dashboard": "/staff/",
    "ticket": "/staff/desk/{ticket_pk}/",
    "backups-site": "/staff/backups/site/{site_pk}/",
    "backups-runbook": "/staff/backups/site/{site_pk}/runbook/",
    "security-incident": "/staff/security/incidents/{incident_pk}/",
    "performance": "/staff/health/site/{site_pk}/performance/",
    "monitoring": "/staff/monitoring/",
    "updates": "/staff/updates/",
    "health": "/staff/health/",
}
ADMIN_PAGES = [
    "/admin/",
    "/admin/contracts/client/",
    "/admin/contracts/client/{client_pk}/change/",
    "/admin/access/user/add/",
]


class Watcher:
    """Every CSP violation and script error the page reports."""

    def __init__(self, page) -> None:
        self.problems: list[str] = []
        page.add_init_script(WATCH)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))

    def _console(self, message) -> None:
        text = message.text
        if "Content Security Policy" in text or text.startswith("CSP violation"):
            self.problems.append(text)

    def check(self, what: str) -> None:
        problems, self.problems = self.problems, []
        assert problems == [], f"{what}: " + "\n".join(problems)


def visit(
    page, watcher: Watcher, url: str, what: str, *, heading: str | None = None, sheets: int = 2
) -> None:
    response = page.goto(url)
    assert response is not None, what
    assert response.status == 200, f"{what}: {response.status}"
    page.wait_for_load_state("networkidle")
    # The page's own stylesheets loaded (pico and ours; a blocked one would not count).
    assert page.evaluate("document.styleSheets.length") >= sheets, what
    watcher.check(what)


@pytest.mark.parametrize("name", STAFF_PAGES)
def test_staff_pages_run_under_the_policy(live_server, page, world: World, name):
    watcher = Watcher(page)
    log_in(page, live_server, "admin")
    watcher.check("login")
    visit(page, watcher, live_server.url + STAFF_PAGES[name].format(**world.objects), name)
    if name == "backups-site":
        expect(page.locator("#live-jobs")).to_be_visible()
        page.wait_for_timeout(2500)  # htmx swaps the live fragment in every 2 s: it must not break the rules
        watcher.check("backups-site after an htmx swap")


def test_the_queues_tick_all_box_works_under_the_policy(live_server, page, world: World):
    """desk/static/desk/queue.js, not an onclick attribute."""
    watcher = Watcher(page)
    log_in(page, live_server, "admin")
    visit(page, watcher, f"{live_server.url}/staff/desk/", "queue")
    page.get_by_label("Tick all on this page").check()
    boxes = page.locator("input[name=tickets]")
    expect(boxes.first).to_be_checked()
    assert boxes.evaluate_all("boxes => boxes.every(box => box.checked)")
    watcher.check("queue, tick all")


def test_the_audit_logs_filter_submits_itself_under_the_policy(live_server, page, world: World):
    """web/static/web/behaviours.js (data-autosubmit), not an onchange attribute."""
    watcher = Watcher(page)
    log_in(page, live_server, "admin")
    visit(page, watcher, f"{live_server.url}/staff/audit/", "audit log")
    page.get_by_label("Filter by kind of object").select_option(index=1)
    expect(page).to_have_url(re.compile(r"/staff/audit/\?.*model="))
    watcher.check("audit log, filter")


def test_client_pages_run_under_the_policy(live_server, page, world: World):
    watcher = Watcher(page)
    log_in(page, live_server, "owner")
    for path in ("/portal/", "/portal/requests/{ticket_pk}/", "/portal/backups/site/{site_pk}/"):
        visit(page, watcher, live_server.url + path.format(**world.objects), path)


def test_django_admin_runs_under_the_policy(live_server, page, world: World):
    watcher = Watcher(page)
    log_in(page, live_server, "admin")
    objects = {**world.objects, "client_pk": world.acme.pk}
    for path in ADMIN_PAGES:
        visit(page, watcher, live_server.url + path.format(**objects), path)
    # The admin's own scripts work: the change list's select-all box ticks every row.
    page.goto(f"{live_server.url}/admin/contracts/client/")
    page.locator("#action-toggle").check()
    expect(page.locator("input.action-select").first).to_be_checked()
    watcher.check("admin actions")


def test_the_api_docs_run_under_the_policy(live_server, page, world: World):
    watcher = Watcher(page)
    visit(page, watcher, f"{live_server.url}/api/v1/docs", "API docs", sheets=1)  # swagger-ui.css
    operation = page.locator(".opblock-summary").first
    expect(operation).to_be_visible()
    operation.click()
    page.get_by_role("button", name="Try it out").first.click()
    page.get_by_role("button", name="Execute").first.click()
    # The request went out (connect-src) and its answer, a 401 without a token, is shown.
    expect(page.locator(".live-responses-table tr.response .response-col_status").first).to_contain_text(
        "401"
    )
    watcher.check("API docs, Try it out")


def test_the_agreement_is_a_self_contained_document(tmp_path: Path, page, world: World):
    """The agreement is not a page of this server: `sitekeeper contract render --format html` writes a file
    for the client (and WeasyPrint turns the same HTML into the PDF). It keeps its stylesheet inside, so it
    looks the same opened from disk, from an e-mail or printed — and loads nothing from anywhere."""
    document = tmp_path / "agreement.html"
    document.write_text(render_agreement(world.acme.contract, "html"))
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    watcher = Watcher(page)
    page.goto(document.as_uri())
    expect(page.get_by_role("heading", level=1)).to_contain_text("Website Maintenance")
    assert requested == [document.as_uri()]
    # Its own stylesheet applied: the title's rule from agreement.css, not the browser's default.
    assert (
        page.evaluate("getComputedStyle(document.querySelector('header.title')).borderBottomWidth") == "3px"
    )
    watcher.check("agreement")
    assert render_agreement(world.acme.contract, "pdf")[:5] == b"%PDF-"
