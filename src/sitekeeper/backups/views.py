"""Backups pages: the catalogue (staff console and client portal), the live job status fragment, staff
actions (back up now, run a restore test, restore, mark the runbook reviewed), the client's download
request, and the recovery runbook (page + Markdown).

Access (tests/web/test_persona_matrix.py checks each route):
- /staff/backups/…: agency roles only (access.permissions.agency_required);
- /portal/backups/…: the person's own client's sites (client_sites), agency people go to the console; the
  portal is read-only except a download request, which only the client's product owner may make.
Secrets never reach a page: repositories are shown through presenters (location without credentials), and
sources without their database URL.

Jobs are not run in the request: they are handed to the worker with `sitekeeper.backups.tasks.enqueue`.
Every action is recorded in the audit log under the person who took it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from sitekeeper.access.audit import acting_as
from sitekeeper.access.models import AuditEntry, Role
from sitekeeper.access.permissions import agency_required, client_sites, portal_view
from sitekeeper.backups import presenters, runbook
from sitekeeper.backups import presenters_client as client_words
from sitekeeper.backups import restore as restore_jobs
from sitekeeper.backups.models import BackupRun, Export, Layer, Restore, Snapshot
from sitekeeper.contracts.models import Site
from sitekeeper.contracts.presenters import zone_of

# Forms --------------------------------------------------------------------------------------------------


class BackupNowForm(forms.Form):
    layer = forms.ChoiceField(choices=Layer.choices)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


class RestoreForm(forms.Form):
    snapshot = forms.ModelChoiceField(queryset=Snapshot.objects.none(), empty_label=None)
    target = forms.ChoiceField(choices=Restore.Target.choices, initial=Restore.Target.STAGE)
    paths = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "wp-content/uploads/2026/05 (one per line)"}),
        help_text="Files: only these paths (empty: everything)",
    )
    tables = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "wp_posts, wp_postmeta"}),
        help_text="Database: only these tables (empty: all)",
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)
    confirmation = forms.CharField(required=False, max_length=300)

    def __init__(self, *args: Any, site: Site, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.site = site
        self.fields["snapshot"].queryset = Snapshot.objects.filter(site=site, forgotten_at=None)
        self.fields["snapshot"].label_from_instance = lambda s: (
            f"{s.time:%Y-%m-%d %H:%M} UTC · {s.get_layer_display()} · {s.source_name} · {s.short_id}"
        )

    def clean(self) -> dict[str, Any]:
        # The confirmation and the subsets are checked by restore.request_restore (one rule for every way
        # in); here the text fields only become lists.
        data = super().clean()
        data["paths"] = _lines(data.get("paths") or "")
        data["tables"] = _lines(data.get("tables") or "")
        return data


class ExportForm(forms.Form):
    snapshot = forms.IntegerField()
    format = forms.ChoiceField(choices=Export.Format.choices, initial=Export.Format.TAR)


def confirmation_phrase(snapshot: Snapshot) -> str:
    """What a person types to restore to production: the site and the recovery point."""
    return restore_jobs.confirmation_text(snapshot)


# Hand-off to the worker ---------------------------------------------------------------------------------


def enqueue(kind: str, **kwargs: Any) -> None:
    """The worker's queue (backups/tasks.py, owned by the jobs side); looked up at call time so tests can
    replace it and so this module imports before the tasks exist."""
    from sitekeeper.backups import tasks

    tasks.enqueue(kind, **kwargs)


def _audit(
    request: HttpRequest, site: Site, model: str, what: str, *, after: dict[str, Any], pk: Any = ""
) -> None:
    """Record a person's request for a job. The job rows (runs, restore tests) are written later by the
    worker, which has no person to attribute them to, so the request itself is the audited change."""
    AuditEntry.objects.create(
        actor=request.user,
        actor_label=request.user.username,
        action=AuditEntry.Action.CREATE,
        model=model,
        object_pk=str(pk),
        object_repr=f"{what} · {site}"[:200],
        after=after,
        client_id=site.client_id,
    )


# Page contexts --------------------------------------------------------------------------------------------


def site_context(site: Site, *, staff: bool, user: Any) -> dict[str, Any]:
    now = timezone.now()
    config = presenters.backup_config(site)
    tests = list(presenters.restore_tests(site)[: presenters.TESTS_SHOWN])
    context: dict[str, Any] = {
        "site": site,
        "staff": staff,
        "now": now,
        "config": config,
        "gap": presenters.backup_gap(site, config),
        "in_service": presenters.in_service(site, now),
        "repository": presenters.repository_json(config) if config else None,
        "layers": presenters.layer_states(site, config, now),
        "sources": presenters.sources_by_layer(site),
        "snapshot_groups": presenters.snapshots_by_layer(site),
        "dedup_label": presenters.DEDUP_LABEL,
        "retention": presenters.retention(site),
        "last_verified": presenters.last_verified(site),
        "tests": [{"test": t, "rows": presenters.evidence_rows(t)} for t in tests],
        "running": presenters.running(site),
        "runbook_stale": runbook.is_stale(config),
        "exports": Export.objects.filter(snapshot__site=site).select_related("snapshot", "requested_by")[:10],
        "can_export": not staff and getattr(user, "role", "") == Role.CLIENT_OWNER,
        "live_url": reverse("staff_backups_live" if staff else "portal_backups_live", args=[site.pk]),
    }
    if staff:
        runs = list(
            BackupRun.objects.filter(site=site).select_related("requested_by")[: presenters.RUNS_SHOWN]
        )
        for run in runs:  # labels for the template
            run.size_label = presenters.human_bytes(run.bytes_processed)  # type: ignore[attr-defined]
            run.added_label = presenters.human_bytes(run.bytes_added)  # type: ignore[attr-defined]
        context["runs"] = runs
        context["failures"] = presenters.failed_runs(site)[:10]
        context["restores"] = Restore.objects.filter(site=site).select_related("snapshot", "decided_by")[:10]
        context["backup_form"] = BackupNowForm()
        context["restore_form"] = RestoreForm(site=site)
    return context


def client_site_context(site: Site, *, user: Any) -> dict[str, Any]:
    """The portal's backups page: the same facts as the staff page, in the client's words
    (presenters_client) — no backup-tool ids, checksums, server paths or error text."""
    now = timezone.now()
    config = presenters.backup_config(site)
    zone = zone_of(site.client.contract)
    return {
        "site": site,
        "staff": False,
        "zone": zone,
        "config": config,
        "gap": presenters.backup_gap(site, config),
        "in_service": presenters.in_service(site, now),
        "storage": client_words.storage_words(config) if config else "",
        "schedule": client_words.schedule_words(config, zone) if config else "",
        "off_site": config.off_site if config else None,
        "layers": [
            (state, client_words.LAYER_WORDS.get(state.layer, state.label))
            for state in presenters.layer_states(site, config, now)
        ],
        "retention": presenters.retention(site),
        "last_verified": presenters.last_verified(site),
        "groups": client_words.recovery_points(site),
        "tests": client_words.restore_test_lines(site),
        "downloads": client_words.downloads(site),
        "jobs": client_words.jobs(site),
        "runbook_stale": runbook.is_stale(config),
        "can_export": getattr(user, "role", "") == Role.CLIENT_OWNER,
        "live_url": reverse("portal_backups_live", args=[site.pk]),
    }


# Staff console --------------------------------------------------------------------------------------------


@agency_required
def staff_overview(request: HttpRequest) -> HttpResponse:
    rows = presenters.overview(Site.objects.all(), timezone.now())
    return render(request, "backups/overview.html", {"rows": rows, "staff": True, "layers": Layer.choices})


@agency_required
def staff_site(request: HttpRequest, pk: int) -> HttpResponse:
    site = get_object_or_404(Site.objects.select_related("client"), pk=pk)
    return render(request, "backups/site.html", site_context(site, staff=True, user=request.user))


@agency_required
def staff_live(request: HttpRequest, pk: int) -> HttpResponse:
    site = get_object_or_404(Site, pk=pk)
    return _live(request, site, reverse("staff_backups_live", args=[pk]))


def _live(request: HttpRequest, site: Site, url: str) -> HttpResponse:
    return render(
        request, "backups/_live.html", {"running": presenters.running(site), "live_url": url, "site": site}
    )


def _back(site: Site) -> HttpResponse:
    return redirect(reverse("staff_backups_site", args=[site.pk]))


def _staff_site(pk: int) -> Site:
    return get_object_or_404(Site.objects.select_related("client"), pk=pk)


@agency_required
@require_POST
def staff_backup_now(request: HttpRequest, pk: int) -> HttpResponse:
    site = _staff_site(pk)
    form = BackupNowForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Choose a layer to back up ({', '.join(Layer.values)}).")
        return _back(site)
    if presenters.backup_config(site) is None:
        messages.error(request, "This site has no backup configuration yet: nothing to back up.")
        return _back(site)
    layer = form.cleaned_data["layer"]
    with acting_as(request.user), transaction.atomic():
        _audit(
            request,
            site,
            "backups.BackupRun",
            f"Back up now: {layer}",
            after={"layer": layer, "site": site.pk},
        )
        transaction.on_commit(lambda: enqueue("backup", site=site, layer=layer, user=request.user))
    messages.success(request, f"{Layer(layer).label} backup queued; progress shows below.")
    return _back(site)


@agency_required
@require_POST
def staff_restore_test(request: HttpRequest, pk: int) -> HttpResponse:
    site = _staff_site(pk)
    if presenters.backup_config(site) is None:
        messages.error(request, "This site has no backup configuration yet: nothing to test.")
        return _back(site)
    with acting_as(request.user), transaction.atomic():
        _audit(request, site, "backups.RestoreTest", "Run restore test", after={"site": site.pk})
        transaction.on_commit(lambda: enqueue("restore_test", site=site, user=request.user))
    messages.success(request, "Restore test queued: integrity check, then a restore into scratch space.")
    return _back(site)


@agency_required
def staff_restore(request: HttpRequest, pk: int) -> HttpResponse:
    """The restore form (GET) and the request (POST): stage by default, production only with the typed
    confirmation; the person who confirms is recorded as the one who decided."""
    site = _staff_site(pk)
    form = RestoreForm(request.POST or None, site=site)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with acting_as(request.user), transaction.atomic():
                restore = _request_restore(request, site, data)
        except restore_jobs.RestoreRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Restore to {restore.get_target_display()} queued.")
            return _back(site)
    context = site_context(site, staff=True, user=request.user)
    context["restore_form"] = form
    context["phrases"] = {s.pk: confirmation_phrase(s) for s in form.fields["snapshot"].queryset[:200]}
    return render(request, "backups/restore.html", context, status=400 if request.method == "POST" else 200)


def _request_restore(request: HttpRequest, site: Site, data: dict[str, Any]) -> Restore:
    prod = data["target"] == Restore.Target.PROD
    restore = restore_jobs.request_restore(
        data["snapshot"],
        target=data["target"],
        user=request.user,
        paths=data["paths"],
        tables=data["tables"],
        confirmation=" ".join(data["confirmation"].split()) if prod else "",
        reason=data["reason"],
    )
    _audit(
        request,
        site,
        "backups.Restore",
        f"Restore {restore.snapshot.short_id} to {restore.target}",
        after={
            "snapshot": restore.snapshot.restic_id,
            "target": restore.target,
            "paths": restore.paths,
            "tables": restore.tables,
            "reason": restore.reason,
            "confirmation": restore.confirmation,
        },
        pk=restore.pk,
    )
    transaction.on_commit(lambda: enqueue("restore", restore=restore))
    return restore


@agency_required
@require_POST
def staff_runbook_reviewed(request: HttpRequest, pk: int) -> HttpResponse:
    site = _staff_site(pk)
    config = presenters.backup_config(site)
    if config is None:
        messages.error(request, "This site has no backup configuration, so no runbook to review.")
        return _back(site)
    with acting_as(request.user):  # SiteBackup is audited: the review is recorded under this person
        runbook.mark_reviewed(config)
    messages.success(request, "Runbook marked as reviewed.")
    return redirect(reverse("staff_backups_runbook", args=[site.pk]))


@agency_required
def staff_runbook(request: HttpRequest, pk: int) -> HttpResponse:
    site = _staff_site(pk)
    return _runbook_page(request, site, staff=True)


@agency_required
def staff_runbook_md(request: HttpRequest, pk: int) -> HttpResponse:
    return _runbook_markdown(_staff_site(pk))


def _runbook_page(request: HttpRequest, site: Site, *, staff: bool) -> HttpResponse:
    if not staff:  # the client's version: what to expect in a recovery, who decides, what to provide
        book = runbook.client_runbook(site)
        return render(request, "backups/runbook_client.html", {"site": site, "book": book, "staff": False})
    book = runbook.runbook(site)
    return render(request, "backups/runbook.html", {"site": site, "book": book, "staff": staff})


def _runbook_markdown(site: Site, *, staff: bool = True) -> HttpResponse:
    if staff:
        text = runbook.to_markdown(runbook.runbook(site))
    else:
        text = runbook.client_markdown(runbook.client_runbook(site))
    response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="runbook-site-{site.pk}.md"'
    return response


# Client portal ---------------------------------------------------------------------------------------------


@portal_view(lambda: reverse("staff_backups"))
def portal_overview(request: HttpRequest) -> HttpResponse:
    rows = presenters.overview(client_sites(request.user), timezone.now())
    return render(
        request,
        "backups/overview.html",
        {"rows": rows, "staff": False, "layers": Layer.choices, "client": request.user.client},
    )


def _portal_site(request: HttpRequest, pk: int) -> Site:
    return get_object_or_404(client_sites(request.user).select_related("client"), pk=pk)


@portal_view(lambda pk: reverse("staff_backups_site", args=[pk]))
def portal_site(request: HttpRequest, pk: int) -> HttpResponse:
    site = _portal_site(request, pk)
    return render(request, "backups/portal_site.html", client_site_context(site, user=request.user))


@portal_view(lambda pk: reverse("staff_backups_live", args=[pk]))
def portal_live(request: HttpRequest, pk: int) -> HttpResponse:
    site = _portal_site(request, pk)
    context = {
        "jobs": client_words.jobs(site),
        "live_url": reverse("portal_backups_live", args=[pk]),
        "site": site,
        "zone": zone_of(site.client.contract),
    }
    return render(request, "backups/_live_client.html", context)


@portal_view(lambda pk: reverse("staff_backups_runbook", args=[pk]))
def portal_runbook(request: HttpRequest, pk: int) -> HttpResponse:
    return _runbook_page(request, _portal_site(request, pk), staff=False)


@portal_view(lambda pk: reverse("staff_backups_runbook_md", args=[pk]))
def portal_runbook_md(request: HttpRequest, pk: int) -> HttpResponse:
    return _runbook_markdown(_portal_site(request, pk), staff=False)


@portal_view(lambda pk: reverse("staff_backups_site", args=[pk]))
def portal_export(request: HttpRequest, pk: int) -> HttpResponse:
    """The client's product owner asks for a snapshot as a tar/zip download (packed by the worker)."""
    site = _portal_site(request, pk)  # first: another client's site is a 404 whatever the method
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if request.user.role != Role.CLIENT_OWNER:
        raise PermissionDenied("Only the product owner may request a download of a backup.")
    back = redirect(reverse("portal_backups_site", args=[site.pk]))
    form = ExportForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a backup and a format (tar or zip).")
        return back
    snapshot = Snapshot.objects.filter(site=site, forgotten_at=None, pk=form.cleaned_data["snapshot"]).first()
    if snapshot is None:
        messages.error(request, "That backup is not one of this site's kept backups (it may have expired).")
        return back
    try:
        with acting_as(request.user), transaction.atomic():
            export = restore_jobs.request_export(
                snapshot, user=request.user, format=form.cleaned_data["format"]
            )
            _audit(
                request,
                site,
                "backups.Export",
                f"Download {snapshot.short_id} as {export.format}",
                after={"snapshot": snapshot.restic_id, "format": export.format},
                pk=export.pk,
            )
            transaction.on_commit(lambda: enqueue("export", export=export))
    except restore_jobs.RestoreRefused as exc:
        messages.error(request, str(exc))
        return back
    messages.success(request, "Download requested: it is being packed; the link appears here when ready.")
    return back


def _export_file(export: Export) -> Path:
    """The packed file of a ready, unexpired export, confined to SITEKEEPER_HOME/exports."""
    if export.status != Export.Status.READY or not export.file:
        raise Http404("This download is not ready.")
    if export.expires_at and export.expires_at <= timezone.now():
        raise Http404("This download has expired; request a new one.")
    root = restore_jobs.exports_root().resolve()
    path = restore_jobs.export_path(export).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise Http404("The packed file is missing.")
    return path


def _serve_export(export: Export) -> FileResponse:
    path = _export_file(export)
    name = f"site-{export.snapshot.site_id}-{export.snapshot.short_id}.{export.format}"
    return FileResponse(path.open("rb"), as_attachment=True, filename=name)


@agency_required
def staff_export_download(request: HttpRequest, pk: int) -> HttpResponse:
    return _serve_export(get_object_or_404(Export.objects.select_related("snapshot"), pk=pk))


@portal_view(lambda pk: reverse("staff_backups_export", args=[pk]))
def portal_export_download(request: HttpRequest, pk: int) -> HttpResponse:
    export = get_object_or_404(
        Export.objects.select_related("snapshot").filter(snapshot__site__in=client_sites(request.user)), pk=pk
    )
    return _serve_export(export)
