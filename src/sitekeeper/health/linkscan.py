"""Broken-link scans of a site: claim the scan of a (site, slot), crawl (health/crawler.py) in a thread of its
own while this thread stores the progress on the row, then store the defects with their change against the
previous succeeded scan of the same site and environment (new / still broken / fixed; a fixed defect is
kept as a row of the new scan).

Nothing of an earlier scan is ever changed: a scan that fails (the site cannot be crawled, the worker dies)
is marked failed with the reason and the previous scan stays the latest one with results. The defects of a
scan are written in one transaction with its final status, so a scan has all of its results or none.

The scan is a job of the job seam (sitekeeper.jobs): claimed with a lease, the lease renewed with every
progress write, taken over once its worker is gone, finished only by the worker holding it. A worker that
finds its scan taken over (it stalled past its lease) stores nothing: the scan is the other worker's now.

A scan that a limit cut short (the site's page or depth limit, or a one-off override) is *incomplete*, not
succeeded: it found same-site pages it did not read, so the links on them were never checked. Its defects
are real and stored like any other's; a defect of the previous scan that it did not check again is not
called fixed (it is left out: nobody looked). Incomplete and succeeded scans are both "scans with results":
the latest of either is what the pages and the monthly figures show, with the scan's state.

Counts on the scan (`broken`, `new`, `still`, `fixed`) are of broken links only (HTTP errors, unreachable
URLs, redirect loops, missing #anchors); long redirect chains and links robots.txt keeps us from checking
are stored and shown as warnings, with their change too, but are not counted as broken.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any

from django.db import transaction

from sitekeeper import jobs
from sitekeeper.access.models import User
from sitekeeper.contracts.models import Site
from sitekeeper.health import crawler
from sitekeeper.health.models import (
    LINK_MAX_DEPTH,
    LINK_MAX_PAGES,
    BrokenLink,
    HealthConfig,
    JobStatus,
    JobTrigger,
    LinkChange,
    LinkProblem,
    LinkScan,
    LinkScanStatus,
)
from sitekeeper.security import findings
from sitekeeper.security.models import Finding, FindingKind, Severity

__all__ = [
    "Limits",
    "LinkScanError",
    "check_limits",
    "crawl_settings",
    "execute",
    "latest",
    "reap_stale",
    "request_scan",
    "run_scan",
    "start_url",
    "summary",
]

logger = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=30)  # renewed with every progress write; a scan not heard of for this long died
PROGRESS_EVERY = 1.0  # seconds between progress writes
ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
DONE = (LinkScanStatus.SUCCEEDED, LinkScanStatus.INCOMPLETE, LinkScanStatus.FAILED)
BOUNDS = {"max_pages": LINK_MAX_PAGES, "max_depth": LINK_MAX_DEPTH}
Limits = dict[str, int]  # one-off overrides of the site's limits: {"max_pages": N, "max_depth": N}
SCANS = LinkScan.job_kind()


class LinkScanError(RuntimeError):
    pass


def start_url(site: Site, environment: str = "prod") -> str:
    """The environment's URL; a site without a prod environment row is scanned at its own URL."""
    found = next((env.url for env in site.environments.all() if env.kind == environment), None)
    if found:
        return found
    if environment == "prod":
        return site.url
    raise LinkScanError(f"{site} has no {environment} environment")


def check_limits(limits: Limits | None) -> Limits:
    """The overrides, each within its bounds (LinkScanError naming the bad one otherwise)."""
    for name, value in (limits or {}).items():
        low, high = BOUNDS[name]
        if not low <= value <= high:
            raise LinkScanError(f"{name.replace('_', '-')} must be between {low} and {high:,}, not {value}")
    return dict(limits or {})


