"""`sitekeeper update …`: the staged update pipeline from the command line — store update packages, see what
a site is waiting for, plan a release, approve or cancel it, advance it (with a progress bar) and list
releases."""

from __future__ import annotations

import sys
from argparse import RawDescriptionHelpFormatter
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser, DjangoHelpFormatter

from sitekeeper import jobs
from sitekeeper.access.audit import acting_as
from sitekeeper.access.models import User
from sitekeeper.backups.management.commands.backup import find_site
from sitekeeper.releases import packages, updates
from sitekeeper.releases.models import Release, ReleaseKind, ReleaseStatus, UpdatePackage
from sitekeeper.releases.views import live_progress

BAR = 30
# advance: the release ended in one of these (stage failed, prod rolled back, rollback failed) → exit 3.
FAILED_END = (ReleaseStatus.STAGE_FAILED, ReleaseStatus.ROLLED_BACK, ReleaseStatus.FAILED)
EXIT_RELEASE_FAILED = 3

EPILOG = """exit codes:
  0  done (for advance: the release moved on or had nothing due)
  1  refused or bad input (unknown site, release, package or user; a zip that is not an update package)
  2  usage error (unknown subcommand or option)
  3  advance: the release failed (stage_failed, rolled_back or failed); its outcome and log are printed
"""


class HelpFormatter(DjangoHelpFormatter, RawDescriptionHelpFormatter):
    """Django's option order, with the exit-code table kept as written."""


def render_bar(data: dict[str, Any]) -> str:
    """One line: a bar when the step reports how far it is (done/total), else a busy row, and the step."""
    shown = live_progress(data)
    percent = shown["percent"]
    if isinstance(percent, int | float):
        filled = int(BAR * float(percent) / 100)
        bar = f"[{'#' * filled}{'.' * (BAR - filled)}] {float(percent):5.1f}%"
    else:
        bar = f"[{'~' * BAR}]       "
    what = " · ".join(part for part in (shown["phase"], shown["step"]) if part)
    return f"{bar}  {what} {shown['count']}".rstrip()


def with_progress(work: Any, out: Any) -> Any:
    """Run `work`, drawing the progress it stores on the release as a bar."""
    return jobs.terminal_bar(work, out, render_bar)


def find_release(value: Any) -> Release:
    release = (
        Release.objects.select_related("site").filter(pk=value).first() if str(value).isdigit() else None
    )
    if release is None:
        raise CommandError(f"no release {value!r} (give its id; `sitekeeper update list` shows them)")
    return release


def find_user(username: str) -> User:
    user = User.objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"no user {username!r}")
    if not user.is_agency:
        raise CommandError(f"user {username!r} is not agency staff: only agency staff approve or cancel")
    return user


