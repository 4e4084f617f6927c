"""`sitekeeper lighthouse SITE [--runs N] [--json]`: run a Lighthouse audit of a site now (every key page with
Lighthouse on, or the home page; mobile and desktop) with a progress bar, and print the results."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sitekeeper import jobs
from sitekeeper.backups.management.commands.backup import find_site
from sitekeeper.health import performance
from sitekeeper.health.models import JobStatus, JobTrigger, LighthouseResult

BAR = 30


def render_bar(data: dict[str, Any]) -> str:
    percent = float(data.get("percent") or 0)
    filled = int(BAR * percent / 100)
    where = f"{data.get('label', '')} {data.get('form_factor', '')} ({data.get('index')}/{data.get('of')})"
    if data.get("runs"):
        where += f" run {data.get('run')}/{data['runs']}"
    return f"[{'#' * filled}{'.' * (BAR - filled)}] {percent:5.1f}%  {where}"


def result_json(result: LighthouseResult) -> dict[str, Any]:
    fields = ("url", "form_factor", "performance", "accessibility", "best_practices", "seo", "run_scores",
              "lcp_ms", "fcp_ms", "tbt_ms", "speed_index_ms", "ttfb_ms", "page_weight_bytes", "over_budget",
              "error")  # fmt: skip
    data = {name: getattr(result, name) for name in fields}
    data["cls"] = None if result.cls is None else float(result.cls)
    data["measured_at"] = result.measured_at.isoformat()
    data["ticket"] = result.ticket.reference if result.ticket else None
    return data


class Command(BaseCommand):
    help = "Run a Lighthouse audit of a site now (key pages, mobile and desktop) and print the scores."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("site", help="site id or its exact URL")
        parser.add_argument(
            "--runs", type=int, help="runs per page and form factor (default: the site's setting)"
        )
        parser.add_argument(
            "--form-factor", action="append", choices=performance.FORM_FACTORS, dest="form_factors",
            help="only this form factor (repeatable; default: mobile and desktop)",
        )  # fmt: skip
        parser.add_argument("--environment", default="prod", help="environment to audit (default prod)")
        parser.add_argument("--slot", help="idempotency slot (default: a new on-demand slot)")
        parser.add_argument("--json", action="store_true", help="print the audit and its results as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        site = find_site(options["site"])
        if options["runs"] is not None and not 1 <= options["runs"] <= 9:
            raise CommandError("--runs must be between 1 and 9")
        audit = jobs.terminal_bar(
            lambda: performance.run_audit(
                site, slot=options["slot"], trigger=JobTrigger.MANUAL, environment=options["environment"],
                runs=options["runs"], form_factors=options["form_factors"] or performance.FORM_FACTORS,
            ),
            sys.stderr,
            render_bar,
        )  # fmt: skip
        results = list(audit.results.select_related("ticket").order_by("pk"))
        if options["json"]:
            payload = {"audit": audit.pk, "slot": audit.slot, "status": audit.status, "error": audit.error,
                       "lighthouse_version": audit.lighthouse_version,
                       "results": [result_json(r) for r in results]}  # fmt: skip
            self.stdout.write(json.dumps(payload, indent=2))
        else:
            self._table(audit, results)
        if audit.status == JobStatus.FAILED:
            raise CommandError(f"audit {audit.pk} failed: {audit.error or 'nothing could be measured'}")

    def _table(self, audit: Any, results: list[LighthouseResult]) -> None:
        self.stdout.write(
            f"Lighthouse audit #{audit.pk} of {audit.site} ({audit.slot}): {audit.status}, "
            f"{audit.runs} run(s) each, Lighthouse {audit.lighthouse_version or '?'}"
        )
        self.stdout.write(
            f"{'form':8} {'perf':>4} {'a11y':>4} {'bp':>4} {'seo':>4} {'LCP ms':>7} {'TBT ms':>7}  url"
        )
        for r in results:
            cells = [r.performance, r.accessibility, r.best_practices, r.seo, r.lcp_ms, r.tbt_ms]
            shown = ["-" if v is None else str(v) for v in cells]
            line = " ".join(
                [f"{r.form_factor:8}", *(f"{v:>4}" for v in shown[:4]), *(f"{v:>7}" for v in shown[4:])]
            )
            line += f"  {r.url}"
            if r.over_budget:
                line += "  over budget: " + ", ".join(
                    f"{b['metric']} {b['actual']}>{b['limit']}" for b in r.over_budget
                )
            if r.ticket:
                line += f"  P2 {r.ticket.reference}"
            if r.error:
                line += f"  not measured: {r.error[:120]}"
            self.stdout.write(line)
