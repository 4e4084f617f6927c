"""Lighthouse audits of a site's key pages: mobile and desktop, the median of HealthConfig.lighthouse_runs
runs each (agreement: a monthly audit "with trend"), stored as LighthouseResult rows with the median run's
report (gzip), checked against each page's budget and against the previous calendar month.

Which pages: every KeyPage with `lighthouse` set, in their order. A site with none audits its home page "/"
as an implicit page (no KeyPage row, no budget): the agreement promises a monthly audit of every site, so a
site nobody has configured yet is still measured rather than silently skipped.

Regression (agreement 2.1): a result whose performance score is more than HealthConfig.drop_points (default
40) below the median of the previous calendar month's results for the same URL and form factor (months in
the contract's time zone) opens a P2 incident on the service desk, at most once per (URL, form factor,
month): the month's regression is a Finding (kind performance) keyed by URL, form factor and month, and the
request is opened through the incident seam (desk.detected) with the finding as its episode, so it is a
one-off even when two audits run at once.

Audits are jobs of the job seam (sitekeeper.jobs), idempotent per (site, slot): claimed with a lease, the
lease renewed with every progress write (page i of n, form factor, run k of N — to the row and to CLI
listeners), finished only by the worker holding it. A worker that finds its audit taken over (it stalled
past its lease) stops and leaves the audit to the other one.
"""

from __future__ import annotations

import datetime as dt
import gzip
import logging
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q

from sitekeeper import jobs, proc
from sitekeeper.access.models import User
from sitekeeper.contracts.models import Site
from sitekeeper.contracts.presenters import contract_zone
from sitekeeper.core.uptime import month_bounds
from sitekeeper.desk import detected
from sitekeeper.desk.models import Ticket
from sitekeeper.health import lighthouse
from sitekeeper.health.models import (
    HealthConfig,
    JobStatus,
    JobTrigger,
    KeyPage,
    LighthouseResult,
    PerformanceAudit,
)
from sitekeeper.notify import Message
from sitekeeper.security import findings
from sitekeeper.security.models import Finding as FindingModel
from sitekeeper.security.models import FindingKind, FindingStatus, Severity

logger = logging.getLogger(__name__)

__all__ = [
    "FORM_FACTORS",
    "Target",
    "execute",
    "page_url",
    "purge_reports",
    "request_audit",
    "run_audit",
    "summary",
    "targets",
    "trend",
]

FORM_FACTORS = lighthouse.FORM_FACTORS
RUN_TIMEOUT = 120.0  # seconds per Lighthouse run; a page that takes longer is reported as an error
LEASE = dt.timedelta(minutes=10)  # extended at every progress write (each run is well under RUN_TIMEOUT)
# A page Lighthouse could not measure is recorded on its result; the other pages still run.
PAGE_ERRORS = (lighthouse.LighthouseError, proc.ProcError, OSError, ValueError)
SCORE_FIELDS = ("performance", "accessibility", "best_practices", "seo")
AUDITS = PerformanceAudit.job_kind()


@dataclass(frozen=True)
class Target:
    """A page to audit: a KeyPage, or the implicit home page (page None)."""

    path: str
    label: str
    page: KeyPage | None = None
    budget: dict[str, Any] = field(default_factory=dict)


def targets(site: Site) -> list[Target]:
    pages = list(KeyPage.objects.filter(site=site, lighthouse=True))
    if not pages:
        return [Target(path="/", label="Home (implicit)")]
    return [Target(path=p.path, label=p.label, page=p, budget=dict(p.budget or {})) for p in pages]


def base_url(site: Site, environment: str = "prod") -> str:
    env = site.environments.filter(kind=environment).first()
    return (env.url if env else site.url).rstrip("/")


def page_url(site: Site, path: str, environment: str = "prod") -> str:
    return f"{base_url(site, environment)}/{path.lstrip('/')}"


