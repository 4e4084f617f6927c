"""Link scans stored for a site: the acceptance site scanned twice (second time with some defects fixed and
one new) gives new / still / fixed; idempotent slots; a scan that dies is failed and keeps the previous
results; stale scans are reaped; progress reaches listeners; the monthly summary; the staff and portal
pages, the API and the CLI, with another client's people getting 404."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import time

import pytest
from django.core.management import CommandError, call_command
from django.test import Client as HttpClient

from sitekeeper import jobs
from sitekeeper.access.models import ApiToken, AuditEntry
from sitekeeper.contracts.models import Environment
from sitekeeper.health import crawler, linkscan, views_links
from sitekeeper.health.models import BrokenLink, HealthConfig, LinkScan
from tests.health.linksite import Site, acceptance_routes, generated_routes, page, partner_routes, serving

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
    with jobs.listening(heard.append):
        scan = linkscan.run_scan(acme_site)
    assert any(p.get("phase") == "crawl" for p in heard)
    assert heard[-1]["phase"] == "done"
    assert scan.progress["phase"] == "done"
    assert scan.lease_until is None


def test_a_scan_taken_over_during_the_crawl_stores_nothing(acme_site, served, monkeypatch):
    """This worker stalled past its lease and another one took the scan over: the next progress write says
    so, nothing more is written, and the crawl's results are not stored over the other worker's scan."""

    def slow(_method: str) -> tuple[int, dict[str, str], bytes]:
        time.sleep(1.2)  # the crawl outlives one progress interval
        return page("slow")

    served.routes["/about/"] = slow
    renew = jobs.heartbeat

    def taken_over(kind: jobs.Kind, pk: int, **kwargs: object) -> bool:
        LinkScan.objects.filter(pk=pk).update(owner="worker-2:1")
        return renew(kind, pk, **kwargs)

    monkeypatch.setattr(jobs, "heartbeat", taken_over)
    scan = linkscan.execute(linkscan.request_scan(acme_site, None))
    assert (scan.status, scan.owner, scan.finished_at) == ("running", "worker-2:1", None)
    assert scan.progress == {"phase": "starting"}
    assert not BrokenLink.objects.exists()


def test_a_scan_taken_over_while_storing_keeps_none_of_its_defects(acme_site, served, monkeypatch):
    """The defects and the scan's end are one transaction: when the seam refuses the end (another worker
    holds the scan now), none of the defects stay and the scan is not ended here."""
    monkeypatch.setattr(jobs, "finish", lambda *args, **kwargs: False)
    scan = linkscan.execute(linkscan.request_scan(acme_site, None))
    assert (scan.status, scan.broken, scan.finished_at) == ("running", 0, None)
    assert not BrokenLink.objects.exists()


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
    assert AuditEntry.objects.filter(model="health.linkscan", object_pk=str(scan.pk), actor=engineer).exists()
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
    from sitekeeper.security.models import Finding

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


# -- scans cut short by a limit (issue 12.16) -------------------------------------------------------------
PAGES, BROKEN = 120, 9


@pytest.fixture
def generated(acme):
    """acme's site served as a generated 120-page site with page-relative links and 9 missing pages, each
    linked from two pages (the issue's 5,000-page site at a smaller scale)."""
    routes, missing = generated_routes(PAGES, BROKEN)
    with serving(Site(routes)) as served:
        site = acme.sites.get()
        Environment.objects.filter(site=site, kind="prod").update(url=served.base + "/")
        yield site, served, missing


def _unread_in_log(served: Site) -> set[str]:
    """Pages whose link was checked (HEAD) but that were never read (GET)."""
    heads = {path for _at, method, path in served.log if method == "HEAD" and path.startswith("/p")}
    gets = {path for _at, method, path in served.log if method == "GET"}
    return heads - gets


def _cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("linkscan", *args, stdout=out)
    except SystemExit as exit_:
        return int(exit_.code), out.getvalue()
    return 0, out.getvalue()


def test_the_generated_site_within_its_page_limit_is_complete_with_every_broken_link(generated):
    """The limit is exactly the site's page count: the 18 links to 9 missing pages and /index.html beside /
    do not use it up (before: they did — the scan stopped early and missed broken links)."""
    site, served, missing = generated
    HealthConfig.objects.update_or_create(site=site, defaults={"link_max_pages": PAGES})
    code, text = _cli(str(site.pk))
    scan = LinkScan.objects.get(site=site)
    assert (scan.status, code) == ("succeeded", 1)  # complete; broken links found
    assert (scan.pages, scan.broken, scan.unread, scan.truncated) == (PAGES, BROKEN, 0, False)
    assert {d.url.removeprefix(served.base) for d in scan.defects.all()} == set(missing)
    gone = scan.defects.get(url=served.base + "/gone-0001.html")
    assert sorted(gone.pages) == [served.base + page for page in missing["/gone-0001.html"]]  # as read
    assert "INCOMPLETE" not in text
    for page_ in missing["/gone-0001.html"]:
        assert f"      on {served.base}{page_}\n" in text  # each page the broken link is on
    assert re.search(r": succeeded; 120 pages read, \d+ URLs checked in \d+\.\d s; 9 broken", text), text


def test_the_generated_site_cut_short_by_the_page_limit_is_incomplete(generated):
    """The acceptance case: a page limit below the site's size. The scan is incomplete (status, exit code 3,
    text, summary), counts exactly the pages it found but did not read, names each broken link's pages and
    says how long it took."""
    site, served, missing = generated
    HealthConfig.objects.update_or_create(site=site, defaults={"link_max_pages": 40})
    code, text = _cli(str(site.pk))
    scan = LinkScan.objects.get(site=site)
    unread = _unread_in_log(served)
    assert (scan.status, code) == ("incomplete", 3)
    assert (scan.pages, scan.truncated, scan.depth_limited) == (40, True, False)
    assert scan.unread == len(unread) > 0
    assert {url.removeprefix(served.base) for url in scan.unread_examples} <= unread
    lines = text.splitlines()
    assert lines[0].startswith(f"Link scan #{scan.pk} of {served.base}/: incomplete; 40 pages read, ")
    assert re.search(r"URLs checked in \d+\.\d s; \d broken", lines[0]), lines[0]
    assert lines[1] == (
        f"INCOMPLETE: the page limit (40 pages) stopped the scan — {scan.unread} pages found were not read, "
        "so the links on them were not checked. Raise the limit (Health settings, or "
        "--max-pages/--max-depth) to scan the whole site."
    )
    assert f"  … and {scan.unread - 5} more pages not read" in lines
    same = "1 URL served the same page as another URL of the same directory and counted once"
    assert f"  note: {same} (e.g. {served.base}/index.html = {served.base}/)" in lines
    # Every broken link on a page it read is reported, with its pages; none of the others is claimed.
    read = {path for _at, method, path in served.log if method == "GET"}
    expected = {gone for gone, on in missing.items() if set(on) & read}
    assert {d.url.removeprefix(served.base) for d in scan.defects.all()} == expected
    for defect in scan.defects.all():
        assert f"  broken  http_error 404 {defect.url} (new; on {defect.page_count} page" in text
        assert all(f"      on {page_}" in text for page_ in defect.pages)
    summary = linkscan.summary(site)
    assert (summary["status"], summary["complete"], summary["limits"]) == ("incomplete", False, ["max_pages"])
    assert summary["unread"] == scan.unread


def test_the_depth_limit_makes_a_scan_incomplete_too(generated):
    site, served, _missing = generated
    code, text = _cli(str(site.pk), "--max-depth", "2", "--json")
    printed = json.loads(text)
    assert (code, printed["status"], printed["complete"]) == (3, "incomplete", False)
    assert (printed["depth_limited"], printed["truncated"], printed["limits"]) == (True, False, ["max_depth"])
    assert printed["max_depth"] == 2
    assert printed["pages"] == 21  # depth 0: index; 1: p0001-p0004; 2: p0005-p0020
    assert printed["unread"] == len(_unread_in_log(served)) == 64  # p0021-p0084, the third level's links


def test_cli_limits_are_one_off_overrides_and_bad_values_are_refused(generated):
    site, _served, _missing = generated
    code, text = _cli(str(site.pk), "--max-pages", "10", "--json")
    printed = json.loads(text)
    assert (code, printed["status"], printed["pages"], printed["max_pages"]) == (3, "incomplete", 10, 10)
    config = HealthConfig.for_site(site)
    assert (config.link_max_pages, config.link_max_depth) == (5000, 6)  # the site's settings are unchanged
    for args, message in (
        (("--max-pages", "0"), "max-pages must be between 1 and 100,000, not 0"),
        (("--max-pages", "100001"), "max-pages must be between 1 and 100,000, not 100001"),
        (("--max-depth", "0"), "max-depth must be between 1 and 100, not 0"),
        (("--max-depth", "101"), "max-depth must be between 1 and 100, not 101"),
        (("--max-pages", "many"), "argument --max-pages: invalid int value: 'many'"),
    ):
        with pytest.raises(CommandError, match=re.escape(message)) as refused:
            call_command("linkscan", str(site.pk), *args, stdout=io.StringIO())
        assert refused.value.returncode in (1, 2)  # argparse's own errors: exit 2 from the command line
    assert LinkScan.objects.filter(site=site).count() == 1  # nothing scanned for a refused command
    with pytest.raises(CommandError) as unknown:
        call_command("linkscan", "99999", stdout=io.StringIO())
    assert unknown.value.returncode == 2  # not 1, which means "broken links found"


def test_an_incomplete_scan_calls_nothing_fixed_that_it_did_not_check_again(generated):
    site, served, _missing = generated
    complete = linkscan.run_scan(site, slot="full")
    assert (complete.status, complete.broken) == ("succeeded", BROKEN)
    partial = linkscan.run_scan(site, slot="partial", limits={"max_pages": 5})
    assert partial.status == "incomplete"
    assert partial.previous == complete
    assert not partial.defects.filter(change="fixed").exists()  # the broken pages were not looked at
    # A complete scan after that compares with the incomplete one and finds the unchecked ones again.
    again = linkscan.run_scan(site, slot="again")
    assert again.status == "succeeded"
    assert again.broken == BROKEN
    served.routes["/gone-0001.html"] = page("back")
    fixed = linkscan.run_scan(site, slot="fixed")
    assert list(fixed.defects.filter(change="fixed").values_list("url", flat=True)) == [
        served.base + "/gone-0001.html"
    ]


@pytest.fixture
def incomplete(generated):
    site, served, _missing = generated
    return linkscan.run_scan(site, slot="2026-12", limits={"max_pages": 30}), served


def test_staff_pages_of_an_incomplete_scan(incomplete, engineer):
    scan, _served = incomplete
    http = browser(engineer)
    page_ = http.get(f"/staff/health/links/{scan.pk}/").content.decode()
    assert 'id="scan-incomplete"' in page_
    assert (f"The page limit (30 pages) stopped this scan: {scan.unread} pages found were not read, so the "
            "links on them were not checked.") in page_  # fmt: skip
    assert 'class="good"' not in page_  # "0 broken" of an incomplete scan is never shown as all clear
    site_page = http.get(f"/staff/health/site/{scan.site_id}/links/").content.decode()
    assert 'id="scan-incomplete"' in site_page
    assert f"{scan.unread} pages not read" in site_page  # the scans table
    overview = http.get("/staff/health/").content.decode()
    assert '<span class="flag flag-warn">incomplete</span>' in overview
    assert f"the page limit (30 pages) left {scan.unread} pages unread" in overview


def test_the_portal_and_the_api_show_an_incomplete_scan_as_such(incomplete, owner):
    scan, _served = incomplete
    http = browser(owner)
    for url in (f"/portal/health/site/{scan.site_id}/links/", f"/portal/health/links/{scan.pk}/"):
        page_ = http.get(url).content.decode()
        assert "This scan did not cover the whole site." in page_
        stopped = f"It stopped at its limit (30 pages) and {scan.unread} pages it found were not checked."
        assert stopped in page_
    listed = api(owner).get(f"/api/v1/links/sites/{scan.site_id}/scans").json()
    assert [(s["id"], s["status"], s["complete"], s["unread"]) for s in listed] == [
        (scan.pk, "incomplete", False, scan.unread)
    ]
    detail = api(owner).get(f"/api/v1/links/scans/{scan.pk}").json()
    assert (detail["truncated"], detail["max_pages"], detail["unread_examples"]) == (
        True, 30, scan.unread_examples
    )  # fmt: skip


def test_staff_set_a_sites_limits_in_an_audited_form(acme_site, engineer, owner, outsider):
    http = browser(engineer)
    url = f"/staff/health/site/{acme_site.pk}/links/"
    assert 'name="link_max_pages" value="5000"' in http.get(url).content.decode()
    saved = http.post(url, {"link_max_pages": "12000", "link_max_depth": "8"})
    assert saved.status_code == 302
    config = HealthConfig.for_site(acme_site)
    assert (config.link_max_pages, config.link_max_depth) == (12000, 8)
    entry = AuditEntry.objects.filter(model="health.HealthConfig", object_pk=str(config.pk)).latest("pk")
    assert entry.actor == engineer
    assert (entry.before["link_max_pages"], entry.after["link_max_pages"]) == (5000, 12000)
    refused = http.post(url, {"link_max_pages": "0", "link_max_depth": "500"})
    assert refused.status_code == 400
    body = refused.content.decode()
    assert "Ensure this value is greater than or equal to 1." in body
    assert "Ensure this value is less than or equal to 100." in body
    assert HealthConfig.for_site(acme_site).link_max_pages == 12000
    for person in (owner, outsider):  # client people: the console is not theirs
        assert browser(person).post(url, {"link_max_pages": "1", "link_max_depth": "1"}).status_code == 403
    assert HealthConfig.for_site(acme_site).link_max_pages == 12000
    assert linkscan.crawl_settings(acme_site).max_pages == 12000  # the next scan uses it
