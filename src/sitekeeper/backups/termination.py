"""After a contract ends: the client's backups stay downloadable for 30 days (the agreement), then they are
deleted and the deletion is recorded with evidence.

Which contract decides (DESIGN "Term"; agreement 7): a client's backups are *held* while it has a contract
that is a draft, active, or under notice up to and including its effective date — a returning client's new
contract keeps them, whatever older contract ended. Only when nothing holds them and a contract has ended
(terminated, or under notice past its effective date) does the transition start; its download window closes
30 days after the end of the effective date (`core.term`, in the contract calendar's zone), or 30 days from
the start when the contract ended at once with no notice on record. A new contract stops a running
transition: the repositories go back to active, the backups the transition switched off are switched on
again, and who or what stopped it, and when, is kept on the repository and in the audit log.

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

from django.db.models import Q

from sitekeeper.access.audit import acting_as, current_actor
from sitekeeper.access.models import User
from sitekeeper.backups.errors import JOB_ERRORS
from sitekeeper.backups.models import Export, Repository, SiteBackup, Snapshot
from sitekeeper.backups.restic import Restic
from sitekeeper.backups.restore import exports_root
from sitekeeper.contracts.models import Client, Contract
from sitekeeper.contracts.presenters import contract_zone
from sitekeeper.core import term

logger = logging.getLogger(__name__)

DOWNLOAD_DAYS = term.TRANSITION_DAYS  # the agreement: "backups downloadable for 30 days after termination"
FORGET_BATCH = 200  # snapshot ids per `restic forget` (keeps command lines short)
OUTPUT_TAIL = 4000
HOLDING_STATUSES = (Contract.Status.DRAFT, Contract.Status.ACTIVE, Contract.Status.CANCELLING)
SCHEDULER = "scheduler (contract ended)"


class TerminationError(RuntimeError):
    pass


# -- which contract decides ---------------------------------------------------------------------------
def _past_effective_date(contract: Contract, now: dt.datetime) -> bool:
    end = contract.effective_end
    return end is not None and contract.today(now) > end


def holding_contract(client: Client, now: dt.datetime) -> Contract | None:
    """The contract that keeps the client's backups: the newest draft, active contract, or contract under
    notice that has not passed its effective date. None: nothing holds them."""
    candidates = client.contracts.filter(status__in=HOLDING_STATUSES).select_related("calendar")
    for contract in candidates.order_by("-start", "-pk"):
        if contract.status != Contract.Status.CANCELLING or not _past_effective_date(contract, now):
            return contract
    return None


def ended_contract(client: Client, now: dt.datetime) -> Contract | None:
    """The client's newest contract that has ended: terminated, or under notice past its effective date."""
    ended = Q(status=Contract.Status.TERMINATED) | Q(status=Contract.Status.CANCELLING)
    for contract in client.contracts.filter(ended).select_related("calendar").order_by("-start", "-pk"):
        if contract.status == Contract.Status.TERMINATED or _past_effective_date(contract, now):
            return contract
    return None


def window_end(contract: Contract | None, now: dt.datetime) -> dt.datetime:
    """When the download window closes: at the end of the transition's last day (effective date + 30 days,
    `core.term`) in the contract calendar's zone; 30 days from `now` for a contract ended at once (no notice
    on record) or when there is no contract to count from."""
    dates = contract.cancellation() if contract is not None else None
    if dates is None:
        return now + dt.timedelta(days=DOWNLOAD_DAYS)
    zone = contract_zone(contract)
    return dt.datetime.combine(dates.transition_end + dt.timedelta(days=1), dt.time(0), tzinfo=zone)


def _contract_label(contract: Contract) -> str:
    return f"contract #{contract.pk} ({contract.get_status_display()}, from {contract.start.isoformat()})"


