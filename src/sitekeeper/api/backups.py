"""REST API /api/v1/backups: the backup catalogue per site — summary (last verified restorable, off-site),
snapshots, runs and restore tests — and, for agency staff, starting a backup or a restore test.

Scoped like the portal: a client person's token reaches only their own client's sites (another client's
site is a 404); agency tokens reach every site. Job logs and restic's check output are for agency staff
only. Nothing here ever carries a secret: repositories are described through backups.presenters (location
without credentials), never their password or keys, and sources never with their database URL.
Mounted by api/views.py under /backups.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.db import transaction
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Router, Schema, Status
from ninja.errors import HttpError
from pydantic import ConfigDict, Field

from sitekeeper.access.audit import acting_as
from sitekeeper.access.models import AuditEntry, User
from sitekeeper.access.permissions import visible_sites
from sitekeeper.api.errors import ErrorOut, answers
from sitekeeper.api.params import SiteId, choices_of
from sitekeeper.backups import presenters, runbook
from sitekeeper.backups.models import BackupRun, Repository, RestoreTest, Snapshot
from sitekeeper.contracts.models import Site

router = Router(tags=["backups"])

MAX_ROWS = 500
LayerName = choices_of(BackupRun, "layer")


# Schemas ---------------------------------------------------------------------------------------------------


class RepositoryOut(Schema):
    name: str
    kind: choices_of(Repository, "kind")  # type: ignore[valid-type]
    kind_label: str
    location: str = Field(description="Where the repository is; credentials are never included")
    host: str = Field(description="Host the repository lives on ('' = a local folder)")
    status: choices_of(Repository, "status")  # type: ignore[valid-type]
    download_until: dt.datetime | None
    off_site: bool = Field(description="False: the repository is on the host the site runs on")


class LayerOut(Schema):
    layer: LayerName  # type: ignore[valid-type]
    last_snapshot: dt.datetime | None
    stale: bool
    stale_after_hours: int | None
    last_run_status: choices_of(BackupRun, "status") | None  # type: ignore[valid-type]
    last_run_at: dt.datetime | None
    failed: bool


class RetentionOut(Schema):
    days: int | None = Field(description="Retention of the client's plan")
    kept: int
    forgotten: int
    oldest_kept: dt.datetime | None


class SiteBackupOut(Schema):
    id: int
    client: str = Field(description="Client slug")
    name: str
    url: str
    configured: bool = Field(description="Whether the site has a backup configuration at all")
    backup_source: bool = Field(
        description="Backups switched on with at least one production source: false means nothing backs the "
        "site up yet (an agency-side gap, never 'all clear')"
    )
    off_site: bool | None = Field(description="null when not configured")
    last_verified: dt.datetime | None = Field(
        description="When the latest passed restore test finished: last verified restorable"
    )
    repository: RepositoryOut | None
    layers: list[LayerOut]
    retention: RetentionOut | None
    failures: int = Field(description="Failed backup runs on record")
    runbook_stale: bool


class SnapshotOut(Schema):
    id: int
    restic_id: str
    short_id: str
    time: dt.datetime
    layer: LayerName  # type: ignore[valid-type]
    source_name: str
    source_kind: choices_of(Snapshot, "source_kind")  # type: ignore[valid-type]
    bytes_processed: int
    bytes_added: int
    files: int
    duration_seconds: float
    forgotten_at: dt.datetime | None


class RunOut(Schema):
    id: int
    layer: LayerName  # type: ignore[valid-type]
    trigger: choices_of(BackupRun, "trigger")  # type: ignore[valid-type]
    slot: str
    status: choices_of(BackupRun, "status")  # type: ignore[valid-type]
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    duration_seconds: float | None
    attempts: int
    bytes_processed: int
    bytes_added: int
    files: int
    progress: dict[str, Any]
    error: str | None = Field(description="Agency staff only (null for client tokens)")
    log: str | None = Field(description="Agency staff only (null for client tokens)")


class RestoreTestOut(Schema):
    id: int
    trigger: str
    slot: str
    status: choices_of(RestoreTest, "status")  # type: ignore[valid-type]
    started_at: dt.datetime
    finished_at: dt.datetime | None
    duration_seconds: float | None
    check_subset: str
    check_passed: bool | None
    evidence: list[Any]
    error: str
    check_output: str | None = Field(description="Agency staff only (null for client tokens)")


class BackupIn(Schema):
    model_config = ConfigDict(strict=True)  # taken as the schema says, never coerced

    layer: LayerName = Field(description="data, code or config")  # type: ignore[valid-type]


class QueuedOut(Schema):
    queued: Literal["backup", "restore_test"]
    site: int
    layer: LayerName | None = None  # type: ignore[valid-type]


# Helpers ---------------------------------------------------------------------------------------------------


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined,no-any-return]


def _site(request: HttpRequest, site_id: int) -> Site:
    return get_object_or_404(visible_sites(_user(request)), pk=site_id)


def _summary(site: Site, now: dt.datetime) -> dict[str, Any]:
    config = presenters.backup_config(site)
    return {
        "id": site.pk,
        "client": site.client.slug,
        "name": str(site),
        "url": site.url,
        "configured": config is not None,
        # Configured is not enough: switched on with at least one production source is what backs a site up.
        "backup_source": presenters.has_backup_source(site),
        "off_site": config.off_site if config else None,
        "last_verified": presenters.last_verified(site),
        "repository": presenters.repository_json(config) if config else None,
        "layers": [state.as_json() for state in presenters.layer_states(site, config, now)],
        "retention": presenters.retention(site).as_json() if config else None,
        "failures": presenters.failed_runs(site).filter(status="failed").count(),
        "runbook_stale": runbook.is_stale(config),
    }


def _staff_only(request: HttpRequest) -> User:
    user = _user(request)
    if not user.is_agency:
        raise HttpError(403, "Only agency staff start backup jobs; ask through a request.")
    return user


def _configured(site: Site) -> None:
    if presenters.backup_config(site) is None:
        raise HttpError(409, f"site {site.pk} has no backup configuration")


def _enqueue(kind: str, **kwargs: Any) -> None:
    from sitekeeper.backups import views  # one hand-off point, patched in tests

    views.enqueue(kind, **kwargs)


def _record(user: User, site: Site, model: str, what: str, after: dict[str, Any]) -> None:
    """The request for a job is the person's change (the worker writes the job rows later, unattributed)."""
    AuditEntry.objects.create(
        actor=user,
        actor_label=f"api:{user.username}"[:150],
        action=AuditEntry.Action.CREATE,
        model=model,
        object_pk="",
        object_repr=f"{what} · {site}"[:200],
        after=after,
        client_id=site.client_id,
    )


