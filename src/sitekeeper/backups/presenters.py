"""Backups put into figures for pages, the API and the runbook: one place, so console, portal, API and the
runbook agree on what "last verified restorable", "not off-site" or "stale" mean.

Nothing here returns a secret: a repository is described by kind, location (with any credentials in a URL
removed) and host, never by its password, keys or a source's database URL.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.db.models import Max, Q, QuerySet

from sitekeeper.backups.models import (
    BackupRun,
    Export,
    Layer,
    Repository,
    Restore,
    RestoreTest,
    RunStatus,
    SiteBackup,
    Snapshot,
    Source,
)
from sitekeeper.contracts.models import Site

# How old the newest snapshot of a layer may be before it counts as stale, when the site sets no override
# (SiteBackup.stale_hours): data and code are daily (a day plus two hours of slack); config is backed up on
# change, so its age alone says nothing.
DEFAULT_STALE_HOURS: dict[str, int | None] = {Layer.DATA: 26, Layer.CODE: 26, Layer.CONFIG: None}
RUNS_SHOWN = 30
SNAPSHOTS_SHOWN = 60
TESTS_SHOWN = 12
DEDUP_LABEL = "data read ÷ new data stored, over the kept snapshots: how many times over deduplication pays"


def last_verified(site: Site) -> dt.datetime | None:
    """When a restore test last proved this site's backups restorable (a failed test never counts): the end
    of its latest passed test, the date behind "last verified restorable" on every page, in the API and the
    runbook."""
    return (
        RestoreTest.objects.filter(site=site, status=RestoreTest.Status.PASSED)
        .exclude(finished_at=None)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )


def safe_location(repo: Repository) -> str:
    """The repository's location for people to read: a URL loses any user:password it may carry."""
    location = repo.location
    if repo.kind in {Repository.Kind.S3, Repository.Kind.REST} and "://" in location:
        parts = urlsplit(location)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        location = urlunsplit((parts.scheme, host, parts.path, "", ""))
    if repo.kind == Repository.Kind.SFTP and repo.port:
        location = f"{location} (port {repo.port})"
    return location


def backup_config(site: Site) -> SiteBackup | None:
    try:
        return SiteBackup.objects.select_related("repository").get(site=site)
    except SiteBackup.DoesNotExist:
        return None


def has_backup_source(site: Site) -> bool:
    """Is the site backed up automatically: backup settings switched on and at least one production source?
    False for a site whose contract is in service is an agency-side gap (issue 12, item 1)."""
    return Source.objects.filter(site=site, environment="prod", site__backup__enabled=True).exists()


NOT_SET_UP = "Backups are not set up yet for this site — we are arranging it."
PAUSED = "Automatic backups are paused for this site — we are arranging it."


@dataclass(frozen=True)
class Gap:
    """Nothing backs the site up automatically: why, for staff, and the plain sentence the client reads."""

    staff: str
    client: str
    label: str  # the client's short label in lists


def backup_gap(site: Site, config: SiteBackup | None) -> Gap | None:
    """Why nothing backs the site up automatically (None when something does, or when the contract has
    ended and the repository's transition note says what happens instead)."""
    if config is None:
        return Gap("this site has no backup settings (repository, schedule)", NOT_SET_UP, "not set up yet")
    if config.repository.status != Repository.Status.ACTIVE:
        return None
    if not Source.objects.filter(site=site, environment="prod").exists():
        return Gap(
            "no production source (database, files) is set up for this site", NOT_SET_UP, "not set up yet"
        )
    if not config.enabled:
        return Gap("automatic backups are switched off for this site", PAUSED, "paused")
    return None


def in_service(site: Site, now: dt.datetime) -> bool:
    from sitekeeper.contracts.service import site_in_service

    return site_in_service(site, now)


def stale_hours(config: SiteBackup | None, layer: str) -> int | None:
    override = (config.stale_hours or {}) if config else {}
    value = override.get(layer, DEFAULT_STALE_HOURS.get(layer))
    return int(value) if value is not None else None


def human_bytes(value: int | float | None) -> str:
    if value is None:
        return "—"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"  # pragma: no cover  (the loop always returns)


def human_age(delta: dt.timedelta | None) -> str:
    if delta is None:
        return "—"
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{max(minutes, 0)} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h"
    return f"{hours // 24} days"


def dedup_ratio(snapshots: list[Snapshot]) -> float | None:
    """Σ bytes read ÷ Σ new bytes stored: 10 means the kept snapshots take a tenth of their plain size."""
    added = sum(s.bytes_added for s in snapshots)
    processed = sum(s.bytes_processed for s in snapshots)
    if added <= 0:
        return None
    return round(processed / added, 1)


