"""REST API /api/v1/security: a site's security findings and when it was last scanned, a security incident,
and (agency staff) accepting a finding or dismissing an incident as a false positive.

Scoped like the portal: a client person's token reaches only their own client's sites (another client's
site or incident is a 404); agency tokens reach every site. For client tokens a finding carries no details
(file contents, diffs, paths stay with the agency) and an incident exists only once its report is published.
Only security findings are here: Lighthouse regressions are site health (/api/v1/performance). An empty
findings list is not an all-clear by itself: `/sites/{id}/scans` says whether and when the site was scanned.
Mounted by api/views.py under /security.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router, Schema
from ninja.errors import HttpError
from pydantic import ConfigDict, Field

from sitekeeper.access.audit import acting_as
from sitekeeper.access.models import User
from sitekeeper.access.permissions import visible_sites
from sitekeeper.api.errors import ErrorOut, answers
from sitekeeper.api.params import SiteId, choices_of, object_id, one_of
from sitekeeper.security import incidents, scans
from sitekeeper.security.models import SECURITY_KINDS, Finding, FindingStatus, ScanStepRun, SecurityIncident

router = Router(tags=["security"])

MAX_ROWS = 500
FindingId = object_id("finding")
IncidentId = object_id("security incident")
# Only security findings are here (performance regressions are site health: /api/v1/performance).
SecurityKind = one_of(
    [str(kind.value) for kind in SECURITY_KINDS],
    " (performance regressions are site health: /api/v1/performance)",
)
FindingStatusName = choices_of(Finding, "status")


class FindingOut(Schema):
    id: int
    site: int
    environment: str
    kind: SecurityKind  # type: ignore[valid-type]
    key: str
    severity: choices_of(Finding, "severity")  # type: ignore[valid-type]
    title: str
    status: FindingStatusName  # type: ignore[valid-type]
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
    notification_state: Literal["running", "warning", "breached", "met", "late", "dismissed"]
    automatic: bool = Field(
        description="Opened by sitekeeper at detection (the finding indicates an incident)"
    )
    what: str = Field(description="What happened, in plain words (as the client's portal says it)")
    dismissed_at: dt.datetime | None = Field(
        description="A person dismissed it as a false positive (clock stopped)"
    )
    dismissal_reason: str
    client_notified_at: dt.datetime | None
    report_published_at: dt.datetime | None
    what_happened: str
    started_at: dt.datetime | None
    actions_taken: str
    data_affected: str
    prevention: str
    checklist: list[ChecklistOut]
    report_markdown: str


class DismissIn(Schema):
    model_config = ConfigDict(strict=True)  # taken as the schema says, never coerced

    reason: str = Field(
        min_length=1,
        pattern=r"\S",
        max_length=2000,
        description="Why it is a false positive; the client reads it",
    )


class ScanStepOut(Schema):
    step: Literal["inventory", "integrity", "malware", "suspicious"]
    state: Literal["ok", "never", "skipped", "failed"] = Field(
        description="ok, never, skipped (nothing to read) or failed (never ran to completion)"
    )
    last_ok_at: dt.datetime | None
    latest_at: dt.datetime | None
    latest_outcome: choices_of(ScanStepRun, "outcome") | None  # type: ignore[valid-type]


class ScanStatusOut(Schema):
    site: int
    state: Literal["never_scanned", "overdue", "current"] = Field(
        description="never_scanned, overdue (no scan in the last 48 h) or current"
    )
    last_scan_at: dt.datetime | None
    steps: list[ScanStepOut]


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


@router.get("/sites/{int:site_id}/findings", response=answers({200: list[FindingOut]}))
def list_findings(
    request: HttpRequest,
    site_id: SiteId,
    kind: SecurityKind | None = None,  # type: ignore[valid-type]
    status: FindingStatusName | None = None,  # type: ignore[valid-type]
) -> list[dict[str, Any]]:
    """The site's findings, most recent first; `kind` and `status` filter (e.g. status=open)."""
    user = _user(request)
    site = get_object_or_404(visible_sites(user), pk=site_id)
    rows = Finding.objects.filter(site=site, kind__in=SECURITY_KINDS).select_related("ticket")
    if kind:
        rows = rows.filter(kind=kind)
    if status:
        rows = rows.filter(status=status)
    return [_finding_json(f, user.is_agency) for f in rows.order_by("-last_seen")[:MAX_ROWS]]


