"""The portal home's site card (web/portal_cards.py): each part reads its app's own functions, a part with
nothing measured says so (never a good figure), and every part says what would fill it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client as HttpClient

from sitekeeper.access.models import User
from sitekeeper.backups.models import Repository, RestoreTest, SiteBackup, Snapshot, Source
from sitekeeper.contracts.models import Client, Site
from sitekeeper.core import trend
from sitekeeper.desk import services
from sitekeeper.health.models import LighthouseResult, LinkScan, PerformanceAudit
from sitekeeper.monitoring.models import Monitor, Outage, ProbeSession
from sitekeeper.monitoring.uptime import month_figures
from sitekeeper.releases.models import Release
from sitekeeper.security.models import Finding, ScanStepRun
from sitekeeper.security.models.incidents import SecurityIncident
from sitekeeper.web import portal_cards as cards

NOW = dt.datetime(2026, 5, 20, 10, 0, tzinfo=dt.UTC)
MONTH_START = dt.datetime(2026, 4, 30, 22, 0, tzinfo=dt.UTC)  # 1 May 00:00 in Berlin (the contract's zone)
SINCE = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def site(acme: Client) -> Site:
    return acme.sites.get()


def watched(site: Site) -> Monitor:
    """A production monitor since long ago and a probe that watched the whole month so far."""
    monitor = Monitor.objects.create(site=site, url=site.url, name="Home page", created_at=SINCE)
    ProbeSession.objects.create(
        location="fra", instance="probe-fra:1", started_at=MONTH_START, last_beat_at=NOW, stopped_at=NOW
    )
    return monitor


# Uptime -----------------------------------------------------------------------------------------------------


def test_uptime_without_a_monitor_is_not_measured_and_says_what_we_do(site: Site):
    part = cards.uptime_part(site, NOW)
    assert part.measured is False
    assert part.uptime is None  # never 100 %
    assert part.meets_sla is None
    assert part.tone == cards.NONE
    assert part.text == "Uptime: not measured yet — we are setting up monitoring."
    assert part.sla == Decimal("99.9")


def test_uptime_with_a_monitor_but_no_probe_yet_is_not_measured(site: Site):
    Monitor.objects.create(site=site, url=site.url, created_at=SINCE)
    part = cards.uptime_part(site, NOW)
    assert part.measured is False
    assert part.uptime is None
    assert part.tone == cards.NONE
    assert "no uptime figure yet" in part.text


def test_uptime_is_the_uptime_pages_figure_and_is_held_against_the_sla(site: Site):
    monitor = watched(site)
    Outage.objects.create(
        monitor=monitor, site=site, start=NOW - dt.timedelta(days=3), end=NOW - dt.timedelta(days=3, hours=-2)
    )
    part = cards.uptime_part(site, NOW)
    figures = month_figures(site, 2026, 5, now=NOW)  # the function the uptime pages show
    assert part.measured is True
    assert part.uptime == figures.uptime_decimal
    assert part.uptime < Decimal("99.9")  # 2 h of a 744 h month
    assert part.coverage == figures.coverage_decimal == Decimal(100)
    assert part.meets_sla is False
    assert part.tone == cards.BAD
    assert "Below the agreed uptime" in part.text


def test_uptime_within_the_sla_and_a_site_down_now(site: Site):
    monitor = watched(site)
    part = cards.uptime_part(site, NOW)
    assert (part.uptime, part.meets_sla, part.tone) == (Decimal(100), True, cards.OK)
    Outage.objects.create(monitor=monitor, site=site, start=NOW - dt.timedelta(minutes=5), end=None)
    part = cards.uptime_part(site, NOW)
    assert part.down_now is True
    assert part.tone == cards.BAD
    assert "down right now" in part.text


# Requests ---------------------------------------------------------------------------------------------------


def test_requests_count_open_ones_and_name_the_nearest_clock(acme: Client, site: Site, owner: User):
    empty = cards.requests_part(acme, NOW, site)
    assert (empty.open, empty.tone, empty.next_due) == (0, cards.OK, None)
    assert "New request" in empty.text  # what would fill it
    ticket = services.file_request(
        acme, channel="portal", subject="Checkout broken", description="The cart is empty after paying.",
        type="incident", priority="P2", site=site, environment="prod", steps="Pay", requester_user=owner,
        received_at=NOW - dt.timedelta(hours=1),
    )  # fmt: skip
    ticket.refresh_from_db()
    part = cards.requests_part(acme, NOW, site)
    assert part.open == 1
    assert part.next_due == ticket.next_due_at
    assert part.next_text.startswith(("Response due", "Resolution due"))
    assert part.next_url == f"/portal/requests/{ticket.pk}/"
    services.set_state(ticket, "waiting_information", actor=None, at=NOW)
    assert cards.requests_part(acme, NOW, site).waiting_for_you == 1


# Backups ----------------------------------------------------------------------------------------------------


def test_backups_not_set_up_then_backed_up_and_verified(acme: Client, site: Site, tmp_path):
    part = cards.backups_part(site, NOW)
    assert part.set_up is False
    assert part.tone == cards.NONE
    assert part.text == "Backups are not set up yet for this site — we are arranging it."
    repo = Repository.objects.create(client=acme, name="main", kind="s3", location="https://s3.test/b")
    source = Source.objects.create(
        site=site, name="db", layer="data", kind="sqlite", path=str(tmp_path / "x")
    )
    SiteBackup.objects.create(site=site, repository=repo)
    first = cards.backups_part(site, NOW)
    assert (first.set_up, first.last_backup, first.tone) == (True, None, cards.NONE)
    assert "first one has not run yet" in first.text
    made = NOW - dt.timedelta(hours=3)
    Snapshot.objects.create(
        repository=repo, site=site, source=source, source_name="db", source_kind="sqlite", layer="data",
        restic_id="ab" * 32, time=made,
    )  # fmt: skip
    unverified = cards.backups_part(site, NOW)
    assert unverified.last_backup == made
    assert (unverified.last_verified, unverified.tone) == (None, cards.WARN)
    RestoreTest.objects.create(
        site=site, slot="2026-05", status="passed", finished_at=NOW - dt.timedelta(hours=1)
    )
    verified = cards.backups_part(site, NOW)
    assert verified.last_verified == NOW - dt.timedelta(hours=1)
    assert verified.tone == cards.OK


# Security ---------------------------------------------------------------------------------------------------


def test_security_not_scanned_then_findings_by_severity_and_an_incident(site: Site, engineer: User):
    part = cards.security_part(site, NOW)
    assert (part.open, part.counts, part.scanned_at, part.tone) == (0, [], None, cards.NONE)
    assert part.text == "Security scans: not scanned yet — we are setting up security scanning."
    at = NOW - dt.timedelta(hours=2)
    ScanStepRun.objects.create(site=site, step="malware", started_at=at, finished_at=at, outcome="ok")
    clean = cards.security_part(site, NOW)
    assert (clean.tone, clean.scanned_at) == (cards.OK, at)
    for key, severity in (("a", "high"), ("b", "high"), ("c", "low")):
        Finding.objects.create(
            site=site, kind="vulnerability", key=key, severity=severity, title=f"Plugin {key}",
            first_seen=at, last_seen=at,
        )  # fmt: skip
    found = cards.security_part(site, NOW)
    assert [(c.label, c.count) for c in found.counts] == [("High", 2), ("Low", 1)]
    assert found.open == 3
    assert found.tone == cards.BAD
    shell = Finding.objects.create(
        site=site, kind="malware", key="shell", severity="critical", title="Web shell", first_seen=at,
        last_seen=at,
    )  # fmt: skip
    SecurityIncident.objects.create(
        site=site, finding=shell, detected_at=at, opened_at=at, opened_by=engineer
    )
    incident = cards.security_part(site, NOW)
    assert incident.incident  # where it stands, in the client's words
    assert "inform you by" in incident.text
    assert incident.counts[0].label == "Critical"


# Updates ----------------------------------------------------------------------------------------------------


def test_updates_nothing_yet_then_waiting_for_the_window_then_rolled_back(site: Site):
    part = cards.updates_part(site, NOW)
    assert (part.pending, part.waiting, part.last, part.tone) == (0, None, None, cards.NONE)
    assert "we apply them in batches" in part.text
    window = NOW + dt.timedelta(days=1)
    waiting = Release.objects.create(site=site, slot="b1", status="awaiting_window", window_start=window)
    part = cards.updates_part(site, NOW)
    assert part.waiting == waiting
    assert part.tone == cards.WARN
    Release.objects.filter(pk=waiting.pk).update(status="rolled_back", prod_finished_at=NOW)
    part = cards.updates_part(site, NOW)
    assert part.last.status == "rolled_back"
    assert part.tone == cards.BAD
    assert "we undid it" in part.text


# Health -----------------------------------------------------------------------------------------------------


def test_health_without_scans_says_what_would_fill_it(site: Site):
    part = cards.health_part(site, NOW)
    assert part.scan_at is None
    assert part.lighthouse is None
    assert part.tone == cards.NONE
    assert part.links_text == "No link scan yet — we check every link on your site once a month."
    assert "every month" in part.lighthouse_text


def test_health_reads_the_latest_link_scan_and_lighthouse_with_trend_arrows(site: Site):
    LinkScan.objects.create(
        site=site, slot="m5", status="succeeded", start_url=site.url, finished_at=NOW - dt.timedelta(days=1),
        broken=3, new=1, fixed=2, still=2,
    )  # fmt: skip
    audit = PerformanceAudit.objects.create(site=site, slot="a1", status="succeeded")
    for measured, performance, seo in ((NOW - dt.timedelta(days=30), 90, 91), (NOW, 42, 92)):
        LighthouseResult.objects.create(
            audit=audit, site=site, url="https://acme.test/", form_factor="mobile", measured_at=measured,
            performance=performance, accessibility=94, best_practices=96, seo=seo,
        )  # fmt: skip
    part = cards.health_part(site, NOW)
    assert (part.broken, part.new, part.fixed, part.scan_complete) == (3, 1, 2, True)
    assert part.lighthouse is not None
    assert part.lighthouse.form_factors == ["Mobile"]
    assert part.lighthouse.month == "May 2026"
    rows = {row.key: row.cells[0] for row in part.lighthouse.rows}
    assert (rows["performance"].value, rows["performance"].previous) == (42, 90)
    assert rows["performance"].direction == trend.DOWN
    assert rows["performance"].arrow == "↓"
    assert rows["accessibility"].direction == trend.STEADY
    assert rows["seo"].direction == trend.STEADY  # one point is noise
    assert part.tone == cards.WARN  # a new broken link, a score down


# The card and the page --------------------------------------------------------------------------------------


def test_card_headline_names_the_areas_needing_attention(site: Site):
    card = cards.site_card(site, NOW)
    assert card.tone == cards.NONE  # nothing set up yet: grey, never green
    assert card.headline == "Not measured yet: uptime, backups, security, updates, site health."
    Release.objects.create(site=site, slot="b1", status="rolled_back", prod_finished_at=NOW)
    card = cards.site_card(site, NOW)
    assert card.tone == cards.BAD
    assert card.headline.startswith("Needs attention: updates.")


def test_portal_home_shows_a_card_per_own_site_and_the_new_request_button(
    acme: Client, globex: Client, owner: User
):
    http = HttpClient()
    http.force_login(owner)
    page = http.get("/portal/").content.decode()
    assert page.count('class="site-card tone-') == acme.sites.count() == 1
    assert "Globex" not in page
    assert 'href="/portal/requests/new/"' in page
    assert "Not measured" in page
    assert "No link scan yet — we check every link on your site once a month." in page


@pytest.mark.parametrize(
    ("path", "site_page"),
    [("/portal/uptime/", "/portal/sites/{pk}/uptime/"), ("/portal/security/", "/portal/security/site/{pk}/"),
     ("/portal/updates/", "/portal/updates/site/{pk}/")],
)  # fmt: skip
def test_area_pages_go_straight_to_the_only_sites_page(acme: Client, owner: User, path, site_page):
    http = HttpClient()
    http.force_login(owner)
    response = http.get(path)
    assert response.status_code == 302
    assert response.url == site_page.format(pk=acme.sites.get().pk)


def test_area_pages_list_every_own_site_with_its_state(acme: Client, globex: Client, owner: User):
    second = Site.objects.create(
        client=acme, url="https://shop.acme.test", name="Acme shop", platform="other"
    )
    http = HttpClient()
    http.force_login(owner)
    for path in ("/portal/uptime/", "/portal/security/", "/portal/health/", "/portal/updates/"):
        page = http.get(path).content.decode()
        assert "Acme GmbH website" in page, path
        assert 'href="/portal/' in page
        assert "Acme shop" in page, path
        assert "Globex" not in page, path
    health = http.get("/portal/health/").content.decode()
    assert f"/portal/health/site/{second.pk}/performance/" in health


def test_agency_people_are_sent_to_the_console(engineer: User):
    http = HttpClient()
    http.force_login(engineer)
    assert http.get("/portal/uptime/").url == "/staff/monitoring/"
    assert http.get("/portal/security/").url == "/staff/security/"
    assert http.get("/portal/health/").url == "/staff/health/"
    assert http.get("/portal/updates/").url == "/staff/updates/"
