"""The staff console's site-health overview: every site's latest broken-link scan (broken, new since the
previous one), its latest Lighthouse performance per form factor with an open regression (the 2.1 P2), and
links to each site's link, performance and key-page pages. Agency roles only."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from sitekeeper.access.permissions import agency_required
from sitekeeper.contracts.models import Site
from sitekeeper.core import trend
from sitekeeper.health import performance
from sitekeeper.health.models import FormFactor, LighthouseResult, LinkScan
from sitekeeper.security.models import Finding, FindingKind, FindingStatus


def _latest_scans() -> dict[int, LinkScan]:
    latest: dict[int, LinkScan] = {}
    # Succeeded and incomplete scans both have results (an incomplete one says what it could not read).
    for scan in LinkScan.objects.with_results().filter(environment="prod").order_by("site_id", "-created_at"):
        latest.setdefault(scan.site_id, scan)
    return latest


def _latest_scores() -> dict[tuple[int, str], LighthouseResult]:
    """Per (site, form factor): the newest result that has a score (the home page first when it has one)."""
    latest: dict[tuple[int, str], LighthouseResult] = {}
    rows = LighthouseResult.objects.exclude(performance=None).without_report().order_by("-measured_at")
    for result in rows:
        latest.setdefault((result.site_id, result.form_factor), result)
    return latest


def _regressions() -> dict[int, list[Finding]]:
    found: dict[int, list[Finding]] = {}
    open_ = Finding.objects.filter(kind=FindingKind.PERFORMANCE, status=FindingStatus.OPEN).select_related(
        "ticket"
    )
    for finding in open_:
        found.setdefault(finding.site_id, []).append(finding)
    return found


def _change(site: Site, result: LighthouseResult | None) -> dict[str, Any] | None:
    """The page's monthly median performance score now against the month before, for the overview's trend
    arrow: {"direction": "down", "points": 48}; None when either month has no score. The direction is
    core.trend's, as on the client's card: less than its steady margin either way reads as steady."""
    if result is None:
        return None
    points = [p["performance"] for p in performance.trend(site, result.url, result.form_factor, months=2)]
    if len(points) < 2 or None in points:
        return None
    change = points[-1] - points[-2]
    return {"direction": trend.direction(points[-2], points[-1]), "points": f"{abs(change):g}"}


@agency_required
def staff_overview(request: HttpRequest) -> HttpResponse:
    scans, scores, regressions = _latest_scans(), _latest_scores(), _regressions()
    sites = (
        Site.objects.select_related("client")
        .prefetch_related(Prefetch("key_pages"))
        .order_by("client__name", "name")
    )
    rows: list[dict[str, Any]] = [
        {
            "site": site,
            "scan": scans.get(site.pk),
            "scores": [
                (label, result, _change(site, result))
                for value, label in FormFactor.choices
                for result in [scores.get((site.pk, value))]
            ],
            "regressions": regressions.get(site.pk, []),
            "key_pages": len(site.key_pages.all()),
        }
        for site in sites
    ]
    return render(request, "health/health_overview.html", {
        "rows": rows,
        "broken_total": sum(r["scan"].broken for r in rows if r["scan"]),
        "regression_total": sum(len(r["regressions"]) for r in rows),
    })  # fmt: skip