def crawl_settings(site: Site, limits: Limits | None = None) -> crawler.CrawlSettings:
    """The site's settings (Health settings), with the one-off `limits` in place of its own."""
    config = HealthConfig.for_site(site)
    limits = check_limits(limits)
    return crawler.CrawlSettings(
        max_depth=limits.get("max_depth", config.link_max_depth),
        max_pages=limits.get("max_pages", config.link_max_pages),
        concurrency=config.link_concurrency,
        delay=config.link_delay_ms / 1000,
        check_external=config.link_check_external,
        excludes=tuple(str(rule) for rule in config.link_excludes or ()),
    )


def _new_slot(trigger: str, now: dt.datetime) -> str:
    return f"{trigger}-{now:%Y%m%dT%H%M%S.%f}"


# -- asking for scans --------------------------------------------------------------------------------------
def request_scan(site: Site, user: User | None, *, environment: str = "prod") -> LinkScan:
    """A queued on-demand scan (the console's "scan now"); the caller hands its id to the worker. While a
    scan of the site is queued or running, that one is returned instead of a second."""
    active = LinkScan.objects.filter(site=site, environment=environment, status__in=ACTIVE).first()
    if active is not None:
        return active
    now = dt.datetime.now(dt.UTC)
    return LinkScan.objects.create(
        site=site, environment=environment, trigger=JobTrigger.MANUAL, slot=_new_slot("manual", now),
        requested_by=user, start_url=start_url(site, environment),
    )  # fmt: skip


def run_scan(
    site: Site,
    *,
    slot: str | None = None,
    trigger: str = JobTrigger.MANUAL,
    user: User | None = None,
    now: dt.datetime | None = None,
    environment: str = "prod",
    limits: Limits | None = None,
) -> LinkScan:
    """Claim and run the scan of (site, slot), with the site's limits or the one-off `limits`. A slot already
    done (succeeded, incomplete or failed) returns its scan untouched; one another worker is running returns
    as it is."""
    limits = check_limits(limits)
    now = now or dt.datetime.now(dt.UTC)
    scan, _ = LinkScan.objects.get_or_create(
        site=site,
        slot=slot or _new_slot(trigger, now),
        defaults={
            "trigger": trigger, "requested_by": user, "environment": environment,
            "start_url": start_url(site, environment),
        },
    )  # fmt: skip
    if scan.status in DONE:
        return scan
    return execute(scan, limits)


# -- running one ------------------------------------------------------------------------------------------
def _claim(scan: LinkScan, now: dt.datetime) -> bool:
    """Take a queued scan, or a running one whose worker is gone (lease over, or its process dead here)."""
    started = {"started_at": now, "finished_at": None, "error": "", "progress": {"phase": "starting"}}
    return jobs.claim(SCANS, scan.pk, lease=LEASE, now=now, also=started)


def execute(scan: LinkScan, limits: Limits | None = None) -> LinkScan:
    """Run a queued scan (the worker's task for a scan someone asked for). Returns the scan as it ends."""
    if not _claim(scan, dt.datetime.now(dt.UTC)):
        scan.refresh_from_db()
        return scan
    scan.refresh_from_db()
    settings = crawl_settings(scan.site, limits)
    try:
        result = _crawl(scan, settings)
        _store(scan, result, settings)
    except jobs.TakenOverError:
        logger.warning(
            "link scan %s of %s was taken over by another worker: nothing stored", scan.pk, scan.site
        )
    except Exception as exc:  # whatever stopped the crawl or the storing: the scan is failed, with it
        logger.exception("link scan %s of %s failed", scan.pk, scan.site)
        _fail(scan, exc)
    scan.refresh_from_db()
    return scan


