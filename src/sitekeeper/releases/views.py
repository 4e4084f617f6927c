"""Update pages: the staff console of the staged update pipeline (all sites' pending updates and releases, a
site's pending updates with "plan a release now", one release with its checks, restore point and log and the
approve / cancel / advance actions, the update packages with upload and fetch) and the client portal's
release records.

Access (tests/web/test_persona_matrix.py checks each route): /staff/updates/… agency roles only;
/portal/updates/… the person's own client's sites (client_sites; another client's release is a 404), agency
people go to the console. The portal shows what changed, the checks and the outcome, never the internal log,
the restore point's snapshot ids or check details (paths from the site's error log stay with the agency).

Every action is a person's change: the release and package rows are @audited and written inside acting_as.
Advancing a release can take minutes (backups, restores), so the view hands it to the worker
(releases.tasks.release_task) and records the request itself in the audit log.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from sitekeeper import http
from sitekeeper.access.audit import acting_as
from sitekeeper.access.models import AuditEntry
from sitekeeper.access.permissions import agency_required, client_sites, portal_view
from sitekeeper.backups.models import Snapshot
from sitekeeper.contracts.models import Site
from sitekeeper.contracts.presenters import contract_zone
from sitekeeper.core import cadence
from sitekeeper.releases import packages, updates
from sitekeeper.releases.models import Release, ReleaseKind, ReleaseStatus, UpdatePackage

# The pipeline's own status groups: work still to do, the worker busy right now, cancellable (before prod).
ACTIVE, BUSY, CANCELLABLE = updates.ACTIVE, updates.BUSY, updates.CANCELLABLE
# Colour of a status: ok (green), warn (amber), bad (red), run (blue), off (grey).
TONE = {
    ReleaseStatus.PLANNED: "off",
    ReleaseStatus.STAGING: "run",
    ReleaseStatus.STAGE_FAILED: "warn",
    ReleaseStatus.AWAITING_WINDOW: "run",
    ReleaseStatus.DEPLOYING: "run",
    ReleaseStatus.DEPLOYED: "ok",
    ReleaseStatus.ROLLED_BACK: "bad",
    ReleaseStatus.FAILED: "bad",
    ReleaseStatus.CANCELLED: "off",
}
RECENT = 25
SCHEDULE_LABEL = "the agreement's update schedule"


# Forms ------------------------------------------------------------------------------------------------------


class PlanForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[(ReleaseKind.MANUAL, "On demand"), (ReleaseKind.EMERGENCY, "Emergency security update")],
        initial=ReleaseKind.MANUAL,
    )
    packages = forms.ModelMultipleChoiceField(queryset=UpdatePackage.objects.all(), required=False)


class CancelForm(forms.Form):
    reason = forms.CharField(max_length=1000)


class UploadForm(forms.Form):
    file = forms.FileField(label="Package zip", help_text="A plugin, theme or WordPress core zip")
    security = forms.BooleanField(required=False, label="Fixes a security issue")
    notes = forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2}), label="Notes / changelog"
    )


class FetchForm(forms.Form):
    url = forms.URLField(max_length=1000, assume_scheme="https", label="Package URL")
    security = forms.BooleanField(required=False, label="Fixes a security issue")


# Presentation -----------------------------------------------------------------------------------------------


def approver(release: Release) -> str:
    """Who approved: a person, or the agreement's schedule for scheduled and emergency releases."""
    if release.approved_by_id:
        person = release.approved_by
        return person.get_full_name() or person.username  # type: ignore[union-attr]
    if release.kind in (ReleaseKind.SCHEDULED, ReleaseKind.EMERGENCY):
        return SCHEDULE_LABEL
    return ""


def check_state(check: dict[str, Any]) -> str:
    if check.get("skipped"):
        return "skipped"
    return "ok" if check.get("ok") else "failed"


