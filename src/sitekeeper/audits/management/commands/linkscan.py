"""`sitekeeper linkscan SITE`: scan a site for broken links now, with a progress line on the terminal."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sitekeeper.audits import crawler, linkscan
from sitekeeper.audits.models import JobStatus, LinkScan
from sitekeeper.backups import progress
from sitekeeper.backups.management.commands.backup import find_site

EXIT_BROKEN, EXIT_FAILED = 1, 2
WIDTH = 100


def render_line(data: dict[str, Any]) -> str:
    if data.get("phase") != "crawl":
        return f"link scan: {data.get('phase', '')}"
    return (
        f"link scan: {data.get('pages', 0)} pages read, {data.get('checked', 0)} URLs checked, "
        f"{data.get('queued', 0)} in the queue, {data.get('seconds', 0):.0f} s"
    )


class Command(BaseCommand):
    help = (
        "Scan a site for broken links now (its prod URL, or --environment stage). Exit status: 0 no broken "
        "links, 1 broken links found (HTTP errors, unreachable URLs, redirect loops, missing #anchors; long "
        "redirect chains and robots.txt-blocked links are warnings and do not count), 2 the scan failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("site", help="site id or its exact URL")
        parser.add_argument("--environment", default="prod", help="prod (default), stage or dev")
        parser.add_argument("--slot", help="idempotency slot: a slot already scanned prints that scan again")
        parser.add_argument("--json", action="store_true", help="print the scan and its defects as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        site = find_site(options["site"])
        try:
            linkscan.start_url(site, options["environment"])
        except linkscan.LinkScanError as exc:
            raise CommandError(str(exc)) from None
        scan = self._with_progress(
            lambda: linkscan.run_scan(site, slot=options["slot"], environment=options["environment"])
        )
        if options["json"]:
            self.stdout.write(json.dumps(as_json(scan), indent=2, default=str))
        else:
            self._print(scan)
        if scan.status != JobStatus.SUCCEEDED:
            if not options["json"]:
                self.stderr.write(f"link scan #{scan.pk} {scan.status}: {scan.error}")
            raise SystemExit(EXIT_FAILED)
        if scan.broken:
            raise SystemExit(EXIT_BROKEN)

    def _with_progress(self, work: Any) -> LinkScan:
        return progress.terminal_bar(work, sys.stderr, render_line)

    def _print(self, scan: LinkScan) -> None:
        self.stdout.write(
            f"Link scan #{scan.pk} of {scan.start_url}: {scan.status}; {scan.pages} pages, {scan.links} URLs "
            f"checked{' (page limit reached)' if scan.truncated else ''}; {scan.broken} broken "
            f"({scan.new} new, {scan.still} still, {scan.fixed} fixed)"
        )
        for defect in scan.defects.exclude(change="fixed").order_by("problem", "url"):
            level = "broken " if defect.problem in crawler.ERRORS else "warning"
            status = f" {defect.status_code}" if defect.status_code else ""
            on = f"{defect.page_count} page{'s' if defect.page_count != 1 else ''}"
            self.stdout.write(f"  {level} {defect.problem}{status} {defect.url} ({defect.change}; on {on})")
        for defect in scan.defects.filter(change="fixed").order_by("url"):
            self.stdout.write(f"  fixed   {defect.problem} {defect.url}")


def as_json(scan: LinkScan) -> dict[str, Any]:
    fields = ("id", "start_url", "environment", "slot", "status", "error", "pages", "links", "broken", "new",
              "still", "fixed", "truncated", "started_at", "finished_at")  # fmt: skip
    return {
        **{name: getattr(scan, name) for name in fields},
        "site": scan.site_id,
        "previous": scan.previous_id,
        "defects": [
            {"url": d.url, "internal": d.internal, "problem": d.problem,
             "broken": d.problem in crawler.ERRORS, "change": d.change, "status_code": d.status_code,
             "error": d.error, "redirects": d.redirects, "pages": d.pages, "page_count": d.page_count}
            for d in scan.defects.order_by("change", "problem", "url")
        ],
    }  # fmt: skip
