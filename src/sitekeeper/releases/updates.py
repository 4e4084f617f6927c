"""The staged update pipeline: plan a release from the pending update packages, apply it to stage, check,
wait for the maintenance window, take a restore point, apply it to prod, check, and roll back from outside
the site (restore files + database) when prod fails its checks.

    planned ──stage──▶ staging ──▶ stage_failed                      (prod untouched; engineers told)
                                 └▶ awaiting_window ──window──▶ deploying ──▶ deployed
                                                                         └▶ rolled_back / failed (+ incident)
    planned / stage_failed / awaiting_window ──cancel──▶ cancelled

`advance(release)` does every step that is due and is safe to call again at any time: it claims the release
with a lease through the job seam (sitekeeper.jobs; the release keeps its own statuses, the lease is held
across its steps and let go at the end), a crashed worker's release is taken over once its lease ran out or
its process is gone, and each step starts from what the release row says was done. A worker that finds its
release taken over before production is changed stops there. `due_pass()` is the periodic entry: it plans
the cadence's batches, emergency security releases, and advances what is due.

A release that failed in production (rolled back, or the rollback did not complete) opens its incident
through the incident seam (desk.detected), once per release.

Applying a package never needs WP-CLI or anything on the site's host but `tar`, `mkdir`, `mv`, `rm`: the zip
is streamed as a tar into a fresh folder beside the target through the site's Shell (local or SSH) and the
folders are then swapped with `mv`, so a half-unpacked plugin is never live.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import tarfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO, Any

from django.conf import settings
from django.db import transaction

from sitekeeper import jobs
from sitekeeper.backups.errors import JOB_ERRORS
from sitekeeper.backups.models import BackupRun, Layer, RunStatus, Snapshot, Source
from sitekeeper.backups.shell import Shell
from sitekeeper.backups.sources import SourceError, shell_for
from sitekeeper.contracts.models import Contract, Site
from sitekeeper.contracts.presenters import contract_zone
from sitekeeper.contracts.service import contracts_in_service
from sitekeeper.core import cadence
from sitekeeper.desk import detected
from sitekeeper.notify import Message
from sitekeeper.releases import packages as pkgs
from sitekeeper.releases import smoke
from sitekeeper.releases.models import Release, ReleaseChange, ReleaseKind, ReleaseStatus, UpdatePackage
from sitekeeper.security import integrity
from sitekeeper.security.models import Ecosystem
from sitekeeper.security.tree import TreeError, code_source

logger = logging.getLogger(__name__)

ACTIVE = (
    ReleaseStatus.PLANNED,
    ReleaseStatus.STAGING,
    ReleaseStatus.AWAITING_WINDOW,
    ReleaseStatus.DEPLOYING,
)
BUSY = (ReleaseStatus.STAGING, ReleaseStatus.DEPLOYING)
CANCELLABLE = (ReleaseStatus.PLANNED, ReleaseStatus.STAGE_FAILED, ReleaseStatus.AWAITING_WINDOW)
LEASE = dt.timedelta(minutes=30)  # one step (apply + checks, or a restore) fits well inside this
WINDOW_LOOKAHEAD = dt.timedelta(days=15)  # weekly windows: the next one is always within this
NO_WINDOW_LENGTH = dt.timedelta(hours=2)
EMERGENCY_LENGTH = dt.timedelta(hours=4)
DEFAULT_MAX_MINUTES = 30
APPLY_ERRORS = (*JOB_ERRORS, TreeError, pkgs.PackageError, zipfile.BadZipFile, ValueError)
# The claim is a lease over the release's own statuses: any active one may be claimed, none is set by it.
RELEASES = jobs.Kind(Release, waiting=ACTIVE, running=None)


class UpdateError(ValueError):
    """A release that cannot be planned, approved or cancelled as asked; the message says why."""


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or dt.datetime.now(dt.UTC)


# -- planning -----------------------------------------------------------------------------------------------
def _changes(site: Site, chosen: list[UpdatePackage] | None) -> list[pkgs.Pending]:
    """(installed component, package) per component to update; explicit packages must fit the site."""
    waiting = pkgs.pending(site, "prod")
    if chosen is None:
        found = waiting
    else:
        found = []
        for package in chosen:
            matches = [
                p.component
                for p in waiting
                if (p.component.ecosystem, p.component.slug) == (package.ecosystem, package.slug)
            ]
            if not matches:
                raise UpdateError(
                    f"{package.slug} {package.version} is not an update for {site}: not installed in prod, "
                    "or prod already has this version or a newer one"
                )
            found.append(pkgs.Pending(matches[0], package))
    unique: dict[tuple[str, str], pkgs.Pending] = {}
    for item in found:
        unique.setdefault((item.package.ecosystem, item.package.slug), item)
    return list(unique.values())


def default_slot(kind: str, now: dt.datetime, items: list[pkgs.Pending] | None = None) -> str:
    if kind == ReleaseKind.EMERGENCY and items:
        names = "-".join(sorted(f"{p.package.slug}-{p.package.version}" for p in items))
        slot = f"emergency-{names}"
        return slot if len(slot) <= 80 else f"emergency-{hashlib.sha256(names.encode()).hexdigest()[:24]}"
    return f"{kind}-{now:%Y%m%dT%H%M%S}"


def plan_release(
    site: Site,
    *,
    kind: str = ReleaseKind.SCHEDULED,
    user: Any = None,
    packages: list[UpdatePackage] | None = None,
    slot: str | None = None,
    now: dt.datetime | None = None,
) -> Release | None:
    """Record a release of the pending updates (or of `packages`); None when nothing is pending. One release
    per (site, slot): planning the same slot again returns the release already there."""
    now = _now(now)
    if kind not in ReleaseKind.values:
        raise UpdateError(f"release kind {kind!r}: expected one of {', '.join(ReleaseKind.values)}")
    if slot and (existing := Release.objects.filter(site=site, slot=slot).first()):
        return existing
    items = _changes(site, packages)
    if not items:
        return None
    slot = slot or default_slot(kind, now, items)
    contract = site.client.contract
    with transaction.atomic():
        release, created = Release.objects.get_or_create(
            site=site, slot=slot, defaults={"kind": kind, "requested_by": user}
        )
        if not created:
            return release
        for item in items:
            package = item.package
            ReleaseChange.objects.create(
                release=release,
                package=package,
                ecosystem=package.ecosystem,
                slug=package.slug,
                name=item.component.name,
                from_version=item.component.version,
                to_version=package.version,
            )
        listed = ", ".join(f"{i.package.slug} {i.component.version} → {i.package.version}" for i in items)
        _log(release, f"planned ({release.get_kind_display()}): {listed}")
        if kind == ReleaseKind.EMERGENCY:
            release.window_start, release.window_end = now, now + EMERGENCY_LENGTH
            _log(release, "emergency security update: production is updated as soon as stage passes")
        else:
            _set_window(release, contract, now)
        if kind == ReleaseKind.SCHEDULED:
            _log(release, "approved by the contract's update schedule (no separate approval needed)")
        elif kind == ReleaseKind.MANUAL:
            _log(release, "on-demand release: production waits for an agency approval")
        release.save(update_fields=["window_start", "window_end", "log"])
    if kind == ReleaseKind.EMERGENCY and contract is not None:
        _announce_emergency(release, contract, items, now)
    return release


def next_window(contract: Contract | None, now: dt.datetime) -> tuple[dt.datetime, dt.datetime, str]:
    """The first maintenance window that has not ended at `now`: the contract's weekly window; without one,
    the next opening of business hours for two hours (people are at work to watch it)."""
    from sitekeeper.monitoring.maintenance import weekly_windows

    if contract is not None:
        for window in weekly_windows(contract, (now, now + WINDOW_LOOKAHEAD)):
            if window.end > now:
                return window.start, window.end, f"maintenance window {window.label}"
        cal = contract.calendar.current.to_core()
        day = cal.local_date(now)
        for _ in range(60):
            for start, _end in cal.intervals(day):
                if start >= now:
                    return (
                        start,
                        start + NO_WINDOW_LENGTH,
                        "no maintenance window agreed: next business opening",
                    )
            day += dt.timedelta(days=1)
    start = now + dt.timedelta(days=1)
    return start, start + NO_WINDOW_LENGTH, "no contract calendar: one day from now"


def _set_window(release: Release, contract: Contract | None, now: dt.datetime) -> None:
    start, end, why = next_window(contract, now)
    release.window_start, release.window_end = start, end
    _log(release, f"production window {start:%Y-%m-%d %H:%M}–{end:%H:%M} UTC ({why})")


def _announce_emergency(
    release: Release, contract: Contract, items: list[pkgs.Pending], now: dt.datetime
) -> None:
    """Emergency security maintenance is announced to the client's contacts (which also keeps downtime in
    it out of the uptime figure, agreement 2.4)."""
    from sitekeeper.monitoring.maintenance import announce

    rules = list(contract.maintenance_windows.all())
    note = "Security update(s): " + ", ".join(
        f"{i.component.name or i.package.slug} {i.component.version} → {i.package.version}" for i in items
    )
    announce(
        contract,
        kind="emergency_security",
        start=release.window_start or now,
        end=release.window_end or now + EMERGENCY_LENGTH,
        max_minutes=max((r.max_minutes for r in rules), default=DEFAULT_MAX_MINUTES),
        announced_at=now,
        note=note,
        sites=[release.site],
    )
    Release.objects.filter(pk=release.pk).update(client_notified_at=now)
    release.client_notified_at = now
    _log(release, "client notified: emergency security maintenance announced")


def approve(release: Release, user: Any) -> Release:
    if user is None or not getattr(user, "is_agency", False):
        raise UpdateError("only agency staff approve a release")
    if release.status not in ACTIVE:
        raise UpdateError(f"release is {release.get_status_display().lower()}: nothing to approve")
    release.approved_by, release.approved_at = user, dt.datetime.now(dt.UTC)
    release.log = _line(release.log, f"approved by {user}")
    release.save(update_fields=["approved_by", "approved_at", "log"])
    return release


def cancel(release: Release, user: Any, reason: str) -> Release:
    if not reason.strip():
        raise UpdateError("say why the release is cancelled")
    with transaction.atomic():
        # Locked, then changed through save(): the audit log records the decision; no worker can start prod
        # between the check and the write.
        locked = Release.objects.select_for_update().get(pk=release.pk)
        if locked.status not in CANCELLABLE:
            raise UpdateError(
                f"release is {locked.get_status_display().lower()}: only a release that has not started on "
                "production can be cancelled"
            )
        locked.status = ReleaseStatus.CANCELLED
        locked.log = _line(locked.log, f"cancelled by {user}: {reason.strip()}")
        locked.outcome = f"Cancelled before production was changed: {reason.strip()}"
        locked.save(update_fields=["status", "log", "outcome"])
    release.refresh_from_db()
    return release


# -- records ------------------------------------------------------------------------------------------------
def _line(log: str, text: str) -> str:
    return f"{log}{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S} {text}\n"


def _log(release: Release, text: str) -> None:
    release.log = _line(release.log, text)
    if release.pk:
        Release.objects.filter(pk=release.pk).update(log=release.log)
    logger.info("release %s: %s", release.slot, text)


def _record(release: Release, checks: list[smoke.Check]) -> None:
    now = dt.datetime.now(dt.UTC)
    release.checks = [*release.checks, *(c.as_dict(now) for c in checks)]
    Release.objects.filter(pk=release.pk).update(checks=release.checks)
    for c in checks:
        if not c.ok or c.skipped:
            _log(release, f"[{c.environment}] {c.name}: {'skipped' if c.skipped else 'FAILED'} — {c.detail}")


def _progress(release: Release, **data: Any) -> None:
    release.progress = data
    jobs.report(Release, release.pk, data)


def _set(release: Release, **fields: Any) -> None:
    for name, value in fields.items():
        setattr(release, name, value)
    Release.objects.filter(pk=release.pk).update(**fields)


# -- claiming -----------------------------------------------------------------------------------------------
def _claim(release: Release, now: dt.datetime) -> bool:
    """Hold the release's lease: free, abandoned, or already this process's (the claim is reentrant)."""
    release.refresh_from_db()
    before = release.owner
    taken = jobs.claim(RELEASES, release.pk, lease=LEASE, now=now, reentrant=True)
    if taken and before and before != jobs.owner_id():
        _log(release, f"taken over from {before} (its lease ran out or its process is gone)")
    release.refresh_from_db()
    return taken


def _release_claim(release: Release) -> None:
    jobs.let_go(RELEASES, release.pk)
    release.owner, release.lease_until = "", None


def _extend(release: Release) -> None:
    """Renew the lease before the next step on production; stop when another worker holds it now."""
    if not jobs.heartbeat(RELEASES, release.pk, lease=LEASE):
        raise jobs.TakenOverError


# -- applying a package -------------------------------------------------------------------------------------
def target_folder(root: str, package: UpdatePackage) -> str:
    if package.ecosystem == Ecosystem.WORDPRESS_PLUGIN:
        return str(PurePosixPath(root) / "wp-content" / "plugins" / package.slug)
    if package.ecosystem == Ecosystem.WORDPRESS_THEME:
        return str(PurePosixPath(root) / "wp-content" / "themes" / package.slug)
    return root


def _tar_stream(archive: zipfile.ZipFile, out: IO[bytes]) -> None:
    """Write the zip's regular files as a tar (names as in the zip: `<slug>/...`), modes 0644/0755."""
    with tarfile.open(fileobj=out, mode="w|") as tar:
        for info in archive.infolist():
            if info.is_dir():
                continue
            member = tarfile.TarInfo(info.filename)
            member.size, member.mode = info.file_size, 0o644
            member.mtime = int(dt.datetime(*info.date_time, tzinfo=dt.UTC).timestamp())
            with archive.open(info) as handle:
                tar.addfile(member, handle)