def check_groups(release: Release, *, staff: bool) -> list[dict[str, Any]]:
    """The checks per environment in the order they ran (stage first), each with its state; the portal gets
    no details."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for check in release.checks or []:
        groups.setdefault(str(check.get("environment", "")), []).append({
            "name": check.get("name", ""), "state": check_state(check),
            "detail": check.get("detail", "") if staff else "", "at": _when(check.get("at")),
        })  # fmt: skip
    return [{"environment": env, "checks": rows, "summary": _summary(rows)} for env, rows in groups.items()]


def _when(value: Any) -> dt.datetime | None:
    if isinstance(value, str) and value:
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    return value if isinstance(value, dt.datetime) else None


def _summary(rows: list[dict[str, Any]]) -> dict[str, int]:
    counts = {"ok": 0, "failed": 0, "skipped": 0}
    for row in rows:
        counts[row["state"]] += 1
    return counts


def checks_summary(release: Release) -> dict[str, int]:
    return _summary([{"state": check_state(c)} for c in release.checks or []])


def restore_point(release: Release) -> list[dict[str, Any]]:
    """The restore point's entries with their catalogue snapshot (None when it was forgotten since)."""
    entries = [entry for entry in release.restore_point or [] if isinstance(entry, dict)]
    found = Snapshot.objects.in_bulk([e["snapshot"] for e in entries if isinstance(e.get("snapshot"), int)])
    return [{**entry, "row": found.get(entry.get("snapshot"))} for entry in entries]


def live_progress(data: dict[str, Any]) -> dict[str, Any]:
    """What the pipeline stored (updates._progress: phase, step, done, total) as the bar shows it."""
    done, total = data.get("done"), data.get("total")
    percent = data.get("percent")
    if percent is None and isinstance(done, int) and isinstance(total, int) and total > 0:
        percent = 100 * done / total
    return {
        "phase": str(data.get("phase") or ""),
        "step": str(data.get("step") or ""),
        "percent": percent,
        "count": f"{done}/{total}" if isinstance(total, int) and total else "",
    }


def release_row(release: Release) -> dict[str, Any]:
    return {
        "release": release,
        "tone": TONE.get(release.status, "off"),
        "changes": list(release.changes.all()),
        "summary": checks_summary(release),
        "approver": approver(release),
    }


def _releases(**filters: Any) -> Any:
    return (
        Release.objects.filter(**filters)
        .select_related("site", "site__client", "approved_by", "ticket")
        .prefetch_related("changes")
    )


def next_batch(site: Site, today: dt.date | None = None) -> dt.date | None:
    """The next scheduled batch date of the site's contract, today included (None without a contract)."""
    contract = site.client.contract
    if contract is None:
        return None
    today = today or dt.datetime.now(contract_zone(contract)).date()
    yesterday = today - dt.timedelta(days=1)  # next_batch counts strictly after its date
    return cadence.next_batch(contract.plan.update_cadence, contract.batch_rule(), contract.start, yesterday)


# Staff console ----------------------------------------------------------------------------------------------


@agency_required
def staff_overview(request: HttpRequest) -> HttpResponse:
    sites = Site.objects.select_related("client").order_by("client__name", "name")
    in_progress = list(_releases(status__in=ACTIVE).order_by("window_start"))
    active: dict[int, Release] = {}
    for release in sorted(in_progress, key=lambda r: r.created_at):
        active.setdefault(release.site_id, release)  # a site's oldest open release is the one in flight
    rows = [
        {
            "site": site,
            "pending": packages.pending(site),
            "next_batch": next_batch(site),
            "active": active.get(site.pk),
        }
        for site in sites
    ]
    return render(request, "releases/updates_overview.html", {
        "rows": rows,
        "in_progress": [release_row(r) for r in in_progress],
        "recent": [release_row(r) for r in _releases().exclude(status__in=ACTIVE)[:RECENT]],
        "pending_total": sum(len(row["pending"]) for row in rows),
    })  # fmt: skip


def _staff_site(pk: int) -> Site:
    return get_object_or_404(Site.objects.select_related("client"), pk=pk)


@agency_required
def staff_site(request: HttpRequest, pk: int) -> HttpResponse:
    site = _staff_site(pk)
    return render(request, "releases/updates_site.html", _site_context(site, staff=True))