# -- claiming ----------------------------------------------------------------------------------------------
def claim(audit: PerformanceAudit, now: dt.datetime | None = None) -> bool:
    """Take the audit for this process; False when it is finished or another live worker holds it."""
    now = now or dt.datetime.now(dt.UTC)
    started = {"started_at": now, "finished_at": None, "error": ""}
    taken = jobs.claim(AUDITS, audit.pk, lease=LEASE, now=now, also=started)
    if taken:
        audit.refresh_from_db()
    return taken


def _runs(site: Site) -> int:
    return HealthConfig.for_site(site).lighthouse_runs


def run_audit(
    site: Site,
    *,
    slot: str | None = None,
    trigger: str = JobTrigger.MANUAL,
    user: User | None = None,
    now: dt.datetime | None = None,
    environment: str = "prod",
    runs: int | None = None,
    form_factors: Sequence[str] = FORM_FACTORS,
) -> PerformanceAudit:
    """The audit for (site, slot), run now unless it is already done or running elsewhere (then returned as
    it is). `now` dates the results (tests audit "last month"); `runs` overrides the site's setting;
    `form_factors` narrows an on-demand audit (the monthly one measures both)."""
    slot = slot or f"{trigger}-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S.%f}"
    audit, _ = PerformanceAudit.objects.get_or_create(
        site=site, slot=slot,
        defaults={"trigger": trigger, "requested_by": user, "environment": environment,
                  "runs": runs or _runs(site)},
    )  # fmt: skip
    if not claim(audit):
        return audit
    return execute(audit, now=now, claimed=True, form_factors=form_factors)


def request_audit(site: Site, user: User | None, *, environment: str = "prod") -> PerformanceAudit:
    """A queued on-demand audit; the caller hands it to the worker (tasks.performance_run_task) once the
    transaction commits."""
    return PerformanceAudit.objects.create(
        site=site, slot=f"manual-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S.%f}", trigger=JobTrigger.MANUAL,
        requested_by=user, environment=environment, runs=_runs(site),
    )  # fmt: skip


# -- running -----------------------------------------------------------------------------------------------
def execute(
    audit: PerformanceAudit,
    *,
    now: dt.datetime | None = None,
    claimed: bool = False,
    form_factors: Sequence[str] = FORM_FACTORS,
) -> PerformanceAudit:
    """Measure every target page, mobile then desktop. A missing Lighthouse/Chromium fails the audit; a page
    that cannot be measured is recorded on its result and the audit goes on."""
    if not claimed and not claim(audit):
        return audit
    site = audit.site
    config = HealthConfig.for_site(site)
    steps = [(target, ff) for target in targets(site) for ff in form_factors]
    results: list[LighthouseResult] = []
    try:
        for index, (target, form_factor) in enumerate(steps, 1):
            place = {"page": target.path, "label": target.label, "index": index, "of": len(steps),
                     "form_factor": form_factor}  # fmt: skip
            result = _measure(audit, target, form_factor, place, now=now)
            results.append(result)
            if result.performance is not None:
                check_drop(result, config, label=target.label)
    except proc.MissingProgramError as exc:
        return _finish(audit, JobStatus.FAILED, str(exc))
    except jobs.TakenOverError:
        logger.warning("performance audit %s of %s was taken over by another worker", audit.pk, audit.site)
        audit.refresh_from_db()
        return audit
    measured = [r for r in results if r.performance is not None]
    errors = [f"{r.url} ({r.form_factor}): {r.error}" for r in results if r.error]
    status = JobStatus.SUCCEEDED if measured else JobStatus.FAILED
    return _finish(audit, status, "\n".join(errors))