def apply_package(shell: Shell, root: str, package: UpdatePackage, tag: str) -> str:
    """Unpack `package` beside its target folder and swap it in; returns what was done, for the log."""
    with pkgs.open_zip(_stored(package)) as archive:
        top = pkgs.top_folder(archive)
        work = str(PurePosixPath(root) / f".sitekeeper-{tag}")
        shell.run(["rm", "-rf", "--", work])
        shell.run(["mkdir", "-p", "--", work])
        try:
            with shell.writer(["tar", "-x", "-f", "-", "-C", work, "--no-same-owner"]) as sink:
                _tar_stream(archive, sink)
            if package.ecosystem == Ecosystem.WORDPRESS_CORE:
                _swap_core(shell, root, f"{work}/{top}", work)
            else:
                _swap(shell, target_folder(root, package), f"{work}/{top}", f"{work}/old")
        finally:
            shell.run(["rm", "-rf", "--", work])
    return f"{package.slug} {package.version} unpacked into {target_folder(root, package)}"


def _stored(package: UpdatePackage) -> Path:
    path = Path(package.file)
    if not path.is_file():
        raise pkgs.PackageError(f"{package} : stored zip {path} is missing")
    if hashlib.sha256(path.read_bytes()).hexdigest() != package.sha256:
        raise pkgs.PackageError(f"{package}: stored zip {path} does not match its sha256")
    return path


