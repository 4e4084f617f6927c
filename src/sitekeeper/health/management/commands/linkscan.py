"""`sitekeeper linkscan SITE`: scan a site for broken links now, with a progress line on the terminal."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sitekeeper import jobs
from sitekeeper.backups.management.commands.backup import find_site
from sitekeeper.health import crawler, linkscan
from sitekeeper.health.models import LINK_MAX_DEPTH, LINK_MAX_PAGES, LinkScan, LinkScanStatus

EXIT_BROKEN, EXIT_FAILED, EXIT_INCOMPLETE = 1, 2, 3
WIDTH = 100
PAGES_NAMED = 5  # pages printed under each broken link (then "… and N more")


def render_line(data: dict[str, Any]) -> str:
    if data.get("phase") != "crawl":
        return f"link scan: {data.get('phase', '')}"
    return (
        f"link scan: {data.get('pages', 0)} pages read, {data.get('checked', 0)} URLs checked, "
        f"{data.get('queued', 0)} in the queue, {data.get('seconds', 0):.0f} s"
    )


def exit_code(scan: LinkScan) -> int:
    """0 complete and clean, 1 complete with broken links, 2 failed, 3 cut short by a limit (whatever it
    found: the broken links it did find are printed, but the rest of the site was not checked)."""
    if scan.status == LinkScanStatus.INCOMPLETE:
        return EXIT_INCOMPLETE
    if scan.status != LinkScanStatus.SUCCEEDED:
        return EXIT_FAILED
    return EXIT_BROKEN if scan.broken else 0


class Command(BaseCommand):
    help = (
        "Scan a site for broken links now (its prod URL, or --environment stage), with the site's limits "
        "(Health settings) or one-off --max-pages/--max-depth. Exit status: 0 the whole site was scanned and "
        "no link is broken; 1 broken links found (HTTP errors, unreachable URLs, redirect loops, missing "
        "#anchors; long redirect chains and robots.txt-blocked links are warnings and do not count); 2 the "
        "scan failed or could not start (unknown site, bad option); 3 the scan is INCOMPLETE: a limit left "
        "pages of the site unread, so the links on them were not checked (the broken links it did find are "
        "listed) — raise the limit and scan again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("site", help="site id or its exact URL")
        parser.add_argument("--environment", default="prod", help="prod (default), stage or dev")
        parser.add_argument("--slot", help="idempotency slot: a slot already scanned prints that scan again")
        parser.add_argument("--json", action="store_true", help="print the scan and its defects as JSON")
        pages, depth = (f"{low}-{high:,}" for low, high in (LINK_MAX_PAGES, LINK_MAX_DEPTH))
        parser.add_argument(
            "--max-pages", type=int, metavar="N",
            help=f"this scan only: read at most N same-site pages ({pages}; default: the site's setting)",
        )  # fmt: skip
        parser.add_argument(
            "--max-depth", type=int, metavar="N",
            help=f"this scan only: read pages up to N clicks from the start page ({depth}; default: the "
            "site's setting)",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        limits = {name: options[name] for name in ("max_pages", "max_depth") if options[name] is not None}
        try:
            linkscan.check_limits(limits)
            site = find_site(options["site"])
            linkscan.start_url(site, options["environment"])
        except (linkscan.LinkScanError, CommandError) as exc:
            raise CommandError(str(exc), returncode=EXIT_FAILED) from None
        scan = self._with_progress(
            lambda: linkscan.run_scan(
                site, slot=options["slot"], environment=options["environment"], limits=limits
            )
        )
        if options["json"]:
            self.stdout.write(json.dumps(as_json(scan), indent=2, default=str))
        else:
            self._print(scan)
        if scan.status not in (LinkScanStatus.SUCCEEDED, LinkScanStatus.INCOMPLETE) and not options["json"]:
            self.stderr.write(f"link scan #{scan.pk} {scan.status}: {scan.error}")
        code = exit_code(scan)
        if code:
            raise SystemExit(code)

    def _with_progress(self, work: Any) -> LinkScan:
        return jobs.terminal_bar(work, sys.stderr, render_line)

    def _print(self, scan: LinkScan) -> None:
        for line in text_lines(scan):
            self.stdout.write(line)


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "an unknown time"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def text_lines(scan: LinkScan) -> list[str]:
    """The scan as a person reads it: state, figures, duration; an incomplete scan's limit and what it left
    unread; each defect with the pages it is on."""
    took = duration_text(scan.duration_seconds)
    figures = f"{scan.broken} broken ({scan.new} new, {scan.still} still, {scan.fixed} fixed)"
    read = f"{scan.pages} pages read, {scan.links} URLs checked in {took}"
    lines = [f"Link scan #{scan.pk} of {scan.start_url}: {scan.status}; {read}; {figures}"]
    if scan.incomplete:
        lines.append(
            f"INCOMPLETE: {scan.limits_text} stopped the scan — {scan.unread_text}, so the links on them "
            "were not checked. Raise the limit (Health settings, or --max-pages/--max-depth) to scan the "
            "whole site."
        )
        lines.extend(f"  not read: {url}" for url in scan.unread_examples[:PAGES_NAMED])
        if (scan.unread or 0) > PAGES_NAMED:
            lines.append(f"  … and {scan.unread - PAGES_NAMED} more pages not read")
    lines.extend(f"  note: {note}" for note in (scan.settings_used or {}).get("notes", []))
    for defect in scan.defects.exclude(change="fixed").order_by("problem", "url"):
        level = "broken " if defect.problem in crawler.ERRORS else "warning"
        status = f" {defect.status_code}" if defect.status_code else ""
        on = f"{defect.page_count} page{'s' if defect.page_count != 1 else ''}"
        lines.append(f"  {level} {defect.problem}{status} {defect.url} ({defect.change}; on {on})")
        lines.extend(f"      on {page}" for page in defect.pages[:PAGES_NAMED])
        if not defect.pages:
            lines.append("      the start page itself")
        more = defect.page_count - min(len(defect.pages), PAGES_NAMED)
        if more > 0:
            lines.append(f"      … and {more} more page{'s' if more != 1 else ''}")
    for defect in scan.defects.filter(change="fixed").order_by("url"):
        lines.append(f"  fixed   {defect.problem} {defect.url}")
    return lines


def as_json(scan: LinkScan) -> dict[str, Any]:
    fields = ("id", "start_url", "environment", "slot", "status", "error", "pages", "links", "broken", "new",
              "still", "fixed", "truncated", "depth_limited", "unread", "unread_examples", "started_at",
              "finished_at", "duration_seconds")  # fmt: skip
    used = scan.settings_used or {}
    return {
        **{name: getattr(scan, name) for name in fields},
        "complete": scan.status == LinkScanStatus.SUCCEEDED,
        "limits": scan.limits,
        "max_pages": used.get("max_pages"),
        "max_depth": used.get("max_depth"),
        "site": scan.site_id,
        "previous": scan.previous_id,
        "defects": [
            {"url": d.url, "internal": d.internal, "problem": d.problem,
             "broken": d.problem in crawler.ERRORS, "change": d.change, "status_code": d.status_code,
             "error": d.error, "redirects": d.redirects, "pages": d.pages, "page_count": d.page_count}
            for d in scan.defects.order_by("change", "problem", "url")
        ],
    }  # fmt: skip
