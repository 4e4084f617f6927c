"""`sitekeeper apply FILE.yaml [--dry-run] [--as USERNAME]`: the contract file into the database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from sitekeeper.contracts.apply import ApplyError, apply_file


class Command(BaseCommand):
    help = (
        "Create or update calendars, plans, clients, contracts, contacts and sites from a YAML contract "
        "file, all or nothing. Prints one line per change; errors and warnings name the file, line and key."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="the contract file (see docs/contract-file.md)")
        parser.add_argument("--dry-run", action="store_true", help="show the changes, write nothing")
        parser.add_argument(
            "--as", dest="username", metavar="USERNAME", help="record the changes as this user's"
        )

    def handle(self, *args: Any, file: Path, dry_run: bool, username: str | None, **options: Any) -> None:
        user = self._user(username) if username else None
        try:
            result = apply_file(file, dry_run=dry_run, user=user)
        except ApplyError as exc:
            for line in exc.errors:
                self.stderr.write(line)
            errors = _plural(len(exc.errors), "error")
            raise CommandError(f"{errors} in {file}; nothing was applied") from exc
        for line in result.changes:
            self.stdout.write(line)
        for line in result.warnings:  # applied all the same; said on stderr so stdout stays the diff
            self.stderr.write(self.style.WARNING(line))
        self.stdout.write(self._summary(len(result.changes), dry_run))

    def _user(self, username: str) -> Any:
        try:
            return get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist as exc:
            raise CommandError(f"--as {username}: no such user") from exc

    @staticmethod
    def _summary(count: int, dry_run: bool) -> str:
        if not count:
            return "no changes"
        changes = _plural(count, "change")
        return f"dry run: would apply {changes}; nothing written" if dry_run else f"applied {changes}"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