def _swap(shell: Shell, target: str, new: str, old: str) -> None:
    shell.run(["mkdir", "-p", "--", str(PurePosixPath(target).parent)])
    shell.run(["sh", "-c", 'if [ -e "$1" ]; then mv -- "$1" "$2"; fi', "swap", target, old])
    shell.run(["mv", "--", new, target])


def _swap_core(shell: Shell, root: str, new: str, work: str) -> None:
    """WordPress core: wp-admin and wp-includes swapped whole, top-level files replaced; wp-content and
    wp-config.php are the site's own and never touched (WordPress's own update does the same)."""
    for folder in ("wp-admin", "wp-includes"):
        _swap(shell, f"{root}/{folder}", f"{new}/{folder}", f"{work}/old-{folder}")
    script = (
        'cd "$1" && for f in *; do [ -f "$f" ] && [ "$f" != wp-config.php ] && mv -f -- "$f" "$2/$f"; done'
    )
    script += "; true"
    shell.run(["sh", "-c", script, "core", new, root])


# -- the steps ----------------------------------------------------------------------------------------------
def _settle() -> None:
    """PHP's OPcache re-reads a changed file only every revalidate_freq seconds (2 by default): checked at
    once after files changed (an update, a rollback), a site would still run its old code."""
    time.sleep(settings.SITEKEEPER_UPDATE_SETTLE_SECONDS)