# -- starting and stopping the transition ---------------------------------------------------------------
def start_transition(
    client: Client, *, now: dt.datetime, user: User | None, contract: Contract | None = None
) -> list[Repository]:
    """Open the download window for each active repository of the client and stop its backups. Repositories
    already in transition (or deleted) keep their dates: calling this again changes nothing. Refused while a
    contract holds the client's backups (a returning client never loses them to an old contract)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    holding = holding_contract(client, now)
    if holding is not None:
        raise TerminationError(f"{client}: {_contract_label(holding)} is current, so its backups are kept")
    contract = contract or ended_contract(client, now)
    until = window_end(contract, now)
    # A person's action is audited under their name; the scheduler's (user None) is a job, not audited.
    actor = acting_as(user) if user is not None else contextlib.nullcontext()
    configs = list(SiteBackup.objects.filter(site__client=client, enabled=True).values_list("pk", flat=True))
    started = []
    with actor:
        for repo in Repository.objects.filter(client=client, status=Repository.Status.ACTIVE):
            repo.status = Repository.Status.TRANSITION
            repo.download_until = until
            repo.deletion_evidence = {
                **_history(repo),
                "transition_started_at": now.isoformat(),
                "transition_started_by": user.username if user is not None else SCHEDULER,
                "ended_contract": _contract_label(contract) if contract is not None else None,
                "backups_switched_off": configs,
            }
            repo.save(update_fields=["status", "download_until", "deletion_evidence"])
            started.append(repo)
            logger.info("repository %s: download window until %s", repo, repo.download_until)
        for config in SiteBackup.objects.filter(pk__in=configs):
            config.enabled = False
            config.save(update_fields=["enabled"])
    return started


def _history(repo: Repository) -> dict[str, Any]:
    """What survives a new transition: the record of earlier ones a new contract stopped."""
    stopped = repo.deletion_evidence.get("stopped_transitions")
    return {"stopped_transitions": stopped} if stopped else {}


def stop_transition(
    client: Client, *, now: dt.datetime, contract: Contract, user: User | None = None, label: str = ""
) -> list[Repository]:
    """A new contract holds the client's backups again: each repository in transition goes back to active,
    and the backups the transition switched off are switched on. Always audited — under the person who made
    the new contract, or under a label naming the contract when the scheduler noticed it."""
    who = user.username if user is not None else label or f"sitekeeper: new {_contract_label(contract)}"
    stopped: list[Repository] = []
    switched_off: set[int] = set()
    with acting_as(user, label=who):
        for repo in Repository.objects.filter(client=client, status=Repository.Status.TRANSITION):
            evidence = repo.deletion_evidence
            record = {
                "started_at": evidence.get("transition_started_at"),
                "started_by": evidence.get("transition_started_by"),
                "download_until": repo.download_until.isoformat() if repo.download_until else None,
                "stopped_at": now.isoformat(),
                "stopped_by": who,
                "contract": _contract_label(contract),
            }
            switched_off.update(evidence.get("backups_switched_off") or ())
            repo.status = Repository.Status.ACTIVE
            repo.download_until = None
            repo.deletion_evidence = {
                "stopped_transitions": [*evidence.get("stopped_transitions", []), record]
            }
            repo.save(update_fields=["status", "download_until", "deletion_evidence"])
            stopped.append(repo)
            logger.info("repository %s: transition stopped by %s", repo, who)
        for config in SiteBackup.objects.filter(pk__in=switched_off, site__client=client, enabled=False):
            config.enabled = True
            config.save(update_fields=["enabled"])
    return stopped


def reconcile(now: dt.datetime | None = None) -> tuple[list[Repository], list[Repository]]:
    """The hourly decision for every client with live repositories: a held client's running transition is
    stopped; a client whose contract has ended and nothing holds its backups starts one. Returns (started,
    stopped)."""
    now = now or dt.datetime.now(dt.UTC)
    started: list[Repository] = []
    stopped: list[Repository] = []
    live = (Repository.Status.ACTIVE, Repository.Status.TRANSITION)
    for client in Client.objects.filter(backup_repositories__status__in=live).distinct():
        repos = set(client.backup_repositories.values_list("status", flat=True))
        holding = holding_contract(client, now)
        if holding is not None:
            if Repository.Status.TRANSITION in repos:
                stopped += stop_transition(client, now=now, contract=holding)
            continue
        ended = ended_contract(client, now)
        if ended is not None and Repository.Status.ACTIVE in repos:
            started += start_transition(client, now=now, user=None, contract=ended)
    return started, stopped


def on_contract_saved(sender: type[Contract], instance: Contract, **kwargs: Any) -> None:
    """post_save of a contract: one that holds the client's backups stops a running transition at once,
    attributed to whoever saved it (the hourly pass would catch it too, under the scheduler's label)."""
    if instance.status not in HOLDING_STATUSES:
        return
    client = instance.client
    if not client.backup_repositories.filter(status=Repository.Status.TRANSITION).exists():
        return
    now = dt.datetime.now(dt.UTC)
    holding = holding_contract(client, now)
    if holding is None:
        return
    actor = current_actor()
    user, label = actor if actor is not None else (None, "")
    stop_transition(
        client, now=now, contract=holding, user=user if getattr(user, "pk", None) else None, label=label
    )


def finish_transitions(now: dt.datetime | None = None) -> list[Repository]:
    """Delete the backups of every repository whose download window has passed. A repository that cannot be
    reached stays in transition (its error recorded) and is tried again by the next pass."""
    now = now or dt.datetime.now(dt.UTC)
    done = []
    due = Repository.objects.filter(status=Repository.Status.TRANSITION, download_until__lte=now)
    for repo in due.select_related("client"):
        # The last word before anything is deleted: a contract holding the client's backups stops it.
        holding = holding_contract(repo.client, now)
        if holding is not None:
            stop_transition(repo.client, now=now, contract=holding)
            continue
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