class Command(BaseCommand):
    help = "Update packages and releases of the staged update pipeline (stage first, then prod in a window)."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        kwargs.setdefault("epilog", EPILOG)
        kwargs.setdefault("formatter_class", HelpFormatter)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        package = sub.add_parser("package", help="store or list update packages (plugin/theme/core zips)")
        psub = package.add_subparsers(dest="package_action", required=True)
        add = psub.add_parser("add", help="store a zip from this machine")
        add.add_argument("zip", help="path of the zip")
        add.add_argument("--security", action="store_true", help="it fixes a vulnerability")
        add.add_argument("--notes", default="", help="changelog excerpt")
        fetch = psub.add_parser("fetch", help="download a zip and store it")
        fetch.add_argument("url")
        fetch.add_argument("--security", action="store_true", help="it fixes a vulnerability")
        psub.add_parser("list", help="the stored packages")
        pending = sub.add_parser("pending", help="what a site is waiting for: newer packages than installed")
        pending.add_argument("site", help="site id or URL")
        pending.add_argument("--environment", default="prod")
        plan = sub.add_parser("plan", help="plan a release of a site's pending updates now")
        plan.add_argument("site", help="site id or URL")
        plan.add_argument("--kind", choices=[ReleaseKind.MANUAL, ReleaseKind.EMERGENCY], default="manual")
        plan.add_argument(
            "--package", type=int, action="append", default=[], help="only this package id (repeatable)"
        )
        approve = sub.add_parser("approve", help="approve an on-demand release for production")
        approve.add_argument("release", help="release id")
        approve.add_argument("--user", required=True, help="username of the agency person approving")
        cancel = sub.add_parser("cancel", help="cancel a release before production starts")
        cancel.add_argument("release", help="release id")
        cancel.add_argument("--user", required=True, help="username of the agency person cancelling")
        cancel.add_argument("--reason", required=True)
        advance = sub.add_parser("advance", help="do every step of a release that is due now")
        advance.add_argument("release", help="release id")
        listing = sub.add_parser("list", help="releases, newest first")
        listing.add_argument("--site", help="site id or URL")
        listing.add_argument("--limit", type=int, default=30)

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "package":
            action = f"package_{options['package_action']}"
        getattr(self, f"do_{action}")(options)

    # -- packages -------------------------------------------------------------------------------------------
    def do_package_add(self, options: dict[str, Any]) -> None:
        path = Path(options["zip"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        try:
            with acting_as():
                package = packages.add_package(
                    path, filename=path.name, security=options["security"], notes=options["notes"]
                )
        except packages.PackageError as error:
            raise CommandError(str(error)) from error
        self._package_line(package)

    def do_package_fetch(self, options: dict[str, Any]) -> None:
        try:
            with acting_as():
                package = packages.fetch_package(options["url"], security=options["security"])
        except packages.PackageError as error:
            raise CommandError(str(error)) from error
        self._package_line(package)

    def _package_line(self, package: UpdatePackage) -> None:
        flag = " [security]" if package.security else ""
        self.stdout.write(
            f"package {package.pk}: {package.ecosystem} {package.slug} {package.version}{flag}  "
            f"{package.size} bytes  sha256 {package.sha256}"
        )

    def do_package_list(self, options: dict[str, Any]) -> None:
        for p in UpdatePackage.objects.order_by("ecosystem", "slug", "-added_at"):
            flag = " [security]" if p.security else ""
            self.stdout.write(
                f"{p.pk:>5}  {p.ecosystem:18} {p.slug:30} {p.version:12} {p.sha256[:12]}  "
                f"{p.added_at:%Y-%m-%d}{flag}"
            )

    # -- a site's updates -----------------------------------------------------------------------------------
    def do_pending(self, options: dict[str, Any]) -> None:
        site = find_site(options["site"])
        found = packages.pending(site, options["environment"])
        if not found:
            self.stdout.write(f"{site}: up to date (no package newer than the installed versions)")
            return
        for item in found:
            flag = " [security]" if item.package.security else ""
            self.stdout.write(
                f"{item.component.ecosystem} {item.component.slug}: {item.component.version} -> "
                f"{item.package.version} (package {item.package.pk}){flag}"
            )

    def do_plan(self, options: dict[str, Any]) -> None:
        site = find_site(options["site"])
        chosen = None
        if options["package"]:
            found = UpdatePackage.objects.in_bulk(options["package"])
            missing = [str(pk) for pk in options["package"] if pk not in found]
            if missing:
                raise CommandError(f"no package {', '.join(missing)} (`sitekeeper update package list`)")
            chosen = list(found.values())
        try:
            with acting_as():
                release = updates.plan_release(site, kind=options["kind"], packages=chosen)
        except ValueError as error:
            raise CommandError(f"not planned: {error}") from error
        if release is None:
            self.stdout.write(f"{site}: nothing to release (no pending update)")
            return
        self._release_block(release)

    # -- one release ----------------------------------------------------------------------------------------
    def do_approve(self, options: dict[str, Any]) -> None:
        release, user = find_release(options["release"]), find_user(options["user"])
        try:
            with acting_as(user):
                release = updates.approve(release, user)
        except ValueError as error:
            raise CommandError(f"not approved: {error}") from error
        self.stdout.write(self.style.SUCCESS(f"release {release.pk} approved by {user.username}"))

    def do_cancel(self, options: dict[str, Any]) -> None:
        release, user = find_release(options["release"]), find_user(options["user"])
        try:
            with acting_as(user):
                release = updates.cancel(release, user, options["reason"])
        except ValueError as error:
            raise CommandError(f"not cancelled: {error}") from error
        self.stdout.write(f"release {release.pk} cancelled")

    def do_advance(self, options: dict[str, Any]) -> None:
        release = find_release(options["release"])
        before = release.status
        release = with_progress(lambda: updates.advance(release), sys.stderr)
        self._release_block(release)
        if release.status in FAILED_END and release.status != before:
            if release.log:
                self.stdout.write(release.log.rstrip())
            raise CommandError(
                f"release {release.pk} {release.get_status_display().lower()}", returncode=EXIT_RELEASE_FAILED
            )
        if release.status == before:
            self.stdout.write(
                f"nothing due now: release {release.pk} is {release.get_status_display().lower()}"
            )

    def _release_block(self, release: Release) -> None:
        self.stdout.write(
            f"release {release.pk} of {release.site} ({release.get_kind_display().lower()}, "
            f"slot {release.slot}): {release.status}"
        )
        for change in release.changes.all():
            self.stdout.write(f"  {change.slug}: {change.from_version or '-'} -> {change.to_version}")
        if release.window_start:
            self.stdout.write(f"  window {release.window_start:%Y-%m-%d %H:%M} UTC")
        for check in release.checks or []:
            state = "skipped" if check.get("skipped") else "ok" if check.get("ok") else "FAILED"
            self.stdout.write(
                f"  {check.get('environment')}: {check.get('name')} {state} {check.get('detail', '')}"
            )
        if release.outcome:
            self.stdout.write(f"  {release.outcome}")

    def do_list(self, options: dict[str, Any]) -> None:
        rows = Release.objects.select_related("site").prefetch_related("changes")
        if options["site"]:
            rows = rows.filter(site=find_site(options["site"]))
        for r in rows.order_by("-created_at")[: options["limit"]]:
            changes = ", ".join(f"{c.slug} {c.from_version or '-'}->{c.to_version}" for c in r.changes.all())
            self.stdout.write(
                f"{r.pk:>5}  {r.created_at:%Y-%m-%d %H:%M}  {r.site}  {r.kind:9} {r.status:15} {changes}"
            )
