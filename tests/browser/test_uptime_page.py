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