def _site_context(site: Site, *, staff: bool) -> dict[str, Any]:
    context: dict[str, Any] = {
        "site": site,
        "staff": staff,
        "releases": [release_row(r) for r in _releases(site=site)],
        "next_batch": next_batch(site),
    }
    if staff:
        context["pending"] = packages.pending(site)
        context["plan_form"] = PlanForm()
    return context


@agency_required
@require_POST
def staff_plan(request: HttpRequest, pk: int) -> HttpResponse:
    site = _staff_site(pk)
    form = PlanForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Release not planned: {_errors(form)}")
        return redirect(reverse("staff_updates_site", args=[pk]))
    chosen = list(form.cleaned_data["packages"])
    if not chosen:
        messages.error(request, "Release not planned: tick at least one pending update.")
        return redirect(reverse("staff_updates_site", args=[pk]))
    try:
        with acting_as(request.user):
            release = updates.plan_release(
                site, kind=form.cleaned_data["kind"], user=request.user, packages=chosen
            )
    except ValueError as error:
        messages.error(request, f"Release not planned: {error}")
        return redirect(reverse("staff_updates_site", args=[pk]))
    if release is None:
        messages.info(request, "Nothing to release: no pending update for this site.")
        return redirect(reverse("staff_updates_site", args=[pk]))
    # Stage right away rather than at the worker's next pass; production still waits for its window.
    transaction.on_commit(lambda: enqueue_release(release.pk))
    messages.success(request, f"Release {release.slot} planned with {release.changes.count()} change(s).")
    return redirect(reverse("staff_updates_release", args=[release.pk]))


def _errors(form: forms.Form) -> str:
    return "; ".join(f"{name}: {' '.join(errs)}" for name, errs in form.errors.items())


def _release(pk: int, sites: Any = None) -> Release:
    found = _releases() if sites is None else _releases(site__in=sites)
    return get_object_or_404(found, pk=pk)


def release_context(release: Release, *, staff: bool) -> dict[str, Any]:
    return {
        **release_row(release),
        "site": release.site,
        "staff": staff,
        "groups": check_groups(release, staff=staff),
        "restore_point": restore_point(release),
        "busy": release.status in BUSY,
        "live": live_progress(release.progress or {}),
        "can_approve": staff
        and release.status in ACTIVE
        and not release.approved_by_id
        and release.kind == ReleaseKind.MANUAL,
        "can_cancel": staff and release.status in CANCELLABLE,
        "can_advance": staff and release.status in ACTIVE,
        "cancel_form": CancelForm() if staff else None,
    }


@agency_required
def staff_release(request: HttpRequest, pk: int) -> HttpResponse:
    release = _release(pk)
    return render(request, "releases/release.html", release_context(release, staff=True))


