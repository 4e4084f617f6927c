"""`sitekeeper demo`: the demo agency loads (twice without harm) and the served app lets people log in."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import io
import json
import os
import re
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import models
from django.test import Client as DjangoClient
from django.utils import timezone

from sitekeeper import http as sk_http
from sitekeeper.access.models import AuditEntry, User
from sitekeeper.backups.models import BackupRun, RestoreTest, Snapshot
from sitekeeper.contracts import coverage
from sitekeeper.contracts.models import Client, Environment, Plan, Site
from sitekeeper.contracts.presenters import contract_zone
from sitekeeper.demo import local_sites
from sitekeeper.demo import run as demo_run
from sitekeeper.demo import sites as demo_sites
from sitekeeper.demo.health_seed import BAKERY
from sitekeeper.demo.management.commands.demo import Command as DemoCommand
from sitekeeper.demo.monitoring_seed import DOWN_URL, UNMONITORED_URL
from sitekeeper.demo.seed import DEMO_PASSWORD, UNREACHABLE_AUDIT_URL, queue_background_runs
from sitekeeper.desk.models import Message, Pause, State, Ticket
from sitekeeper.health import lighthouse, linkscan, performance
from sitekeeper.health import tasks as health_tasks
from sitekeeper.health.models import HealthConfig, LighthouseResult, LinkScan, PerformanceAudit
from sitekeeper.monitoring.checks import CheckOutcome, CheckSpec, run_check
from sitekeeper.monitoring.models import MaintenanceAnnouncement, Monitor, Outage
from sitekeeper.monitoring.uptime import contract_month, month_figures
from sitekeeper.proc import MissingProgramError
from sitekeeper.releases.models import Release
from sitekeeper.security import scans
from sitekeeper.security.models import Finding, SecurityIncident
from sitekeeper.web import portal_cards
from tests.serving import dies_with_us, free_port, listening, ready_seconds, wait_until


@pytest.mark.django_db
def test_demo_loads_one_client_per_plan_and_is_idempotent(settings, tmp_path, monkeypatch):
    settings.HOME = tmp_path  # the demo's restic repository and site trees
    call_command("demo", no_serve=True)
    plans = sorted(Client.objects.values_list("contracts__plan__slug", flat=True))
    assert plans == ["business", "enterprise", "professional", "starter"]
    assert all(client.sites.count() >= 1 for client in Client.objects.all())
    states = set(Ticket.objects.values_list("state", flat=True))
    assert states == {choice.value for choice in State}, "the demo shows requests in every state"
    assert Ticket.objects.filter(incomplete=True, channel="email").exists()
    # Backups made with the real restic: three days of the bakery, a passing restore test, a failed run.
    bakery = Snapshot.objects.filter(site__url="https://brot-und-butter.test", forgotten_at=None)
    assert set(bakery.values_list("layer", flat=True)) == {"data", "code", "config"}
    assert RestoreTest.objects.filter(site__url="https://brot-und-butter.test", status="passed").exists()
    assert BackupRun.objects.filter(status="failed", ticket__priority="P2").exists()
    # Security: the vulnerable demo plugin, the planted web shell and the altered file; the shell's incident
    # opened by itself at detection (the 6.3 clock starts when the agency becomes aware).
    kinds = set(
        Finding.objects.filter(site__url="https://brot-und-butter.test").values_list("kind", flat=True)
    )
    assert kinds == {"vulnerability", "integrity", "malware", "performance"}
    assert SecurityIncident.objects.filter(finding__kind="malware").exists()
    # Health: six months of Lighthouse figures whose last month fell > 40 points (its P2), and the real
    # update pipeline: one release deployed, one rolled back from its restore point, one awaiting its window.
    bakery_results = LighthouseResult.objects.filter(site__url="https://brot-und-butter.test")
    assert bakery_results.count() == 6 * 2 * 2
    assert bakery_results.filter(ticket__priority="P2").count() == 1
    releases = Release.objects.filter(site__url="https://brot-und-butter.test")
    assert sorted(releases.values_list("status", flat=True)) == ["awaiting_window", "deployed", "rolled_back"]
    # Two monthly link scans by the real crawler: this month's diff has fixed, still broken and new links.
    scans = LinkScan.objects.filter(site__url="https://brot-und-butter.test", status="succeeded")
    latest = scans.order_by("-created_at").first()
    assert scans.count() == 2
    changes = dict(latest.defects.values_list("url", "change"))
    assert {"fixed", "still", "new"} <= set(changes.values()), changes
    assert any(url.endswith("/team/") for url, change in changes.items() if change == "new")
    rolled_back = releases.get(status="rolled_back")
    assert rolled_back.ticket is not None
    assert rolled_back.restore_point
    assert_demo_is_honest()
    assert_demo_is_consistent()
    assert_demo_points_at_its_own_sites(settings.HOME)
    lighthouse_missing = assert_scan_now_and_lighthouse_measure_the_local_sites(settings.HOME)
    # The bakery's seeded history holds this month's scheduled audit: the worker does not audit it again.
    bakery = Site.objects.get(url="https://brot-und-butter.test")
    month = timezone.now().astimezone(contract_zone(bakery.client.contract))
    assert PerformanceAudit.objects.filter(site=bakery, slot=f"{month:%Y-%m}", trigger="schedule").exists()
    # One Lighthouse run per page on the demo's light pages: the month's audits at start stay short.
    runs = {c.lighthouse_runs for c in HealthConfig.objects.filter(site__client__contracts__isnull=False)}
    assert runs == {1}
    assert_portal_uptime_is_the_uptime_pages()
    # At start the demo hands its worker a Lighthouse audit of the museum website (it fails: *.test), once.
    handed: list[tuple] = []
    monkeypatch.setattr(health_tasks.performance_run_task, "schedule", lambda **kw: handed.append(kw["args"]))
    queued = queue_background_runs()
    assert queued is not None
    assert (queued.status, queued.site.url, queued.requested_by.username) == (
        "queued",
        UNREACHABLE_AUDIT_URL,
        "engineer",
    )
    assert handed == [(queued.pk,)]
    assert queue_background_runs() is None
    users, tickets = User.objects.count(), Ticket.objects.count()
    again = io.StringIO()
    call_command("demo", no_serve=True, stdout=again)
    assert (User.objects.count(), Ticket.objects.count()) == (users, tickets)
    # The seed put the prod environments back before applying the file: nothing in the file changed.
    assert "contracts already loaded" in again.getvalue(), again.getvalue()
    assert User.objects.get(username="bakery-owner").check_password(DEMO_PASSWORD)
    if lighthouse_missing:  # last, so that everything else above was checked
        unavailable(f"the demo's Lighthouse audit was not run: {lighthouse_missing}")


def assert_demo_is_honest() -> None:
    """Issue 12 in the demo: what was not measured says so, platform requests are not client requests, the
    multi-site credits are capped, the 6.3 clock started at detection, backups are daily and gaps flagged."""
    now = timezone.now()
    museum_collection = Site.objects.get(url="https://sammlung.stadtmuseum-nord.test")
    # No monitor: not measured (never 100 %), and the staff are shown the gap.
    figures = month_figures(museum_collection, now.year, now.month, now=now)
    assert figures.uptime is None
    assert figures.as_json()["coverage"] == "0"
    gap_sites = {gap.site.url for gap in coverage.gaps(now) if gap.kind == "monitor"}
    assert gap_sites == {museum_collection.url}
    # Requests the platform opened carry no incomplete-request pause and no client-proposed priority.
    detected = Ticket.objects.filter(channel="monitor")
    assert detected.filter(type="incident", priority="P1").exists()
    assert not detected.filter(incomplete=True).exists()
    assert not Pause.objects.filter(ticket__channel="monitor", reason="incomplete_request").exists()
    assert not detected.exclude(proposed_priority="").exists()
    acks = Message.objects.filter(ticket__in=detected.filter(priority="P1"), kind="auto")
    assert acks.exists()
    assert all(ack.body.startswith("sitekeeper detected:") for ack in acks)
    # No pause outlives its request's resolution.
    assert not Pause.objects.filter(end__isnull=True, ticket__state__in=["resolved", "closed"]).exists()
    # The law firm's bad last month over two sites: 60 % of the full fee each, the month capped at the fee.
    lawfirm = Client.objects.get(slug="lawfirm").contract
    last = (now.replace(day=1) - dt.timedelta(days=1)).date()
    month = contract_month(lawfirm, last.year, last.month, now=now)
    assert month.measured_sites == 2
    assert (month.credit.uncapped_amount, month.credit.credit_amount) == (
        Decimal("468.00"),
        Decimal("390.00"),
    )
    assert month.credit.capped is True
    # The museum agreed its own Schedule A; the built-in Enterprise plan invents none.
    assert Plan.objects.get(slug="enterprise").credit_table == []
    assert Client.objects.get(slug="museum").contract.credit_rule() is not None
    # The web shell's incident opened by itself at detection: the 6.3 clock runs from then.
    shell = SecurityIncident.objects.get(finding__kind="malware")
    assert shell.automatic
    assert shell.detected_at == shell.opened_at
    assert scans.last_scan_at(Site.objects.get(url="https://brot-und-butter.test")) is not None
    assert scans.last_scan_at(Site.objects.get(url="https://stadtmuseum-nord.test")) is None
    # Daily full-site backups: code and data on each of the last three days, nothing in the future.
    bakery = Snapshot.objects.filter(site__url="https://brot-und-butter.test", forgotten_at=None)
    nightly = bakery.filter(
        run__trigger="schedule"
    )  # the releases' restore points are dated in their windows
    days = {layer: {s.time.date() for s in nightly.filter(layer=layer)} for layer in ("data", "code")}
    assert len(days["code"]) == 3
    assert days["code"] == days["data"]
    assert not bakery.filter(time__gt=now).exists()
    # The bakery's link scans read the whole shop front: complete, nothing left unread.
    assert not LinkScan.objects.filter(status="incomplete").exists()
    summary = linkscan.summary(Site.objects.get(url="https://brot-und-butter.test"))
    assert summary["complete"] is True
    assert summary["unread"] == 0


# Datetime fields that name a time to come by their nature: clocks' deadlines, the next check, leases and
# expiries. Everything else the demo stores happened, so it is at or before the seed's "now".
FUTURE_BY_NATURE = ("_due", "next_due_at", "next_check_at", "_until", "expires_at")
# Announced maintenance and a release's window may lie ahead; checked below to be only the upcoming ones.
UPCOMING = {("monitoring.MaintenanceAnnouncement", "start"), ("monitoring.MaintenanceAnnouncement", "end"),
            ("releases.Release", "window_start"), ("releases.Release", "window_end")}  # fmt: skip


def future_rows(now: dt.datetime) -> list[str]:
    """Every stored datetime after `now` that is not a deadline, lease or upcoming window: model.field pk."""
    found = []
    for model in apps.get_models():
        label = model._meta.label
        for field in model._meta.get_fields():
            if not isinstance(field, models.DateTimeField) or field.name.endswith(FUTURE_BY_NATURE):
                continue
            if (label, field.name) in UPCOMING:
                continue
            later = model.objects.filter(**{f"{field.name}__gt": now}).values_list("pk", flat=True)
            found += [f"{label}.{field.name} #{pk}" for pk in later]
    return found


def assert_demo_is_consistent() -> None:
    """Issue 15, item 5: nothing dated in the future, releases deployed inside their windows, a rollback
    whose checks after the rollback all pass, a monitor on every site but the one nobody set up, one site
    down now."""
    now = timezone.now()
    assert future_rows(now) == []
    # What may lie ahead is only what is still to come: an announcement already made, a window not yet used.
    assert not MaintenanceAnnouncement.objects.filter(announced_at__gt=now).exists()
    assert not Release.objects.filter(window_start__gt=now).exclude(status="awaiting_window").exists()
    releases = Release.objects.filter(site__url="https://brot-und-butter.test")
    for release in releases.filter(status__in=["deployed", "rolled_back"]):
        assert release.window_start <= release.prod_started_at < release.window_end, release.slot
        assert release.window_start < release.prod_finished_at <= release.window_end, release.slot
        assert release.stage_finished_at <= release.prod_started_at, release.slot
        assert all(
            release.window_start <= dt.datetime.fromisoformat(check["at"]) <= release.window_end
            for check in release.checks
            if check["environment"] == "prod"
        ), release.slot
        # Its restore point was taken in the window, just before production changed.
        points = Snapshot.objects.filter(pk__in=[point["snapshot"] for point in release.restore_point])
        assert points.count() == len(release.restore_point) > 0
        applied = next(
            dt.datetime.fromisoformat(check["at"])
            for check in release.checks
            if (check["environment"], check["name"]) == ("prod", "apply updates")
        )
        times = sorted(snap.time for snap in points)
        assert release.prod_started_at <= times[0] <= times[-1] <= applied, (release.slot, times, applied)
    rolled_back = releases.get(status="rolled_back")
    after = [check for check in rolled_back.checks if check["name"].startswith("after rollback")]
    assert after, rolled_back.checks
    assert all(check["ok"] for check in after), after
    assert rolled_back.ticket.received_at <= now
    # Its incident was handled that night, not left to breach for days.
    assert rolled_back.ticket.state == "resolved"
    assert rolled_back.ticket.first_response_at <= rolled_back.window_end
    # Nightly backups ran at night: each run is stamped when its snapshots are.
    for run in BackupRun.objects.filter(trigger="schedule", status="succeeded"):
        for snap in run.snapshots.all():
            assert abs(snap.time - run.started_at) < dt.timedelta(minutes=5), (
                run.pk,
                snap.time,
                run.started_at,
            )
    # A monitor on every demo site with a contract, except the one nobody set up (an agency-side gap).
    unmonitored = {
        site.url
        for site in Site.objects.filter(client__contracts__isnull=False).distinct()
        if not site.monitors.exists()
    }
    assert unmonitored == {UNMONITORED_URL}
    # One site is down now: its real outage, the P1 the probes' logic opened, nobody assigned yet.
    down = Monitor.objects.get(site__url=DOWN_URL)
    assert down.state == "down"
    outage = Outage.objects.get(monitor=down, end__isnull=True)
    assert outage.start <= outage.alerted_at <= outage.start + dt.timedelta(minutes=2)
    assert (outage.ticket.priority, outage.ticket.assignee) == ("P1", None)
    assert not Outage.objects.filter(end__isnull=True).exclude(monitor=down).exists()
    assert set(Monitor.objects.exclude(pk=down.pk).values_list("state", flat=True)) == {"up"}


def assert_demo_points_at_its_own_sites(home: Path) -> None:
    """At start the demo lists every site for its site server (the down one answering 503) and moves every
    demo monitor onto it (HTTPS) and every site's prod environment (plain HTTP, what link scans and Lighthouse
    load); a second start on other ports moves them again. Every move is audited, by "demo"."""
    with_contract = Site.objects.filter(client__contracts__isnull=False).distinct()
    for port, http_port in ((45001, 45101), (45002, 45102)):
        local = local_sites.prepare(Path(home), port, http_port)
        served = json.loads(local.pages.read_text())
        assert set(served) == {local_sites.host_of(site.url) for site in with_contract}
        assert {host: page["status"] for host, page in served.items() if page["status"] != 200} == {
            "blog.trailhead.test": 503
        }
        # One broken link in the whole demo, on the web shop; the bakery's order form (a key page) is served.
        assert {host: page["broken"] for host, page in served.items() if "broken" in page} == {
            "shop.trailhead.test": "size-guide/"
        }
        assert served["brot-und-butter.test"]["pages"] == {
            "about/": "About us", "contact/": "Contact", "bestellen/": "Order form"
        }  # fmt: skip
        for monitor in Monitor.objects.select_related("site"):
            expected = (
                f"127.0.0.1:{port}"
                if monitor.kind == "tls"
                else f"https://127.0.0.1:{port}/{local_sites.host_of(monitor.site.url)}/"
            )
            assert monitor.url == expected
        for site in with_contract:
            local_copy = f"http://127.0.0.1:{http_port}/{local_sites.host_of(site.url)}/"
            assert site.environments.get(kind="prod").url == local_copy
            assert linkscan.start_url(site) == local_copy
            assert performance.base_url(site) == local_copy.rstrip("/")
        assert local.tls.ca.exists()
        assert local.tls.key.stat().st_mode & 0o077 == 0
        # The bakery's Lighthouse history follows its address: its card still shows the 48-point drop.
        bakery = Site.objects.get(url=BAKERY)
        card = portal_cards.lighthouse_scores(bakery, timezone.now())
        assert card is not None, "the bakery's seeded Lighthouse months must follow its local address"
        here = f"http://127.0.0.1:{http_port}/brot-und-butter.test/"
        assert not LighthouseResult.objects.filter(site=bakery).exclude(url__startswith=here).exists()
    moved = AuditEntry.objects.filter(actor_label="demo", action="update", model="contracts.Environment")
    assert moved.count() >= 2 * with_contract.count(), "each move of a prod environment is audited"
    # The client still sees the site's own address; the next start's seed finds the contract file's state.
    assert all(site.url.endswith(".test") for site in with_contract)
    local_sites.restore()
    assert {env.url for env in Environment.objects.filter(kind="prod", site__in=with_contract)} == {
        site.url for site in with_contract
    }
    bakery = Site.objects.get(url=BAKERY)
    assert set(LighthouseResult.objects.filter(site=bakery).values_list("url", flat=True)) == {
        f"{BAKERY}/",
        f"{BAKERY}/bestellen/",
    }  # back on the site's own address with the environment
    local_sites.prepare(Path(home), 45003, 45103)


@contextmanager
def demo_site_server(home: Path) -> Iterator[local_sites.LocalSites]:
    """The real site server of the demo (both ports), with the monitors and environments pointed at it."""
    port, http_port = free_port(), free_port()
    local = local_sites.prepare(home, port, http_port)
    argv = [sys.executable, "-m", "sitekeeper.demo.sites", "--bind", f"127.0.0.1:{port}",
            "--http-bind", f"127.0.0.1:{http_port}", "--pages", str(local.pages),
            "--tls", str(local.tls.ca.parent)]  # fmt: skip
    server = subprocess.Popen(dies_with_us(argv), start_new_session=True)
    try:
        for each in (port, http_port):
            wait_until(
                functools.partial(listening, each), f"demo sites on {each}", seconds=ready_seconds(),
                process=server,
            )  # fmt: skip
        yield local
    finally:
        server.terminate()
        server.wait(timeout=30)


def unavailable(message: str) -> None:
    """Skip the test, or fail it under SITEKEEPER_REQUIRE_ALL=1 (CI), where a missing program is an error."""
    if os.environ.get("SITEKEEPER_REQUIRE_ALL") == "1":
        pytest.fail(f"{message}; SITEKEEPER_REQUIRE_ALL=1 forbids skipping", pytrace=False)
    pytest.skip(message)


def assert_scan_now_and_lighthouse_measure_the_local_sites(home: Path) -> str:
    """ "Scan now" on the demo: the health app's own scan of the web shop's prod environment (the local copy)
    crawls its pages and finds the one broken link, a 404; the brand site next to it has none. "Run
    Lighthouse" on the brand site measures its local copy. Returns why Lighthouse could not run ("" when
    it ran), for the caller to skip (or fail, under SITEKEEPER_REQUIRE_ALL=1) once everything else passed."""
    engineer = User.objects.get(username="engineer")
    with demo_site_server(home) as local:
        shop = Site.objects.get(url="https://shop.trailhead.test")
        queued = linkscan.request_scan(shop, engineer)
        assert queued.start_url == f"http://127.0.0.1:{local.http_port}/shop.trailhead.test/"
        scan = linkscan.execute(queued)  # what the worker's task does with the queued scan
        assert scan.status == "succeeded", (scan.status, scan.error)
        broken = list(scan.defects.values_list("url", "status_code"))
        assert broken == [(f"{queued.start_url}size-guide/", 404)], broken
        assert scan.pages >= 3, "home, About us and Contact were read"
        brand = linkscan.run_scan(Site.objects.get(url="https://www.trailhead.test"), user=engineer)
        assert (brand.status, brand.defects.count()) == ("succeeded", 0), brand.error
        try:
            lighthouse.find_binary()
            lighthouse.find_chrome()
        except MissingProgramError as missing:
            return str(missing)
        queued = performance.request_audit(Site.objects.get(url="https://www.trailhead.test"), engineer)
        queued.runs = 1  # one run of one form factor keeps the test short; the worker's task otherwise
        queued.save(update_fields=["runs"])
        audit = performance.execute(queued, form_factors=("mobile",))
        assert audit.status == "succeeded", audit.error
        result = audit.results.get()
        assert result.url == f"http://127.0.0.1:{local.http_port}/www.trailhead.test/"
        assert result.performance is not None
        assert result.performance >= 90, "the demo's pages are light"
    return ""


def assert_portal_uptime_is_the_uptime_pages() -> None:
    """The uptime a client's home card shows for a site is the figure of that site's uptime page — for the
    bakery (a month with outages, some excluded) and for the outfitters' site that is down now."""
    for username, url in (("bakery-owner", "https://brot-und-butter.test"), ("outdoor-owner", DOWN_URL)):
        site = Site.objects.get(url=url)
        http = DjangoClient()
        http.force_login(User.objects.get(username=username))
        home = http.get("/portal/")
        assert home.status_code == 200
        card = re.search(
            rf'data-site="{site.pk}".*?data-part="uptime">.*?<strong>([0-9.]+) %</strong>', home.text, re.S
        )
        assert card, home.text
        page = http.get(f"/portal/sites/{site.pk}/uptime/")
        figure = re.search(r"<small>Uptime</small><b>([0-9.]+) %</b>", page.text)
        assert figure, page.text
        now = timezone.now()
        expected = str(month_figures(site, now.year, now.month, now=now).uptime_decimal)
        assert card.group(1) == figure.group(1) == expected, username