def _apply_and_check(release: Release, environment: str) -> bool:
    site = release.site
    changes = list(release.changes.select_related("package"))
    _progress(release, phase=environment, step="baseline", done=0, total=len(changes))
    before = smoke.baseline(site, environment)
    source = code_source(site, environment)
    try:
        if source is None or not source.path:
            raise TreeError(
                f"no {environment} code folder: add a backup source of layer 'code' (kind files) "
                f"for {environment}"
            )
        shell = shell_for(source)
        with integrity.pipeline_change(site, release=release.slot, environment=environment):
            for index, change in enumerate(changes, 1):
                _progress(
                    release,
                    phase=environment,
                    step=f"apply {change.slug}",
                    done=index - 1,
                    total=len(changes),
                )
                done = apply_package(shell, source.path, change.package, f"{release.pk}-{index}")
                _log(release, f"[{environment}] {done}")
    except (*APPLY_ERRORS, SourceError) as exc:
        _record(
            release, [smoke.Check(environment, "apply updates", False, str(exc) or exc.__class__.__name__)]
        )
        return False
    _record(release, [smoke.Check(environment, "apply updates", True, f"{len(changes)} package(s) applied")])
    _progress(release, phase=environment, step="smoke checks", done=len(changes), total=len(changes))
    _settle()
    checks = smoke.check(site, environment, baseline=before)
    _record(release, checks)
    failed = [c for c in checks if not c.ok]
    _log(release, f"[{environment}] smoke checks: {len(checks) - len(failed)}/{len(checks)} passed")
    return not failed


