"""The staff site-health overview: each site's latest link scan and scores, open performance regressions;
agency roles only (client people 403, as every /staff/ page)."""

from __future__ import annotations

import datetime as dt

from django.test import Client as HttpClient

from sitekeeper.audits.models import (
    BrokenLink,
    Finding,
    LighthouseResult,
    LinkScan,
    PerformanceAudit,
)


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