@dataclass
class LayerState:
    layer: str
    label: str
    last_snapshot: dt.datetime | None
    age: str
    stale: bool
    stale_after_hours: int | None
    last_run: BackupRun | None
    failed: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "last_snapshot": self.last_snapshot,
            "stale": self.stale,
            "stale_after_hours": self.stale_after_hours,
            "last_run_status": self.last_run.status if self.last_run else None,
            "last_run_at": self.last_run.finished_at or self.last_run.created_at if self.last_run else None,
            "failed": self.failed,
        }


def layer_states(site: Site, config: SiteBackup | None, now: dt.datetime) -> list[LayerState]:
    """Per layer that has a source (or a snapshot): newest kept snapshot, its age, stale?, the last run."""
    newest = dict(
        Snapshot.objects.filter(site=site, forgotten_at=None)
        .values("layer")
        .annotate(at=Max("time"))
        .values_list("layer", "at")
    )
    layers = set(newest) | set(Source.objects.filter(site=site).values_list("layer", flat=True))
    states = []
    for value, label in Layer.choices:
        if value not in layers:
            continue
        last = newest.get(value)
        limit = stale_hours(config, value)
        stale = limit is not None and (last is None or now - last > dt.timedelta(hours=limit))
        run = BackupRun.objects.filter(site=site, layer=value).order_by("-created_at").first()
        states.append(
            LayerState(
                layer=value,
                label=label,
                last_snapshot=last,
                age=human_age(now - last if last else None),
                stale=stale,
                stale_after_hours=limit,
                last_run=run,
                failed=bool(run and run.status in {RunStatus.FAILED, RunStatus.INTERRUPTED}),
            )
        )
    return states


@dataclass
class Retention:
    days: int | None
    kept: int
    forgotten: int
    oldest_kept: dt.datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "days": self.days,
            "kept": self.kept,
            "forgotten": self.forgotten,
            "oldest_kept": self.oldest_kept,
        }


def retention(site: Site) -> Retention:
    contract = site.client.contract
    snaps = Snapshot.objects.filter(site=site)
    kept = snaps.filter(forgotten_at=None)
    return Retention(
        days=contract.plan.backup_retention_days if contract else None,
        kept=kept.count(),
        forgotten=snaps.exclude(forgotten_at=None).count(),
        oldest_kept=kept.order_by("time").values_list("time", flat=True).first(),
    )


def repository_json(config: SiteBackup) -> dict[str, Any]:
    repo = config.repository
    return {
        "name": repo.name,
        "kind": repo.kind,
        "kind_label": repo.get_kind_display(),
        "location": safe_location(repo),
        "host": repo.host,
        "status": repo.status,
        "download_until": repo.download_until,
        "off_site": config.off_site,
    }


def running(site: Site) -> list[dict[str, Any]]:
    """What is in progress for the site now, with each job's `progress` (phase, source, percent/bytes)."""
    items: list[dict[str, Any]] = []
    for run in BackupRun.objects.filter(site=site, status__in=(RunStatus.QUEUED, RunStatus.RUNNING)):
        items.append(_job("Backup", run.get_layer_display(), run.status, run.created_at, run.progress))
    for test in RestoreTest.objects.filter(site=site, status=RestoreTest.Status.RUNNING):
        items.append(_job("Restore test", test.slot, test.status, test.started_at, test.progress))
    active = (Restore.Status.QUEUED, Restore.Status.RUNNING)
    for restore in Restore.objects.filter(site=site, status__in=active).select_related("snapshot"):
        what = f"{restore.snapshot.short_id} → {restore.get_target_display()}"
        items.append(_job("Restore", what, restore.status, restore.created_at, restore.progress))
    exports = Export.objects.filter(
        snapshot__site=site, status__in=(Export.Status.QUEUED, Export.Status.RUNNING)
    ).select_related("snapshot")
    for export in exports:
        what = f"{export.snapshot.short_id} as {export.format}"
        items.append(_job("Download", what, export.status, export.created_at, export.progress))
    return items


def _job(kind: str, what: str, status: str, since: dt.datetime, progress: dict[str, Any]) -> dict[str, Any]:
    progress = progress or {}
    percent = progress.get("percent")
    try:
        percent = None if percent is None else max(0.0, min(100.0, float(percent)))
    except (TypeError, ValueError):
        percent = None
    return {
        "kind": kind,
        "what": what,
        "status": status,
        "since": since,
        "phase": str(progress.get("phase", "")),
        "source": str(progress.get("source", "")),
        "percent": percent,
        "bytes": progress.get("bytes") or progress.get("bytes_done"),
        "bytes_label": human_bytes(progress.get("bytes") or progress.get("bytes_done"))
        if progress.get("bytes") or progress.get("bytes_done")
        else "",
    }


