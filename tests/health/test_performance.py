"""Performance audits on the Django side, with a stand-in `lighthouse` program (a real subprocess writing the
trimmed real report from tests/health/data with the scores the test sets) so these tests need no browser:
targets and results, the median of runs, idempotent slots, errors, the 2.1 regression P2 across calendar
months (time-machine, contract time zone), retention, trend, the monthly summary, the CLI, the staff and
portal pages and the API with their scoping. The real Lighthouse runs in test_performance_wordpress.py."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import sys
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client as HttpClient

from sitekeeper import jobs
from sitekeeper.access.models import AuditEntry
from sitekeeper.desk.models import Message as DeskMessage
from sitekeeper.desk.models import Ticket
from sitekeeper.health import performance, views_performance
from sitekeeper.health.models import HealthConfig, JobStatus, KeyPage, LighthouseResult, PerformanceAudit
from sitekeeper.notify.models import Delivery
from sitekeeper.security.models import Finding, FindingKind, FindingStatus
from tests.health.perf_urls import API
from tests.http_clients import api

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.health.perf_urls")]

DATA = Path(__file__).parent / "data"

FAKE = r'''#!PYTHON
"""Stand-in for npm lighthouse: writes the stored real report with the scores from scores.json."""
import json, sys
from pathlib import Path

here = Path(__file__).parent
args = sys.argv[1:]
url = args[0]
form_factor = "desktop" if "--preset=desktop" in args else "mobile"
output = Path(next(a for a in args if a.startswith("--output-path=")).split("=", 1)[1])
with open(here / "calls.log", "a") as log:
    log.write(f"{form_factor} {url}\n")
if "/broken/" in url:
    output.write_text((here / "error.json").read_text())
    sys.exit(1)
if "/crash/" in url:
    print("Unable to connect to Chrome", file=sys.stderr)
    sys.exit(1)
config = json.loads((here / "scores.json").read_text())
scores = config.get(form_factor, 90)
if isinstance(scores, list):  # one per run, in turn
    calls = sum(1 for line in (here / "calls.log").read_text().splitlines() if line.startswith(form_factor))
    scores = scores[(calls - 1) % len(scores)]
report = json.loads((here / "report.json").read_text())
report["requestedUrl"] = report["finalDisplayedUrl"] = url
report["configSettings"]["formFactor"] = form_factor
report["categories"]["performance"]["score"] = scores / 100
report["audits"]["largest-contentful-paint"]["numericValue"] = 100 * (100 - scores) + 500
output.write_text(json.dumps(report))
'''


class FakeLighthouse:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir()
        self.program = folder / "lighthouse"
        self.program.write_text(FAKE.replace("PYTHON", sys.executable, 1))
        self.program.chmod(0o755)
        (folder / "report.json").write_bytes((DATA / "lighthouse-mobile.json").read_bytes())
        (folder / "error.json").write_bytes((DATA / "lighthouse-error.json").read_bytes())
        self.scores(mobile=90, desktop=98)

    def scores(self, **by_form_factor: int | list[int]) -> None:
        (self.folder / "scores.json").write_text(json.dumps(by_form_factor))
        (self.folder / "calls.log").write_text("")

    def calls(self) -> list[str]:
        return (self.folder / "calls.log").read_text().splitlines()


@pytest.fixture
def fake(tmp_path: Path, settings: Any) -> FakeLighthouse:
    lighthouse = FakeLighthouse(tmp_path / "fake-lighthouse")
    settings.SITEKEEPER_LIGHTHOUSE = str(lighthouse.program)
    settings.SITEKEEPER_CHROME = "/bin/true"  # never started by the stand-in
    return lighthouse


@pytest.fixture
def site(acme: Any) -> Any:
    return acme.sites.get()


def audit(site: Any, at: dt.datetime, runs: int = 1, slot: str | None = None) -> PerformanceAudit:
    with time_machine.travel(at, tick=False):
        return performance.run_audit(site, slot=slot or f"test-{at:%Y%m%d%H%M}", runs=runs)


# -- running an audit ------------------------------------------------------------------------------------
def test_a_site_without_key_pages_has_its_home_page_audited_mobile_and_desktop(site, fake):
    done = performance.run_audit(site, slot="s1", runs=1)
    assert done.status == JobStatus.SUCCEEDED
    assert done.lighthouse_version == "12.8.2"
    results = list(done.results.order_by("form_factor"))
    assert [(r.url, r.form_factor, r.performance) for r in results] == [
        ("https://acme.test/", "desktop", 98),
        ("https://acme.test/", "mobile", 90),
    ]
    mobile = results[1]
    assert (mobile.accessibility, mobile.best_practices, mobile.seo) == (84, 96, 82)
    assert (mobile.lcp_ms, mobile.tbt_ms, mobile.ttfb_ms, mobile.page_weight_bytes) == (1500, 0, 6, 1334)
    assert mobile.cls == Decimal("0.000")
    assert mobile.page is None
    report = json.loads(gzip.decompress(bytes(mobile.report_gz)))
    assert report["requestedUrl"] == "https://acme.test/"
    assert done.progress["index"] == done.progress["of"] == 2
    assert fake.calls() == ["mobile https://acme.test/", "desktop https://acme.test/"]


def test_key_pages_with_lighthouse_are_audited_against_their_budget(site, fake):
    KeyPage.objects.create(site=site, path="/", label="Home", kind="home", budget={"performance": 95})
    KeyPage.objects.create(site=site, path="/contact/", label="Contact", kind="form", lighthouse=False)
    KeyPage.objects.create(site=site, path="/shop/", label="Shop", kind="cart", budget={"lcp_ms": 1000},
                           position=1)  # fmt: skip
    fake.scores(mobile=90, desktop=99)
    done = performance.run_audit(site, slot="s1", runs=1)
    rows = {(r.page.label, r.form_factor): r for r in done.results.select_related("page")}
    assert set(rows) == {("Home", "mobile"), ("Home", "desktop"), ("Shop", "mobile"), ("Shop", "desktop")}
    assert rows["Home", "mobile"].over_budget == [{"metric": "performance", "limit": 95, "actual": 90}]
    assert rows["Home", "desktop"].over_budget == []
    assert rows["Shop", "mobile"].over_budget == [{"metric": "lcp_ms", "limit": 1000, "actual": 1500}]
    assert rows["Shop", "mobile"].url == "https://acme.test/shop/"


def test_the_median_of_three_runs_is_stored_with_every_runs_score(site, fake):
    HealthConfig.objects.create(site=site, lighthouse_runs=3)
    fake.scores(mobile=[70, 95, 88], desktop=[99, 99, 99])
    done = performance.run_audit(site, slot="s1")
    assert done.runs == 3
    mobile = done.results.get(form_factor="mobile")
    assert mobile.run_scores == [70, 95, 88]
    assert mobile.performance == 88
    assert mobile.lcp_ms == 100 * 12 + 500  # the median run's metrics
    assert len(fake.calls()) == 6


def test_the_same_slot_runs_once(site, fake):
    first = performance.run_audit(site, slot="2026-11", runs=1)
    again = performance.run_audit(site, slot="2026-11", runs=1)
    assert again.pk == first.pk
    assert LighthouseResult.objects.count() == 2
    assert len(fake.calls()) == 2


def test_a_running_audit_is_not_taken_twice_but_a_dead_one_is(site, fake):
    queued = performance.request_audit(site, None)
    assert queued.status == JobStatus.QUEUED
    future = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    PerformanceAudit.objects.filter(pk=queued.pk).update(status=JobStatus.RUNNING, lease_until=future,
                                                          owner="elsewhere:1")  # fmt: skip
    queued.refresh_from_db()
    assert performance.execute(queued).status == JobStatus.RUNNING
    assert fake.calls() == []
    PerformanceAudit.objects.filter(pk=queued.pk).update(lease_until=dt.datetime.now(dt.UTC))
    queued.refresh_from_db()
    assert performance.execute(queued).status == JobStatus.SUCCEEDED


def test_an_audit_taken_over_by_another_worker_stops_before_its_next_run(site, fake, monkeypatch):
    """This worker stalled past its lease after the first Lighthouse run and another one took the audit
    over: the lease renewal before the next run says so, and this worker stops without storing or ending
    anything."""
    queued = performance.request_audit(site, None)
    renew = jobs.heartbeat
    renewals = []

    def stalled(kind: jobs.Kind, pk: int, **kwargs: Any) -> bool:
        renewals.append(pk)
        if len(renewals) == 2:
            PerformanceAudit.objects.filter(pk=pk).update(owner="worker-2:1")
        return renew(kind, pk, **kwargs)

    monkeypatch.setattr(jobs, "heartbeat", stalled)
    done = performance.execute(queued)
    assert (done.status, done.owner, done.finished_at) == (JobStatus.RUNNING, "worker-2:1", None)
    assert len(fake.calls()) == 1
    assert not done.results.exists()


def test_a_page_that_cannot_be_measured_is_recorded_and_the_others_go_on(site, fake):
    KeyPage.objects.create(site=site, path="/", label="Home")
    KeyPage.objects.create(site=site, path="/broken/", label="Broken", position=1)
    KeyPage.objects.create(site=site, path="/crash/", label="Crash", position=2)
    done = performance.run_audit(site, slot="s1", runs=3)
    assert done.status == JobStatus.SUCCEEDED
    broken = done.results.filter(url__endswith="/broken/")
    assert {r.performance for r in broken} == {None}
    assert all("interstitial" in r.error for r in broken)
    crashed = done.results.filter(url__endswith="/crash/")
    assert all("Unable to connect to Chrome" in r.error for r in crashed)
    assert "/broken/" in done.error
    assert "/crash/" in done.error
    # a page that did not load is not run again for the median; the crash raised on its first run
    assert sum(1 for call in fake.calls() if "/broken/" in call) == 2
    assert done.results.filter(url="https://acme.test/", performance__isnull=False).count() == 2


def test_nothing_measured_fails_the_audit(site, fake):
    KeyPage.objects.create(site=site, path="/broken/", label="Broken")
    assert performance.run_audit(site, slot="s1", runs=1).status == JobStatus.FAILED


def test_a_missing_lighthouse_fails_the_audit_naming_what_to_install(site, settings):
    settings.SITEKEEPER_LIGHTHOUSE = "/nonexistent/lighthouse"
    done = performance.run_audit(site, slot="s1", runs=1)
    assert done.status == JobStatus.FAILED
    assert "npm install" in done.error
    assert "chromium" in done.error


# -- the 2.1 regression P2 -------------------------------------------------------------------------------
def p2_tickets() -> list[Ticket]:
    return list(Ticket.objects.filter(priority="P2", type="incident"))


def test_a_drop_of_more_than_40_points_below_last_months_median_opens_one_p2(site, fake, admin):
    fake.scores(mobile=[97, 99, 98], desktop=99)
    for day in (5, 12, 19):
        audit(site, dt.datetime(2026, 10, day, 4, tzinfo=dt.UTC))
    assert p2_tickets() == []
    fake.scores(mobile=56, desktop=98)  # 98 - 56 = 42 > 40
    november = audit(site, dt.datetime(2026, 11, 3, 4, tzinfo=dt.UTC))
    [ticket] = p2_tickets()
    mobile = november.results.get(form_factor="mobile")
    assert mobile.ticket == ticket
    assert november.results.get(form_factor="desktop").ticket is None
    assert ticket.site == site
    assert "dropped 42 points" in ticket.subject
    assert ticket.received_at == mobile.measured_at
    finding = Finding.objects.get(kind=FindingKind.PERFORMANCE)
    assert finding.ticket == ticket
    assert finding.details["baseline"] == 98
    # Worse again in the same month: the month's P2 exists, no second one.
    fake.scores(mobile=30, desktop=98)
    audit(site, dt.datetime(2026, 11, 20, 4, tzinfo=dt.UTC))
    assert len(p2_tickets()) == 1


def test_a_drop_detected_twice_opens_one_request_and_tells_once(site, fake, admin):
    """The month's regression finding is the incident's episode: detecting the drop again (a retry, or a
    second audit that saw it at the same moment) returns the request already open and tells nobody again."""
    fake.scores(mobile=98, desktop=98)
    audit(site, dt.datetime(2026, 10, 5, 4, tzinfo=dt.UTC))
    fake.scores(mobile=50, desktop=98)
    november = audit(site, dt.datetime(2026, 11, 3, 4, tzinfo=dt.UTC))
    [ticket] = p2_tickets()
    finding = Finding.objects.get(kind=FindingKind.PERFORMANCE)
    mobile = november.results.get(form_factor="mobile")
    told = Delivery.objects.filter(key=f"performance:{finding.pk}")
    assert told.count() == 1
    assert performance._open_ticket(finding, mobile, 48, "Home (implicit)") == ticket
    assert p2_tickets() == [ticket]
    assert told.count() == 1
    assert ticket.detection_key == f"performance:{finding.pk}"
    assert ticket.subject == "Performance: Home (implicit) (mobile) dropped 48 points"
    assert ticket.steps == (
        "Found by sitekeeper's Lighthouse audit (agreement 2.1); see the site's performance page."
    )
    note = DeskMessage.objects.get(ticket=ticket, kind=DeskMessage.Kind.NOTE)
    assert note.body == f"Finding #{finding.pk}; Lighthouse result #{mobile.pk} of audit #{november.pk}."
    assert (
        told.get().message["subject"]
        == f"[P2] Performance drop: {site} — Home (implicit) (mobile) −48 points"
    )


def test_exactly_40_points_is_not_a_drop(site, fake):
    fake.scores(mobile=90, desktop=90)
    audit(site, dt.datetime(2026, 10, 5, tzinfo=dt.UTC))
    fake.scores(mobile=50, desktop=90)
    audit(site, dt.datetime(2026, 11, 5, tzinfo=dt.UTC))
    assert p2_tickets() == []


def test_the_allowance_is_the_sites_setting(site, fake):
    HealthConfig.objects.create(site=site, drop_points=10)
    fake.scores(mobile=90, desktop=90)
    audit(site, dt.datetime(2026, 10, 5, tzinfo=dt.UTC))
    fake.scores(mobile=79, desktop=90)
    audit(site, dt.datetime(2026, 11, 5, tzinfo=dt.UTC))
    assert len(p2_tickets()) == 1


def test_only_the_previous_calendar_month_counts_in_the_contracts_time_zone(site, fake):
    fake.scores(mobile=99, desktop=99)
    # 30 Sep 23:30 UTC is 1 Oct 01:30 in Berlin (summer time): an October result.
    audit(site, dt.datetime(2026, 9, 30, 23, 30, tzinfo=dt.UTC))
    fake.scores(mobile=20, desktop=99)
    # 31 Oct 23:30 UTC is 1 Nov 00:30 in Berlin: compared with October (99), a drop.
    audit(site, dt.datetime(2026, 10, 31, 23, 30, tzinfo=dt.UTC))
    assert len(p2_tickets()) == 1
    finding = Finding.objects.get()
    assert finding.details["month"] == "2026-11"


def test_no_results_last_month_means_no_baseline(site, fake):
    fake.scores(mobile=99, desktop=99)
    audit(site, dt.datetime(2026, 9, 10, tzinfo=dt.UTC))
    fake.scores(mobile=10, desktop=10)
    audit(site, dt.datetime(2026, 11, 10, tzinfo=dt.UTC))  # October has nothing to compare with
    assert p2_tickets() == []


def test_a_regression_is_resolved_once_the_score_is_back(site, fake):
    fake.scores(mobile=95, desktop=95)
    audit(site, dt.datetime(2026, 10, 5, tzinfo=dt.UTC))
    fake.scores(mobile=40, desktop=95)
    audit(site, dt.datetime(2026, 11, 5, tzinfo=dt.UTC))
    finding = Finding.objects.get(kind=FindingKind.PERFORMANCE)
    fake.scores(mobile=50, desktop=95)  # within 40 of November (40), still far below October's 95
    audit(site, dt.datetime(2026, 12, 5, tzinfo=dt.UTC))
    finding.refresh_from_db()
    assert finding.status == FindingStatus.OPEN
    fake.scores(mobile=93, desktop=95)
    audit(site, dt.datetime(2026, 12, 20, tzinfo=dt.UTC))
    finding.refresh_from_db()
    assert finding.status == FindingStatus.RESOLVED


# -- retention, trend, summary ---------------------------------------------------------------------------
def test_reports_older_than_the_retention_are_dropped_and_scores_kept(site, fake, settings):
    settings.SITEKEEPER_LIGHTHOUSE_REPORT_DAYS = 30
    audit(site, dt.datetime(2026, 9, 1, tzinfo=dt.UTC))
    audit(site, dt.datetime(2026, 10, 20, tzinfo=dt.UTC))
    now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert performance.purge_reports(now) == 2
    assert performance.purge_reports(now) == 0
    old = LighthouseResult.objects.filter(measured_at__lt=dt.datetime(2026, 10, 1, tzinfo=dt.UTC))
    assert all(r.report_gz is None and r.report_purged_at == now and r.performance for r in old)
    assert LighthouseResult.objects.filter(report_gz__isnull=False).count() == 2


def test_trend_gives_monthly_medians_with_gaps(site, fake):
    for when, score in [((2026, 8, 3), 80), ((2026, 10, 3), 90), ((2026, 10, 20), 70), ((2026, 10, 25), 60)]:
        fake.scores(mobile=score, desktop=99)
        audit(site, dt.datetime(*when, 5, tzinfo=dt.UTC))
    points = performance.trend(site, "https://acme.test/", "mobile", months=4,
                               now=dt.datetime(2026, 11, 2, tzinfo=dt.UTC))  # fmt: skip
    assert [(p["month"], p["performance"], p["count"]) for p in points] == [
        ("2026-08", 80, 1), ("2026-09", None, 0), ("2026-10", 70, 3), ("2026-11", None, 0),
    ]  # fmt: skip
    assert points[2]["accessibility"] == 84


def test_summary_for_the_monthly_report(site, fake):
    KeyPage.objects.create(site=site, path="/", label="Home", budget={"performance": 90})
    fake.scores(mobile=96, desktop=99)
    audit(site, dt.datetime(2026, 10, 5, tzinfo=dt.UTC))
    fake.scores(mobile=50, desktop=97)
    audit(site, dt.datetime(2026, 11, 5, tzinfo=dt.UTC))
    figures = performance.summary(site, dt.date(2026, 11, 1))
    assert figures["month"] == "2026-11"
    assert figures["audits"] == 1
    pages = {p["form_factor"]: p for p in figures["pages"]}
    assert pages["mobile"]["performance"] == 50
    assert pages["mobile"]["previous_performance"] == 96
    assert pages["mobile"]["change"] == -46
    assert pages["mobile"]["label"] == "Home"
    assert pages["mobile"]["over_budget"] == [{"metric": "performance", "limit": 90, "actual": 50}]
    assert figures["tickets"] == [Ticket.objects.get().reference]
    assert pages["desktop"]["tickets"] == []


# -- CLI -------------------------------------------------------------------------------------------------
def test_cli_runs_an_audit_and_prints_json(site, fake):
    out = StringIO()
    call_command("lighthouse", str(site.pk), "--runs", "1", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["status"] == "succeeded"
    assert {(r["form_factor"], r["performance"]) for r in data["results"]} == {
        ("mobile", 90),
        ("desktop", 98),
    }


def test_cli_one_form_factor(site, fake):
    out = StringIO()
    call_command("lighthouse", str(site.pk), "--runs", "1", "--form-factor", "desktop", "--json", stdout=out)
    assert [r["form_factor"] for r in json.loads(out.getvalue())["results"]] == ["desktop"]
    assert fake.calls() == ["desktop https://acme.test/"]


def test_cli_table(site, fake):
    out = StringIO()
    call_command("lighthouse", site.url, "--runs", "1", stdout=out)
    assert "mobile     90" in out.getvalue()
    assert "https://acme.test/" in out.getvalue()


# -- pages -----------------------------------------------------------------------------------------------
def login(user: Any) -> HttpClient:
    client = HttpClient()
    client.force_login(user)  # login() would need the request axes counts failures by
    return client


@pytest.fixture
def measured(site, fake) -> PerformanceAudit:
    KeyPage.objects.create(site=site, path="/", label="Home page", budget={"performance": 95})
    fake.scores(mobile=97, desktop=99)
    audit(site, dt.datetime(2026, 10, 5, tzinfo=dt.UTC))
    fake.scores(mobile=50, desktop=99)
    return audit(site, dt.datetime(2026, 11, 5, tzinfo=dt.UTC))


def test_staff_site_page_shows_scores_budget_ticket_and_trend(site, measured, engineer):
    with time_machine.travel(dt.datetime(2026, 11, 10, tzinfo=dt.UTC)):
        page = login(engineer).get(f"/staff/health/site/{site.pk}/performance/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Home page" in html
    assert "<svg" in html
    assert "point-mobile" in html
    assert "Over budget: min performance score (0-100): 50, the limit is 95" in html
    assert Ticket.objects.get().reference in html
    assert "JSON report" in html
    assert "Run a Lighthouse audit now" in html


def test_trend_svg_draws_a_point_per_month_with_a_result():
    months = [
        {"month": f"2026-{m:02d}", "performance": s, "count": 1} for m, s in [(9, 90), (10, None), (11, 40)]
    ]
    svg = str(views_performance.trend_svg({"mobile": months}))
    assert svg.count("<circle") == 2
    assert "<polyline" not in svg  # a gap between the two points: no line across it
    assert "mobile 2026-11: 40 (1 result(s))" in svg


def test_run_now_queues_an_audit_for_the_worker(
    site, engineer, monkeypatch, django_capture_on_commit_callbacks
):
    queued: list[int] = []
    monkeypatch.setattr(views_performance, "enqueue", queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        response = login(engineer).post(f"/staff/health/site/{site.pk}/performance/run/")
    audit_row = PerformanceAudit.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/staff/health/performance/{audit_row.pk}/"
    assert queued == [audit_row.pk]
    assert audit_row.status == JobStatus.QUEUED
    assert audit_row.requested_by == engineer
    assert AuditEntry.objects.filter(model="health.performanceaudit", actor=engineer).exists()
    again = login(engineer).post(f"/staff/health/site/{site.pk}/performance/run/")
    assert again.status_code == 302
    assert PerformanceAudit.objects.count() == 1  # one queued at a time


def test_audit_page_live_fragment_and_report_download(site, measured, engineer):
    client = login(engineer)
    page = client.get(f"/staff/health/performance/{measured.pk}/")
    assert page.status_code == 200
    assert "Lighthouse 12.8.2" in page.content.decode()
    result = measured.results.get(form_factor="mobile")
    report = client.get(f"/staff/health/lighthouse/{result.pk}/report.json")
    assert report.status_code == 200
    assert report["Content-Type"] == "application/json"
    assert json.loads(report.content)["lighthouseVersion"] == "12.8.2"
    live = client.get(f"/staff/health/performance/{measured.pk}/live/", headers={"HX-Request": "true"})
    assert live["HX-Refresh"] == "true"
    PerformanceAudit.objects.filter(pk=measured.pk).update(
        status=JobStatus.RUNNING,
        progress={"index": 1, "of": 2, "label": "Home page", "form_factor": "mobile", "run": 2, "runs": 3,
                  "percent": 16.7},
    )  # fmt: skip
    running = client.get(f"/staff/health/performance/{measured.pk}/live/", headers={"HX-Request": "true"})
    assert "page 1 of 2: Home page (mobile), run 2 of 3" in running.content.decode()
    assert "HX-Refresh" not in running
    LighthouseResult.objects.filter(pk=result.pk).update(report_gz=None)
    assert client.get(f"/staff/health/lighthouse/{result.pk}/report.json").status_code == 404


@pytest.mark.parametrize("persona", ["owner", "member", "outsider"])
def test_client_people_cannot_open_staff_pages(site, measured, persona, request):
    client = login(request.getfixturevalue(persona))
    result = measured.results.first()
    for url in (
        f"/staff/health/site/{site.pk}/performance/",
        f"/staff/health/performance/{measured.pk}/",
        f"/staff/health/lighthouse/{result.pk}/report.json",
        f"/staff/health/site/{site.pk}/pages/",
    ):
        assert client.get(url).status_code == 403, url  # fmt: skip
    assert client.post(f"/staff/health/site/{site.pk}/performance/run/").status_code == 403


def test_portal_shows_the_clients_own_scores_and_trend(site, measured, owner, member):
    for person in (owner, member):
        page = login(person).get(f"/portal/health/site/{site.pk}/performance/")
        assert page.status_code == 200
        html = page.content.decode()
        assert "<svg" in html
        assert "Home page" in html
        assert "JSON report" not in html
        assert "Run a Lighthouse audit now" not in html


def test_portal_is_404_for_another_clients_site_and_staff_are_sent_to_the_console(site, measured, outsider,
                                                                                   engineer):  # fmt: skip
    assert login(outsider).get(f"/portal/health/site/{site.pk}/performance/").status_code == 404
    response = login(engineer).get(f"/portal/health/site/{site.pk}/performance/")
    assert response.status_code == 302
    assert response["Location"] == f"/staff/health/site/{site.pk}/performance/"


def test_key_pages_can_be_added_edited_and_deleted(site, engineer):
    client = login(engineer)
    url = f"/staff/health/site/{site.pk}/pages/"
    assert client.get(url).status_code == 200
    added = client.post(url, {"action": "add", "new-path": "/checkout/", "new-label": "Checkout",
                              "new-kind": "cart", "new-expected_text": "Your basket", "new-lighthouse": "on",
                              "new-position": "2",
                              "new-budget_text": "performance=80\nlcp_ms = 2500.5"})  # fmt: skip
    assert added.status_code == 302
    page = KeyPage.objects.get(site=site)
    assert (page.path, page.kind, page.expected_text, page.lighthouse) == (
        "/checkout/",
        "cart",
        "Your basket",
        True,
    )
    assert page.budget == {"performance": 80, "lcp_ms": 2500.5}
    assert AuditEntry.objects.filter(model__icontains="keypage", actor=engineer).exists()
    bad = client.post(url, {"action": "add", "new-path": "checkout", "new-label": "x", "new-kind": "cart",
                            "new-position": "0", "new-budget_text": "speed=1"})  # fmt: skip
    assert bad.status_code == 200
    assert "starting with /" in bad.content.decode()
    assert "metric=limit" in bad.content.decode()
    prefix = f"p{page.pk}"
    edited = client.post(url, {"action": "edit", "page": page.pk, f"{prefix}-path": "/checkout/",
                               f"{prefix}-label": "Checkout", f"{prefix}-kind": "cart",
                               f"{prefix}-position": "0", f"{prefix}-budget_text": ""})  # fmt: skip
    assert edited.status_code == 302
    page.refresh_from_db()
    assert (page.lighthouse, page.budget) == (False, {})
    assert client.post(url, {"action": "delete", "page": page.pk}).status_code == 302
    assert not KeyPage.objects.exists()


def test_key_pages_of_another_site_are_not_reachable(site, globex, engineer):
    other = KeyPage.objects.create(site=globex.sites.get(), path="/", label="Home")
    response = login(engineer).post(
        f"/staff/health/site/{site.pk}/pages/", {"action": "delete", "page": other.pk}
    )
    assert response.status_code == 404
    assert KeyPage.objects.filter(pk=other.pk).exists()


# -- API -------------------------------------------------------------------------------------------------
def test_api_results_trend_and_audit_for_staff(site, measured, engineer):
    client = api(engineer)
    rows = client.get(f"{API}/sites/{site.pk}/results", {"form_factor": "mobile"}).json()
    assert [r["performance"] for r in rows] == [50, 97]
    assert rows[0]["ticket"] == Ticket.objects.get().reference
    assert rows[0]["over_budget"] == [{"metric": "performance", "limit": 95.0, "actual": 50.0}]
    assert rows[0]["page"] == "Home page"
    assert rows[0]["error"] is None
    trend = client.get(f"{API}/sites/{site.pk}/trend", {"url": "https://acme.test/", "months": 3}).json()
    assert len(trend) == 3
    one = client.get(f"{API}/audits/{measured.pk}").json()
    assert one["status"] == "succeeded"
    assert len(one["results"]) == 2
    assert client.get(f"{API}/sites/{site.pk}/results", {"form_factor": "tablet"}).status_code == 422


def test_api_is_scoped_to_the_clients_own_sites(site, measured, member, outsider):
    own = api(member)
    assert own.get(f"{API}/sites/{site.pk}/results").status_code == 200
    assert own.get(f"{API}/audits/{measured.pk}").status_code == 200
    other = api(outsider)
    assert other.get(f"{API}/sites/{site.pk}/results").status_code == 404
    assert other.get(f"{API}/sites/{site.pk}/trend", {"url": "https://acme.test/"}).status_code == 404
    assert other.get(f"{API}/audits/{measured.pk}").status_code == 404
    assert HttpClient().get(f"{API}/sites/{site.pk}/results").status_code == 401


def test_api_hides_lighthouse_errors_from_client_tokens(site, fake, member, engineer):
    KeyPage.objects.create(site=site, path="/broken/", label="Broken")
    KeyPage.objects.create(site=site, path="/", label="Home", position=1)
    performance.run_audit(site, slot="s1", runs=1)
    staff_rows = api(engineer).get(f"{API}/sites/{site.pk}/results").json()
    client_rows = api(member).get(f"{API}/sites/{site.pk}/results").json()
    assert any(r["error"] for r in staff_rows)
    assert not any(r["error"] for r in client_rows)
