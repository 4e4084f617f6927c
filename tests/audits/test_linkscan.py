"""Link scans stored for a site: the acceptance site scanned twice (second time with some defects fixed and
one new) gives new / still / fixed; idempotent slots; a scan that dies is failed and keeps the previous
results; stale scans are reaped; progress reaches listeners; the monthly summary; the staff and portal
pages, the API and the CLI, with another client's people getting 404."""

from __future__ import annotations

import datetime as dt
import io
import json
import time

import pytest
from django.core.management import call_command
from django.test import Client as HttpClient

from sitekeeper.access.models import ApiToken, AuditEntry
from sitekeeper.audits import crawler, linkscan, views_links
from sitekeeper.audits.models import BrokenLink, HealthConfig, LinkScan
from sitekeeper.backups import progress
from sitekeeper.contracts.models import Environment
from tests.audits.linksite import Site, acceptance_routes, page, partner_routes, serving

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture
def partner():
    with serving(Site(partner_routes())) as site:
        yield site


@pytest.fixture
def served(partner):
    with serving(Site()) as site:
        site.routes = acceptance_routes(partner.base)
        yield site


@pytest.fixture
def acme_site(acme, served):
    site = acme.sites.get()
    Environment.objects.filter(site=site, kind="prod").update(url=served.base + "/")
    return site


def changes(scan: LinkScan, base: str) -> dict[str, set[tuple[str, str]]]:
    found: dict[str, set[tuple[str, str]]] = {"new": set(), "still": set(), "fixed": set()}
    for defect in scan.defects.all():
        found[defect.change].add((defect.url.replace(base, ""), defect.problem))
    return found


def test_second_scan_reports_fixed_still_and_new(acme_site, served, partner):
    first = linkscan.run_scan(acme_site, slot="2026-11", trigger="schedule")
    assert first.status == "succeeded", first.error
    assert (first.broken, first.new, first.still, first.fixed) == (5, 5, 0, 0)
    assert first.pages == 4
    assert first.previous is None
    assert first.settings_used["max_depth"] == HealthConfig.for_site(acme_site).link_max_depth
    assert len(partner.requests("/limited")) == 2  # 429, then after Retry-After: 1 the 200
    missing = first.defects.get(url=served.base + "/missing")
    assert (missing.status_code, missing.pages, missing.page_count) == (404, [served.base + "/"], 1)
    assert first.defects.get(problem="redirect_loop").redirects[0]["status"] == 301

    served.routes = acceptance_routes(partner.base, fixed=True)
    second = linkscan.run_scan(acme_site, slot="2026-12", trigger="schedule")
    assert second.status == "succeeded", second.error
    assert second.previous == first
    found = changes(second, served.base)
    assert found["fixed"] == {("/missing", "http_error"), ("/loop-a", "redirect_loop"),
                              ("/about/#nowhere", "missing_fragment")}  # fmt: skip
    assert found["new"] == {("/new-broken", "http_error")}
    assert found["still"] == {
        ("/img/missing@2x.png", "http_error"), (partner.base + "/gone", "http_error"),
        ("/chain/1", "redirect_chain"), ("/private/secret.html", "blocked"),
    }  # fmt: skip
    assert (second.broken, second.new, second.still, second.fixed) == (3, 1, 2, 3)
    # The first scan's rows are untouched.
    assert changes(first, served.base)["new"] == changes(first, served.base)["new"] | found["fixed"]
    assert linkscan.summary(acme_site) == {
        "scan": second.pk, "date": second.finished_at, "url": served.base + "/", "status": "succeeded",
        "complete": True, "limits": [], "unread": 0, "pages": 6, "links": 17, "broken": 3, "new": 1,
        "still": 2, "fixed": 3, "truncated": False, "depth_limited": False,
    }  # fmt: skip