def _measure(
    audit: PerformanceAudit,
    target: Target,
    form_factor: str,
    place: dict[str, Any],
    *,
    now: dt.datetime | None,
) -> LighthouseResult:
    url = page_url(audit.site, target.path, audit.environment)

    def on_run(k: int, n: int) -> None:
        data = {**place, "run": k, "runs": n, "percent": round(100 * ((place["index"] - 1) + (k - 1) / n)
                                                               / place["of"], 1)}  # fmt: skip
        if not jobs.heartbeat(AUDITS, audit.pk, lease=LEASE, progress=data):
            raise jobs.TakenOverError  # before the next Lighthouse run: the audit is another worker's now

    try:
        measurement = lighthouse.measure(
            url, form_factor=form_factor, runs=audit.runs, timeout=RUN_TIMEOUT, on_run=on_run,
            binary=getattr(settings, "SITEKEEPER_LIGHTHOUSE", ""),
            chrome=getattr(settings, "SITEKEEPER_CHROME", "/usr/bin/chromium"),
        )  # fmt: skip
    except PAGE_ERRORS as exc:
        logger.warning("lighthouse %s (%s) of audit %s failed: %s", url, form_factor, audit.pk, exc)
        return LighthouseResult.objects.create(
            audit=audit, site=audit.site, page=target.page, url=url, form_factor=form_factor,
            measured_at=now or dt.datetime.now(dt.UTC), error=str(exc)[:5000],
        )  # fmt: skip
    return store_measurement(audit, target, measurement, now=now)


def store_measurement(
    audit: PerformanceAudit, target: Target, m: lighthouse.Measurement, *, now: dt.datetime | None = None
) -> LighthouseResult:
    """One result row from a Measurement (the update pipeline's smoke check may store its own too)."""
    metrics = m.metrics
    if m.lighthouse_version and audit.lighthouse_version != m.lighthouse_version:
        PerformanceAudit.objects.filter(pk=audit.pk).update(lighthouse_version=m.lighthouse_version)
        audit.lighthouse_version = m.lighthouse_version
    return LighthouseResult.objects.create(
        audit=audit, site=audit.site, page=target.page, url=m.url, form_factor=m.form_factor,
        measured_at=now or dt.datetime.now(dt.UTC),
        **{name: m.scores.get(name) for name in SCORE_FIELDS},
        run_scores=list(m.run_scores),
        **{name: metrics.get(name) for name in lighthouse.METRICS if name != "cls"},
        cls=None if metrics.get("cls") is None else f"{metrics['cls']:.3f}",
        over_budget=lighthouse.over_budget(target.budget, m) if m.ok else [],
        error=m.runtime_error[:5000],
        report_gz=gzip.compress(m.report_json) if m.report_json else None,
    )  # fmt: skip


def _finish(audit: PerformanceAudit, status: str, error: str) -> PerformanceAudit:
    if jobs.finish(AUDITS, audit.pk, status, error=error[:10000]):
        logger.info("performance audit %s of %s: %s", audit.pk, audit.site, status)
    else:
        logger.warning("performance audit %s of %s: taken over by another worker, not ended here", audit.pk,
                       audit.site)  # fmt: skip
    audit.refresh_from_db()
    return audit


# -- regression against last month (agreement 2.1) ---------------------------------------------------------
def month_of(at: dt.datetime, zone: ZoneInfo) -> tuple[int, int]:
    local = at.astimezone(zone)
    return local.year, local.month


def month_results(site: Site, url: str, form_factor: str, year: int, month: int) -> Any:
    start, end = month_bounds(year, month, contract_zone(site.client.contract))
    return LighthouseResult.objects.filter(
        site=site, url=url, form_factor=form_factor, measured_at__gte=start, measured_at__lt=end
    )


def _finding_key(result: LighthouseResult, year: int, month: int) -> str:
    return f"lighthouse:{result.form_factor}:{year:04d}-{month:02d}:{result.url}"[:300]


