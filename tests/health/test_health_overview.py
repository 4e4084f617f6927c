"""The staff site-health overview: each site's latest link scan and scores, open performance regressions;
agency roles only (client people 403, as every /staff/ page)."""

from __future__ import annotations

import datetime as dt

import time_machine
from django.test import Client as HttpClient

from sitekeeper.health.models import BrokenLink, HealthConfig, LighthouseResult, LinkScan, PerformanceAudit
from sitekeeper.security.models import Finding


def _signed_in(user) -> HttpClient:
    http = HttpClient()
    http.force_login(user)
    return http


def test_overview_shows_latest_scan_scores_and_regressions(acme, engineer, owner) -> None:
    site = acme.sites.get()
    now = dt.datetime(2026, 12, 3, 4, 0, tzinfo=dt.UTC)
    old = LinkScan.objects.create(site=site, slot="2026-11", start_url=site.url, status="succeeded", broken=9,
                                  finished_at=now - dt.timedelta(days=30))  # fmt: skip
    LinkScan.objects.filter(pk=old.pk).update(created_at=now - dt.timedelta(days=30))
    scan = LinkScan.objects.create(site=site, slot="2026-12", start_url=site.url, status="succeeded",
                                   broken=2, new=1, fixed=8, pages=40, finished_at=now)  # fmt: skip
    BrokenLink.objects.create(scan=scan, url=f"{site.url}/gone/", internal=True, problem="http_error",
                              status_code=404, change="new")  # fmt: skip
    audit = PerformanceAudit.objects.create(site=site, slot="2026-12", status="succeeded")
    LighthouseResult.objects.create(audit=audit, site=site, url=site.url, form_factor="mobile",
                                    measured_at=now, performance=37)  # fmt: skip
    Finding.objects.create(site=site, kind="performance", key="lighthouse:mobile:2026-12:x", severity="high",
                           title="dropped", first_seen=now, last_seen=now)  # fmt: skip

    page = _signed_in(engineer).get("/staff/health/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'href="/staff/health/links/{scan.pk}/"><b>2</b> broken</a> · 1 new · 8 fixed' in html
    assert "Mobile <b>37</b> · Desktop —" in html
    assert 'id="regression-total"><small>Performance regressions</small><b>1</b>' in html
    assert _signed_in(owner).get("/staff/health/").status_code == 403


def test_overview_shows_a_latest_scan_cut_short_by_a_limit_as_incomplete(acme, engineer) -> None:
    """The latest scan with results is incomplete: the overview shows it (not the older complete one), with
    its flag and how many pages it left unread (before: only succeeded scans were shown, so the scan that
    stopped early was hidden behind last month's clean one)."""
    site = acme.sites.get()
    HealthConfig.for_site(site)
    now = dt.datetime(2026, 12, 3, 4, 0, tzinfo=dt.UTC)
    LinkScan.objects.create(site=site, slot="2026-11", start_url=site.url, status="succeeded", broken=0,
                            finished_at=now - dt.timedelta(days=30))  # fmt: skip
    scan = LinkScan.objects.create(site=site, slot="2026-12", start_url=site.url, status="incomplete",
                                   broken=3, pages=5000, truncated=True, unread=412, finished_at=now,
                                   settings_used={"max_pages": 5000})  # fmt: skip
    html = _signed_in(engineer).get("/staff/health/").content.decode()
    assert f'href="/staff/health/links/{scan.pk}/"><b>3</b> broken</a>' in html
    assert '<span class="flag flag-warn">incomplete</span>' in html
    assert "5000 pages; the page limit (5000 pages) left 412 pages unread" in html


def test_overview_shows_the_trend_against_last_month_and_what_to_do_without_scores(acme, engineer) -> None:
    site = acme.sites.get()
    now = dt.datetime(2026, 12, 3, 4, 0, tzinfo=dt.UTC)
    audit = PerformanceAudit.objects.create(site=site, slot="2026-12", status="succeeded")
    for measured, score in ((now - dt.timedelta(days=30), 86), (now, 38)):
        LighthouseResult.objects.create(audit=audit, site=site, url=site.url, form_factor="mobile",
                                        measured_at=measured, performance=score)  # fmt: skip
    with time_machine.travel(now + dt.timedelta(hours=1), tick=False):
        html = _signed_in(engineer).get("/staff/health/").content.decode()
    assert "Mobile <b>38</b>" in html
    assert '<span class="trend trend-down"' in html
    assert "↓ 48</span>" in html  # 86 in November, 38 in December
    LighthouseResult.objects.all().delete()
    html = _signed_in(engineer).get("/staff/health/").content.decode()
    assert "not audited yet — run one" in html
