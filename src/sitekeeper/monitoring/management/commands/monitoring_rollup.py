"""`sitekeeper monitoring_rollup [--days N]`: one rollup pass now (the worker runs it hourly)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from sitekeeper.monitoring import rollup


class Command(BaseCommand):
    help = (
        "Roll raw check results up into hourly and daily rows and delete raw results older than "
        "SITEKEEPER_RAW_RESULT_DAYS days (default 14). Idempotent: safe to run at any time, and twice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, help="keep raw results this many days (default: the setting)")

    def handle(self, *args: Any, days: int | None, **options: Any) -> None:
        summary = rollup.run(days=days)
        self.stdout.write(str(summary))
