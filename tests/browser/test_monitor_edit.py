"""Monitors from the console in a real browser (issue 15): staff add a monitor on a site's uptime page (a bad
value first: the error names the field), see it listed, pause it (shown paused, audited), resume it; the
client sees the certificate's expiry and days left. At desktop and phone width, nothing runs past the edge."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture names what to install
    expect = None

from sitekeeper.access.audit import acting_as
from sitekeeper.access.models import AuditEntry, User
from sitekeeper.demo.monitoring_seed import seed_monitoring
from sitekeeper.monitoring.models import Monitor, MonitorPause
from tests.browser.test_login_portal import log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth > window.innerWidth")


@pytest.mark.usefixtures("owner")
@pytest.mark.parametrize("width", [1366, 390])
def test_staff_add_pause_resume_a_monitor(live_server, page, screenshot, engineer, width):
    with acting_as(engineer):
        site = seed_monitoring(timezone.now(), client_slug="acme").site
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_server, "engineer")
    page.goto(f"{live_server.url}/staff/monitoring/sites/{site.pk}/")
    main = page.locator("main")
    expect(page.locator("svg.chart text.xtick").first).to_be_attached()
    expect(page.locator("svg.chart text.ytick").get_by_text("0 ms", exact=True)).to_be_attached()

    page.get_by_text("Add a monitor", exact=True).click()
    form = page.locator("form.monitor-form")
    form.get_by_label("Type").select_option("tcp")
    form.get_by_label("Name").fill("Database port")
    form.get_by_label("Address to check").fill("db.acme.test")
    screenshot(f"monitors-staff-form-{width}")
    form.get_by_role("button", name="Add monitor").click()

    errors = page.locator("[data-form-errors]")
    expect(errors).to_contain_text("The monitor was not saved")
    expect(errors).to_contain_text(re.compile(r"Address to check: 'db\.acme\.test': give the port as well"))
    expect(page.locator("#id_url")).to_have_attribute("aria-invalid", "true")
    assert not Monitor.objects.filter(name="Database port").exists()
    assert not _overflow(page)
    screenshot(f"monitors-staff-form-error-{width}")

    form = page.locator("form.monitor-form")
    form.get_by_label("Address to check").fill("db.acme.test:5432")
    form.get_by_role("button", name="Add monitor").click()
    expect(main).to_contain_text("Monitor “Database port” added")
    row = page.locator("table.monitors tbody tr", has_text="Database port")
    expect(row).to_contain_text("TCP port")
    monitor = Monitor.objects.get(name="Database port")
    assert (
        AuditEntry.objects.filter(model="monitoring.Monitor", object_pk=str(monitor.pk), action="create")
        .get()
        .actor
        == engineer
    )

    row.get_by_label(re.compile("Why pause")).fill("Database moving to a new host")
    row.get_by_role("button", name="Pause").click()
    row = page.locator("table.monitors tbody tr", has_text="Database port")
    expect(row.locator(".state-paused")).to_have_text("paused")
    expect(row).to_contain_text("by engineer")
    expect(row).to_contain_text("Database moving to a new host")
    pause = MonitorPause.objects.get(monitor=monitor)
    audit = AuditEntry.objects.get(model="monitoring.MonitorPause", object_pk=str(pause.pk), action="create")
    assert audit.actor == User.objects.get(username="engineer")
    assert not Monitor.objects.get(pk=monitor.pk).enabled
    assert not _overflow(page)
    screenshot(f"monitors-staff-paused-{width}")

    row.get_by_role("button", name="Resume").click()
    expect(main).to_contain_text("Monitor “Database port” resumed")
    row = page.locator("table.monitors tbody tr", has_text="Database port")
    expect(row.locator(".state-paused")).to_have_count(0)
    assert Monitor.objects.get(pk=monitor.pk).enabled
    assert MonitorPause.objects.get(pk=pause.pk).end is not None
    screenshot(f"monitors-staff-resumed-{width}")

    row.get_by_role("button", name="Edit").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Edit monitor")
    edit = page.locator("form.monitor-form")
    edit.get_by_label("Check every (seconds)").fill("600")
    edit.get_by_role("button", name="Save monitor").click()
    expect(page.locator("[data-form-errors]")).to_contain_text("cannot alert within the contract's")
    assert not _overflow(page)
    screenshot(f"monitors-staff-edit-refused-{width}")
    edit = page.locator("form.monitor-form")
    edit.get_by_label("Check every (seconds)").fill("120")
    edit.get_by_label("Name").fill("Database")
    edit.get_by_role("button", name="Save monitor").click()
    expect(main).to_contain_text("Monitor “Database” saved")
    assert Monitor.objects.get(pk=monitor.pk).interval_seconds == 120


@pytest.mark.usefixtures("engineer")
@pytest.mark.parametrize("width", [1366, 390])
def test_portal_shows_the_certificate_expiry(live_server, page, screenshot, owner, width):
    engineer = User.objects.get(username="engineer")
    with acting_as(engineer):
        site = seed_monitoring(timezone.now(), client_slug="acme").site
    # What the probe's TLS check stores (monitoring/certs.py record): 12 days left.
    Monitor.objects.filter(site=site, kind="tls").update(
        cert_expires_at=timezone.now() + dt.timedelta(days=12, hours=3), cert_issuer="R11"
    )
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_server, "owner")
    page.goto(f"{live_server.url}/portal/sites/{site.pk}/uptime/")
    cert = page.locator("table.monitors tbody tr", has_text="Certificate")
    expect(cert.locator("[data-cert=warning]")).to_contain_text("valid until")
    expect(cert).to_contain_text("12 days left — we renew it before then")
    expect(page.locator("main")).not_to_contain_text("R11")
    expect(page.locator("svg.chart text.xtick").first).to_be_attached()
    assert not _overflow(page)
    screenshot(f"monitors-portal-cert-{width}")