def _stage(release: Release, now: dt.datetime) -> None:
    _set(release, status=ReleaseStatus.STAGING, stage_started_at=dt.datetime.now(dt.UTC))
    ok = _apply_and_check(release, "stage")
    finished = dt.datetime.now(dt.UTC)
    if ok:
        _set(
            release,
            status=ReleaseStatus.AWAITING_WINDOW,
            stage_finished_at=finished,
            progress={"phase": "awaiting_window"},
        )
        _roll_window(release, now)
        _log(
            release, f"stage passed; production in the window from {release.window_start:%Y-%m-%d %H:%M} UTC"
        )
        return
    outcome = "The update failed its checks on stage and was stopped there: production was not touched."
    _set(release, status=ReleaseStatus.STAGE_FAILED, stage_finished_at=finished, outcome=outcome,
         progress={"phase": "stage_failed"})  # fmt: skip
    _tell_engineers(release, "failed on stage (production untouched)")


def _may_deploy(release: Release, now: dt.datetime) -> bool:
    if release.kind == ReleaseKind.MANUAL and not release.approved_by_id:
        return False
    return release.window_start is not None and release.window_start <= now < (release.window_end or now)


def _roll_window(release: Release, now: dt.datetime) -> None:
    if release.window_end is not None and release.window_end <= now:
        why = (
            "it was not approved in time"
            if release.kind == ReleaseKind.MANUAL and not release.approved_by_id
            else ""
        )
        _log(release, "the window passed" + (f" ({why})" if why else "") + ": moved to the next one")
        _set_window(release, release.site.client.contract, now)
        _set(release, window_start=release.window_start, window_end=release.window_end)


