"""After a contract ends: the client's backups stay downloadable for 30 days (the agreement), then they are
deleted and the deletion is recorded with evidence.

During the window backups stop, nothing is let go, and restores and downloads keep working. When the window
has passed, every snapshot is forgotten and the repository pruned — a local repository folder is removed
outright — and the evidence (snapshots before and after, restic's output, who started the transition and
when) is kept on the repository row, which itself stays as the record.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from sitekeeper.access.audit import acting_as
from sitekeeper.access.models import User
from sitekeeper.backups.jobs import JOB_ERRORS
from sitekeeper.backups.models import Export, Repository, SiteBackup, Snapshot
from sitekeeper.backups.restic import Restic
from sitekeeper.contracts.models import Client

logger = logging.getLogger(__name__)

DOWNLOAD_DAYS = 30  # the agreement: "backups downloadable for 30 days after termination"
FORGET_BATCH = 200  # snapshot ids per `restic forget` (keeps command lines short)
OUTPUT_TAIL = 4000


class TerminationError(RuntimeError):
    pass


def start_transition(client: Client, *, now: dt.datetime, user: User | None) -> list[Repository]:
    """Open the download window for each active repository of the client and stop its backups. Repositories
    already in transition (or deleted) keep their dates: calling this again changes nothing."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    # A person's action is audited under their name; the scheduler's (user None) is a job, not audited.
    actor = acting_as(user) if user is not None else contextlib.nullcontext()
    started = []
    with actor:
        for repo in Repository.objects.filter(client=client, status=Repository.Status.ACTIVE):
            repo.status = Repository.Status.TRANSITION
            repo.download_until = now + dt.timedelta(days=DOWNLOAD_DAYS)
            repo.deletion_evidence = {
                "transition_started_at": now.isoformat(),
                "transition_started_by": user.username if user is not None else "scheduler (contract ended)",
            }
            repo.save(update_fields=["status", "download_until", "deletion_evidence"])
            started.append(repo)
            logger.info("repository %s: download window until %s", repo, repo.download_until)
        for config in SiteBackup.objects.filter(site__client=client, enabled=True):
            config.enabled = False
            config.save(update_fields=["enabled"])
    return started


def finish_transitions(now: dt.datetime | None = None) -> list[Repository]:
    """Delete the backups of every repository whose download window has passed. A repository that cannot be
    reached stays in transition (its error recorded) and is tried again by the next pass."""
    now = now or dt.datetime.now(dt.UTC)
    done = []
    due = Repository.objects.filter(status=Repository.Status.TRANSITION, download_until__lte=now)
    for repo in due.select_related("client"):
        try:
            evidence = _delete(repo, now)
        except (*JOB_ERRORS, TerminationError) as exc:
            logger.warning("repository %s: deletion after the download window failed: %s", repo, exc)
            failed = {**repo.deletion_evidence, "last_error": str(exc), "last_try": now.isoformat()}
            Repository.objects.filter(pk=repo.pk).update(deletion_evidence=failed)
            continue
        Repository.objects.filter(pk=repo.pk, status=Repository.Status.TRANSITION).update(
            status=Repository.Status.DELETED, deleted_at=now, deletion_evidence=evidence
        )
        repo.refresh_from_db()
        done.append(repo)
        logger.info("repository %s deleted (%s snapshot(s) let go)", repo, evidence["snapshots_before"])
    return done


def _delete(repo: Repository, now: dt.datetime) -> dict[str, Any]:
    evidence: dict[str, Any] = {
        k: v for k, v in repo.deletion_evidence.items() if k not in {"last_error", "last_try"}
    }
    until = repo.download_until.isoformat() if repo.download_until else None
    evidence.update({"download_until": until, "by": f"sitekeeper: the download window ended {until}"})
    local = repo.kind == Repository.Kind.LOCAL
    folder = Path(repo.location)
    exists = folder.exists() if local else repo.initialized_at is not None
    before: list[dict[str, Any]] = []
    output = ""
    if exists:
        with Restic(repo) as restic:
            restic.unlock()
            before = restic.snapshots()
            if local:
                _remove_local(folder)
                after = 0
                output = f"removed the repository folder {folder}"
            else:
                ids = [s["id"] for s in before]
                for start in range(0, len(ids), FORGET_BATCH):
                    restic.forget(ids[start : start + FORGET_BATCH])
                output = restic.prune()
                after = len(restic.snapshots())
    else:
        after = 0
        output = "the repository was never written to (nothing stored)"
    if after:
        raise TerminationError(f"repository {repo}: {after} snapshot(s) still listed after forget and prune")
    rows = Snapshot.objects.filter(repository=repo, forgotten_at=None).update(forgotten_at=now)
    exports = 0
    for export in Export.objects.filter(snapshot__repository=repo).exclude(file=""):
        from sitekeeper.backups.restore import exports_root

        (exports_root() / export.file).unlink(missing_ok=True)
        Export.objects.filter(pk=export.pk).update(status=Export.Status.EXPIRED, file="")
        exports += 1
    evidence.update(
        {
            "snapshots_before": len(before),
            "snapshot_ids": [s["id"][:8] for s in before][:1000],
            "snapshots_after": after,
            "pruned": exists and not local,
            "deleted": local and exists,
            "location": repo.location if local else repo.host,
            "restic_output_tail": output[-OUTPUT_TAIL:],
            "catalogue_rows_forgotten": rows,
            "export_files_deleted": exports,
            "finished_at": now.isoformat(),
        }
    )
    return evidence


def _remove_local(folder: Path) -> None:
    """Remove a local repository folder — only one that looks like a restic repository, never anything else a
    mistyped location might point at."""
    if not folder.is_absolute() or folder == Path("/"):
        raise TerminationError(f"refusing to delete {folder}: not an absolute repository folder")
    if not (folder / "config").is_file() or not (folder / "data").is_dir() or not (folder / "keys").is_dir():
        raise TerminationError(f"refusing to delete {folder}: it does not look like a restic repository")
    # restic writes its files read-only; make them writable so the tree can go.
    for path, dirs, _files in os.walk(folder):
        for name in dirs:
            os.chmod(os.path.join(path, name), 0o700)
    shutil.rmtree(folder)
    if folder.exists():
        raise TerminationError(f"{folder} is still there after deleting it")
