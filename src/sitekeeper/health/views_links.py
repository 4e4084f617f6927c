"""Broken-link pages: the staff console per site (its scans, latest first, "scan now" with live progress, the
site's scan limits as a small form), one scan (defects grouped by change: new, still broken, fixed; each with
the pages it is on, status and redirect chain); the portal per site (the client's own people: the latest scan
and its defects, read-only) and one of the site's finished scans. A scan a limit cut short says so on every
one of these pages, with how many pages it left unread (issue 12.16).

Access (tests/web/test_persona_matrix.py checks each route once wired): /staff/health/… agency roles only;
/portal/health/… the person's own client's sites (client_sites: another client's site or scan is a 404),
agency people are sent to the console's page for the same thing.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from sitekeeper.access.audit import acting_as
from sitekeeper.access.models import AuditEntry
from sitekeeper.access.permissions import agency_required, client_sites, portal_view
from sitekeeper.contracts.models import Site
from sitekeeper.health import crawler, linkscan
from sitekeeper.health.models import BrokenLink, HealthConfig, JobStatus, LinkChange, LinkScan
from sitekeeper.health.models.links import WITH_RESULTS

BUSY = (JobStatus.QUEUED, JobStatus.RUNNING)
SCANS_SHOWN = 24
GROUPS = (
    (LinkChange.NEW, "New since the previous scan"),
    (LinkChange.STILL, "Still broken"),
    (LinkChange.FIXED, "Fixed since the previous scan"),
)


def defect_groups(scan: LinkScan, *, with_fixed: bool = True) -> list[dict[str, Any]]:
    """The scan's defects by change; broken links before warnings (long chains, robots.txt) in each."""
    rows: dict[str, list[BrokenLink]] = {change: [] for change, _label in GROUPS}
    for defect in scan.defects.all():
        rows[defect.change].append(defect)
    groups = []
    for change, label in GROUPS:
        if change == LinkChange.FIXED and not with_fixed:
            continue
        shown = sorted(rows[change], key=lambda d: (d.problem not in crawler.ERRORS, not d.internal, d.url))
        warnings = sum(1 for d in shown if d.problem not in crawler.ERRORS)
        groups.append({
            "change": change, "label": label, "broken": len(shown) - warnings, "warnings": warnings,
            "defects": [{"defect": d, "warning": d.problem not in crawler.ERRORS,
                         "more": d.page_count - len(d.pages)} for d in shown],
        })  # fmt: skip
    return groups


def live_progress(scan: LinkScan) -> dict[str, Any]:
    progress = scan.progress or {}
    return {
        "pages": progress.get("pages", 0),
        "checked": progress.get("checked", 0),
        "queued": progress.get("queued", 0),
        "seconds": progress.get("seconds"),
        "phase": progress.get("phase", "waiting for the worker" if scan.status == JobStatus.QUEUED else ""),
    }


class LimitsForm(forms.ModelForm):
    """The site's link-scan limits (the model's validators give the bounds)."""

    class Meta:
        model = HealthConfig
        fields = ("link_max_pages", "link_max_depth")
        labels = {"link_max_pages": "Pages read at most", "link_max_depth": "Clicks from the start page"}


def _site_context(site: Site, *, staff: bool, limits: LimitsForm | None = None) -> dict[str, Any]:
    scans = LinkScan.objects.filter(site=site)
    if not staff:
        scans = scans.filter(status__in=WITH_RESULTS)
    latest = linkscan.latest(site)
    current = scans.filter(status__in=BUSY).first() if staff else None
    config = HealthConfig.for_site(site) if staff else None
    return {
        "site": site,
        "staff": staff,
        "scans": list(scans.order_by("-created_at", "-pk")[:SCANS_SHOWN]),
        "latest": latest,
        "groups": defect_groups(latest, with_fixed=staff) if latest else [],
        "current": current,
        "live": live_progress(current) if current else None,
        "config": config,
        "limits": limits or (LimitsForm(instance=config) if staff else None),
    }


# Staff console ----------------------------------------------------------------------------------------------


