"""REST API /api/v1/security: a site's findings, a security incident, and (agency staff) accepting a finding.

Scoped like the portal: a client person's token reaches only their own client's sites (another client's
site or incident is a 404); agency tokens reach every site. For client tokens a finding carries no details
(file contents, diffs, paths stay with the agency) and an incident exists only once its report is published.
Mounted by api/views.py under /security.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router, Schema
from ninja.errors import HttpError
from pydantic import Field

from sitekeeper.access.audit import acting_as
from sitekeeper.access.models import User
from sitekeeper.api.schemas import ErrorOut
from sitekeeper.audits import incidents
from sitekeeper.audits.models import Finding, FindingKind, FindingStatus, SecurityIncident
from sitekeeper.web.permissions import visible_sites

router = Router(tags=["security"])

NOT_FOUND = {404: ErrorOut}
MAX_ROWS = 500


class FindingOut(Schema):
    id: int
    site: int
    environment: str
    kind: str
    key: str
    severity: str
    title: str
    status: str
    remediation: str
    first_seen: dt.datetime
    last_seen: dt.datetime
    resolved_at: dt.datetime | None
    ticket: str | None = Field(description="Service-desk reference of the incident opened for it")
    details: dict[str, Any] | None = Field(description="Agency staff only (null for client tokens)")


class ChecklistOut(Schema):
    key: str
    label: str
    done_at: dt.datetime | None


class IncidentOut(Schema):
    id: int
    site: int
    client: str = Field(description="Client slug")
    finding: int
    title: str
    detected_at: dt.datetime
    notify_client_by: dt.datetime = Field(description="Clause 6.3: 24 hours after detection")
    notification_state: str = Field(description="running, warning, breached, met or late")
    client_notified_at: dt.datetime | None
    report_published_at: dt.datetime | None
    what_happened: str
    started_at: dt.datetime | None
    actions_taken: str
    data_affected: str
    prevention: str
    checklist: list[ChecklistOut]
    report_markdown: str


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined,no-any-return]


def _finding_json(finding: Finding, staff: bool) -> dict[str, Any]:
    return {
        **{name: getattr(finding, name) for name in FindingOut.model_fields if name not in {"site", "ticket",
                                                                                             "details"}},
        "site": finding.site_id,
        "ticket": finding.ticket.reference if finding.ticket else None,
        "details": finding.details if staff else None,
    }  # fmt: skip


@router.get("/sites/{int:site_id}/findings", response={200: list[FindingOut], **NOT_FOUND, 422: ErrorOut})
def list_findings(
    request: HttpRequest, site_id: int, kind: str = "", status: str = ""
) -> list[dict[str, Any]]:
    """The site's findings, most recent first; `kind` and `status` filter (e.g. status=open)."""
    user = _user(request)
    site = get_object_or_404(visible_sites(user), pk=site_id)
    rows = Finding.objects.filter(site=site).select_related("ticket")
    if kind:
        if kind not in FindingKind.values:
            raise HttpError(422, f"kind {kind!r}: expected one of {', '.join(FindingKind.values)}")
        rows = rows.filter(kind=kind)
    if status:
        if status not in FindingStatus.values:
            raise HttpError(422, f"status {status!r}: expected one of {', '.join(FindingStatus.values)}")
        rows = rows.filter(status=status)
    return [_finding_json(f, user.is_agency) for f in rows.order_by("-last_seen")[:MAX_ROWS]]


@router.get("/incidents/{int:incident_id}", response={200: IncidentOut, **NOT_FOUND})
def get_incident(request: HttpRequest, incident_id: int) -> dict[str, Any]:
    """A security incident; for a client token only once its report is published."""
    user = _user(request)
    found = SecurityIncident.objects.select_related("site__client", "finding").filter(
        site__in=visible_sites(user)
    )
    if not user.is_agency:
        found = found.exclude(report_published_at=None)
    incident = get_object_or_404(found, pk=incident_id)
    clock = incidents.deadline(incident)
    copied = ("detected_at", "client_notified_at", "report_published_at", *incidents.REPORT_FIELDS)
    items = incident.checklist.all()
    return {
        **{name: getattr(incident, name) for name in copied},
        "id": incident.pk, "site": incident.site_id, "client": incident.site.client.slug,
        "finding": incident.finding_id, "title": incident.finding.title,
        "notify_client_by": clock.due, "notification_state": clock.state,
        "checklist": [{"key": i.key, "label": i.label, "done_at": i.done_at} for i in items],
        "report_markdown": incidents.report_markdown(incident),
    }  # fmt: skip


@router.post("/findings/{int:finding_id}/accept", response={200: FindingOut, 403: ErrorOut, **NOT_FOUND})
def accept_finding(request: HttpRequest, finding_id: int) -> dict[str, Any]:
    """Agency staff: accept a finding (a person's decision that it is known and acceptable)."""
    user = _user(request)
    finding = get_object_or_404(Finding.objects.filter(site__in=visible_sites(user)), pk=finding_id)
    if not user.is_agency:
        raise HttpError(403, "Only agency staff accept findings; ask through a request.")
    with acting_as(user, label=f"api:{user.username}"):
        finding.status, finding.decided_by = FindingStatus.ACCEPTED, user
        finding.resolved_at = dt.datetime.now(dt.UTC)
        finding.save()
    return _finding_json(finding, staff=True)
