"""REST API /api/v1/performance: a site's Lighthouse results (latest first, filterable by page URL and form
factor), its monthly trend, and one audit with its results.

Scoped like the portal: a client person's token reaches only their own client's sites (another client's
site or audit is a 404); agency tokens reach every site. Client tokens get scores, metrics and budget
breaches, not Lighthouse's error text or the ticket's internal link. The full JSON report is a staff
download in the console. Mounted by api/views.py under /performance.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router, Schema
from ninja.params.functions import Query
from pydantic import Field

from sitekeeper.access.models import User
from sitekeeper.access.permissions import visible_sites
from sitekeeper.api.errors import answers
from sitekeeper.api.params import SiteId, choices_of, object_id
from sitekeeper.health import performance
from sitekeeper.health.models import LighthouseResult, PerformanceAudit

router = Router(tags=["performance"])

MAX_ROWS = 500
FormFactorName = choices_of(LighthouseResult, "form_factor")
AuditId = object_id("audit")
DERIVED = {
    "audit",
    "site",
    "page",
    "cls",
    "ticket",
    "error",
    "over_budget",
}  # ResultOut fields computed below


class BudgetLineOut(Schema):
    metric: str
    limit: float
    actual: float


class ResultOut(Schema):
    id: int
    audit: int
    site: int
    url: str
    page: str | None = Field(description="Key page label (null: the implicit home page)")
    form_factor: FormFactorName  # type: ignore[valid-type]
    measured_at: dt.datetime
    performance: int | None
    accessibility: int | None
    best_practices: int | None
    seo: int | None
    run_scores: list[int | None] = Field(description="Performance score of every run; the median is stored")
    lcp_ms: int | None
    fcp_ms: int | None
    tbt_ms: int | None
    speed_index_ms: int | None
    ttfb_ms: int | None
    cls: float | None
    page_weight_bytes: int | None
    over_budget: list[BudgetLineOut]
    ticket: str | None = Field(description="The P2 opened for a drop of more than the allowed points")
    error: str | None = Field(description="Why the page was not measured (agency staff only)")


class AuditOut(Schema):
    id: int
    site: int
    slot: str
    trigger: choices_of(PerformanceAudit, "trigger")  # type: ignore[valid-type]
    status: choices_of(PerformanceAudit, "status")  # type: ignore[valid-type]
    environment: str
    runs: int
    lighthouse_version: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    progress: dict[str, Any]
    results: list[ResultOut]


class TrendPointOut(Schema):
    month: str = Field(pattern=r"^[0-9]{4}-[0-9]{2}$", description="YYYY-MM, in the contract's calendar")
    count: int
    performance: float | None
    accessibility: float | None
    best_practices: float | None
    seo: float | None


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined,no-any-return]


def _result_json(result: LighthouseResult, staff: bool) -> dict[str, Any]:
    copied = set(ResultOut.model_fields) - DERIVED
    return {
        **{name: getattr(result, name) for name in copied},
        "audit": result.audit_id,
        "site": result.site_id,
        "page": result.page.label if result.page else None,
        "cls": None if result.cls is None else float(result.cls),
        "over_budget": result.over_budget or [],
        "ticket": result.ticket.reference if result.ticket else None,
        "error": (result.error or None) if staff else None,
    }


PageUrl = Annotated[str, Query(..., min_length=1, max_length=2000, description="The page's URL, as audited")]


@router.get("/sites/{int:site_id}/results", response=answers({200: list[ResultOut]}))
def list_results(
    request: HttpRequest,
    site_id: SiteId,
    url: Annotated[str | None, Query(max_length=2000, description="Only this page")] = None,
    form_factor: FormFactorName | None = None,  # type: ignore[valid-type]
    limit: Annotated[int, Query(ge=1, le=MAX_ROWS, description="At most this many")] = 100,
) -> list[dict[str, Any]]:
    """The site's Lighthouse results, newest first; `url` and `form_factor` (mobile, desktop) filter."""
    user = _user(request)
    site = get_object_or_404(visible_sites(user), pk=site_id)
    rows = LighthouseResult.objects.filter(site=site).without_report().select_related("page", "ticket")
    if form_factor:
        rows = rows.filter(form_factor=form_factor)
    if url:
        rows = rows.filter(url=url)
    return [_result_json(r, user.is_agency) for r in rows.order_by("-measured_at", "-pk")[:limit]]


@router.get("/sites/{int:site_id}/trend", response=answers({200: list[TrendPointOut]}))
def get_trend(
    request: HttpRequest,
    site_id: SiteId,
    url: PageUrl,
    form_factor: FormFactorName = "mobile",  # type: ignore[valid-type]
    months: Annotated[int, Query(ge=1, le=36, description="This many months back")] = 12,
) -> list[dict[str, Any]]:
    """Monthly medians of one page's scores per form factor (contract's calendar months), oldest first."""
    site = get_object_or_404(visible_sites(_user(request)), pk=site_id)
    return performance.trend(site, url, form_factor, months=months)


@router.get("/audits/{int:audit_id}", response=answers({200: AuditOut}))
def get_audit(request: HttpRequest, audit_id: AuditId) -> dict[str, Any]:
    """One Lighthouse audit with its results (status and progress while it runs)."""
    user = _user(request)
    audit = get_object_or_404(PerformanceAudit.objects.filter(site__in=visible_sites(user)), pk=audit_id)
    copied = ("id", "slot", "trigger", "status", "environment", "runs", "lighthouse_version", "created_at",
              "started_at", "finished_at", "progress")  # fmt: skip
    results = audit.results.without_report().select_related("page", "ticket").order_by("pk")
    return {
        **{name: getattr(audit, name) for name in copied},
        "site": audit.site_id,
        "results": [_result_json(r, user.is_agency) for r in results],
    }
