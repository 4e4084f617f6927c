"""`sitekeeper backup …`: run, inspect and prove backups from the command line (with a progress bar)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sitekeeper.access.models import User
from sitekeeper.backups import errors, jobs, restore, tasks, verify
from sitekeeper.backups.models import BackupRun, Layer, Repository, RunStatus, Snapshot
from sitekeeper.backups.restic import Restic
from sitekeeper.contracts.models import Site
from sitekeeper.jobs import terminal_bar

BAR = 30


def find_site(value: str) -> Site:
    site = (
        Site.objects.filter(pk=int(value)).first()
        if value.isdigit()
        else Site.objects.filter(url=value).first()
    )
    if site is None:
        raise CommandError(f"no site {value!r} (give its id or its exact URL)")
    return site


def human(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(size) < 1000:
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1000
    return f"{size:.1f} TB"


def render_bar(progress: dict[str, Any]) -> str:
    percent = float(progress.get("percent") or 0)
    filled = int(BAR * percent / 100)
    bar = "#" * filled + "." * (BAR - filled) if percent else "~" * BAR
    where = progress.get("source") or progress.get("phase") or ""
    if progress.get("of"):
        where = f"{where} ({progress.get('index')}/{progress['of']})"
    figures = human(progress.get("bytes_done", 0))
    if progress.get("total_bytes"):
        figures += f" of {human(progress['total_bytes'])}"
    return f"[{bar}] {percent:5.1f}%  {figures}  {where}"


def with_progress(work: Callable[[], Any], out: Any) -> Any:
    """Run `work` with its progress drawn as a bar on the terminal."""
    return terminal_bar(work, out, render_bar)


class Command(BaseCommand):
    help = "Back up sites, list snapshots, apply retention, run restore tests and restores."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("run", help="back up one layer of a site now")
        run.add_argument("--site", required=True, help="site id or URL")
        run.add_argument("--layer", choices=Layer.values, default=Layer.DATA)
        run.add_argument("--slot", help="idempotency slot (default: a new on-demand slot)")
        run.add_argument("--retry", action="store_true", help="run a failed slot again")
        snaps = sub.add_parser("snapshots", help="list a site's snapshots")
        snaps.add_argument("--site", required=True)
        snaps.add_argument("--json", action="store_true")
        ret = sub.add_parser("retention", help="apply the plan's retention to a site now")
        ret.add_argument("--site", required=True)
        test = sub.add_parser(
            "restore-test", help="check the repository slice and restore into scratch space"
        )
        test.add_argument("--site", required=True)
        check = sub.add_parser("check", help="read one slice of a repository back (restic check)")
        check.add_argument("--repository", required=True, type=int, help="repository id")
        restore = sub.add_parser("restore", help="restore a snapshot to stage (default) or prod")
        restore.add_argument(
            "--snapshot", required=True, help="snapshot id (restic id or its first 8 characters)"
        )
        restore.add_argument("--target", choices=["stage", "prod"], default="stage")
        restore.add_argument("--path", action="append", default=[], help="only this path (files)")
        restore.add_argument("--table", action="append", default=[], help="only this table (databases)")
        restore.add_argument("--confirm", default="", help='prod only: "<site URL> <snapshot short id>"')
        restore.add_argument("--user", required=True, help="username of the person who decided the restore")
        restore.add_argument("--reason", default="")
        sub.add_parser("schedule", help="queue every due scheduled backup (what the worker does every 5 min)")
        sub.add_parser("stale", help="open incidents for stale backups now")

    def handle(self, *args: Any, **options: Any) -> None:
        handler = getattr(self, "do_" + options["action"].replace("-", "_"))
        handler(options)

    # -- actions --------------------------------------------------------------------------------------
    def do_run(self, options: dict[str, Any]) -> None:
        site = find_site(options["site"])
        layer = options["layer"]
        slot = options["slot"] or f"manual-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S.%f}"

        run = with_progress(
            lambda: jobs.backup(
                site,
                layer,
                slot=slot,
                trigger=BackupRun.Trigger.MANUAL,
                retry=options["retry"],
                then=tasks.queue_retention,
            ),
            sys.stderr,
        )
        if run is None:
            existing = BackupRun.objects.get(site=site, layer=layer, slot=slot)
            self.stdout.write(f"nothing to do: run {existing.pk} of slot {slot} is {existing.status}")
            return
        self.stdout.write(run.log.rstrip())
        if run.status != RunStatus.SUCCEEDED:
            raise CommandError(f"backup failed: {run.error}")
        self.stdout.write(self.style.SUCCESS(f"run {run.pk}: {run.layer} backup of {site} succeeded"))

    def do_snapshots(self, options: dict[str, Any]) -> None:
        site = find_site(options["site"])
        rows = Snapshot.objects.filter(site=site).order_by("layer", "source_name", "-time")
        if options["json"]:
            data = [
                {
                    "id": s.restic_id,
                    "time": s.time.isoformat(),
                    "layer": s.layer,
                    "source": s.source_name,
                    "bytes": s.bytes_processed,
                    "added": s.bytes_added,
                    "files": s.files,
                    "forgotten_at": s.forgotten_at.isoformat() if s.forgotten_at else None,
                }
                for s in rows
            ]
            self.stdout.write(json.dumps(data, indent=2))
            return
        for s in rows:
            state = f"forgotten {s.forgotten_at:%Y-%m-%d}" if s.forgotten_at else "kept"
            self.stdout.write(
                f"{s.short_id}  {s.time:%Y-%m-%d %H:%M}  {s.layer:6} {s.source_name:16} "
                f"{human(s.bytes_processed):>10}  +{human(s.bytes_added):>10}  {state}"
            )

    def do_retention(self, options: dict[str, Any]) -> None:
        site = find_site(options["site"])
        config = errors.config_for(site)
        with Restic(config.repository) as restic:
            jobs.prepare(config.repository, restic)
            summary = jobs.apply_retention(site, restic)
        self.stdout.write(
            f"retention {summary['days']} days: {summary['forgotten']} let go, {summary['kept']} kept, "
            f"{summary.get('stray', 0)} incomplete removed"
        )

    def do_restore_test(self, options: dict[str, Any]) -> None:
        site = find_site(options["site"])
        slot = f"manual-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S.%f}"

        test = with_progress(lambda: verify.restore_test(site, slot=slot, trigger="manual"), sys.stderr)
        for item in test.evidence:
            self.stdout.write(f"{item.get('source')}: {'passed' if item.get('passed') else 'FAILED'}")
            for check in item.get("checks", []):
                mark = "ok " if check["ok"] else "BAD"
                self.stdout.write(
                    f"  {mark} {check['name']}: expected {check['expected']}, got {check['actual']}"
                )
        if test.status != test.Status.PASSED:
            raise CommandError(f"restore test failed: {test.error}")
        self.stdout.write(self.style.SUCCESS(f"restore test passed in {test.duration_seconds:.1f} s"))

    def do_check(self, options: dict[str, Any]) -> None:
        repo = Repository.objects.filter(pk=options["repository"]).first()
        if repo is None:
            raise CommandError(f"no repository {options['repository']}")
        ok, subset, output = verify.check_repository(repo)
        self.stdout.write(output)
        if not ok:
            raise CommandError(f"repository {repo} check of slice {subset} FAILED")
        self.stdout.write(self.style.SUCCESS(f"repository {repo}: slice {subset} read back clean"))

    def do_restore(self, options: dict[str, Any]) -> None:
        ident = options["snapshot"]
        snap = Snapshot.objects.filter(restic_id__startswith=ident).first() if len(ident) >= 8 else None
        if snap is None:
            raise CommandError(f"no snapshot {ident!r} (give at least its first 8 characters)")
        user = User.objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"no user {options['user']!r}")
        try:
            request = restore.request_restore(
                snap,
                target=options["target"],
                user=user,
                paths=options["path"],
                tables=options["table"],
                confirmation=options["confirm"],
                reason=options["reason"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        done = with_progress(lambda: restore.run_restore(request), sys.stderr)
        self.stdout.write(done.log.rstrip())
        if done.status != done.Status.SUCCEEDED:
            raise CommandError(f"restore failed: {done.error}")
        self.stdout.write(self.style.SUCCESS(f"restored {snap.short_id} to {done.target}"))

    def do_schedule(self, options: dict[str, Any]) -> None:
        for site_id, layer, slot in tasks.schedule_pass():
            self.stdout.write(f"queued site {site_id} {layer} {slot}")

    def do_stale(self, options: dict[str, Any]) -> None:
        for site_id, layer in tasks.stale_pass():
            self.stdout.write(f"stale: site {site_id} {layer} (incident opened)")