@agency_required
def staff_release_live(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress fragment htmx polls while the release is staging or deploying."""
    release = _release(pk)
    busy = release.status in BUSY
    context = {"release": release, "busy": busy, "live": live_progress(release.progress or {})}
    response = render(request, "releases/release_live.html", context)
    if not busy and request.headers.get("HX-Request"):
        response["HX-Refresh"] = "true"  # the step ended: reload the page for its checks, log and outcome
    return response


def _back(release: Release) -> HttpResponse:
    return redirect(reverse("staff_updates_release", args=[release.pk]))


@agency_required
@require_POST
def staff_approve(request: HttpRequest, pk: int) -> HttpResponse:
    release = _release(pk)
    try:
        with acting_as(request.user):
            updates.approve(release, request.user)
    except ValueError as error:
        messages.error(request, f"Not approved: {error}")
    else:
        messages.success(request, "Release approved: production is updated in its maintenance window.")
    return _back(release)


@agency_required
@require_POST
def staff_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    release = _release(pk)
    form = CancelForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a reason to cancel the release.")
        return _back(release)
    try:
        with acting_as(request.user):
            updates.cancel(release, request.user, form.cleaned_data["reason"])
    except ValueError as error:
        messages.error(request, f"Not cancelled: {error}")
    else:
        messages.success(request, "Release cancelled.")
    return _back(release)


def enqueue_release(release_id: int) -> None:
    """The worker's task (releases/tasks.py), looked up at call time so tests can replace it."""
    from sitekeeper.releases import tasks

    tasks.release_task(release_id)  # type: ignore[attr-defined]


@agency_required
@require_POST
def staff_advance(request: HttpRequest, pk: int) -> HttpResponse:
    """Do now whatever step is due (the worker does it on its own every few minutes); the request is the
    person's audited act, the steps are the worker's."""
    release = _release(pk)
    if release.status not in ACTIVE:
        messages.error(request, f"Nothing to advance: the release is {release.get_status_display().lower()}.")
        return _back(release)
    with acting_as(request.user), transaction.atomic():
        AuditEntry.objects.create(
            actor=request.user, actor_label=request.user.username, action=AuditEntry.Action.UPDATE,
            model="releases.Release", object_pk=str(release.pk), object_repr=f"Advance now: {release}"[:200],
            after={"advance": True, "status": release.status}, client_id=release.site.client_id,
        )  # fmt: skip
        transaction.on_commit(lambda: enqueue_release(release.pk))
    messages.success(request, "Queued: the worker does every step that is due now; progress shows below.")
    return _back(release)


def _package_rows() -> Any:
    return UpdatePackage.objects.select_related("added_by").order_by("ecosystem", "slug", "-added_at")


def _packages_page(
    request: HttpRequest, upload: UploadForm, fetch: FetchForm, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "releases/updates_packages.html",
        {"packages": _package_rows(), "upload_form": upload, "fetch_form": fetch},
        status=status,
    )


@agency_required
def staff_packages(request: HttpRequest) -> HttpResponse:
    """The packages (GET) and an upload (POST, multipart)."""
    if request.method != "POST":
        return _packages_page(request, UploadForm(), FetchForm())
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _packages_page(request, form, FetchForm(), status=400)
    upload = form.cleaned_data["file"]
    # A big upload is already on disk (Django spools it): hand over the path rather than reading it in.
    data = upload.temporary_file_path() if hasattr(upload, "temporary_file_path") else upload.read()
    try:
        with acting_as(request.user):
            package = packages.add_package(
                data if isinstance(data, bytes) else Path(data),
                filename=upload.name, security=form.cleaned_data["security"], user=request.user,
                notes=form.cleaned_data["notes"],
            )  # fmt: skip
    except packages.PackageError as error:
        form.add_error("file", str(error))
        return _packages_page(request, form, FetchForm(), status=400)
    messages.success(request, f"Package {package.slug} {package.version} stored ({package.sha256[:12]}…).")
    return redirect(reverse("staff_updates_packages"))


@agency_required
@require_POST
def staff_fetch(request: HttpRequest) -> HttpResponse:
    form = FetchForm(request.POST)
    if not form.is_valid():
        return _packages_page(request, UploadForm(), form, status=400)
    try:
        with acting_as(request.user):
            package = packages.fetch_package(
                form.cleaned_data["url"], security=form.cleaned_data["security"], user=request.user
            )
    except (packages.PackageError, http.HTTPError, http.InvalidURL) as error:
        form.add_error("url", f"Not fetched: {error}")
        return _packages_page(request, UploadForm(), form, status=400)
    messages.success(request, f"Package {package.slug} {package.version} fetched and stored.")
    return redirect(reverse("staff_updates_packages"))


# Client portal ----------------------------------------------------------------------------------------------


@portal_view(lambda pk: reverse("staff_updates_site", args=[pk]))
def portal_site(request: HttpRequest, pk: int) -> HttpResponse:
    site = get_object_or_404(client_sites(request.user).select_related("client"), pk=pk)
    return render(request, "releases/updates_site.html", _site_context(site, staff=False))


@portal_view(lambda pk: reverse("staff_updates_release", args=[pk]))
def portal_release(request: HttpRequest, pk: int) -> HttpResponse:
    release = _release(pk, sites=client_sites(request.user))
    return render(request, "releases/release.html", release_context(release, staff=False))