def _restore_point(release: Release) -> list[dict[str, Any]]:
    """Back up prod's code and data now (trigger 'release'); raises RuntimeError if it did not succeed.
    Retention follows each successful run as the worker's next job, as after any backup."""
    from sitekeeper.backups import jobs as backup_jobs
    from sitekeeper.backups.tasks import queue_retention

    taken: list[dict[str, Any]] = []
    for layer in (Layer.CODE, Layer.DATA):
        if not Source.objects.filter(site=release.site, environment="prod", layer=layer).exists():
            _log(release, f"restore point: no prod {layer} source, nothing to back up for it")
            continue
        slot = f"{release.slot}-{layer}"[:80]
        _progress(release, phase="prod", step=f"restore point ({layer})")
        backup_jobs.backup(
            release.site, layer, slot=slot, trigger=BackupRun.Trigger.RELEASE, then=queue_retention
        )
        run = BackupRun.objects.filter(site=release.site, layer=layer, slot=slot).first()
        if run is None or run.status != RunStatus.SUCCEEDED:
            why = run.error if run is not None else "no backup run"
            raise RuntimeError(f"restore point ({layer}) failed: {why}")
        for snap in Snapshot.objects.filter(run=run).order_by("pk"):
            taken.append(
                {"source": snap.source_name, "layer": layer, "snapshot": snap.pk, "restic_id": snap.restic_id}
            )
    if not taken:
        raise RuntimeError("restore point: the site has no prod backup sources")
    return taken


def _deploy(release: Release, now: dt.datetime) -> None:
    if release.status != ReleaseStatus.DEPLOYING:
        _set(release, status=ReleaseStatus.DEPLOYING, prod_started_at=dt.datetime.now(dt.UTC))
    if not release.restore_point:
        try:
            point = _restore_point(release)
        except (RuntimeError, *JOB_ERRORS) as exc:
            outcome = f"Stopped before production was changed: no restore point could be taken ({exc})."
            finished = dt.datetime.now(dt.UTC)
            _set(release, status=ReleaseStatus.FAILED, outcome=outcome, prod_finished_at=finished)
            _progress(release, phase="failed")
            _log(release, f"restore point failed, production not touched: {exc}")
            _tell_engineers(release, "stopped: no restore point (production untouched)")
            return
        _set(release, restore_point=point)
        _log(release, "restore point: " + ", ".join(f"{p['source']} {p['restic_id'][:8]}" for p in point))
    _extend(release)
    if _apply_and_check(release, "prod"):
        _finish_deployed(release)
    else:
        _extend(release)
        _rollback(release)


def _finish_deployed(release: Release) -> None:
    from sitekeeper.backups.tasks import on_release
    from sitekeeper.security.vulns import refresh_site

    changes = ", ".join(str(c) for c in release.changes.all())
    outcome = f"Deployed to production after passing the checks on stage and production: {changes}."
    _set(release, status=ReleaseStatus.DEPLOYED, outcome=outcome, prod_finished_at=dt.datetime.now(dt.UTC),
         progress={"phase": "deployed"})  # fmt: skip
    _log(release, "deployed")
    for environment in ("prod", "stage"):
        try:
            refresh_site(release.site, environment)
        except (TreeError, *JOB_ERRORS) as exc:
            _log(release, f"inventory of {environment} not refreshed: {exc}")
    try:
        on_release(release.site, reason=f"release {release.slot}")
    except Exception as exc:  # noqa: BLE001 - the release is done; a queue hiccup must not undo the record
        _log(release, f"post-release code backup not queued: {exc}")


