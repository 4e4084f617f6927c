"""`sitekeeper audit scan --site …`: one security pass over a site now (the nightly job, on demand)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sitekeeper.backups.management.commands.backup import find_site
from sitekeeper.security import scans


class Command(BaseCommand):
    help = (
        "Run security scans of a site: inventory + vulnerabilities, integrity, malware, suspicious changes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        scan = sub.add_parser("scan", help="scan a site now")
        scan.add_argument("--site", required=True, help="site id or URL")
        scan.add_argument("--environment", default="prod")
        scan.add_argument(
            "--only", action="append", choices=scans.STEPS, help="only these steps (repeatable)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        site = find_site(options["site"])
        if not scans.scannable(site, options["environment"]):
            raise CommandError(f"{site} has no code source to read (set one up under Backups → sources)")
        results = scans.scan_site(site, options["environment"], only=options["only"] or scans.STEPS)
        for step, outcome in results.items():
            self.stdout.write(f"{step:11} {outcome}")
        if any(outcome.startswith("failed") for outcome in results.values()):
            raise CommandError("some scan steps failed (see above)")