def test_demo_runs_its_sites_and_the_probe_by_default():
    """`sitekeeper demo` runs four programs: the sites first, then web, worker and the probe, which trusts the
    sites' certificate authority; --no-probe leaves only the probe out."""
    sites = demo_run.SiteServer(
        "127.0.0.1:9001", Path("/d/served.json"), Path("/d/tls"), Path("/d/tls/ca.pem"), "127.0.0.1:9002"
    )
    parts = demo_run.components("127.0.0.1:8000", sites=sites)
    assert [part.name for part in parts] == ["demo sites", "web server", "worker", "probe location demo"]
    assert parts[0].argv[1:3] == ["-m", "sitekeeper.demo.sites"]
    assert parts[0].argv[-2:] == ["--http-bind", "127.0.0.1:9002"]  # link scans and Lighthouse load these
    assert parts[0].serves == "127.0.0.1:9001"
    assert parts[-1].argv[-3:] == ["probe", "--location", "demo"]
    assert parts[-1].env == {"SITEKEEPER_PROBE_CA_FILE": "/d/tls/ca.pem"}
    without = demo_run.components("127.0.0.1:8000", probe=False, sites=sites)
    assert [part.name for part in without] == ["demo sites", "web server", "worker"]
    parser = DemoCommand().create_parser("sitekeeper", "demo")
    assert parser.parse_args([]).probe is True
    assert parser.parse_args(["--no-probe"]).probe is False