def check_drop(result: LighthouseResult, config: HealthConfig, *, label: str = "") -> Ticket | None:
    """Open the month's P2 when `result` is more than config.drop_points below last month's median for its
    URL and form factor; returns the ticket opened (None when there is no drop or it was already raised this
    month). A result back within the allowance resolves the open regression findings of its page."""
    site = result.site
    year, month = month_of(result.measured_at, contract_zone(site.client.contract))
    previous = month_results(site, result.url, result.form_factor, *lighthouse.previous_month(year, month))
    scores = list(previous.exclude(performance=None).values_list("performance", flat=True))
    drop = lighthouse.regression(scores, result.performance, config.drop_points)
    if drop is None:
        _resolve_regressions(result)
        return None
    base = lighthouse.baseline(scores)
    page = label or result.url
    title = (f"Lighthouse performance of {page} ({result.form_factor}) fell {drop:g} points: "
             f"{result.performance} against last month's median {base:g}")  # fmt: skip
    finding, new = findings.record(
        site, kind=FindingKind.PERFORMANCE, key=_finding_key(result, year, month), severity=Severity.HIGH,
        title=title, environment=result.audit.environment, now=result.measured_at,
        details={"url": result.url, "form_factor": result.form_factor, "month": f"{year:04d}-{month:02d}",
                 "performance": result.performance, "baseline": base, "drop": drop,
                 "allowed": config.drop_points, "result": result.pk, "previous_results": len(scores)},
        remediation="Compare the Lighthouse reports of this month and last month (largest contributions to "
        "TBT and LCP), find what changed (plugin, theme, third-party script) and fix or roll back.",
    )  # fmt: skip
    if not new or finding.ticket_id is not None:
        return None
    return _open_ticket(finding, result, drop, page)


def _open_ticket(finding: FindingModel, result: LighthouseResult, drop: float, page: str) -> Ticket:
    """The drop's P2 through the incident seam, one per regression finding (the episode): a second call for
    the same finding returns the request already open and tells nobody again."""
    site = result.site
    lines = [finding.title, "", f"URL: {result.url}", f"Form factor: {result.form_factor}",
             f"Runs: {result.run_scores}", f"TBT {result.tbt_ms} ms, LCP {result.lcp_ms} ms",
             "", f"Remediation: {finding.remediation}"]  # fmt: skip
    detection = detected.Detection(
        site=site, found_by="health", episode=f"performance:{finding.pk}", priority="P2",
        subject=f"Performance: {page} ({result.form_factor}) dropped {drop:g} points",
        description="\n".join(lines),
        steps="Found by sitekeeper's Lighthouse audit (agreement 2.1); see the site's performance page.",
        detected_at=result.measured_at, environment=result.audit.environment,
        note=f"Finding #{finding.pk}; Lighthouse result #{result.pk} of audit #{result.audit_id}.",
    )  # fmt: skip

    def notice(ticket: Ticket) -> detected.Notice:
        message = Message(
            subject=f"[P2] Performance drop: {site} — {page} ({result.form_factor}) −{drop:g} points"[:200],
            text=f"{finding.title}\n\nTicket {ticket.reference}.",
            event="performance.drop",
            data={"site": site.pk, "result": result.pk, "ticket": ticket.reference, "drop": drop},
        )
        return detected.Notice(message, key=f"performance:{finding.pk}")

    ticket, _ = detected.open_incident(detection, notice)
    FindingModel.objects.filter(pk=finding.pk).update(ticket=ticket)
    LighthouseResult.objects.filter(pk=result.pk).update(ticket=ticket)
    result.ticket = ticket
    return ticket


def _resolve_regressions(result: LighthouseResult) -> None:
    """An open regression of this page is resolved once a later score is back within the allowance of the
    baseline it fell from (not merely of the latest month, which the regression itself dragged down)."""
    open_ = FindingModel.objects.filter(
        site=result.site, kind=FindingKind.PERFORMANCE, status=FindingStatus.OPEN,
        details__url=result.url, details__form_factor=result.form_factor, first_seen__lt=result.measured_at,
    )  # fmt: skip
    for finding in open_:
        details = finding.details
        if result.performance is not None and result.performance >= details["baseline"] - details["allowed"]:
            FindingModel.objects.filter(pk=finding.pk).update(
                status=FindingStatus.RESOLVED, resolved_at=result.measured_at
            )


# -- retention, trend, monthly figures ---------------------------------------------------------------------
def purge_reports(now: dt.datetime | None = None) -> int:
    """Drop the stored reports older than SITEKEEPER_LIGHTHOUSE_REPORT_DAYS (scores and metrics stay)."""
    now = now or dt.datetime.now(dt.UTC)
    days = getattr(settings, "SITEKEEPER_LIGHTHOUSE_REPORT_DAYS", 400)
    old = LighthouseResult.objects.filter(measured_at__lt=now - dt.timedelta(days=days)).exclude(
        Q(report_gz=None) | Q(report_purged_at__isnull=False)
    )
    return old.update(report_gz=None, report_purged_at=now)