def _rollback(release: Release) -> None:
    from sitekeeper.backups.restore import RestoreRefused, confirmation_text, request_restore, run_restore

    _log(release, "production failed its checks: rolling back from the restore point")
    before = smoke.log_sizes(release.site, "prod")
    errors = []
    for point in release.restore_point:
        _progress(release, phase="rollback", step=f"restore {point['source']}")
        snapshot = Snapshot.objects.filter(pk=point["snapshot"]).first()
        if snapshot is None:
            errors.append(
                f"{point['source']}: snapshot {point['restic_id'][:8]} is no longer in the catalogue"
            )
            continue
        try:
            restore = request_restore(
                snapshot, target="prod", user=detected.service_user(),
                confirmation=confirmation_text(snapshot),
                reason=f"automatic rollback of release {release.slot}: production failed its checks",
            )  # fmt: skip
        except RestoreRefused as exc:
            errors.append(f"{point['source']}: {exc}")
            continue
        restore = run_restore(restore)
        _log(release, f"restore #{restore.pk} of {point['source']}: {restore.status}")
        if restore.status != "succeeded":
            errors.append(f"{point['source']}: {restore.error}")
    _settle()
    after = smoke.check(release.site, "prod", baseline=smoke.Baseline("prod", log_sizes=before))
    after = [dataclasses.replace(c, name=f"after rollback: {c.name}") for c in after]
    _record(release, after)
    down = any(not c.ok for c in after if c.name.startswith("after rollback: page"))
    serving = all(c.ok for c in after)
    status = ReleaseStatus.FAILED if errors else ReleaseStatus.ROLLED_BACK
    outcome = (
        "Production failed its checks after the update and was rolled back automatically to the restore "
        "point taken just before; "
        + ("the site serves again." if serving else "the site still fails some checks.")
    )
    if errors:
        outcome = (
            "Production failed its checks after the update and the rollback did not complete: "
            + "; ".join(errors)
        )
    _set(
        release,
        status=status,
        outcome=outcome,
        prod_finished_at=dt.datetime.now(dt.UTC),
        progress={"phase": status},
    )
    _log(release, f"{status}: {outcome}")
    _open_incident(release, "P1" if down or errors else "P2")


def _open_incident(release: Release, priority: str) -> None:
    """The release's incident through the incident seam, once per release (its episode); the log goes to
    staff as an internal note. A desk that refuses leaves the release's record as it stands and the
    engineers are told without a ticket."""
    site = release.site
    failed = [c for c in release.checks if not c["ok"]]
    lines = [
        release.outcome,
        "",
        "Changes:",
        *(f"- {c}" for c in release.changes.all()),
        "",
        "Failed checks:",
    ]
    lines += [f"- [{c['environment']}] {c['name']}: {c['detail']}" for c in failed[:30]]
    detection = detected.Detection(
        site=site, found_by="releases", episode=f"release:{release.pk}", priority=priority,
        subject=f"Update {release.slot} failed in production ({release.get_status_display()})",
        description="\n".join(lines),
        steps="Automated smoke checks of sitekeeper's update pipeline; see the release page.",
        detected_at=release.prod_started_at or dt.datetime.now(dt.UTC), environment="prod",
        note=release.log[-4000:],
    )  # fmt: skip
    try:
        ticket, opened = detected.open_incident(detection)
    except Exception as exc:  # noqa: BLE001 - the rollback record must stand even if the desk refuses
        _log(release, f"incident ticket not opened: {exc}")
        _tell_engineers(release, f"{release.get_status_display().lower()} (no ticket: {exc})")
        return
    _set(release, ticket=ticket)
    if opened:  # the incident's notice names the request: told once it exists, once per release
        _log(release, f"incident {ticket.reference} opened ({priority})")
        _tell_engineers(release, f"{release.get_status_display().lower()}; incident {ticket.reference}")


def _tell_engineers(release: Release, what: str) -> None:
    message = Message(
        subject=f"Update release {release.slot} of {release.site}: {what}"[:200],
        text=f"{release.outcome}\n\n{release.log[-3000:]}",
        event="release.failed",
        data={"release": release.pk, "site": release.site_id, "status": release.status},
    )
    detected.tell(detected.Notice(message, key=f"release:{release.pk}:{release.status}"))


# -- the driver ---------------------------------------------------------------------------------------------
def _other_busy(release: Release, now: dt.datetime) -> bool:
    """Another release of the same site is changing files right now: wait for it."""
    return (
        Release.objects.filter(site=release.site, status__in=BUSY, lease_until__gt=now)
        .exclude(pk=release.pk)
        .exists()
    )


