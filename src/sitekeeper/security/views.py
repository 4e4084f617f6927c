"""Security pages: the staff console (all sites' open findings and when each was last scanned, one site's
findings with the actions, a security incident with its checklist, 6.3 clock, dismissal and report) and the
client portal (read-only summary, each incident in plain words, published incident reports).

Only security findings appear here: a Lighthouse regression or a page-error share is site health (the
performance and link pages). Each heading says whether its scan ever ran: a site never scanned reads "Never
scanned", never "Nothing found"; no scan in 48 h is flagged to staff as the agency's to fix.

Access (tests/web/test_persona_matrix.py checks each route): /staff/security/… agency roles only;
/portal/security/… the person's own client's sites (client_sites), agency people go to the console. The
portal never shows a finding's details (file contents, diffs, paths): titles, severity, status, remediation.
Baseline approval and quarantine belong to the integrity and malware modules; their buttons are shown only
when those modules are installed. Every action is a person's change, audited (acting_as in incidents.py,
the middleware for the rest).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from sitekeeper.access.audit import acting_as
from sitekeeper.access.permissions import agency_required, client_sites, portal_view
from sitekeeper.contracts.models import Site
from sitekeeper.contracts.service import site_in_service
from sitekeeper.security import incidents, integrity, malware, presenters, scans
from sitekeeper.security import models as audit_models
from sitekeeper.security.models import (
    SECURITY_KINDS,
    Finding,
    FindingKind,
    FindingStatus,
    SecurityIncident,
    Severity,
)
from sitekeeper.security.tree import TreeError

SEVERITY_ORDER = [value for value, _label in Severity.choices]


def _ordered(qs: Any) -> list[Finding]:
    return sorted(qs, key=lambda f: (SEVERITY_ORDER.index(f.severity), -f.last_seen.timestamp()))


def _components(site: Site, *, staff: bool) -> list[dict[str, Any]] | None:
    """The component inventory with each component's open known vulnerabilities and version history; None
    when the inventory module is not installed. Vulnerability findings are keyed
    "<advisory>:<ecosystem>:<slug>", which is how a finding is tied back to its component."""
    component = getattr(audit_models, "Component", None)
    if component is None:
        return None
    vulns: dict[str, list[Finding]] = defaultdict(list)
    for finding in Finding.objects.filter(
        site=site, kind=FindingKind.VULNERABILITY, status=FindingStatus.OPEN
    ):
        vulns[finding.key.split(":", 1)[-1]].append(finding)
    # The scan inventories each environment: the same plugin on production and staging is one row naming
    # both environments, and one advisory found in both is one known issue.
    rows: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for item in component.objects.filter(site=site, removed_at=None).prefetch_related("versions"):
        history = [v.version for v in sorted(item.versions.all(), key=lambda v: v.seen_at)]
        row = rows.setdefault((item.ecosystem, item.slug, item.version, item.path), {
            "component": item, "environments": [], "path": item.path if staff else "",
            "history": history[:-1] if history and history[-1] == item.version else history,
            "known": presenters.grouped(vulns.get(f"{item.ecosystem}:{item.slug}", []), SEVERITY_ORDER),
        })  # fmt: skip
        row["environments"].append(presenters.environment_label(item.environment, staff=staff))
    return list(rows.values())


class ReportForm(forms.ModelForm):
    class Meta:
        model = SecurityIncident
        fields = list(incidents.REPORT_FIELDS)
        labels = {
            "what_happened": "What happened",
            "started_at": "When it started (UTC)",
            "actions_taken": "What was done",
            "data_affected": "Which data could be affected",
            "prevention": "What prevents a recurrence",
        }
        widgets = {
            "what_happened": forms.Textarea(attrs={"rows": 3}),
            "started_at": forms.DateTimeInput(attrs={"type": "datetime-local"}),
            "actions_taken": forms.Textarea(attrs={"rows": 3}),
            "data_affected": forms.Textarea(attrs={"rows": 2}),
            "prevention": forms.Textarea(attrs={"rows": 2}),
        }


# Staff console ---------------------------------------------------------------------------------------------


@agency_required
def staff_overview(request: HttpRequest) -> HttpResponse:
    open_findings = Finding.objects.filter(status=FindingStatus.OPEN, kind__in=SECURITY_KINDS)
    counts = {
        value: Count(
            "findings",
            filter=Q(
                findings__status=FindingStatus.OPEN,
                findings__severity=value,
                findings__kind__in=SECURITY_KINDS,
            ),
        )
        for value in SEVERITY_ORDER
    }
    sites = Site.objects.select_related("client").annotate(**counts).order_by("client__name", "name")
    now = timezone.now()
    rows = [
        {"site": s, "counts": [getattr(s, v) for v in SEVERITY_ORDER], **_scan_standing(s, now)}
        for s in sites
    ]
    rows.sort(key=lambda r: [-n for n in r["counts"]])
    return render(request, "security/overview.html", {
        "rows": rows, "severities": Severity.choices, "total": open_findings.count(),
        "overdue": sum(1 for r in rows if r["overdue"]),
        "incidents": SecurityIncident.objects.filter(closed_at=None).select_related("site", "finding"),
    })  # fmt: skip


def _scan_standing(site: Site, now: dt.datetime) -> dict[str, Any]:
    """When the site was last scanned, and whether the agency must act: a site in service (agreement 7.3)
    never scanned, or not in SCAN_FRESH."""
    last = scans.last_scan_at(site)
    stale = last is None or last < now - scans.SCAN_FRESH
    return {"last_scan": last, "overdue": stale and site_in_service(site, now)}


def _groups(site: Site, shown: list[Finding], staff: bool) -> list[dict[str, Any]]:
    """One heading per kind of security finding, with its step's standing: a heading whose step never ran
    (or never ran to completion) says so instead of "Nothing found"."""
    by_kind: dict[str, list[Finding]] = defaultdict(list)
    for finding in shown:
        by_kind[finding.kind].append(finding)
    states = scans.step_states(site)
    return [
        {
            "kind": kind,
            "label": label,
            "scan": states[scans.STEP_OF_KIND[kind]],
            "findings": [
                _row(row, staff) for row in presenters.grouped(by_kind.get(kind, []), SEVERITY_ORDER)
            ],
        }
        for kind, label in FindingKind.choices
        if kind in SECURITY_KINDS
    ]


def _row(row: presenters.Row, staff: bool) -> dict[str, Any]:
    """One finding row: its lead's title and remediation, each environment with its own status, ticket,
    incident and actions (an action applies to one environment's finding)."""
    lead = row.lead
    if not staff:
        return {
            "finding": lead, "title": presenters.client_title(lead.title, lead.details),
            "action": presenters.client_action(lead.kind, lead.remediation),
            "environments": [presenters.environment_label(e, staff=False) for e in row.environments],
            "members": [
                {"finding": f, "environment": presenters.environment_label(f.environment, staff=False)}
                for f in row.members
            ],
        }  # fmt: skip
    # Details shown once when every environment recorded the same, else once per environment.
    distinct = {repr(sorted(f.details.items())) for f in row.members}
    return {
        "finding": lead, "title": lead.title, "action": lead.remediation,
        "environments": row.environments,
        "details": presenters.detail_fields(lead.details) if len(distinct) == 1 else [],
        "members": [
            {"finding": f, "environment": f.environment, "incident": incidents.current(f),
             "details": presenters.detail_fields(f.details) if len(distinct) > 1 else []}
            for f in row.members
        ],
    }  # fmt: skip


def _site_context(site: Site, *, staff: bool) -> dict[str, Any]:
    shown = Finding.objects.filter(site=site, kind__in=SECURITY_KINDS).select_related("ticket")
    if not staff:
        shown = shown.exclude(status=FindingStatus.RESOLVED)
    ordered = _ordered(shown)
    incident_list = SecurityIncident.objects.filter(site=site).select_related("finding", "dismissed_by")
    now = timezone.now()
    return {
        "site": site,
        "staff": staff,
        "groups": _groups(site, ordered, staff),
        # The environment column appears only when this site's findings come from more than one.
        "multi_env": len({f.environment for f in ordered}) > 1,
        "open_count": sum(1 for f in ordered if f.status == FindingStatus.OPEN),
        "incidents": [
            {
                "incident": i,
                "deadline": incidents.deadline(i, now),
                "what": incidents.plain_what(i),
                "state": incidents.plain_state(i, now),
            }
            for i in incident_list
        ],
        **_scan_standing(site, now),
        "scan_fresh_hours": int(scans.SCAN_FRESH.total_seconds() // 3600),
        "scannable": scans.scannable(site),
        "components": _components(site, staff=staff),
        "can_approve": staff,
        "can_quarantine": staff,
    }


@agency_required
def staff_site(request: HttpRequest, pk: int) -> HttpResponse:
    site = get_object_or_404(Site.objects.select_related("client"), pk=pk)
    return render(request, "security/site.html", _site_context(site, staff=True))


def _finding(pk: int) -> Finding:
    return get_object_or_404(Finding.objects.select_related("site", "site__client"), pk=pk)


def _back(finding: Finding) -> HttpResponse:
    return redirect(reverse("staff_security_site", args=[finding.site_id]))


@agency_required
@require_POST
def staff_accept(request: HttpRequest, pk: int) -> HttpResponse:
    finding = _finding(pk)
    running = incidents.current(finding)
    if running is not None and running.closed_at is None:
        # Accepting would hide the incident and leave its 6.3 clock running: it is dismissed instead.
        messages.error(request, f"Security incident #{running.pk} is open for this finding: dismiss it as a "
                       "false positive, with the reason, on the incident page.")  # fmt: skip
        return redirect(reverse("staff_security_incident", args=[running.pk]))
    with acting_as(request.user):
        finding.status, finding.decided_by = FindingStatus.ACCEPTED, request.user
        finding.resolved_at = dt.datetime.now(dt.UTC)
        finding.save()
    messages.success(request, f"Accepted: {finding.title}")
    return _back(finding)


@agency_required
@require_POST
def staff_approve(request: HttpRequest, pk: int) -> HttpResponse:
    finding = _finding(pk)
    if finding.kind != FindingKind.INTEGRITY:
        raise Http404("baseline approval is for integrity findings")
    try:
        # An integrity finding's key is the file's path (or "core:<path>" for a checksum mismatch).
        done = integrity.approve(finding.site, [finding.key], request.user, environment=finding.environment)
        messages.success(request, f"Baseline approved: {', '.join(done) or finding.key}")
    except TreeError as error:  # IntegrityError is one: the files or the baseline could not be changed
        messages.error(request, f"Baseline not approved: {error}")
    return _back(finding)


@agency_required
@require_POST
def staff_quarantine(request: HttpRequest, pk: int) -> HttpResponse:
    finding = _finding(pk)
    if finding.kind != FindingKind.MALWARE:
        raise Http404("quarantine is for malware findings")
    try:
        malware.quarantine(finding, request.user)
        messages.success(request, f"Quarantined: {finding.key}")
    except (malware.MalwareError, TreeError) as error:
        messages.error(request, f"Not quarantined: {error}")
    return _back(finding)


@agency_required
@require_POST
def staff_escalate(request: HttpRequest, pk: int) -> HttpResponse:
    finding = _finding(pk)
    if not finding.is_security:
        raise Http404("site-health findings are not security incidents")
    incident = incidents.escalate(finding, request.user)
    messages.success(request, f"Security incident #{incident.pk} opened; ticket raised to P1.")
    return redirect(reverse("staff_security_incident", args=[incident.pk]))


def _incident(pk: int) -> SecurityIncident:
    return get_object_or_404(
        SecurityIncident.objects.select_related("site", "site__client", "finding", "ticket", "dismissed_by"),
        pk=pk,
    )


@agency_required
def staff_incident(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _incident(pk)
    return _incident_page(request, incident, ReportForm(instance=incident))


def _incident_page(request: HttpRequest, incident: SecurityIncident, form: ReportForm) -> HttpResponse:
    return render(request, "security/incident.html", {
        "incident": incident, "site": incident.site, "staff": True, "form": form,
        "deadline": incidents.deadline(incident), "checklist": incident.checklist.select_related("done_by"),
        "markdown": incidents.report_markdown(incident), "what": incidents.plain_what(incident),
    })  # fmt: skip


@agency_required
@require_POST
def staff_incident_tick(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _incident(pk)
    try:
        incidents.tick(incident, request.POST.get("key", ""), request.user, note=request.POST.get("note", ""))
    except incidents.IncidentError as error:
        messages.error(request, str(error))
    return redirect(reverse("staff_security_incident", args=[pk]))


@agency_required
@require_POST
def staff_incident_notified(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _incident(pk)
    try:
        incidents.mark_client_notified(incident, request.user)
        messages.success(request, "Client notification recorded.")
    except incidents.IncidentError as error:
        messages.error(request, str(error))
    return redirect(reverse("staff_security_incident", args=[pk]))


@agency_required
@require_POST
def staff_incident_dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _incident(pk)
    try:
        incidents.dismiss(incident, request.user, request.POST.get("reason", ""))
        messages.success(
            request, "Dismissed as a false positive: the 6.3 clock stopped, the request is resolved."
        )
    except incidents.IncidentError as error:
        messages.error(request, str(error))
    return redirect(reverse("staff_security_incident", args=[pk]))


@agency_required
@require_POST
def staff_incident_report(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _incident(pk)
    form = ReportForm(request.POST, instance=SecurityIncident.objects.get(pk=pk))
    if not form.is_valid():
        return _incident_page(request, incident, form)
    fields = {name: form.cleaned_data[name] for name in incidents.REPORT_FIELDS}
    incidents.save_report(incident, request.user, **fields)
    if request.POST.get("publish"):
        try:
            incidents.publish_report(incident, request.user)
            messages.success(request, "Report published to the client's portal.")
        except incidents.IncidentError as error:
            messages.error(request, str(error))
    else:
        messages.success(request, "Report saved.")
    return redirect(reverse("staff_security_incident", args=[pk]))


@agency_required
def staff_incident_md(request: HttpRequest, pk: int) -> HttpResponse:
    return _markdown(_incident(pk))


def _markdown(incident: SecurityIncident) -> HttpResponse:
    response = HttpResponse(incidents.report_markdown(incident), content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="security-incident-{incident.pk}.md"'
    return response


# Client portal ---------------------------------------------------------------------------------------------


@portal_view(lambda pk: reverse("staff_security_site", args=[pk]))
def portal_site(request: HttpRequest, pk: int) -> HttpResponse:
    site = get_object_or_404(client_sites(request.user).select_related("client"), pk=pk)
    return render(request, "security/site.html", _site_context(site, staff=False))


def _portal_incident(request: HttpRequest, pk: int) -> SecurityIncident:
    """Only a published report of the person's own client exists for them."""
    return get_object_or_404(
        SecurityIncident.objects.select_related("site", "site__client", "finding").exclude(
            report_published_at=None
        ),
        pk=pk,
        site__in=client_sites(request.user),
    )


@portal_view(lambda pk: reverse("staff_security_incident", args=[pk]))
def portal_incident(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _portal_incident(request, pk)
    return render(request, "security/report.html", {
        "incident": incident, "site": incident.site, "deadline": incidents.deadline(incident),
        "done": [item for item in incident.checklist.all() if item.done_at],
    })  # fmt: skip


@portal_view(lambda pk: reverse("staff_security_incident_md", args=[pk]))
def portal_incident_md(request: HttpRequest, pk: int) -> HttpResponse:
    return _markdown(_portal_incident(request, pk))