def _months_back(year: int, month: int, count: int) -> list[tuple[int, int]]:
    months = [(year, month)]
    while len(months) < count:
        months.append(lighthouse.previous_month(*months[-1]))
    return months[::-1]


def trend(
    site: Site, url: str, form_factor: str, months: int = 12, *, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """Monthly medians of each category score for one page and form factor, oldest month first, the current
    month last: [{"month": "2026-11", "count": 2, "performance": 91, …}] (None for a month without results).
    Months are the contract's calendar months."""
    now = now or dt.datetime.now(dt.UTC)
    zone = contract_zone(site.client.contract)
    span = _months_back(*month_of(now, zone), months)
    start = month_bounds(*span[0], zone)[0]
    end = month_bounds(*span[-1], zone)[1]
    rows = LighthouseResult.objects.filter(
        site=site, url=url, form_factor=form_factor, measured_at__gte=start, measured_at__lt=end
    ).exclude(performance=None)
    buckets: dict[tuple[int, int], list[LighthouseResult]] = defaultdict(list)
    for row in rows:
        buckets[month_of(row.measured_at, zone)].append(row)
    return [_month_point(year, month, buckets.get((year, month), [])) for year, month in span]


def _month_point(year: int, month: int, rows: list[LighthouseResult]) -> dict[str, Any]:
    point: dict[str, Any] = {"month": f"{year:04d}-{month:02d}", "count": len(rows)}
    for name in SCORE_FIELDS:
        values = [getattr(r, name) for r in rows if getattr(r, name) is not None]
        point[name] = statistics.median(values) if values else None
    return point


def summary(site: Site, month: dt.date) -> dict[str, Any]:
    """The month's performance figures for the monthly report: per page and form factor the month's median
    scores, last month's median performance and the change, the budget lines the latest result broke, the
    P2 tickets opened; plus the month's audits. `month` is any date in the month (contract's calendar)."""
    zone = contract_zone(site.client.contract)
    start, end = month_bounds(month.year, month.month, zone)
    rows = list(
        LighthouseResult.objects.filter(site=site, measured_at__gte=start, measured_at__lt=end)
        .select_related("page", "ticket").order_by("url", "form_factor", "measured_at")
    )  # fmt: skip
    groups: dict[tuple[str, str], list[LighthouseResult]] = defaultdict(list)
    for row in rows:
        groups[(row.url, row.form_factor)].append(row)
    pages = [_summary_page(site, url, ff, found, month) for (url, ff), found in groups.items()]
    audits = PerformanceAudit.objects.filter(site=site, created_at__gte=start, created_at__lt=end)
    return {
        "month": f"{month.year:04d}-{month.month:02d}",
        "pages": pages,
        "audits": audits.count(),
        "failed_audits": audits.filter(status=JobStatus.FAILED).count(),
        "tickets": sorted({p for page in pages for p in page["tickets"]}),
        "lighthouse_version": next((a.lighthouse_version for a in audits if a.lighthouse_version), ""),
    }


def _summary_page(
    site: Site, url: str, form_factor: str, rows: list[LighthouseResult], month: dt.date
) -> dict[str, Any]:
    point = _month_point(month.year, month.month, [r for r in rows if r.performance is not None])
    before = month_results(site, url, form_factor, *lighthouse.previous_month(month.year, month.month))
    previous = lighthouse.baseline(
        list(before.exclude(performance=None).values_list("performance", flat=True))
    )
    latest = rows[-1]
    return {
        "url": url,
        "label": latest.page.label if latest.page else "Home (implicit)",
        "form_factor": form_factor,
        **{name: point[name] for name in SCORE_FIELDS},
        "results": len(rows),
        "previous_performance": previous,
        "change": None
        if previous is None or point["performance"] is None
        else point["performance"] - previous,
        "over_budget": latest.over_budget,
        "errors": [r.error for r in rows if r.error],
        "tickets": [r.ticket.reference for r in rows if r.ticket_id],
    }
