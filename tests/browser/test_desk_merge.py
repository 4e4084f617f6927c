"""Merging a duplicate request in a real browser: an engineer merges B into A from B's ticket page (by A's
number, after ticking the confirmation); B then reads "Merged into A" and is closed, A's timeline shows B's
messages, A's clocks did not move, and the audit log holds the merge. The client sees the same pointer in the
portal. Screenshots at 1,366 px and 390 px, no horizontal scrolling."""

from __future__ import annotations

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture names what to install (and fails under SITEKEEPER_REQUIRE_ALL=1)
    expect = None

from sitekeeper.access.models import AuditEntry
from sitekeeper.desk import services
from sitekeeper.desk.models import State, Ticket
from tests.browser.conftest import ARTIFACTS, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

CLOCKS = ("response_due", "response_met_at", "resolution_due", "recovery_due", "next_due_at", "next_check_at")


def _file(acme, owner, subject: str, description: str) -> Ticket:
    return services.file_request(
        acme,
        channel="portal",
        type="bug",
        priority="P2",
        site=acme.sites.get(),
        environment="prod",
        subject=subject,
        description=description,
        steps="Open the checkout and pay.",
        requester_user=owner,
    )


def _clocks(ticket: Ticket) -> dict[str, object]:
    ticket = Ticket.objects.get(pk=ticket.pk)
    return {name: getattr(ticket, name) for name in CLOCKS}


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _fits(page, screenshot, name: str) -> None:
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} scrolls sideways at {width} px"
        screenshot(f"desk-{name}-{width}")
    page.set_viewport_size({"width": 1366, "height": 900})


@pytest.mark.usefixtures("globex")
def test_staff_merge_a_duplicate_request(live_server, browser, page, screenshot, acme, owner, engineer):  # noqa: PLR0917
    a = _file(acme, owner, "Checkout fails with card payments", "Every card payment ends on an error page.")
    b = _file(acme, owner, "Cannot pay by card", "The pay button spins and nothing happens.")
    services.add_message(b, "Tried with Visa and Mastercard, same thing.", channel="portal", author=owner)
    before = _clocks(a)

    log_in(page, live_server, "engineer")
    page.goto(f"{live_server.url}/staff/desk/{b.pk}/")
    page.get_by_text("Merge into another request").click()
    page.get_by_label("Merge this request into").fill(a.reference)
    _fits(page, screenshot, "merge-form")
    page.get_by_role("button", name="Merge").click()
    # Without the confirmation nothing happens, and the page says why.
    expect(page.locator("main")).to_contain_text("Tick the box to confirm the merge")
    assert Ticket.objects.get(pk=b.pk).merged_into_id is None
    page.get_by_label("Merge this request into").fill(a.reference)
    page.get_by_label("Yes, close this request as a duplicate").check()
    page.get_by_role("button", name="Merge").click()

    main = page.locator("main")
    expect(main).to_contain_text(f"Merged into {a.reference}: this request is closed")
    expect(page.locator("#merged")).to_contain_text(f"Merged into {a.reference}")
    expect(page.locator(".page-head")).to_contain_text(f"Merged into {a.reference}")
    merged = Ticket.objects.get(pk=b.pk)
    assert merged.state == State.CLOSED
    assert merged.merged_into_id == a.pk
    _fits(page, screenshot, "merged-staff")

    page.get_by_role("link", name=a.reference).first.click()
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("Tried with Visa and Mastercard, same thing.")
    expect(timeline).to_contain_text(f"from {b.reference}")
    expect(timeline).to_contain_text(f"{b.reference} merged into this request")
    assert _clocks(a) == before, "the survivor's clocks moved"
    _fits(page, screenshot, "merge-survivor-staff")

    entry = AuditEntry.objects.filter(model="desk.Ticket", object_pk=str(b.pk), action="update").latest("id")
    assert entry.actor == engineer
    assert entry.before["merged_into_id"] is None
    assert entry.after["merged_into_id"] == a.pk

    client_context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-GB")
    portal = client_context.new_page()
    try:
        log_in(portal, live_server, "owner")
        portal.goto(f"{live_server.url}/portal/requests/{b.pk}/")
        expect(portal.locator("#merged")).to_contain_text(f"Merged into {a.reference}")
        expect(portal.locator("main")).to_contain_text(f"please reply on {a.reference}")
        assert "/staff/" not in portal.content()
        _fits(portal, lambda name: _shot(portal, name), "merged-portal")
        portal.goto(f"{live_server.url}/portal/requests/{a.pk}/")
        expect(portal.locator("#timeline")).to_contain_text("Tried with Visa and Mastercard, same thing.")
    finally:
        client_context.close()
