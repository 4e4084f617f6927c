"""The operations console (web/ops.py): each section from the apps' own rows, its empty state, and a query
count that does not grow with the number of sites or requests; and the business page's permissions."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sitekeeper import conf
from sitekeeper.backups.models import BackupRun, Repository, RestoreTest, SiteBackup, Snapshot, Source
from sitekeeper.contracts.models import Client, Environment, Site
from sitekeeper.desk import services
from sitekeeper.health.models import LinkScan, PerformanceAudit
from sitekeeper.monitoring.models import MaintenanceAnnouncement, Monitor, Outage
from sitekeeper.releases.models import Release
from sitekeeper.security.models import Finding, ScanStepRun, SecurityIncident
from sitekeeper.web import ops
from tests.conftest import make_client

# Monday 7 Dec 2026, 10:00 UTC = 11:00 in Berlin: inside the acme calendar's business hours.
NOW = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)
_serial = itertools.count()


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


def section(key: str, hours: int | None = None) -> ops.Section:
    return {s.key: s for s in ops.console(NOW, hours)}[key]


def _request(client: Client, *, priority: str, received: dt.datetime, subject: str, type: str = "bug"):
    return services.file_request(
        client,
        channel="staff",
        type=type,
        priority=priority,
        site=client.sites.first(),
        environment="prod",
        subject=subject,
        description="What the client saw, in their words.",
        steps="1. open the page",
        received_at=received,
        allow_incomplete=False,
    )


def _healthy(site: Site, now: dt.datetime) -> None:
    """A site with nothing to do: an enabled prod monitor, backups with a fresh snapshot and a recent passed
    restore test, and a fresh security scan."""
    Monitor.objects.create(site=site, url=site.url, name=f"{site} home", state="up")
    repo = Repository.objects.create(
        client=site.client, name=f"repo-{next(_serial)}", kind="local", location=f"/var/backups/{site.pk}"
    )
    SiteBackup.objects.create(site=site, repository=repo)
    source = Source.objects.create(site=site, name="uploads", layer="data", kind="files", path="/srv/x")
    Snapshot.objects.create(
        repository=repo,
        site=site,
        source=source,
        source_name="uploads",
        source_kind="files",
        layer="data",
        restic_id=f"{next(_serial):064x}",
        time=now - dt.timedelta(hours=2),
    )
    test = RestoreTest.objects.create(site=site, slot=f"ok-{site.pk}", status="passed")
    RestoreTest.objects.filter(pk=test.pk).update(finished_at=now - dt.timedelta(days=3))
    ScanStepRun.objects.create(
        site=site,
        step="inventory",
        started_at=now - dt.timedelta(hours=1),
        finished_at=now - dt.timedelta(hours=1),
        outcome="ok",
    )


# -- clocks --------------------------------------------------------------------------------------------------


def test_clocks_breached_then_due_soon_and_nothing_far_off(acme, frozen):
    late = _request(
        acme, priority="P2", received=NOW - dt.timedelta(days=10), subject="Checkout totals wrong"
    )
    soon = _request(
        acme, priority="P1", received=NOW - dt.timedelta(hours=1), subject="Shop down", type="incident"
    )
    _request(acme, priority="P4", received=NOW, subject="Button colour")
    clocks = section("clocks")
    assert [line.title for line in clocks.lines] == [str(late), str(soon)]
    breached, due = clocks.lines
    assert (breached.tone, breached.badge, breached.priority) == ("breach", "Breached", "P2")
    assert breached.when_label == "Response overdue since"
    assert breached.zone == "Europe/Berlin"
    assert breached.url == reverse("staff_ticket", args=[late.pk])
    assert breached.client == "Acme GmbH"
    assert "overdue" in breached.after
    assert "unassigned" in breached.detail
    assert (due.tone, due.badge) == ("warn", "Due soon")
    assert due.when == NOW + dt.timedelta(hours=3)  # business plan: P1 response within 4 h
    assert clocks.parts == {"breached": 1, "soon": 1}
    assert clocks.count == 2
    assert clocks.scope.startswith("3 open requests checked")


def test_clock_horizon_is_configurable(acme, frozen, settings, monkeypatch):
    _request(acme, priority="P1", received=NOW - dt.timedelta(hours=1), subject="Shop down", type="incident")
    assert section("clocks", hours=2).count == 0  # due in 3 h, outside a 2-hour horizon
    settings.SITEKEEPER_OPS_SOON_HOURS = 3
    assert ops.soon_hours() == 3
    assert section("clocks").count == 1
    # settings.py reads it with conf.env_int: a bad value stops the start, naming the variable.
    monkeypatch.setenv("SITEKEEPER_OPS_SOON_HOURS", "soon")
    with pytest.raises(conf.ConfigError, match="SITEKEEPER_OPS_SOON_HOURS: expected a whole number"):
        conf.env_int("SITEKEEPER_OPS_SOON_HOURS", 4, minimum=1)


def test_clocks_empty_state_says_they_were_evaluated(acme, frozen):
    _request(acme, priority="P4", received=NOW, subject="Button colour")
    clocks = section("clocks")
    assert clocks.lines == []
    assert clocks.evaluated
    assert clocks.empty == "No breached clocks, and none due in the next 4 h."
    assert clocks.scope.startswith("1 open requests checked")
    assert "75 %" in clocks.fills


def test_resolved_requests_are_not_on_the_console(acme, engineer, frozen):
    late = _request(acme, priority="P2", received=NOW - dt.timedelta(days=10), subject="Old problem")
    services.resolve(late, actor=engineer, at=NOW)
    assert section("clocks").lines == []
    assert section("unassigned").lines == []


# -- unassigned ----------------------------------------------------------------------------------------------


def test_unassigned_p1_p2_only_p1_first(acme, engineer, frozen):
    p2 = _request(acme, priority="P2", received=NOW - dt.timedelta(hours=2), subject="Form broken")
    p1 = _request(acme, priority="P1", received=NOW - dt.timedelta(hours=1), subject="Down", type="incident")
    taken = _request(acme, priority="P1", received=NOW, subject="Taken", type="incident")
    _request(acme, priority="P3", received=NOW, subject="Minor")
    services.assign([taken], engineer, actor=engineer)
    unassigned = section("unassigned")
    assert [line.title for line in unassigned.lines] == [str(p1), str(p2)]
    assert unassigned.lines[0].url == reverse("staff_ticket", args=[p1.pk])
    assert unassigned.url.endswith("?assignee=none")
    first = unassigned.lines[0]
    assert first.when_label == "Response due"  # the clock that runs next, in the one time format
    assert first.detail == "New"
    services.set_state(p2, "waiting_information", actor=engineer, note="Which browser?")
    waiting = section("unassigned").lines[1]
    assert waiting.detail == "Waiting for client reply · Paused — waiting for client information"
    assert waiting.when_label == "received"


def test_unassigned_empty(acme, frozen):
    unassigned = section("unassigned")
    assert unassigned.evaluated
    assert unassigned.lines == []
    assert unassigned.empty == "Every open P1 and P2 request has someone assigned."


# -- sites ---------------------------------------------------------------------------------------------------


def test_sites_down_held_in_maintenance_and_in_maintenance(acme, globex, frozen):
    site, other = acme.sites.get(), globex.sites.get()
    monitor = Monitor.objects.create(site=site, url=site.url, name="Acme home", state="down")
    held_monitor = Monitor.objects.create(site=other, url=other.url, name="Globex home", state="down")
    Outage.objects.create(monitor=monitor, site=site, start=NOW - dt.timedelta(minutes=30), cause="HTTP 503")
    Outage.objects.create(
        monitor=held_monitor,
        site=other,
        start=NOW - dt.timedelta(minutes=10),
        cause="connection refused",
        held=True,
        held_until=NOW + dt.timedelta(hours=1),
    )
    Outage.objects.create(  # ended: not on the console
        monitor=monitor,
        site=site,
        start=NOW - dt.timedelta(days=2),
        end=NOW - dt.timedelta(days=1),
        cause="x",
    )
    window = MaintenanceAnnouncement.objects.create(
        contract=globex.contract,
        start=NOW - dt.timedelta(minutes=20),
        end=NOW + dt.timedelta(hours=1),
        max_minutes=90,
        announced_at=NOW - dt.timedelta(days=3),
        note="Database upgrade",
    )
    window.sites.add(other)
    sites = section("sites")
    assert [line.badge for line in sites.lines] == ["Down", "Down in maintenance", "In maintenance"]
    down, held, maintenance = sites.lines
    assert down.title == "Acme GmbH website — HTTP 503"
    assert down.tone == "down"
    assert down.url == reverse("staff_site_uptime", args=[site.pk])
    assert down.when == NOW - dt.timedelta(minutes=30)
    assert "held back until 12:00 CET" in held.detail  # Globex's zone: Europe/Berlin
    assert maintenance.detail == "Database upgrade"
    assert maintenance.when_label == "until"
    assert sites.urgent
    assert sites.scope == "2 enabled monitors"


def test_sites_without_any_monitor_are_not_evaluated(acme, frozen):
    sites = section("sites")
    assert not sites.evaluated
    assert "No monitor is enabled" in sites.unread


def test_sites_empty_with_monitors(acme, frozen):
    site = acme.sites.get()
    Monitor.objects.create(site=site, url=site.url, state="up")
    sites = section("sites")
    assert sites.evaluated
    assert sites.lines == []
    assert sites.empty.startswith("No site is down")


# -- backups -------------------------------------------------------------------------------------------------


def test_backups_failed_run_stale_layer_failed_and_overdue_restore_tests(acme, globex, frozen):
    site, other = acme.sites.get(), globex.sites.get()
    _healthy(site, NOW)
    _healthy(other, NOW)
    # acme: the latest data run failed (an earlier failure of the code layer was followed by a success).
    BackupRun.objects.create(
        site=site,
        layer="data",
        trigger="schedule",
        slot="a",
        status="failed",
        error="restic: repository locked\nmore",
    )
    BackupRun.objects.create(site=site, layer="code", trigger="schedule", slot="b", status="failed")
    BackupRun.objects.create(site=site, layer="code", trigger="schedule", slot="c", status="succeeded")
    # globex: its code layer has a source but its newest snapshot is 30 h old (stale after 26 h).
    config = other.backup
    Source.objects.create(site=other, name="code", layer="code", kind="files", path="/srv/code")
    Snapshot.objects.create(
        repository=config.repository,
        site=other,
        source_name="code",
        source_kind="files",
        layer="code",
        restic_id="c" * 64,
        time=NOW - dt.timedelta(hours=30),
    )
    # globex's restore test failed after its passed one; acme has not been verified for 40 days.
    RestoreTest.objects.create(
        site=other, slot="2026-12", status="failed", error="sha256 mismatch in uploads"
    )
    RestoreTest.objects.filter(site=site).update(finished_at=NOW - dt.timedelta(days=40))
    backups = section("backups")
    badges = sorted((line.badge, line.client) for line in backups.lines)
    assert badges == [
        ("Backup failed", "Acme GmbH"),
        ("Backup stale", "Globex Inc"),
        ("Restore test failed", "Globex Inc"),
        ("Restore test overdue", "Acme GmbH"),
    ]
    by_badge = {line.badge: line for line in backups.lines}
    assert by_badge["Backup failed"].detail == "restic: repository locked"
    assert by_badge["Backup stale"].detail == "newest snapshot 30 h old, allowed 26 h"
    assert by_badge["Restore test overdue"].detail == "last verified restorable 40 days ago"
    assert by_badge["Restore test failed"].url == reverse("staff_backups_site", args=[other.pk])
    assert [line.tone for line in backups.lines][:2] == ["breach", "breach"]  # failures first


def test_backups_not_evaluated_without_backups_and_empty_when_all_is_well(acme, frozen):
    backups = section("backups")
    assert not backups.evaluated
    assert "No site in service is backed up" in backups.unread
    _healthy(acme.sites.get(), NOW)
    backups = section("backups")
    assert backups.evaluated
    assert backups.lines == []
    assert backups.scope.startswith("1 sites in service")


# -- security incidents --------------------------------------------------------------------------------------


def _finding(site: Site, key: str, at: dt.datetime) -> Finding:
    return Finding.objects.create(
        site=site, kind="malware", key=key, severity="critical", title=f"Web shell {key}", first_seen=at,
        detected_at=at, last_seen=at,
    )  # fmt: skip


def test_incidents_with_their_63_clock_most_urgent_first(acme, engineer, frozen):
    site = acme.sites.get()
    for key, hours_ago, notified in (
        ("fresh", 1, False),
        ("old", 30, False),
        ("told", 40, True),
        ("near", 21, False),
    ):
        at = NOW - dt.timedelta(hours=hours_ago)
        SecurityIncident.objects.create(
            site=site, finding=_finding(site, key, at), detected_at=at, opened_at=at, opened_by=engineer,
            client_notified_at=at + dt.timedelta(hours=2) if notified else None,
        )  # fmt: skip
    closed_at = NOW - dt.timedelta(hours=5)
    SecurityIncident.objects.create(
        site=site, finding=_finding(site, "closed", closed_at), detected_at=closed_at, opened_at=closed_at,
        opened_by=engineer, closed_at=NOW,
    )  # fmt: skip
    incidents = section("incidents")
    assert [line.title for line in incidents.lines] == [
        "Acme GmbH website — Web shell old",
        "Acme GmbH website — Web shell near",
        "Acme GmbH website — Web shell fresh",
        "Acme GmbH website — Web shell told",
    ]
    old, near, fresh, told = incidents.lines
    assert old.badge == "6.3 deadline passed"
    assert old.tone == "breach"
    assert "overdue by 6 h 00 min" in old.detail
    assert near.badge == "6.3 due soon"
    assert near.tone == "warn"
    assert fresh.when == NOW + dt.timedelta(hours=23)
    assert told.badge == "6.3 client notified in time"
    assert "report and close" in told.detail


def test_incidents_empty(acme, frozen):
    incidents = section("incidents")
    assert incidents.evaluated
    assert incidents.lines == []
    assert incidents.empty == "No open security incident."


# -- failed scans and audits ---------------------------------------------------------------------------------


def test_failed_scans_and_audits_only_when_the_latest_attempt_failed(acme, frozen):
    site = acme.sites.get()
    for minutes, outcome in ((90, "failed"), (30, "ok")):  # integrity failed, then ran: fine
        at = NOW - dt.timedelta(minutes=minutes)
        ScanStepRun.objects.create(
            site=site, step="integrity", started_at=at, finished_at=at, outcome=outcome
        )
    at = NOW - dt.timedelta(minutes=20)
    ScanStepRun.objects.create(
        site=site, step="malware", started_at=at, finished_at=at, outcome="failed", summary="SSH refused"
    )
    LinkScan.objects.create(
        site=site, slot="l1", status="failed", error="DNS lookup failed\ntrace", finished_at=NOW
    )
    audit = PerformanceAudit.objects.create(
        site=site, slot="p1", status="failed", error="chromium crashed", finished_at=NOW
    )
    PerformanceAudit.objects.create(
        site=site, slot="p2", status="running"
    )  # a retry running: the failure still stands
    checks = section("checks")
    assert sorted(line.badge for line in checks.lines) == [
        "Lighthouse failed",
        "Link scan failed",
        "Scan failed",
    ]
    by_badge = {line.badge: line for line in checks.lines}
    assert by_badge["Scan failed"].detail == "SSH refused"
    assert "“malware”" in by_badge["Scan failed"].title
    assert by_badge["Link scan failed"].detail == "DNS lookup failed"
    assert by_badge["Lighthouse failed"].url == reverse("staff_performance_audit", args=[audit.pk])


def test_checks_empty(acme, frozen):
    checks = section("checks")
    assert checks.evaluated
    assert checks.lines == []
    assert "Lighthouse" in checks.empty


# -- releases ------------------------------------------------------------------------------------------------


def test_releases_waiting_for_approval_window_or_failed(acme, engineer, frozen):
    site = acme.sites.get()
    opens = NOW + dt.timedelta(days=1)
    manual = Release.objects.create(site=site, slot="m", kind="manual", status="planned", window_start=opens)
    window = Release.objects.create(
        site=site, slot="w", kind="scheduled", status="awaiting_window", window_start=opens
    )
    failed = Release.objects.create(
        site=site, slot="f", kind="scheduled", status="failed", outcome="Rollback failed."
    )
    Release.objects.create(
        site=site, slot="a", kind="manual", status="planned", approved_by=engineer
    )  # approved
    Release.objects.create(site=site, slot="d", kind="scheduled", status="deployed")
    releases = section("releases")
    assert [(line.badge, line.url) for line in releases.lines] == [
        ("Failed (rollback did not complete)", reverse("staff_updates_release", args=[failed.pk])),
        ("Waiting for approval", reverse("staff_updates_release", args=[manual.pk])),
        ("Waiting for the window", reverse("staff_updates_release", args=[window.pk])),
    ]
    assert releases.lines[1].when == opens
    assert releases.lines[0].detail == "Rollback failed."


def test_releases_empty(acme, frozen):
    assert section("releases").lines == []
    assert section("releases").empty.startswith("No release")


# -- agency-side gaps ----------------------------------------------------------------------------------------


def test_gaps_are_coverages_own_one_line_per_site(acme, globex, frozen):
    _healthy(globex.sites.get(), NOW)
    gaps = section("gaps")
    site = acme.sites.get()
    (line,) = gaps.lines
    assert (line.title, line.badge, line.client) == ("Acme GmbH website", "3 gaps", "Acme GmbH")
    assert line.url == reverse("staff_site_detail", args=[site.pk])
    assert [(fix.title, fix.url) for fix in line.fixes] == [
        ("No production uptime monitor", reverse("staff_site_uptime", args=[site.pk])),
        ("No backup source", reverse("staff_backups_site", args=[site.pk])),
        ("No security scan in the last 48 h", reverse("staff_security_site", args=[site.pk])),
    ]
    assert line.fixes[2].detail == "never scanned"
    assert gaps.scope == "2 sites in service checked; 3 gaps on 1 of them"
    assert gaps.parts == {"gaps": 3}
    Monitor.objects.create(site=site, url=site.url, state="up")
    assert section("gaps").lines[0].badge == "2 gaps"
    _healthy(site, NOW)
    gaps = section("gaps")
    assert gaps.lines == []
    assert gaps.empty.startswith("Every site in service")


# -- speed ---------------------------------------------------------------------------------------------------


def _busy_client(slug: str, calendar, now: dt.datetime, engineer) -> None:
    """A client whose site has one of everything the console lists (so each section has lines), plus a
    healthy second site."""
    client = make_client(slug, slug.title(), "business", calendar)
    site = client.sites.get()
    extra = Site.objects.create(client=client, url=f"https://shop.{slug}.test", name=f"{slug} shop")
    Environment.objects.create(site=extra, kind="prod", url=extra.url)
    _healthy(site, now)
    _healthy(extra, now)
    _request(client, priority="P2", received=now - dt.timedelta(days=10), subject=f"{slug} late")
    _request(
        client, priority="P1", received=now - dt.timedelta(hours=1), subject=f"{slug} down", type="incident"
    )
    monitor = site.monitors.get()
    Outage.objects.create(monitor=monitor, site=site, start=now - dt.timedelta(minutes=5), cause="HTTP 500")
    BackupRun.objects.create(site=site, layer="data", trigger="schedule", slot="x", status="failed")
    at = now - dt.timedelta(hours=2)
    SecurityIncident.objects.create(
        site=site, finding=_finding(site, slug, at), detected_at=at, opened_at=at, opened_by=engineer
    )
    ScanStepRun.objects.create(site=site, step="malware", started_at=now, finished_at=now, outcome="failed")
    LinkScan.objects.create(site=site, slot="l", status="failed", finished_at=now)
    Release.objects.create(site=site, slot="m", kind="manual", status="planned")


def test_query_count_does_not_grow_with_sites_or_requests(berlin_calendar, engineer, client, frozen):
    client.force_login(engineer)
    _busy_client("alpha", berlin_calendar, NOW, engineer)
    with CaptureQueriesContext(connection) as one:
        assert client.get(reverse("staff_dashboard")).status_code == 200
    for slug in ("beta", "gamma", "delta"):
        _busy_client(slug, berlin_calendar, NOW, engineer)
    with CaptureQueriesContext(connection) as four:
        response = client.get(reverse("staff_dashboard"))
    assert response.status_code == 200
    sections = {s.key: s for s in response.context["sections"]}
    assert sections["clocks"].count == 8
    assert sections["sites"].count == 4
    assert sections["releases"].count == 4
    assert len(four) == len(one), [q["sql"] for q in four.captured_queries]
    assert len(one) <= 40


# -- pages and permissions -----------------------------------------------------------------------------------


def test_staff_home_renders_every_section_and_no_revenue(acme, engineer, client, frozen):
    _request(acme, priority="P2", received=NOW - dt.timedelta(days=10), subject="Checkout totals wrong")
    client.force_login(engineer)
    page = client.get(reverse("staff_dashboard")).content.decode()
    for title in (
        "SLA clocks — breached and due soon",
        "Unassigned P1/P2 requests",
        "Sites down or in maintenance",
        "Backups and restore tests",
        "Open security incidents",
        "Failed scans and audits",
        "Releases waiting or failed",
        "Service gaps — agency action needed",
    ):
        assert title in page
    assert 'href="#clocks"' in page
    assert "1 breached, 0 due soon" in page
    assert "Response overdue since" in page
    assert "CET" in page  # the one time format, zone named
    assert "Monthly recurring fees" not in page
    assert "EUR" not in page
    assert reverse("staff_business") not in page  # an engineer is not pointed at a page they cannot open


@pytest.mark.parametrize("persona", ["manager", "admin"])
def test_business_page_shows_revenue_to_managers(persona, request, client, db, fast_passwords):
    request.getfixturevalue("acme")  # EUR 900.00 a month
    request.getfixturevalue("globex")  # EUR 250.00 a month
    client.force_login(request.getfixturevalue(persona))
    page = client.get(reverse("staff_business")).content.decode()
    assert "Monthly recurring fees" in page
    assert "EUR 1,150.00" in page
    assert "Active contracts by plan" in page
    assert "Recent changes" in page
    home = client.get(reverse("staff_dashboard")).content.decode()
    assert reverse("staff_business") in home


@pytest.mark.parametrize("persona", ["engineer", "owner", "outsider"])
def test_business_page_refuses_engineers_and_clients(persona, request, client, db, fast_passwords):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(reverse("staff_business")).status_code == 403


def test_business_page_needs_a_login(client, db):
    response = client.get(reverse("staff_business"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]