def test_a_slot_runs_once(acme_site, served):
    first = linkscan.run_scan(acme_site, slot="2026-12")
    requests = len(served.log)
    again = linkscan.run_scan(acme_site, slot="2026-12")
    assert again.pk == first.pk
    assert len(served.log) == requests


def test_a_scan_that_dies_is_failed_and_keeps_the_previous_results(acme_site, served, monkeypatch):
    good = linkscan.run_scan(acme_site, slot="one")
    kept = set(good.defects.values_list("url", "problem"))

    def dies(*_args, **_kwargs):
        raise OSError("disk on fire")

    monkeypatch.setattr(crawler, "crawl_sync", dies)
    bad = linkscan.run_scan(acme_site, slot="two")
    assert bad.status == "failed"
    assert bad.error == "The scan stopped: OSError: disk on fire. Earlier scans' results are unchanged."
    assert not bad.defects.exists()
    assert set(good.defects.values_list("url", "problem")) == kept
    assert linkscan.latest(acme_site) == good
    monkeypatch.undo()
    third = linkscan.run_scan(acme_site, slot="three")
    assert third.previous == good  # compared with the last scan that succeeded
    assert third.new == 0


def test_an_unreachable_site_is_one_unreachable_defect(acme):
    site = acme.sites.get()
    closed = Site()
    with serving(closed):
        pass
    Environment.objects.filter(site=site, kind="prod").update(url=closed.base + "/")
    scan = linkscan.run_scan(site)
    assert scan.status == "succeeded"  # the scan ran; what it found is that the start page is unreachable
    (defect,) = scan.defects.all()
    assert (defect.problem, defect.pages) == ("unreachable", [])


def test_progress_is_stored_and_heard(acme_site, served):
    def slow(_method: str) -> tuple[int, dict[str, str], bytes]:
        time.sleep(1.2)  # the crawl outlives one progress interval
        return page("slow")

    served.routes["/about/"] = slow
    heard: list[dict] = []
    with progress.listening(heard.append):
        scan = linkscan.run_scan(acme_site)
    assert any(p.get("phase") == "crawl" for p in heard)
    assert heard[-1]["phase"] == "done"
    assert scan.progress["phase"] == "done"
    assert scan.lease_until is None


def test_request_scan_queues_one_at_a_time_and_execute_runs_it(acme_site, engineer):
    queued = linkscan.request_scan(acme_site, engineer)
    assert (queued.status, queued.trigger, queued.requested_by) == ("queued", "manual", engineer)
    assert linkscan.request_scan(acme_site, engineer) == queued
    done = linkscan.execute(queued)
    assert done.status == "succeeded"
    assert linkscan.execute(done).status == "succeeded"  # not claimed twice


def test_stale_running_scans_are_reaped_or_taken_over(acme_site):
    now = dt.datetime.now(dt.UTC)
    running = {"site": acme_site, "start_url": acme_site.url, "status": "running"}
    minute = dt.timedelta(minutes=1)
    dead = LinkScan.objects.create(slot="dead", owner="elsewhere:1", lease_until=now - minute, **running)
    alive = LinkScan.objects.create(slot="alive", owner="elsewhere:2", lease_until=now + minute, **running)
    assert linkscan.reap_stale(now) == [dead.pk]
    dead.refresh_from_db()
    assert dead.status == "failed"
    assert "stopped before it finished" in dead.error
    assert linkscan.execute(alive).status == "running"  # someone else's, still renewing its lease
    LinkScan.objects.filter(pk=alive.pk).update(lease_until=now - dt.timedelta(seconds=1))
    alive.refresh_from_db()
    assert linkscan.execute(alive).status == "succeeded"  # taken over


def test_summary_without_scans(acme):
    assert linkscan.summary(acme.sites.get())["scan"] is None


# -- pages, API, CLI ---------------------------------------------------------------------------------------
def browser(user) -> HttpClient:
    http = HttpClient()
    http.force_login(user)
    return http