def test_demo_site_server_answers_the_probe_checks(tmp_path: Path):
    """The real program on two loopback ports: each listed site's page (its name for the keyword), the down
    one 503, anything else 404; the probe's own HTTP and certificate checks pass with the demo CA trusted; the
    same pages over plain HTTP on the second port."""
    tls = demo_sites.ensure_tls(tmp_path / "tls")
    pages = tmp_path / "served.json"
    pages.write_text(
        json.dumps({"a.test": {"name": "Shop A", "status": 200}, "b.test": {"name": "B", "status": 503}})
    )
    port, http_port = free_port(), free_port()
    argv = [sys.executable, "-m", "sitekeeper.demo.sites", "--bind", f"127.0.0.1:{port}",
            "--http-bind", f"127.0.0.1:{http_port}", "--pages", str(pages),
            "--tls", str(tmp_path / "tls")]  # fmt: skip
    server = subprocess.Popen(dies_with_us(argv), start_new_session=True)
    try:
        wait_until(lambda: listening(port), f"demo sites on {port}", seconds=ready_seconds(), process=server)
        wait_until(lambda: listening(http_port), "their HTTP port", seconds=ready_seconds(), process=server)
        plain = httpx.get(f"http://127.0.0.1:{http_port}/a.test/", timeout=10)
        assert (plain.status_code, "<title>Shop A</title>" in plain.text) == (200, True)
        assert httpx.get(f"http://127.0.0.1:{http_port}/b.test/", timeout=10).status_code == 503
        trust = ssl.create_default_context(cafile=str(tls.ca))

        async def check(kind: str, url: str, keyword: str = "") -> CheckOutcome:
            async with sk_http.async_client(verify=trust) as client:
                return await run_check(CheckSpec(kind=kind, url=url, keyword=keyword), client, trust)

        base = f"https://127.0.0.1:{port}"
        shop = asyncio.run(check("http", f"{base}/a.test/", keyword="Shop A"))
        assert (shop.ok, shop.status_code) == (True, 200), shop
        down = asyncio.run(check("http", f"{base}/b.test/"))
        assert (down.ok, down.status_code, down.priority) == (False, 503, "P1"), down
        assert asyncio.run(check("http", f"{base}/elsewhere.test/")).status_code == 404
        assert asyncio.run(check("http", f"{base}/", keyword='href="/b.test/"')).ok
        cert = asyncio.run(check("tls", f"127.0.0.1:{port}"))
        assert cert.ok, cert
        left = cert.cert_expires_at - timezone.now()
        assert dt.timedelta(days=demo_sites.CERT_DAYS - 1) < left <= dt.timedelta(days=demo_sites.CERT_DAYS)
        # Without the demo CA the certificate is refused, as it should be: nothing trusts it by accident.
        assert not asyncio.run(
            run_check(CheckSpec(kind="tls", url=f"127.0.0.1:{port}"), sk_http.async_client())
        ).ok
    finally:
        server.terminate()
        server.wait(timeout=30)
    # The files are reused while the certificate has more than RENEW_DAYS left.
    assert demo_sites.ensure_tls(tmp_path / "tls").cert.read_bytes() == tls.cert.read_bytes()