def _crawl(scan: LinkScan, settings: crawler.CrawlSettings) -> crawler.Result:
    """The crawl runs its event loop in a thread of its own (Django's ORM refuses calls from a thread with
    a running loop); this thread writes its progress to the row every second, which also renews the lease.
    Once the scan is found taken over, nothing more is written and the crawl's result is thrown away (the
    crawler has no way to be stopped: it is let end at its limits)."""
    progress = crawler.Progress()
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["result"] = crawler.crawl_sync(scan.start_url, settings, progress)
        except Exception as exc:  # noqa: BLE001 - handed to the waiting thread, which fails the scan
            outcome["error"] = exc

    thread = threading.Thread(target=work, name=f"linkscan-{scan.pk}", daemon=True)
    thread.start()
    ours = True
    while thread.is_alive():
        thread.join(PROGRESS_EVERY)
        ours = ours and jobs.heartbeat(SCANS, scan.pk, lease=LEASE, progress=progress.snapshot())
    if not ours:
        raise jobs.TakenOverError
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def _previous(scan: LinkScan) -> LinkScan | None:
    return LinkScan.objects.exclude(pk=scan.pk).latest_of(scan.site_id, scan.environment)


def _checked_again(result: crawler.Result, url: str) -> bool:
    """Whether this run checked the URL of a defect (a missing #anchor: its page)."""
    return result.complete or url.partition("#")[0] in result.checked


def _store(scan: LinkScan, result: crawler.Result, settings: crawler.CrawlSettings) -> None:
    with transaction.atomic():
        previous = _previous(scan)
        before: dict[tuple[str, str], BrokenLink] = {}
        if previous is not None:
            before = {(d.url, d.problem): d for d in previous.defects.exclude(change=LinkChange.FIXED)}
        rows: dict[tuple[str, str], BrokenLink] = {}
        for defect in result.defects:
            key = (defect.url[:2000], defect.problem)
            change = LinkChange.STILL if key in before else LinkChange.NEW
            rows[key] = BrokenLink(
                scan=scan, url=key[0], internal=defect.internal, problem=defect.problem,
                status_code=defect.status, error=defect.error[:500], redirects=defect.redirects,
                pages=defect.pages, page_count=defect.page_count, change=change,
            )  # fmt: skip
        for key, old in before.items():
            if key not in rows and _checked_again(result, old.url):
                rows[key] = BrokenLink(
                    scan=scan, url=old.url, internal=old.internal, problem=old.problem,
                    status_code=old.status_code, error=old.error, redirects=old.redirects, pages=old.pages,
                    page_count=old.page_count, change=LinkChange.FIXED,
                )  # fmt: skip
        BrokenLink.objects.filter(scan=scan).delete()  # an earlier attempt's rows, should there be any
        BrokenLink.objects.bulk_create(rows.values(), batch_size=500)
        broken = [row for row in rows.values() if row.problem in crawler.ERRORS]
        counts = {change: sum(1 for row in broken if row.change == change) for change in LinkChange.values}
        finished = jobs.finish(
            SCANS,
            scan.pk,
            LinkScanStatus.SUCCEEDED if result.complete else LinkScanStatus.INCOMPLETE,
            previous=previous,
            pages=result.pages,
            links=result.links,
            truncated=result.truncated,
            depth_limited=result.depth_limited,
            unread=result.unread,
            unread_examples=result.unread_examples,
            broken=counts[LinkChange.NEW] + counts[LinkChange.STILL],
            new=counts[LinkChange.NEW],
            still=counts[LinkChange.STILL],
            fixed=counts[LinkChange.FIXED],
            settings_used={**settings.as_dict(), "notes": result.notes},
        )
        if not finished:  # not ours to end: its defects are rolled back with this transaction
            raise jobs.TakenOverError
    done = {"phase": "done", "pages": result.pages, "checked": result.links, "queued": 0,
            "seconds": round(result.seconds, 1)}  # fmt: skip
    jobs.report(LinkScan, scan.pk, done)
    scan.refresh_from_db()
    check_error_share(scan)


# Agreement 2.1 names "50%+ of pages returning errors" among its P2 examples.
PAGE_ERRORS = (LinkProblem.HTTP_ERROR, LinkProblem.UNREACHABLE)