# Routes ----------------------------------------------------------------------------------------------------


@router.get("/sites", response=answers({200: list[SiteBackupOut]}))
def list_sites(request: HttpRequest) -> list[dict[str, Any]]:
    """Every site the token may see, with its backup summary (unconfigured sites say so)."""
    now = timezone.now()
    sites = visible_sites(_user(request)).order_by("client__name", "name", "url")
    return [_summary(site, now) for site in sites]


@router.get("/sites/{int:site_id}", response=answers({200: SiteBackupOut}))
def get_site(request: HttpRequest, site_id: SiteId) -> dict[str, Any]:
    return _summary(_site(request, site_id), timezone.now())


@router.get("/sites/{int:site_id}/snapshots", response=answers({200: list[SnapshotOut]}))
def list_snapshots(
    request: HttpRequest,
    site_id: SiteId,
    layer: LayerName | None = None,  # type: ignore[valid-type]
    include_forgotten: bool = False,
) -> list[Snapshot]:
    """Catalogued snapshots, newest first; `layer` = data, code or config; forgotten ones on request."""
    site = _site(request, site_id)
    snaps = Snapshot.objects.filter(site=site)
    if layer:
        snaps = snaps.filter(layer=layer)
    if not include_forgotten:
        snaps = snaps.filter(forgotten_at=None)
    return list(snaps.order_by("-time")[:MAX_ROWS])


@router.get("/sites/{int:site_id}/runs", response=answers({200: list[RunOut]}))
def list_runs(request: HttpRequest, site_id: SiteId) -> list[dict[str, Any]]:
    site = _site(request, site_id)
    staff = _user(request).is_agency
    rows = []
    for run in BackupRun.objects.filter(site=site).order_by("-created_at")[:MAX_ROWS]:
        rows.append(
            {
                **{name: getattr(run, name) for name in RunOut.model_fields if name not in {"error", "log"}},
                "error": run.error if staff else None,
                "log": run.log if staff else None,
            }
        )
    return rows


@router.get("/sites/{int:site_id}/restore-tests", response=answers({200: list[RestoreTestOut]}))
def list_restore_tests(request: HttpRequest, site_id: SiteId) -> list[dict[str, Any]]:
    site = _site(request, site_id)
    staff = _user(request).is_agency
    rows = []
    for test in RestoreTest.objects.filter(site=site).order_by("-started_at")[:MAX_ROWS]:
        fields = {name: getattr(test, name) for name in RestoreTestOut.model_fields if name != "check_output"}
        rows.append({**fields, "check_output": test.check_output if staff else None})
    return rows


@router.post(
    "/sites/{int:site_id}/runs",
    response=answers({202: QueuedOut, 409: ErrorOut}),
)
def start_backup(request: HttpRequest, site_id: SiteId, payload: BackupIn) -> Status:
    """Agency staff: back up one layer of the site now (queued for the worker)."""
    site = _site(request, site_id)  # first: another client's site is a 404, not a 403
    user = _staff_only(request)
    _configured(site)
    layer = str(payload.layer)
    with acting_as(user, label=f"api:{user.username}"), transaction.atomic():
        _record(user, site, "backups.BackupRun", f"Back up now: {layer}", {"layer": layer, "site": site.pk})
        transaction.on_commit(lambda: _enqueue("backup", site=site, layer=layer, user=user))
    return Status(202, {"queued": "backup", "site": site.pk, "layer": layer})


@router.post(
    "/sites/{int:site_id}/restore-tests",
    response=answers({202: QueuedOut, 409: ErrorOut}),
)
def start_restore_test(request: HttpRequest, site_id: SiteId) -> Status:
    """Agency staff: run a restore test now (integrity check + restore into scratch space, queued)."""
    site = _site(request, site_id)
    user = _staff_only(request)
    _configured(site)
    with acting_as(user, label=f"api:{user.username}"), transaction.atomic():
        _record(user, site, "backups.RestoreTest", "Run restore test", {"site": site.pk})
        transaction.on_commit(lambda: _enqueue("restore_test", site=site, user=user))
    return Status(202, {"queued": "restore_test", "site": site.pk})