@dataclass
class Overview:
    site: Site
    config: SiteBackup | None
    layers: list[LayerState]
    last_verified: dt.datetime | None
    failures: int
    off_site: bool | None
    gap: Gap | None = None  # why nothing backs the site up (backup_gap)
    in_service: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def stale(self) -> bool:
        return any(state.stale for state in self.layers)

    @property
    def failed(self) -> bool:
        return any(state.failed for state in self.layers)


def overview(sites: QuerySet[Site], now: dt.datetime) -> list[Overview]:
    """One row per site for the catalogue list."""
    rows = []
    for site in sites.select_related("client").order_by("client__name", "name", "url"):
        config = backup_config(site)
        rows.append(
            Overview(
                site=site,
                config=config,
                layers=layer_states(site, config, now),
                last_verified=last_verified(site),
                failures=BackupRun.objects.filter(site=site, status=RunStatus.FAILED).count(),
                off_site=config.off_site if config else None,
                gap=backup_gap(site, config),
                in_service=in_service(site, now),
            )
        )
    return rows


def snapshots_by_layer(site: Site) -> list[dict[str, Any]]:
    """Kept snapshots grouped per layer, newest first, with the layer's deduplication ratio."""
    kept = list(
        Snapshot.objects.filter(site=site, forgotten_at=None).order_by("-time")[: SNAPSHOTS_SHOWN * 3]
    )
    for snap in kept:  # labels for templates (no template library of our own)
        snap.size_label = human_bytes(snap.bytes_processed)  # type: ignore[attr-defined]
        snap.added_label = human_bytes(snap.bytes_added)  # type: ignore[attr-defined]
    groups = []
    for value, label in Layer.choices:
        snaps = [s for s in kept if s.layer == value]
        if snaps:
            groups.append(
                {
                    "layer": value,
                    "label": label,
                    "snapshots": snaps[:SNAPSHOTS_SHOWN],
                    "dedup": dedup_ratio(snaps),
                    "stored": human_bytes(sum(s.bytes_added for s in snaps)),
                }
            )
    return groups


def sources_by_layer(site: Site) -> list[dict[str, Any]]:
    sources = list(Source.objects.filter(site=site).order_by("layer", "environment", "name"))
    return [
        {"layer": value, "label": label, "sources": [s for s in sources if s.layer == value]}
        for value, label in Layer.choices
        if any(s.layer == value for s in sources)
    ]


def source_json(source: Source) -> dict[str, Any]:
    """A source for people to read: what and where, never its database URL (which holds a password)."""
    return {
        "name": source.name,
        "environment": source.environment,
        "layer": source.layer,
        "kind": source.kind,
        "path": source.path,
        "includes": source.includes,
        "excludes": source.excludes,
        "over_ssh": source.over_ssh,
        "database": database_name(source),
    }


def database_name(source: Source) -> str:
    """The database a source dumps, named without its credentials: "db on host:port"."""
    if source.kind not in {Source.Kind.MARIADB, Source.Kind.POSTGRES} or not source.db_url:
        return ""
    parts = urlsplit(source.db_url)
    where = parts.hostname or "local socket"
    if parts.port:
        where = f"{where}:{parts.port}"
    name = parts.path.lstrip("/") or "(default database)"
    return f"{name} on {where}"


def restore_tests(site: Site) -> QuerySet[RestoreTest]:
    return RestoreTest.objects.filter(site=site).order_by("-started_at")


def failed_runs(site: Site) -> QuerySet[BackupRun]:
    return BackupRun.objects.filter(site=site).filter(
        Q(status=RunStatus.FAILED) | Q(status=RunStatus.INTERRUPTED)
    )


def evidence_rows(test: RestoreTest) -> list[dict[str, Any]]:
    """A restore test's evidence as rows for a table: per source what was restored, then each check.

    The evidence is written by verify.py; entries are read defensively (a missing key shows as a dash) so an
    older or partial record still renders."""
    rows = []
    for item in test.evidence or []:
        if not isinstance(item, dict):
            continue
        checks = []
        for check in item.get("checks") or []:
            if isinstance(check, dict):
                checks.append(
                    {
                        "name": check.get("name") or check.get("what") or "—",
                        "expected": check.get("expected", "—"),
                        "actual": check.get("actual", "—"),
                        "ok": check.get("ok", check.get("passed")),
                        "note": check.get("note", ""),
                    }
                )
        rows.append(
            {
                "source": item.get("source") or item.get("source_name") or "—",
                "kind": item.get("kind") or item.get("source_kind") or "",
                "snapshot": str(item.get("snapshot") or item.get("restic_id") or "")[:8],
                "restored_to": item.get("restored_to") or item.get("target") or "",
                "duration": item.get("duration_seconds") or item.get("duration"),
                "error": item.get("error") or item.get("skipped") or "",
                "checks": checks,
            }
        )
    return rows