def check_error_share(scan: LinkScan) -> Finding | None:
    """Open a P2 when at least half of the same-site URLs the scan reached answered with an error (`pages`
    counts the same-site pages that loaded, the defects the same-site URLs that did not). One finding per
    episode: while it is open, later scans refresh it; a scan below the share resolves it."""
    failing = scan.defects.filter(internal=True, problem__in=PAGE_ERRORS).exclude(change=LinkChange.FIXED)
    errors = failing.count()
    reached = scan.pages + errors
    key = "error-share"
    if scan.pages == 0:
        return None  # nothing answered at all: that is an outage, which the uptime monitor reports (P1)
    if errors == 0 or errors * 2 < reached:
        findings.resolve_missing(scan.site, FindingKind.SITE_ERRORS, [], environment=scan.environment)
        return None
    share = round(100 * errors / reached)
    finding, _new = findings.record(
        scan.site, kind=FindingKind.SITE_ERRORS, key=key, severity=Severity.HIGH,
        environment=scan.environment,
        title=f"{share} % of the site's pages return errors ({errors} of {reached} in link scan {scan.slot})",
        details={"scan": scan.pk, "errors": errors, "pages_reached": reached, "share_percent": share,
                 "examples": list(failing.values_list("url", flat=True)[:10])},
        remediation="Open the link scan: the failing URLs are listed with their status. A site-wide error "
        "(database down, a broken plugin, a lost rewrite rule) usually explains most of them.",
        priority="P2",
    )  # fmt: skip
    return finding


def _fail(scan: LinkScan, exc: BaseException) -> None:
    if isinstance(exc, ExceptionGroup):  # the crawler's task group: name the first real error
        exc = exc.exceptions[0]
    reason = str(exc).strip() or type(exc).__name__
    error = f"The scan stopped: {type(exc).__name__}: {reason}. Earlier scans' results are unchanged."
    jobs.finish(SCANS, scan.pk, JobStatus.FAILED, error=error)


def _died(owner: str) -> str:
    return (
        f"The worker running this scan ({owner or 'unknown'}) stopped before it finished. "
        "Earlier scans' results are unchanged."
    )


def reap_stale(now: dt.datetime | None = None) -> list[int]:
    """Mark failed the running scans whose worker stopped renewing the lease (killed, machine restarted)."""
    return jobs.reap(SCANS, JobStatus.FAILED, _died, now)


# -- reading ----------------------------------------------------------------------------------------------
def latest(site: Site, *, environment: str = "prod", until: dt.datetime | None = None) -> LinkScan | None:
    """The site's latest scan with results, succeeded or incomplete (finished before `until`, when given)."""
    scans = LinkScan.objects.all()
    if until is not None:
        scans = scans.filter(finished_at__lt=until)
    return scans.latest_of(site, environment)


def summary(site: Site, *, until: dt.datetime | None = None) -> dict[str, Any]:
    """For the monthly report: the latest scan's date, state and figures. `complete` is False for a scan a
    limit cut short — then `limits` names the limits and `unread` how many pages found were not read (None:
    not counted, an old scan), and the report must say the figures cover part of the site. Without any scan
    `status` is None: "not scanned", never "no broken links"."""
    scan = latest(site, until=until)
    if scan is None:
        return {"scan": None, "date": None, "url": "", "status": None, "complete": False, "limits": [],
                "unread": 0, "pages": 0, "links": 0, "broken": 0, "new": 0, "still": 0, "fixed": 0,
                "truncated": False, "depth_limited": False}  # fmt: skip
    return {
        "scan": scan.pk, "date": scan.finished_at, "url": scan.start_url, "status": scan.status,
        "complete": not scan.incomplete, "limits": scan.limits, "unread": scan.unread, "pages": scan.pages,
        "links": scan.links, "broken": scan.broken, "new": scan.new, "still": scan.still, "fixed": scan.fixed,
        "truncated": scan.truncated, "depth_limited": scan.depth_limited,
    }  # fmt: skip
