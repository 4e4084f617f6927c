"""REST API /api/v1/releases: a site's release records of the staged update pipeline, one release with its
changes and checks, and (agency staff) approving an on-demand release for production.

Scoped like the portal: a client person's token reaches only their own client's sites (another client's
site or release is a 404); agency tokens reach every site. For client tokens a release carries no internal
log, no check details and no restore-point snapshot ids. Mounted by api/views.py under /releases.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router, Schema
from ninja.errors import HttpError
from pydantic import Field

from sitekeeper.access.audit import acting_as
from sitekeeper.access.models import User
from sitekeeper.access.permissions import visible_sites
from sitekeeper.api.errors import ErrorOut, answers
from sitekeeper.api.params import SiteId, choices_of, object_id
from sitekeeper.releases import updates
from sitekeeper.releases.models import Release, ReleaseChange
from sitekeeper.releases.views import approver, check_state, checks_summary

router = Router(tags=["releases"])

MAX_ROWS = 200
ReleaseId = object_id("release")
ReleaseStatusName = choices_of(Release, "status")


class ChangeOut(Schema):
    ecosystem: choices_of(ReleaseChange, "ecosystem")  # type: ignore[valid-type]
    slug: str
    name: str
    from_version: str
    to_version: str


class CheckOut(Schema):
    environment: str
    name: str
    result: Literal["ok", "failed", "skipped"]
    detail: str | None = Field(description="Agency staff only (null for client tokens)")
    at: str | None


class ChecksSummaryOut(Schema):
    ok: int
    failed: int
    skipped: int


class ReleaseOut(Schema):
    id: int
    site: int
    client: str = Field(description="Client slug")
    kind: choices_of(Release, "kind")  # type: ignore[valid-type]
    slot: str
    status: ReleaseStatusName  # type: ignore[valid-type]
    created_at: dt.datetime
    window_start: dt.datetime | None
    window_end: dt.datetime | None
    stage_started_at: dt.datetime | None
    stage_finished_at: dt.datetime | None
    prod_started_at: dt.datetime | None
    prod_finished_at: dt.datetime | None
    approved_by: str = Field(
        description="A person's name, \"the agreement's update schedule\", or empty while awaiting approval"
    )
    approved_at: dt.datetime | None
    client_notified_at: dt.datetime | None
    outcome: str
    ticket: str | None = Field(description="Service-desk reference of the incident opened for it")
    changes: list[ChangeOut]
    checks_summary: ChecksSummaryOut


class RestorePointOut(Schema):
    source: str
    snapshot: int | None
    restic_id: str


class ReleaseDetailOut(ReleaseOut):
    checks: list[CheckOut]
    restore_point: list[RestorePointOut] | None = Field(description="Agency staff only")
    log: str | None = Field(description="Agency staff only (null for client tokens)")


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined,no-any-return]


def _releases(user: User) -> Any:
    return (
        Release.objects.filter(site__in=visible_sites(user))
        .select_related("site__client", "approved_by", "ticket")
        .prefetch_related("changes")
    )


def _release_json(release: Release) -> dict[str, Any]:
    copied = set(ReleaseOut.model_fields) - {
        "site", "client", "approved_by", "ticket", "changes", "checks_summary",
    }  # fmt: skip
    return {
        **{name: getattr(release, name) for name in copied},
        "id": release.pk,
        "site": release.site_id,
        "client": release.site.client.slug,
        "approved_by": approver(release),
        "ticket": release.ticket.reference if release.ticket else None,
        "changes": [
            {name: getattr(c, name) for name in ChangeOut.model_fields} for c in release.changes.all()
        ],
        "checks_summary": checks_summary(release),
    }


def _detail_json(release: Release, staff: bool) -> dict[str, Any]:
    checks = [
        {
            "environment": str(c.get("environment", "")),
            "name": str(c.get("name", "")),
            "result": check_state(c),
            "detail": str(c.get("detail", "")) if staff else None,
            "at": str(c["at"]) if c.get("at") else None,
        }
        for c in release.checks or []
    ]
    points = [
        {
            "source": str(p.get("source", "")),
            "snapshot": p.get("snapshot"),
            "restic_id": str(p.get("restic_id", "")),
        }
        for p in release.restore_point or []
        if isinstance(p, dict)
    ]
    return {
        **_release_json(release),
        "checks": checks,
        "restore_point": points if staff else None,
        "log": release.log if staff else None,
    }


@router.get("/sites/{int:site_id}", response=answers({200: list[ReleaseOut]}))
def list_releases(
    request: HttpRequest,
    site_id: SiteId,
    status: ReleaseStatusName | None = None,  # type: ignore[valid-type]
) -> list[dict[str, Any]]:
    """The site's releases, newest first; `status` filters (e.g. status=deployed)."""
    user = _user(request)
    site = get_object_or_404(visible_sites(user), pk=site_id)
    rows = _releases(user).filter(site=site)
    if status:
        rows = rows.filter(status=status)
    return [_release_json(r) for r in rows.order_by("-created_at")[:MAX_ROWS]]


@router.get("/{int:release_id}", response=answers({200: ReleaseDetailOut}))
def get_release(request: HttpRequest, release_id: ReleaseId) -> dict[str, Any]:
    """One release with its changes and every check; the log and restore point for agency tokens only."""
    user = _user(request)
    return _detail_json(get_object_or_404(_releases(user), pk=release_id), staff=user.is_agency)


@router.post("/{int:release_id}/approve", response=answers({200: ReleaseDetailOut, 409: ErrorOut}))
def approve_release(request: HttpRequest, release_id: ReleaseId) -> dict[str, Any]:
    """Agency staff: approve an on-demand release for production (it is deployed in its window)."""
    user = _user(request)
    release = get_object_or_404(_releases(user), pk=release_id)
    if not user.is_agency:
        raise HttpError(403, "Only agency staff approve releases; ask through a request.")
    try:
        with acting_as(user, label=f"api:{user.username}"):
            updates.approve(release, user)
    except ValueError as error:
        raise HttpError(409, f"not approved: {error}") from error
    return _detail_json(get_object_or_404(_releases(user), pk=release_id), staff=True)
