"""REST API /api/v1/links: a site's link scans and one scan with its defects.

Scoped like the portal: a client person's token reaches only their own client's sites (another client's site
or scan is a 404) and only scans with results (succeeded, or incomplete: cut short by a limit); agency tokens
reach every site and every scan, with the failure reason of a failed one. Mounted by api/views.py under
/links.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router, Schema
from pydantic import Field

from sitekeeper.access.models import User
from sitekeeper.access.permissions import visible_sites
from sitekeeper.api.errors import answers
from sitekeeper.api.params import SiteId, choices_of, object_id
from sitekeeper.health import crawler
from sitekeeper.health.models import BrokenLink, LinkScan
from sitekeeper.health.models.links import WITH_RESULTS

router = Router(tags=["links"])

MAX_SCANS = 100
ScanId = object_id("link scan")


class ScanOut(Schema):
    id: int
    site: int
    environment: str
    start_url: str
    trigger: choices_of(LinkScan, "trigger")  # type: ignore[valid-type]
    slot: str
    status: choices_of(LinkScan, "status") = Field(  # type: ignore[valid-type]
        description="queued, running, succeeded (the whole site was scanned), incomplete (a limit left pages "
        "unread: the links on them were not checked) or failed"
    )
    complete: bool = Field(description="True only for a succeeded scan: every page found was read")
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    pages: int = Field(description="Same-site HTML pages read")
    links: int = Field(description="Distinct URLs checked")
    broken: int = Field(
        description="Broken links (HTTP errors, unreachable, redirect loops, missing #anchors)"
    )
    new: int
    still: int
    fixed: int
    truncated: bool = Field(description="The page limit left pages unread")
    depth_limited: bool = Field(description="The depth limit left pages unread")
    unread: int | None = Field(
        description="Same-site pages found but not read because of a limit (null: not counted, an old scan)"
    )
    unread_examples: list[str] = Field(description="The first 20 of them")
    max_pages: int | None = Field(description="The page limit this scan ran with")
    max_depth: int | None = Field(description="The depth limit this scan ran with")
    duration_seconds: float | None
    previous: int | None = Field(description="The scan this one is compared with")
    progress: dict[str, Any]
    error: str | None = Field(description="Why a failed scan failed (agency tokens only)")


class DefectOut(Schema):
    url: str
    internal: bool
    problem: choices_of(BrokenLink, "problem") = Field(description=  # type: ignore[valid-type]"http_error, unreachable, redirect_loop, missing_fragment (broken); "
                         "redirect_chain, blocked (warnings)")  # fmt: skip
    broken: bool = Field(description="False for warnings")
    change: choices_of(BrokenLink, "change") = Field(  # type: ignore[valid-type]
        description="new, still or fixed (against the previous scan)"
    )
    status_code: int | None
    error: str
    redirects: list[dict[str, Any]] = Field(description="The chain followed: url and status per hop")
    pages: list[str] = Field(description="Pages the link is on (first 50)")
    page_count: int


class ScanDetailOut(ScanOut):
    defects: list[DefectOut]


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined,no-any-return]


def _scans(user: User) -> Any:
    scans = LinkScan.objects.filter(site__in=visible_sites(user))
    return scans if user.is_agency else scans.filter(status__in=WITH_RESULTS)


def _scan_json(scan: LinkScan, staff: bool) -> dict[str, Any]:
    copied = ("environment", "start_url", "trigger", "slot", "status", "created_at", "started_at",
              "finished_at", "pages", "links", "broken", "new", "still", "fixed", "truncated",
              "depth_limited", "unread", "unread_examples", "duration_seconds", "progress")  # fmt: skip
    used = scan.settings_used or {}
    return {
        **{name: getattr(scan, name) for name in copied},
        "id": scan.pk, "site": scan.site_id, "previous": scan.previous_id,
        "complete": scan.status == "succeeded",
        "max_pages": used.get("max_pages"), "max_depth": used.get("max_depth"),
        "error": scan.error if staff else None,
    }  # fmt: skip


@router.get("/sites/{int:site_id}/scans", response=answers({200: list[ScanOut]}))
def list_scans(request: HttpRequest, site_id: SiteId) -> list[dict[str, Any]]:
    """The site's link scans, latest first (client tokens: finished ones)."""
    user = _user(request)
    site = get_object_or_404(visible_sites(user), pk=site_id)
    scans = _scans(user).filter(site=site).order_by("-created_at", "-pk")[:MAX_SCANS]
    return [_scan_json(scan, user.is_agency) for scan in scans]


@router.get("/scans/{int:scan_id}", response=answers({200: ScanDetailOut}))
def get_scan(request: HttpRequest, scan_id: ScanId) -> dict[str, Any]:
    """One scan with its defects (new, still broken and fixed ones)."""
    user = _user(request)
    scan = get_object_or_404(_scans(user), pk=scan_id)
    defects = [
        {
            "url": d.url, "internal": d.internal, "problem": d.problem, "broken": d.problem in crawler.ERRORS,
            "change": d.change, "status_code": d.status_code, "error": d.error, "redirects": d.redirects,
            "pages": d.pages, "page_count": d.page_count,
        }
        for d in scan.defects.all()
    ]  # fmt: skip
    return {**_scan_json(scan, user.is_agency), "defects": defects}