def test_demo_site_ports_are_kept_from_start_to_start(tmp_path: Path):
    """The site server's two ports are the previous start's while they are free (the environments' addresses,
    and the link scans' and Lighthouse's page series, stay the same); new ones when one is taken."""
    first = local_sites.ports(tmp_path)
    assert first[0] != first[1]
    assert local_sites.ports(tmp_path) == first
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", first[1]))
        taken.listen()
        moved = local_sites.ports(tmp_path)
    assert first[1] not in moved
    assert moved[0] != moved[1]
    assert local_sites.ports(tmp_path) == moved


def test_demo_site_pages_link_each_other_and_one_link_is_broken():
    """A demo site: home, its pages and its broken link in every page's navigation; the pages answer 200, the
    broken link and unknown pages 404, a site that is down answers its status on every path."""
    listing = {
        "shop.test": {"name": "Web shop", "status": 200, "pages": {"about/": "About us"},
                      "broken": "size-guide/", "broken_title": "Size guide"},
        "down.test": {"name": "Down", "status": 503, "pages": {"about/": "About us"}},
    }  # fmt: skip
    status, home = demo_sites.answer(listing, "/shop.test/")
    assert status == 200
    assert re.findall(r'<a href="([^"]+)"', home) == [
        "/shop.test/",
        "/shop.test/about/",
        "/shop.test/size-guide/",
    ]
    for part in ('<html lang="en">', 'name="viewport"', 'name="description"'):  # what Lighthouse checks
        assert part in home
    status, about = demo_sites.answer(listing, "/shop.test/about/?utm=x")
    assert (status, "<title>About us · Web shop</title>" in about) == (200, True)
    assert demo_sites.answer(listing, "/shop.test/size-guide/")[0] == 404
    assert demo_sites.answer(listing, "/shop.test/nowhere/")[0] == 404
    assert demo_sites.answer(listing, "/elsewhere.test/")[0] == 404
    assert demo_sites.answer(listing, "/down.test/about/")[0] == 503
    assert demo_sites.answer(listing, "/")[0] == 200


