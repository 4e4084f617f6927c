"""A request's round trip in a real browser: the client files it, an engineer answers it from the queue,
the client sees the answer and the response clock met on time."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture names what to install (and fails under SITEKEEPER_REQUIRE_ALL=1)
    expect = None

from sitekeeper.desk import presenters, services
from sitekeeper.desk.models import Ticket
from sitekeeper.desk.presenters import PRIORITY_GUIDE
from tests.browser.conftest import go_to, log_in, log_out

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
SUBJECT = "Checkout button does nothing"


@pytest.mark.usefixtures("owner", "engineer", "globex")
def test_a_request_from_filing_to_the_first_response(live_server, page, screenshot, acme):
    # Something already in the queue, due later than a P2 request filed now (P4: 3 business days).
    services.file_request(
        acme,
        channel="email",
        type="question",
        priority="P4",
        site=acme.sites.get(),
        environment="prod",
        subject="Can we add a team page?",
        description="Just asking what it would cost.",
    )

    # The client files a request, choosing its priority with the agreement's definitions in view.
    log_in(page, live_server, "owner")
    go_to(page, "Requests")
    expect(page.get_by_role("heading", name="Requests", level=1)).to_be_visible()
    page.get_by_role("button", name="New request").click()
    expect(page).to_have_url(f"{live_server.url}/portal/requests/new/")
    for definition, examples in PRIORITY_GUIDE.values():
        expect(page.get_by_text(definition)).to_be_visible()
        expect(page.locator("main")).to_contain_text(examples)
    # Nothing chosen: every required field says so, and nothing is filed.
    page.get_by_role("button", name="File request").click()
    expect(page.locator(".field-error").first).to_contain_text("This field is required.")
    expect(page.locator(".field-error")).to_have_count(4)  # type, priority, subject, description
    screenshot("desk-portal-new-request-errors")
    page.get_by_role("radio", name=re.compile(r"^Bug\b")).check()
    page.get_by_role("radio", name=re.compile(r"^P2 High")).check()
    page.get_by_label("Environment").select_option("prod")
    page.get_by_label("Subject").fill(SUBJECT)
    page.get_by_label("Description").fill("On the cart page the Checkout button does not react.")
    page.get_by_label("Steps to reproduce").fill("1. Add a product\n2. Open the cart\n3. Click Checkout")
    page.get_by_label("Attachments").set_input_files(
        [{"name": "cart.png", "mimeType": "image/png", "buffer": PNG}]
    )
    screenshot("desk-portal-new-request")
    page.get_by_role("button", name="File request").click()

    expect(page).to_have_url(re.compile(r"/portal/requests/\d+/$"))
    ticket_url = page.url
    main = page.locator("main")
    expect(page.get_by_role("heading", name=SUBJECT, level=1)).to_be_visible()
    due = re.compile(r"Response due \w{3} \d+ \w{3} \d{4} \d\d:\d\d CES?T")  # one format, zone named
    expect(main.locator("ul.clocks")).to_contain_text(due)
    expect(main).to_contain_text("We received your request")
    expect(main.locator("aside").get_by_role("link", name=re.compile("cart.png"))).to_be_visible()
    screenshot("desk-portal-ticket-filed")
    log_out(page)

    # The engineer finds it at the top of the queue and replies (htmx: no page load).
    log_in(page, live_server, "engineer")
    go_to(page, "Requests")
    expect(page).to_have_url(f"{live_server.url}/staff/desk/")
    rows = page.locator("table.queue tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text(SUBJECT)
    expect(rows.last).to_contain_text("Can we add a team page?")
    screenshot("desk-staff-queue")
    rows.first.get_by_role("link", name=SUBJECT).click()
    expect(page.get_by_role("heading", name=SUBJECT, level=1)).to_be_visible()
    page.get_by_role("textbox", name="Reply", exact=True).fill("Thanks — we can reproduce it and are on it.")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#ticket-body")).to_contain_text("Reply sent to the client.")
    expect(page.locator("#timeline")).to_contain_text("we can reproduce it")
    expect(page.locator("ul.clocks")).to_contain_text(re.compile(r"Response given .* — on time"))
    screenshot("desk-staff-ticket")
    log_out(page)

    # The client sees the answer, and the response clock met on time.
    log_in(page, live_server, "owner")
    page.goto(ticket_url)
    expect(page.locator("#timeline")).to_contain_text("Thanks — we can reproduce it and are on it.")
    expect(page.locator("ul.clocks")).to_contain_text(
        re.compile(r"Response given \w{3} \d+ \w{3} \d{4} \d\d:\d\d CES?T")
    )
    expect(page.locator("ul.clocks")).to_contain_text("— on time")
    screenshot("desk-portal-ticket-answered")
    go_to(page, "Requests")
    expect(page.locator("table.requests")).to_contain_text(re.compile(r"Response given .* — on time"))
    screenshot("desk-portal-requests")
    page.get_by_role("button", name="SLA report").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("SLA report")
    expect(page.locator("main")).to_contain_text("Clocks by priority")
    screenshot("desk-portal-sla")


@pytest.mark.usefixtures("owner", "globex")
def test_the_queue_colours_and_a_worked_ticket(live_server, page, screenshot, acme, engineer):
    now = timezone.now()
    site = acme.sites.get()

    def file(subject: str, priority: str, ago: dt.timedelta, kind: str = "incident") -> Ticket:
        return services.file_request(
            acme,
            channel="portal",
            type=kind,
            priority=priority,
            site=site,
            environment="prod",
            subject=subject,
            description="Details.",
            steps="Open the site.",
            received_at=now - ago,
        )

    breached = file("Shop down since yesterday", "P1", dt.timedelta(days=1))
    file("Payment errors", "P1", dt.timedelta(hours=3, minutes=20))  # 4 h target: past 75 %
    file("Typo on the imprint", "P4", dt.timedelta(minutes=5), kind="bug")
    waiting = file("Needs staging access", "P2", dt.timedelta(hours=1), kind="change_request")
    services.set_state(waiting, "waiting_access", actor=engineer, note="Please send the SFTP password")
    services.add_message(
        breached, "Checked the logs: PHP fatal.", channel="staff", author=engineer, internal=True
    )
    services.mark_recovered(breached, actor=engineer, note="Rolled back the plugin update")
    services.log_time(breached, user=engineer, minutes=50, billable=True, note="Rollback")

    log_in(page, live_server, "engineer")
    page.goto(f"{live_server.url}/staff/desk/")
    rows = page.locator("table.queue tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.nth(0)).to_contain_text("Shop down since yesterday")
    expect(rows.nth(0)).to_have_class(re.compile("row-breach"))
    expect(rows.nth(1)).to_contain_text("Payment errors")
    expect(rows.nth(1)).to_have_class(re.compile("row-warn"))
    expect(rows.nth(3)).to_contain_text("Needs staging access")  # paused: no due instant, last
    expect(rows.nth(3)).to_have_class(re.compile("row-paused"))
    screenshot("desk-staff-queue-colours")

    # Bulk assign: tick two, choose the engineer.
    rows.nth(0).get_by_role("checkbox").check()
    rows.nth(1).get_by_role("checkbox").check()
    page.get_by_label("Assign the ticked requests to").select_option(label="engineer")
    page.get_by_role("button", name="Assign", exact=True).click()
    expect(page.locator("main")).to_contain_text("2 requests assigned to engineer.")

    rows.nth(0).get_by_role("link", name="Shop down since yesterday").click()
    main = page.locator("main")
    expect(main).to_contain_text("Internal note")
    expect(main).to_contain_text("Function restored")
    expect(main).to_contain_text("60 min")  # 50 min billed in 15-minute units
    expect(page.locator("ul.clocks")).to_contain_text("Response overdue since")
    screenshot("desk-staff-ticket-worked")

    page.locator("details", has_text="Change state").locator("summary").click()
    page.get_by_label("New state").select_option("waiting_information")
    page.get_by_role("button", name="Set state").click()
    expect(main).to_contain_text("Tell the client what the request is waiting for.")
    screenshot("desk-staff-state-error")

    page.goto(f"{live_server.url}/staff/desk/sla/acme/{now:%Y-%m}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("SLA report")
    expect(main).to_contain_text("P1 incidents")
    screenshot("desk-staff-sla")


@pytest.mark.usefixtures("globex", "owner")
@pytest.mark.parametrize("width", [1366, 390])
def test_a_detected_request_in_the_portal(live_server, page, screenshot, acme, width):
    """Issue 12, items 2 and 15: the P1 monitoring opened reads as detected — what, where, when (zone
    named) — with no incomplete-request pause, nothing asked of the client, no priority "proposed" by them;
    the list and the page show one received time. Readable at 390 px without sideways scrolling."""
    site = acme.sites.get()
    received = timezone.now() - dt.timedelta(minutes=40)
    ticket = services.file_request(
        acme, channel="monitor", type="incident", priority="P1", site=site, environment="prod",
        subject=f"{site} is down: HTTP 503",
        description=f"Monitor {site.url} failed 2 consecutive checks: HTTP 503",
        steps=f"Open {site.url} (automated HTTP check).", received_at=received,
    )  # fmt: skip
    shown = presenters.received(ticket)
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_server, "owner")
    page.goto(f"{live_server.url}/portal/requests/")
    row = page.locator("table.requests tbody tr").first
    expect(row).to_contain_text(shown)
    expect(row).not_to_contain_text("to be confirmed")
    expect(row).not_to_contain_text("incomplete")
    # The table scrolls sideways inside its own box (article.flush) on a phone; nothing else may overflow.
    assert overflowing(page, "main *:not(article.flush *)") == []
    screenshot(f"desk-portal-requests-detected-{width}")

    row.get_by_role("link", name=ticket.subject).click()
    main = page.locator("main")
    expect(main).to_contain_text("Detected by monitoring (sitekeeper's automated checks)")
    expect(main).to_contain_text(f"sitekeeper detected: {site} is down: HTTP 503 at {shown}.")
    expect(main).to_contain_text("you do not need to do anything")
    expect(main.locator("dl.facts > div", has_text="Received")).to_contain_text(shown)
    expect(main).to_contain_text("How it was found")
    for absent in (
        "proposed",
        "to be confirmed",
        "Complete your request",
        "missing details",
        "Steps to reproduce",
    ):
        expect(main).not_to_contain_text(absent)
    expect(main.locator("ul.clocks")).to_contain_text(re.compile(r"Response due .* \d\d:\d\d CES?T"))
    expect(main.locator("ul.pauses")).to_have_count(0)
    screenshot(f"desk-portal-detected-request-{width}")
    assert overflowing(page, "main *") == []


def overflowing(page, selector: str) -> list[str]:
    """Tags of the elements matching `selector` that run past the viewport's right edge."""
    return page.evaluate(
        f"[...document.querySelectorAll({selector!r})]"
        ".filter(e => e.getBoundingClientRect().right > innerWidth + 1).map(e => e.tagName)"
    )
