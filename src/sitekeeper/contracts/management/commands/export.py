"""`sitekeeper export [FILE]`: the stored configuration as a contract file (stdout without FILE)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sitekeeper.contracts.export import export_yaml


class Command(BaseCommand):
    help = (
        "Write calendars, changed or added plans and all clients as a contract file that "
        "`sitekeeper apply` accepts unchanged."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", type=Path, help="write here instead of to stdout")

    def handle(self, *args: Any, file: Path | None, **options: Any) -> None:
        text = export_yaml()
        if file is None:
            self.stdout.write(text, ending="")
            return
        try:
            file.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot write {file}: {exc.strerror or exc}") from exc
        self.stdout.write(f"wrote {file}")