def _login(http: httpx.Client, username: str) -> httpx.Response:
    page = http.get("/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token, "login form has a CSRF token"
    return http.post(
        "/login/",
        data={"username": username, "password": DEMO_PASSWORD, "csrfmiddlewaretoken": token.group(1)},
        headers={"Referer": f"{http.base_url}login/"},
    )


@pytest.mark.slow
def test_demo_serves_and_staff_and_client_logins_work(tmp_path: Path):
    port = free_port()
    env = {**os.environ, "SITEKEEPER_HOME": str(tmp_path / "home")}
    env.pop("SITEKEEPER_DATABASE_URL", None)
    sitekeeper = Path(sys.executable).with_name("sitekeeper")
    # Its output goes to a file, not a pipe: a pipe nobody reads until the end fills up (64 KiB) and would
    # stop the demo mid-way. The demo dies with this test process if pytest is killed.
    log = tmp_path / "demo.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            dies_with_us([str(sitekeeper), "demo", "--bind", f"127.0.0.1:{port}"]),
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"

    def serving() -> bool:
        try:
            return httpx.get(f"{base}/login/", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        # Generous: the demo migrates, backs up with restic, crawls and runs releases before it serves; on a
        # busy 2-core machine that took 119 s. A demo that died is reported at once with its output.
        wait_until(
            serving,
            f"sitekeeper demo serving {base}/login/",
            seconds=max(600, ready_seconds()),
            log=log,
            process=proc,
            interval=0.5,
        )
        with httpx.Client(base_url=base, follow_redirects=True, timeout=10) as http:
            staff = _login(http, "engineer")
            assert staff.status_code == 200
            assert "/staff/" in str(staff.url)
            assert "Trailhead Outfitters" in http.get("/staff/clients/").text
        with httpx.Client(base_url=base, follow_redirects=True, timeout=10) as http:
            portal = _login(http, "outdoor-owner")
            assert portal.status_code == 200
            assert "/portal/" in str(portal.url)
            assert "Trailhead Outfitters" in portal.text
            assert "Business" in portal.text
            assert "Stadtmuseum Nord" not in portal.text
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=ready_seconds())
    output = log.read_text()
    assert "bakery-owner" in output, output


def _children(pid: int) -> dict[int, str]:
    """The demo's child processes: pid → command line (from /proc, Linux)."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # it ended while we looked
            continue
        # Field 4 is the parent's pid; the command name (field 2) may hold spaces, so split after its ")".
        if int(stat.rpartition(")")[2].split()[1]) == pid:
            found[int(entry.name)] = " ".join(part.decode() for part in argv if part)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has stopped; only its exit status is left to collect


def _count(database: Path, sql: str) -> int:
    with closing(sqlite3.connect(database, timeout=30)) as db:
        return db.execute(sql).fetchone()[0]


@pytest.mark.slow
def test_demo_runs_web_worker_and_probe_and_one_sigint_stops_them_all(tmp_path: Path):
    """Issue 15, item 5: "Back up now" is done by the demo's own worker, its probe (on by default) records
    checks of the demo's own sites — the down one still down, the others up — and one SIGINT to
    `sitekeeper demo` leaves no process behind."""
    port = free_port()
    home = tmp_path / "home"
    env = {**os.environ, "SITEKEEPER_HOME": str(home)}
    env.pop("SITEKEEPER_DATABASE_URL", None)  # the fresh clone's database: SQLite in SITEKEEPER_HOME
    sitekeeper = Path(sys.executable).with_name("sitekeeper")
    log = tmp_path / "demo.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            dies_with_us([str(sitekeeper), "demo", "--bind", f"127.0.0.1:{port}"]),
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    database = home / "sitekeeper.sqlite3"
    children: dict[int, str] = {}
    try:
        wait_until(
            lambda: "All running" in log.read_text(),
            f"sitekeeper demo running web, worker and probe on {base}",
            seconds=max(600, ready_seconds()),
            log=log,
            process=proc,
            interval=0.5,
        )
        children = _children(proc.pid)
        commands = sorted(children.values())
        assert len(children) == 4, commands
        assert any("-m sitekeeper.demo.sites --bind 127.0.0.1:" in c for c in commands), commands
        assert any(f"serve --bind 127.0.0.1:{port}" in c for c in commands), commands
        assert any(c.endswith("sitekeeper worker") for c in commands), commands
        assert any("probe --location demo" in c for c in commands), commands
        output = log.read_text()
        assert f"web on {base}/" in output, output
        assert "E-mail: printed to this terminal" in output, output

        # "Back up now" from the staff console: queued by the web server, done by the worker.
        bakery = _count(database, "SELECT id FROM contracts_site WHERE url = 'https://brot-und-butter.test'")
        manual = "SELECT count(*) FROM backups_backuprun WHERE trigger = 'manual' AND status = 'succeeded'"
        assert _count(database, manual) == 0
        with httpx.Client(base_url=base, follow_redirects=True, timeout=30) as http:
            assert "/staff/" in str(_login(http, "engineer").url)
            page = http.get(f"/staff/backups/site/{bakery}/")
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
            assert token, page.text
            queued = http.post(
                f"/staff/backups/site/{bakery}/backup/",
                data={"layer": "data", "csrfmiddlewaretoken": token.group(1)},
                headers={"Referer": f"{base}/staff/backups/site/{bakery}/"},
            )
            assert "backup queued" in queued.text, queued.text
        wait_until(
            lambda: _count(database, manual) == 1,
            "the demo's worker finishing the queued backup",
            seconds=max(180, ready_seconds()),
            log=log,
            process=proc,
            interval=0.5,
        )
        # The demo's probe location checks every monitor against the demo's sites and records what it found:
        # every site answers but the one that is down, which stays down with its one open outage.
        monitors = _count(database, "SELECT count(*) FROM monitoring_monitor")
        checks = "SELECT count(DISTINCT monitor_id) FROM monitoring_checkresult WHERE location = 'demo'"
        wait_until(
            lambda: _count(database, checks) == monitors,
            "the demo's probe recording a check",
            seconds=max(180, ready_seconds()),
            log=log,
            process=proc,
            interval=0.5,
        )
        failing = (
            "SELECT count(*) FROM monitoring_checkresult c JOIN monitoring_monitor m ON m.id = c.monitor_id "
        )
        down = f"{failing} JOIN contracts_site s ON s.id = m.site_id WHERE c.location = 'demo' AND NOT c.ok"
        assert _count(database, down) == _count(database, f"{down} AND s.url = '{DOWN_URL}'") > 0
        assert _count(database, "SELECT count(*) FROM monitoring_monitor WHERE state = 'down'") == 1
        assert _count(database, 'SELECT count(*) FROM monitoring_outage WHERE "end" IS NULL') == 1
        assert all(_alive(pid) for pid in children), "no component died while the demo ran"
    finally:
        # Like `kill -INT`: the signal goes to the demo alone, which must stop its children itself.
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGINT)
        try:
            status = proc.wait(timeout=max(60, ready_seconds()))
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    assert status == 0, log.read_text()
    assert not [pid for pid in children if _alive(pid)], f"left running: {children}{log.read_text()}"
    assert "SIGINT: stopping demo sites, web server, worker, probe location demo" in log.read_text()


def test_demo_names_a_component_that_dies_and_stops_the_others(monkeypatch):
    """A child that exits while the demo runs: the demo says which, stops the rest and exits non-zero."""
    port = free_port()
    bind = f"127.0.0.1:{port}"
    web = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)]
    worker = [sys.executable, "-c", "import time; time.sleep(120)"]
    dying = [sys.executable, "-c", "import time; time.sleep(1); raise SystemExit(3)"]
    parts = [
        demo_run.Component("web server", web, serves=bind),
        demo_run.Component("worker", worker),
        demo_run.Component("probe location demo", dying),
    ]
    monkeypatch.setattr(demo_run, "components", lambda _bind, _probe, _sites: parts)
    lines: list[str] = []
    status = demo_run.run(bind, say=lines.append, started=0.0)
    assert status == 1
    assert f"web on http://{bind}/" in lines
    assert "The probe location demo stopped (exited with status 3); stopping the others." in lines
    assert all(part.process is not None and part.process.poll() is not None for part in parts), lines
    assert not listening(port), "the web server was stopped"


def test_demo_refuses_a_malformed_bind_before_it_migrates():
    expected = r"--bind: expected HOST:PORT such as 127\.0\.0\.1:8000, got '8080'"
    with pytest.raises(CommandError, match=expected):
        call_command("demo", bind="8080")
