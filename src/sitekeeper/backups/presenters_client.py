"""Backups as the client reads them: what is kept, when it was last proven restorable, what is running —
in plain words, from the same facts as the staff pages (backups.presenters).

A client page never shows restic snapshot ids, checksums, server paths, repository locations, deduplication
ratios, file modes, raw error text or microsecond timestamps: those stay on the staff pages. A backup is
named by what it holds and when it was made ("Site content, 7 Dec 2026 04:00 CET"); a failure by what it
means and what the agency does about it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sitekeeper.backups import presenters
from sitekeeper.backups.models import Export, Layer, RestoreTest, SiteBackup, Snapshot, Source
from sitekeeper.contracts.models import Site

# Each layer as the client knows it.
LAYER_WORDS = {
    Layer.DATA: "Site content (database and uploaded files)",
    Layer.CODE: "Site software (themes, plugins, code)",
    Layer.CONFIG: "Settings (configuration)",
}
POINTS_SHOWN = 30  # per layer: the newest recovery points

EXPORT_WORDS = {
    Export.Status.QUEUED: "Being prepared",
    Export.Status.RUNNING: "Being packed",
    Export.Status.READY: "Ready to download",
    Export.Status.FAILED: "Could not be prepared — we have been told and will prepare it again",
    Export.Status.EXPIRED: "Expired — request a new one if you still need it",
}
JOB_WORDS = {
    "Backup": "Backing up",
    "Restore test": "Testing that a backup can be restored",
    "Restore": "Restoring from a backup",
    "Download": "Packing a backup for you to download",
}


@dataclass(frozen=True)
class RecoveryPoint:
    pk: int  # the form's value for a download request (a row number, never the backup tool's id)
    time: dt.datetime
    layer: str
    what: str  # the part of the site it holds: "Database", "Files"


def part_words(snapshot: Snapshot) -> str:
    """Which part of the site a backup holds, as the client knows it (a layer has one backup per source)."""
    if snapshot.layer == Layer.CONFIG:
        return "Settings"
    if snapshot.source_kind == Source.Kind.FILES:
        return "Uploaded files" if snapshot.layer == Layer.DATA else "Code and themes"
    return "Database"


@dataclass(frozen=True)
class PointGroup:
    layer: str
    label: str
    points: list[RecoveryPoint]
    kept: int


def recovery_points(site: Site) -> list[PointGroup]:
    """The kept backups per layer, newest first: what each holds and when it was made."""
    kept = Snapshot.objects.filter(site=site, forgotten_at=None).order_by("-time")
    groups = []
    for value, _label in Layer.choices:
        layer = kept.filter(layer=value)
        count = layer.count()
        if not count:
            continue
        points = [RecoveryPoint(s.pk, s.time, value, part_words(s)) for s in layer[:POINTS_SHOWN]]
        groups.append(PointGroup(value, LAYER_WORDS[value], points, count))
    return groups


@dataclass(frozen=True)
class TestLine:
    at: dt.datetime
    status: str  # passed, failed, running
    label: str
    text: str


def restore_test_lines(site: Site) -> list[TestLine]:
    """Each restore test as one sentence: proven restorable, or not yet and what we do about it."""
    lines = []
    for test in presenters.restore_tests(site)[: presenters.TESTS_SHOWN]:
        at = test.finished_at or test.started_at
        if test.status == RestoreTest.Status.PASSED:
            text = (
                "We restored your latest backup into a separate test area and compared it with what was "
                "backed up: it is complete and can be restored."
            )
            label = "Restorable"
        elif test.status == RestoreTest.Status.FAILED:
            text = (
                "This test did not pass. We have been alerted and are fixing it; your earlier backups are "
                "still kept."
            )
            label = "Not passed"
        else:
            text, label = "Running now.", "Running"
        lines.append(TestLine(at, test.status, label, text))
    return lines


@dataclass(frozen=True)
class DownloadLine:
    pk: int
    requested_at: dt.datetime
    requested_by: str
    what: str
    point_time: dt.datetime
    format: str
    status: str
    label: str
    expires_at: dt.datetime | None

    @property
    def ready(self) -> bool:
        return self.status == Export.Status.READY


def downloads(site: Site) -> list[DownloadLine]:
    exports = Export.objects.filter(snapshot__site=site).select_related("snapshot", "requested_by")[:10]
    return [
        DownloadLine(
            e.pk,
            e.created_at,
            e.requested_by.get_full_name() or e.requested_by.username,
            part_words(e.snapshot),
            e.snapshot.time,
            e.format,
            e.status,
            EXPORT_WORDS.get(e.status, e.get_status_display()),
            e.expires_at,
        )
        for e in exports
    ]


def jobs(site: Site) -> list[dict[str, Any]]:
    """What is running for the site now, in words: the kind of job and its progress, never the backup
    tool's ids, phases or byte counts."""
    return [
        {
            "kind": JOB_WORDS.get(job["kind"], job["kind"]),
            "since": job["since"],
            "percent": job["percent"],
            "status": job["status"],
        }
        for job in presenters.running(site)
    ]


def storage_words(config: SiteBackup) -> str:
    if config.off_site:
        return "Kept in a separate place from your site's server, so they survive the loss of that server."
    return (
        "Kept on the same server as your site for now: a loss of that server would take the backups "
        "with it. We will talk to you about a copy elsewhere."
    )


def schedule_words(config: SiteBackup, zone: str) -> str:
    if not config.enabled:
        return "Automatic backups are paused for this site — we are arranging it."
    return (
        f"Your site's content and software are backed up every day at {config.data_time:%H:%M} ({zone}), "
        "the software also before every update, and the settings whenever they change."
    )