@agency_required
def staff_site_links(request: HttpRequest, pk: int) -> HttpResponse:
    """The site's scans; a POST saves its scan limits (the form on the page)."""
    site = get_object_or_404(Site.objects.select_related("client"), pk=pk)
    if request.method == "POST":
        form = LimitsForm(request.POST, instance=HealthConfig.for_site(site))
        if form.is_valid():
            with acting_as(request.user):  # HealthConfig is audited: the change is recorded under this person
                form.save()
            messages.success(request, "Link-scan limits saved; they apply from the next scan.")
            return redirect(reverse("staff_links_site", args=[site.pk]) + "#limits")
        context = _site_context(site, staff=True, limits=form)
        return render(request, "health/links_site.html", context, status=400)
    return render(request, "health/links_site.html", _site_context(site, staff=True))


@agency_required
@require_POST
def staff_scan_now(request: HttpRequest, pk: int) -> HttpResponse:
    """Queue a scan of the site (or show the one already queued or running) and hand it to the worker."""
    site = get_object_or_404(Site.objects.select_related("client"), pk=pk)
    before = LinkScan.objects.filter(site=site, status__in=BUSY).first()
    scan = linkscan.request_scan(site, request.user)
    if before is not None:
        messages.info(request, f"Link scan #{scan.pk} is already {scan.get_status_display().lower()}.")
        return redirect(reverse("staff_links_scan", args=[scan.pk]))
    AuditEntry.objects.create(
        actor=request.user, actor_label=request.user.username, action=AuditEntry.Action.CREATE,
        model="health.linkscan", object_pk=str(scan.pk), object_repr=f"Link scan · {site}"[:200],
        after={"slot": scan.slot, "start_url": scan.start_url}, client_id=site.client_id,
    )  # fmt: skip
    transaction.on_commit(lambda: enqueue(scan.pk))
    messages.success(request, f"Link scan #{scan.pk} queued.")
    return redirect(reverse("staff_links_scan", args=[scan.pk]))


def enqueue(scan_id: int) -> None:
    """Hand the scan to the worker; looked up at call time so tests can replace it."""
    from sitekeeper.health import tasks

    tasks.link_scan_run_task(scan_id)


def _scan(pk: int) -> LinkScan:
    return get_object_or_404(LinkScan.objects.select_related("site", "site__client", "previous"), pk=pk)


@agency_required
def staff_scan(request: HttpRequest, pk: int) -> HttpResponse:
    scan = _scan(pk)
    return render(request, "health/links_scan.html", {
        "scan": scan, "site": scan.site, "staff": True, "groups": defect_groups(scan),
        "busy": scan.status in BUSY, "live": live_progress(scan),
    })  # fmt: skip


@agency_required
def staff_scan_live(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress fragment htmx polls while the scan is queued or running."""
    scan = _scan(pk)
    busy = scan.status in BUSY
    response = render(request, "health/links_live.html", {"scan": scan, "busy": busy,
                                                          "live": live_progress(scan)})  # fmt: skip
    if not busy and request.headers.get("HX-Request"):
        response["HX-Refresh"] = "true"  # finished: reload the page for the results
    return response


# Client portal ----------------------------------------------------------------------------------------------


@portal_view(lambda pk: reverse("staff_links_site", args=[pk]))
def portal_site_links(request: HttpRequest, pk: int) -> HttpResponse:
    site = get_object_or_404(client_sites(request.user).select_related("client"), pk=pk)
    return render(request, "health/links_site.html", _site_context(site, staff=False))


@portal_view(lambda pk: reverse("staff_links_scan", args=[pk]))
def portal_scan(request: HttpRequest, pk: int) -> HttpResponse:
    """A finished scan of one of the person's own client's sites (others: 404)."""
    scan = get_object_or_404(
        LinkScan.objects.select_related("site", "site__client", "previous"),
        pk=pk, site__in=client_sites(request.user), status__in=WITH_RESULTS,
    )  # fmt: skip
    return render(request, "health/links_scan.html", {
        "scan": scan, "site": scan.site, "staff": False, "groups": defect_groups(scan), "busy": False,
    })  # fmt: skip
