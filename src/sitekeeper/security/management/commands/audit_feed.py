"""`sitekeeper audit_feed …`: import vulnerability feeds (with a progress bar), list them, match sites."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sitekeeper import jobs
from sitekeeper.backups.management.commands.backup import find_site, render_bar
from sitekeeper.contracts.models import Site
from sitekeeper.security import feeds, vulns
from sitekeeper.security.models import Feed


class Command(BaseCommand):
    help = "Import vulnerability feeds (Wordfence v3, OSV), list them, and match sites' inventories."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="import (replace) a feed from a file, folder, zip or URL")
        imp.add_argument("--name", required=True, help="the feed's name, e.g. wordfence")
        imp.add_argument("--format", required=True, choices=Feed.Format.values)
        imp.add_argument("location", help="file, folder of OSV records, zip, or http(s) URL")
        sub.add_parser("list", help="list the imported feeds")
        match = sub.add_parser("match", help="match site inventories against all feeds now")
        match.add_argument("--site", help="site id or URL (default: every site)")

    def handle(self, *args: object, **options: object) -> None:
        action = options["action"]
        if action == "import":
            name, fmt, location = str(options["name"]), str(options["format"]), str(options["location"])
            try:
                feed = jobs.terminal_bar(
                    lambda: feeds.import_feed(name, fmt, location), sys.stderr, render_bar
                )
            except feeds.FeedError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(
                f"feed {feed.name}: {feed.entries} entries imported (sha256 {feed.sha256[:12]})"
            )
        elif action == "list":
            for feed in Feed.objects.all():
                when = feed.imported_at.isoformat() if feed.imported_at else "never"
                self.stdout.write(f"{feed.name}\t{feed.format}\t{feed.entries}\t{when}\t{feed.url or '-'}")
        else:
            sites = [find_site(str(options["site"]))] if options["site"] else list(Site.objects.all())
            for site in sites:
                n = vulns.match_site(site)
                self.stdout.write(f"{site}: {n['matches']} matches, {n['new']} new, {n['resolved']} resolved")