def api(user) -> HttpClient:
    return HttpClient(headers={"authorization": f"Bearer {ApiToken.issue(user, 'test')[1]}"})


@pytest.fixture
def scanned(acme_site, served, partner):
    linkscan.run_scan(acme_site, slot="2026-11")
    served.routes = acceptance_routes(partner.base, fixed=True)
    return linkscan.run_scan(acme_site, slot="2026-12")


def test_staff_pages(scanned, served, engineer):
    http = browser(engineer)
    site_page = http.get(f"/staff/health/site/{scanned.site_id}/links/").content.decode()
    assert f"/staff/health/links/{scanned.pk}/" in site_page
    assert "Scan for broken links now" in site_page
    page_ = http.get(f"/staff/health/links/{scanned.pk}/").content.decode()
    new, still, fixed = (page_.index(f'id="links-{c}"') for c in ("new", "still", "fixed"))
    assert new < page_.index(served.base + "/new-broken") < still
    assert still < page_.index(served.base + "/img/missing@2x.png") < fixed
    assert fixed < page_.index(served.base + "/loop-a")
    assert served.base + "/chain/7" in page_  # the redirect chain is listed
    assert "Long redirect chain" in page_
    live = http.get(f"/staff/health/links/{scanned.pk}/live/", headers={"HX-Request": "true"})
    assert live["HX-Refresh"] == "true"


def test_scan_now_queues_once_and_is_audited(
    acme_site, engineer, monkeypatch, django_capture_on_commit_callbacks
):
    queued: list[int] = []
    monkeypatch.setattr(views_links, "enqueue", queued.append)
    http = browser(engineer)
    with django_capture_on_commit_callbacks(execute=True):
        response = http.post(f"/staff/health/site/{acme_site.pk}/links/scan/")
    scan = LinkScan.objects.get(site=acme_site)
    assert queued == [scan.pk]
    assert response["Location"] == f"/staff/health/links/{scan.pk}/"
    assert AuditEntry.objects.filter(model="audits.linkscan", object_pk=str(scan.pk), actor=engineer).exists()
    page_ = http.get(response["Location"]).content.decode()
    assert f'hx-get="/staff/health/links/{scan.pk}/live/"' in page_
    with django_capture_on_commit_callbacks(execute=True):
        http.post(f"/staff/health/site/{acme_site.pk}/links/scan/")
    assert LinkScan.objects.filter(site=acme_site).count() == 1
    assert queued == [scan.pk]  # the scan already queued is not handed over twice
    assert "is queued" in http.get(f"/staff/health/site/{acme_site.pk}/links/").content.decode()


def test_portal_shows_the_clients_own_scans_read_only(scanned, served, owner, member, engineer):
    for person in (owner, member):
        http = browser(person)
        page_ = http.get(f"/portal/health/site/{scanned.site_id}/links/").content.decode()
        assert served.base + "/new-broken" in page_
        assert "Scan for broken links now" not in page_
        assert http.get(f"/portal/health/links/{scanned.pk}/").status_code == 200
        assert http.post(f"/staff/health/site/{scanned.site_id}/links/scan/").status_code == 403
    agency = browser(engineer).get(f"/portal/health/links/{scanned.pk}/")
    assert agency["Location"] == f"/staff/health/links/{scanned.pk}/"


def test_another_clients_people_get_404(scanned, outsider):
    http = browser(outsider)
    assert http.get(f"/portal/health/site/{scanned.site_id}/links/").status_code == 404
    assert http.get(f"/portal/health/links/{scanned.pk}/").status_code == 404
    assert http.get(f"/staff/health/links/{scanned.pk}/").status_code == 403
    token = api(outsider)
    assert token.get(f"/api/v1/links/sites/{scanned.site_id}/scans").status_code == 404
    assert token.get(f"/api/v1/links/scans/{scanned.pk}").status_code == 404