def advance(release: Release, *, now: dt.datetime | None = None) -> Release:
    """Do every step of the release that is due at `now`; safe to call again (and concurrently)."""
    now = _now(now)
    if release.status not in ACTIVE or _other_busy(release, now) or not _claim(release, now):
        release.refresh_from_db()
        return release
    try:
        for _ in range(4):  # planned -> staging -> awaiting -> deploying -> done: at most this many hops
            if release.status in (ReleaseStatus.PLANNED, ReleaseStatus.STAGING):
                _stage(release, now)
            elif release.status == ReleaseStatus.AWAITING_WINDOW:
                _roll_window(release, now)
                if not _may_deploy(release, now):
                    break
                _deploy(release, now)
            elif release.status == ReleaseStatus.DEPLOYING:
                _deploy(release, now)
            else:
                break
    except jobs.TakenOverError:
        logger.warning("release %s: taken over by another worker; this one stops", release.slot)
    finally:
        _release_claim(release)
    release.refresh_from_db()
    return release


def is_due(release: Release, now: dt.datetime) -> bool:
    if release.status == ReleaseStatus.PLANNED:
        return True
    if release.status in BUSY:
        return jobs.abandoned(release.owner, release.lease_until, now)  # a crashed run to take over
    if release.status == ReleaseStatus.AWAITING_WINDOW:
        return _may_deploy(release, now) or (release.window_end is not None and release.window_end <= now)
    return False


def has_update_sources(site: Site) -> bool:
    """Prod and stage code folders are set up: the pipeline can stage and deploy this site."""
    return all(code_source(site, env) is not None for env in ("prod", "stage"))


def sites_due_for_updates(now: dt.datetime) -> Iterator[tuple[Contract, Site]]:
    """(contract, site) of every site the pipeline serves now: its contract in service (under notice too,
    up to the effective date — agreement 7.3) and its prod and stage code folders set up."""
    for contract in contracts_in_service(now):
        if contract.client.contract != contract:
            continue  # an older contract of the client
        for site in contract.client.sites.all():
            if has_update_sources(site):
                yield contract, site


def plan_due(contract: Contract, site: Site, now: dt.datetime) -> list[Release]:
    """The scheduled batch whose date has come, and emergency releases of security packages."""

    planned = []
    plan_cadence = contract.plan.update_cadence
    local = now.astimezone(contract_zone(contract)).date()
    busy = Release.objects.filter(site=site, status__in=ACTIVE).exists()
    day = cadence.latest_batch(plan_cadence, contract.batch_rule(), contract.start, local)
    if day is not None and not busy:
        release = plan_release(site, kind=ReleaseKind.SCHEDULED, slot=f"batch-{day:%Y-%m-%d}", now=now)
        if release is not None:
            planned.append(release)
    if cadence.allows_emergency(plan_cadence):
        security = [p.package for p in pkgs.pending(site) if p.package.security]
        in_flight = set(
            ReleaseChange.objects.filter(release__site=site, release__status__in=ACTIVE).values_list(
                "package", flat=True
            )
        )
        security = [p for p in security if p.pk not in in_flight]
        if security:
            release = plan_release(site, kind=ReleaseKind.EMERGENCY, packages=security, now=now)
            if release is not None:
                planned.append(release)
    return planned


def due_pass(now: dt.datetime | None = None) -> list[int]:
    """Plan what the cadence makes due and advance every release with work due; ids of releases touched."""
    now = _now(now)
    touched: list[int] = []
    for contract, site in sites_due_for_updates(now):
        try:
            touched += [r.pk for r in plan_due(contract, site, now)]
        except UpdateError as exc:
            logger.warning("updates of %s not planned: %s", site, exc)
    for release in Release.objects.filter(status__in=ACTIVE).select_related("site").order_by("created_at"):
        if is_due(release, now):
            advance(release, now=now)
            touched.append(release.pk)
    return sorted(set(touched))