@router.get("/sites/{int:site_id}/scans", response=answers({200: ScanStatusOut}))
def scan_status(request: HttpRequest, site_id: SiteId) -> dict[str, Any]:
    """Whether and when the site was last scanned, per step: a site never scanned has no all-clear."""
    site = get_object_or_404(visible_sites(_user(request)), pk=site_id)
    last = scans.last_scan_at(site)
    state = "never_scanned" if last is None else "overdue" if scans.scan_overdue(site) else "current"
    steps = [
        {"step": s.step, "state": s.state, "last_ok_at": s.last_ok.finished_at if s.last_ok else None,
         "latest_at": s.latest.finished_at if s.latest else None,
         "latest_outcome": s.latest.outcome if s.latest else None}
        for s in scans.step_states(site).values()
    ]  # fmt: skip
    return {"site": site.pk, "state": state, "last_scan_at": last, "steps": steps}


def _incident_json(incident: SecurityIncident) -> dict[str, Any]:
    clock = incidents.deadline(incident)
    copied = ("detected_at", "client_notified_at", "report_published_at", "automatic", "dismissed_at",
              "dismissal_reason", *incidents.REPORT_FIELDS)  # fmt: skip
    items = incident.checklist.all()
    return {
        **{name: getattr(incident, name) for name in copied},
        "id": incident.pk, "site": incident.site_id, "client": incident.site.client.slug,
        "finding": incident.finding_id, "title": incident.finding.title,
        "what": incidents.plain_what(incident),
        "notify_client_by": clock.due, "notification_state": clock.state,
        "checklist": [{"key": i.key, "label": i.label, "done_at": i.done_at} for i in items],
        "report_markdown": incidents.report_markdown(incident),
    }  # fmt: skip


def _incidents(user: User) -> Any:
    found = SecurityIncident.objects.select_related("site__client", "finding", "dismissed_by").filter(
        site__in=visible_sites(user)
    )
    return found if user.is_agency else found.exclude(report_published_at=None)


@router.get("/incidents/{int:incident_id}", response=answers({200: IncidentOut}))
def get_incident(request: HttpRequest, incident_id: IncidentId) -> dict[str, Any]:
    """A security incident; for a client token only once its report is published."""
    return _incident_json(get_object_or_404(_incidents(_user(request)), pk=incident_id))


@router.post(
    "/incidents/{int:incident_id}/dismiss",
    response=answers({200: IncidentOut, 409: ErrorOut}),
)
def dismiss_incident(request: HttpRequest, incident_id: IncidentId, payload: DismissIn) -> dict[str, Any]:
    """Agency staff: dismiss a security incident as a false positive, with the reason (the client reads it).
    The 6.3 clock stops there; the finding is accepted and the request resolved with the reason."""
    user = _user(request)
    if not user.is_agency:
        get_object_or_404(SecurityIncident.objects.filter(site__in=visible_sites(user)), pk=incident_id)
        raise HttpError(403, "Only agency staff dismiss security incidents.")
    incident = get_object_or_404(_incidents(user), pk=incident_id)
    if not payload.reason.strip():
        raise HttpError(422, "reason: say why it is a false positive (the client reads it)")
    try:
        incidents.dismiss(incident, user, payload.reason)
    except incidents.IncidentError as error:
        raise HttpError(409, str(error)) from error
    return _incident_json(incident)


@router.post("/findings/{int:finding_id}/accept", response=answers({200: FindingOut, 409: ErrorOut}))
def accept_finding(request: HttpRequest, finding_id: FindingId) -> dict[str, Any]:
    """Agency staff: accept a finding (a person's decision that it is known and acceptable)."""
    user = _user(request)
    finding = get_object_or_404(Finding.objects.filter(site__in=visible_sites(user)), pk=finding_id)
    if not user.is_agency:
        raise HttpError(403, "Only agency staff accept findings; ask through a request.")
    running = incidents.current(finding)
    if running is not None and running.closed_at is None:
        where = f"POST /api/v1/security/incidents/{running.pk}/dismiss"
        raise HttpError(
            409,
            f"security incident #{running.pk} is open for this finding: dismiss it as a false positive "
            f"with the reason ({where})",
        )
    with acting_as(user, label=f"api:{user.username}"):
        finding.status, finding.decided_by = FindingStatus.ACCEPTED, user
        finding.resolved_at = dt.datetime.now(dt.UTC)
        finding.save()
    return _finding_json(finding, staff=True)