def test_api(scanned, served, owner, engineer):
    LinkScan.objects.create(site=scanned.site, slot="failed", start_url="x", status="failed", error="boom")
    staff = api(engineer).get(f"/api/v1/links/sites/{scanned.site_id}/scans").json()
    assert [s["status"] for s in staff] == ["failed", "succeeded", "succeeded"]
    assert staff[0]["error"] == "boom"
    client = api(owner).get(f"/api/v1/links/sites/{scanned.site_id}/scans").json()
    assert [s["id"] for s in client] == [scanned.pk, scanned.previous_id]
    assert client[0]["error"] is None
    detail = api(owner).get(f"/api/v1/links/scans/{scanned.pk}").json()
    assert (detail["broken"], detail["new"], detail["still"], detail["fixed"]) == (3, 1, 2, 3)
    new = [d for d in detail["defects"] if d["change"] == "new"]
    assert new == [{
        "url": served.base + "/new-broken", "internal": True, "problem": "http_error", "broken": True,
        "change": "new", "status_code": 404, "error": "Not Found", "redirects": [],
        "pages": [served.base + "/"], "page_count": 1,
    }]  # fmt: skip


def test_cli(acme_site, served):
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("linkscan", str(acme_site.pk), "--json", stdout=out)
    assert exit_.value.code == 1  # broken links found
    printed = json.loads(out.getvalue())
    assert printed["broken"] == 5
    assert {d["problem"] for d in printed["defects"]} >= {"redirect_loop", "missing_fragment", "blocked"}
    text = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("linkscan", acme_site.url, "--slot", printed["slot"], stdout=text)
    assert text.getvalue().startswith(f"Link scan #{printed['id']} of {served.base}/: succeeded")  # not rerun
    assert f"broken  redirect_loop 301 {served.base}/loop-a (new; on 1 page)" in text.getvalue()


def test_cli_clean_site_exits_zero(acme):
    site = acme.sites.get()
    with serving(Site({"/": page('<a href="/">home</a>')})) as clean:
        Environment.objects.filter(site=site, kind="prod").update(url=clean.base + "/")
        out = io.StringIO()
        call_command("linkscan", str(site.pk), stdout=out)
    assert "0 broken" in out.getvalue()
    assert BrokenLink.objects.count() == 0


def test_half_the_pages_failing_opens_one_p2_and_a_recovered_site_resolves_it(acme):
    """Agreement 2.1's P2 example "50%+ of pages returning errors": home links to four pages, three of
    which fail (two 500s, one 404); a later scan with them back resolves the finding."""
    from sitekeeper.audits.models import Finding

    site = acme.sites.get()
    links = "".join(f'<a href="/p{i}/">{i}</a>' for i in range(4))
    routes = {"/": page(links), "/p0/": page("ok"), "/p1/": page("ok")}
    with serving(Site(routes)) as served:
        Environment.objects.filter(site=site, kind="prod").update(url=served.base + "/")
        healthy = linkscan.run_scan(site, slot="healthy")
        assert healthy.broken == 2  # p2, p3 missing: 2 of 5 reached
        assert not Finding.objects.filter(kind="site_errors").exists()

        routes.pop("/p1/")  # now p1, p2, p3 fail: 3 of 5
        failing = linkscan.run_scan(site, slot="failing")
        finding = Finding.objects.get(site=site, kind="site_errors")
        assert (finding.status, finding.ticket.priority) == ("open", "P2")
        assert finding.ticket.subject.startswith("Site errors: 60 % of the site's pages return errors")
        assert finding.details["scan"] == failing.pk

        linkscan.run_scan(site, slot="again")  # still failing: the same finding, no second ticket
        assert Finding.objects.filter(kind="site_errors").count() == 1
        routes.update({f"/p{i}/": page("back") for i in range(4)})
        linkscan.run_scan(site, slot="recovered")
        finding.refresh_from_db()
        assert finding.status == "resolved"
