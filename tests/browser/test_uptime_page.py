"""The site uptime page in a real browser: the 90-day bar, month figures, tagged outages, the chart."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture names what to install
    expect = None

from sitekeeper.access.audit import acting_as
from sitekeeper.demo.monitoring_seed import seed_monitoring
from tests.browser.test_login_portal import log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_portal_uptime_page(live_server, page, screenshot, owner, engineer):
    with acting_as(engineer):
        seeded = seed_monitoring(timezone.now(), client_slug="acme")
    site = seeded.site
    log_in(page, live_server, "owner")
    page.goto(f"{live_server.url}/portal/sites/{site.pk}/uptime/")
    main = page.locator("main")
    expect(page.get_by_role("heading", name=re.compile("Uptime"), level=1)).to_be_visible()
    expect(page.locator(".uptime-bar span")).to_have_count(90)
    expect(page.locator('.uptime-bar span[data-state="unknown"]').first).to_be_attached()
    expect(main).to_contain_text("Announced maintenance")
    expect(main).to_contain_text("Response time, last 7 days")
    expect(page.locator("svg.chart polyline")).to_be_attached()
    expect(page.locator("form.inline-tag button", has_text="Save")).to_have_count(0)
    screenshot("portal-uptime")

    # The month with the tagged outage: its tag and reason are shown to the client.
    for month in page.locator("select[name=month] option").all_inner_texts()[:3]:
        page.goto(f"{live_server.url}/portal/sites/{site.pk}/uptime/?month={month}")
        if "Third-party platform outage" in page.locator("main").inner_text():
            break
    expect(main).to_contain_text("Stripe API incident")
    screenshot("portal-uptime-tagged-month")

    page.goto(f"{live_server.url}/status/acme/")
    expect(page.locator(".status-site")).to_have_count(1)
    screenshot("status-page")


def _overflowing(page, selector: str) -> list[str]:
    """Tags of the elements matching `selector` that run past the viewport's right edge."""
    return page.evaluate(
        f"[...document.querySelectorAll({selector!r})]"
        ".filter(e => e.getBoundingClientRect().right > innerWidth + 1).map(e => e.tagName)"
    )


@pytest.mark.usefixtures("engineer")
@pytest.mark.parametrize("width", [1366, 390])
def test_uptime_pages_with_coverage_at_desktop_and_phone_width(live_server, page, screenshot, owner, width):
    """Issue 12 items 1, 3, 4, 5, 15: coverage beside uptime, "not measured" for a site nobody monitors (never
    green), the contract's credit over both sites, which window excluded what and why, times in the contract's
    zone — readable at 390 px (tables scroll in their own box, nothing else runs past the edge)."""
    from sitekeeper.access.models import User
    from sitekeeper.contracts.models import Site

    with acting_as(User.objects.get(username="engineer")):
        seeded = seed_monitoring(timezone.now(), client_slug="acme")
        blog = Site.objects.create(client=owner.client, url="https://blog.acme.test", name="Acme blog")
    site = seeded.site
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_server, "owner")
    page.goto(f"{live_server.url}/portal/sites/{site.pk}/uptime/")
    main = page.locator("main")
    expect(main).to_contain_text(re.compile(r"coverage \d+(\.\d+)? %"))
    expect(main).to_contain_text("Contract's credit, all 2 sites")
    expect(main).to_contain_text("Credit rule:")
    expect(main).to_contain_text(re.compile(r"(CET|CEST)"))
    assert _overflowing(page, "main *:not(.overflow-auto *)") == []
    screenshot(f"portal-uptime-coverage-{width}")

    page.goto(f"{live_server.url}/portal/sites/{blog.pk}/uptime/")
    expect(main).to_contain_text("Not measured")
    expect(page.locator('.uptime-bar span[data-state="up"]')).to_have_count(0)
    expect(main.locator(".figure").first).to_contain_text("not measured")
    assert _overflowing(page, "main *:not(.overflow-auto *)") == []
    screenshot(f"portal-uptime-not-measured-{width}")

    page.context.clear_cookies()
    log_in(page, live_server, "engineer")
    page.goto(f"{live_server.url}/staff/monitoring/sites/{site.pk}/")
    expect(main).to_contain_text("Log maintenance performed")
    assert _overflowing(page, "main *:not(.overflow-auto *)") == []
    screenshot(f"staff-uptime-{width}")
    page.goto(f"{live_server.url}/staff/monitoring/")
    expect(main).to_contain_text("Sites nobody monitors")
    expect(main).to_contain_text("Acme blog")
    assert _overflowing(page, "main *:not(.overflow-auto *)") == []
    screenshot(f"staff-monitoring-{width}")
