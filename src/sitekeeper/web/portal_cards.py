"""The client portal's "my sites, now": one card per site, gathered from the apps' own query functions.

Each area reads the app that owns it — uptime from monitoring.uptime.month_figures (the function the uptime
pages use), requests and their clocks from the desk's stored clock columns and its summary words, backups
from backups.presenters, security from the findings and incidents, updates from releases, links and
Lighthouse from health — so a figure on the card is the figure on the area's own page. Nothing is counted
here beyond adding up rows: the arithmetic lives with the apps (and core).

Every part says, in the client's words, what it means for them and what the agency is doing; a part with
nothing to show says what would fill it. "Not measured" is its own state, never a good figure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from django.db.models import QuerySet
from django.urls import reverse

from sitekeeper.backups import presenters as backups
from sitekeeper.contracts.coverage import monitor_gap, scan_gap
from sitekeeper.contracts.models import Client, Site
from sitekeeper.contracts.presenters import contract_zone
from sitekeeper.contracts.service import site_in_service
from sitekeeper.core import trend
from sitekeeper.desk import presenters as desk
from sitekeeper.desk.models import CLOSED_STATES, State, Ticket
from sitekeeper.health import linkscan, performance
from sitekeeper.health.models import FormFactor
from sitekeeper.monitoring.uptime import month_figures
from sitekeeper.releases import packages
from sitekeeper.releases.models import Release, ReleaseStatus
from sitekeeper.releases.updates import ACTIVE
from sitekeeper.releases.views import next_batch
from sitekeeper.security import incidents
from sitekeeper.security.models import SECURITY_KINDS, Finding, FindingKind, FindingStatus, Severity
from sitekeeper.security.models.incidents import SecurityIncident
from sitekeeper.security.scans import last_scan_at

# Tones a card part can take (CSS classes tone-ok, tone-warn, tone-bad, tone-none): "none" is "nothing
# measured yet" — grey, never green.
OK, WARN, BAD, NONE = "ok", "warn", "bad", "none"
WAITING_FOR_YOU = (State.WAITING_ACCESS, State.WAITING_INFO, State.WAITING_APPROVAL)
SEVERITIES = [value for value, _label in Severity.choices]
SCORES = (("performance", "Performance"), ("accessibility", "Accessibility"),
          ("best_practices", "Best practices"), ("seo", "SEO"))  # fmt: skip
ARROWS = {trend.UP: "↑", trend.DOWN: "↓", trend.STEADY: "→", trend.UNKNOWN: ""}
TREND_WORDS = {trend.UP: "up", trend.DOWN: "down", trend.STEADY: "steady", trend.UNKNOWN: "no earlier figure"}


# Uptime ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UptimePart:
    measured: bool
    uptime: Decimal | None  # this month so far, percent (month_figures' own rounding)
    sla: Decimal | None
    coverage: Decimal
    gap: bool  # coverage under the monitoring promise
    meets_sla: bool | None  # None: not measured, or no SLA
    down_now: bool
    tone: str
    text: str
    url: str


def uptime_part(site: Site, now: dt.datetime) -> UptimePart:
    contract = site.client.contract
    today = now.astimezone(contract_zone(contract)).date()
    figures = month_figures(site, today.year, today.month, now=now)
    sla = contract.plan.uptime_sla if contract else None
    down_now = any(outage.end is None for outage in figures.outages)
    url = reverse("portal_site_uptime", args=[site.pk])
    if not figures.measured:
        gap = monitor_gap(site)
        text = (
            gap.client
            if gap is not None
            else "We did not watch this site's availability this month, so there is no uptime figure yet."
        )
        return UptimePart(False, None, sla, figures.coverage_decimal, True, None, down_now, NONE, text, url)
    meets = None if sla is None else figures.uptime >= Fraction(sla)  # exact, against the agreed figure
    if down_now:
        tone, text = BAD, "Your site is down right now. We have been alerted and are working on it."
    elif meets is False:
        tone = BAD
        text = "Below the agreed uptime this month. The service credit is worked out on the uptime page."
    elif figures.monitoring_gap:
        tone = WARN
        text = (
            "Up, but our monitoring missed part of the month; time nobody watched never counts as downtime."
        )
    else:
        tone, text = OK, "Your site is up and within the agreed uptime this month."
    return UptimePart(
        True, figures.uptime_decimal, sla, figures.coverage_decimal, figures.monitoring_gap, meets, down_now,
        tone, text, url,
    )  # fmt: skip


# Requests --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestsPart:
    open: int
    waiting_for_you: int
    next_due: dt.datetime | None
    next_text: str  # the desk's own sentence for the clock that matters next
    overdue: bool
    tone: str
    text: str
    url: str
    next_url: str = ""


def open_tickets(client: Client, site: Site | None = None) -> QuerySet[Ticket]:
    tickets = Ticket.objects.filter(client=client).exclude(state__in=CLOSED_STATES)
    if site is not None:
        tickets = tickets.filter(site=site)
    return tickets.select_related("calendar_version", "contract__plan", "site", "client")


def requests_part(client: Client, now: dt.datetime, site: Site | None = None) -> RequestsPart:
    tickets = list(open_tickets(client, site))
    waiting = sum(1 for t in tickets if t.state in WAITING_FOR_YOU)
    url = reverse("portal_requests")
    if not tickets:
        text = (
            "No open requests. Use “New request” whenever you need something — we answer within your "
            "plan's times."
        )
        return RequestsPart(0, 0, None, "", False, OK, text, url)
    due = [t for t in tickets if t.next_due_at is not None]
    nearest = min(due, key=lambda t: t.next_due_at) if due else None
    next_text = desk.summary(nearest, now, client=True).text if nearest else ""
    overdue = nearest is not None and nearest.next_due_at <= now
    if overdue:
        tone, text = BAD, "One of your requests is past its agreed time — it is at the top of our queue."
    elif waiting:
        tone = WARN
        text = (
            f"{_count(waiting, 'request is', 'requests are')} waiting for you: we need your answer to go on."
        )
    else:
        tone, text = OK, "We are working on them within the agreed times."
    next_url = reverse("portal_request", args=[nearest.pk]) if nearest else ""
    return RequestsPart(
        len(tickets), waiting, nearest.next_due_at if nearest else None, next_text, overdue, tone, text, url,
        next_url,
    )  # fmt: skip


# Backups ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupsPart:
    set_up: bool
    last_backup: dt.datetime | None  # newest kept snapshot of any layer
    last_verified: dt.datetime | None  # latest passed restore test
    stale: bool
    failed: bool
    tone: str
    text: str
    url: str


def backups_part(site: Site, now: dt.datetime) -> BackupsPart:
    config = backups.backup_config(site)
    gap = backups.backup_gap(site, config)
    layers = backups.layer_states(site, config, now)
    verified = backups.last_verified(site)
    last = max((s.last_snapshot for s in layers if s.last_snapshot), default=None)
    stale, failed = any(s.stale for s in layers), any(s.failed for s in layers)
    url = reverse("portal_backups_site", args=[site.pk])
    if gap is not None or config is None:
        text = gap.client if gap is not None else backups.NOT_SET_UP
        if gap is not None and not backups.in_service(site, now):
            text = "No backups are being made for this site."
        return BackupsPart(False, last, verified, stale, failed, NONE, text, url)
    if failed:
        tone = BAD
        text = "The latest backup did not complete. We have been alerted and are running it again."
    elif last is None:
        tone, text = NONE, "Backups are set up; the first one has not run yet — they run every day."
    elif stale:
        tone = BAD
        text = "The latest backup is older than it should be. We have been alerted and are looking into it."
    elif verified is None:
        tone = WARN
        text = "Backed up every day. We have not yet proven a restore — our monthly restore test will."
    else:
        tone = OK
        text = "Backed up every day, and a monthly test proves the backups can be restored."
    return BackupsPart(True, last, verified, stale, failed, tone, text, url)


# Security --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeverityCount:
    severity: str
    label: str
    count: int


@dataclass(frozen=True)
class SecurityPart:
    counts: list[SeverityCount]  # only the severities with open findings, worst first
    open: int
    incident: str  # where an open incident stands, in the client's words ("" when none)
    incident_url: str
    scanned_at: dt.datetime | None
    tone: str
    text: str
    url: str


def open_incidents(site: Site) -> QuerySet[SecurityIncident]:
    return SecurityIncident.objects.filter(site=site, closed_at=None, dismissed_at=None).select_related(
        "finding", "site"
    )


def security_part(site: Site, now: dt.datetime) -> SecurityPart:
    severities = list(
        Finding.objects.filter(site=site, kind__in=SECURITY_KINDS, status=FindingStatus.OPEN).values_list(
            "severity", flat=True
        )
    )
    labels = dict(Severity.choices)
    counts = [
        SeverityCount(value, labels[value], severities.count(value))
        for value in SEVERITIES
        if value in severities
    ]
    incident = open_incidents(site).order_by("detected_at").first()
    scanned = last_scan_at(site)
    url = reverse("portal_security_site", args=[site.pk])
    state = incidents.plain_state(incident, now) if incident else ""
    incident_url = (
        reverse("portal_security_incident", args=[incident.pk]) if incident and incident.published else ""
    )
    serious = any(c.severity in (Severity.CRITICAL, Severity.HIGH) for c in counts)
    if incident is not None:
        tone = BAD
        text = f"{incidents.plain_what(incident)} {state}"
    elif serious:
        tone, text = BAD, "Serious security issues are open. We fix them in your next update, or sooner."
    elif counts:
        tone, text = WARN, "Minor security issues are open; we fix them with your regular updates."
    elif (gap := scan_gap(site, now) if site_in_service(site, now) else None) is not None:
        tone, text = (NONE if scanned is None else WARN), gap.client
    elif scanned is None:
        tone, text = NONE, "Not scanned yet — we scan your site for security problems every day."
    else:
        tone, text = OK, "No open security issues in our latest scan."
    return SecurityPart(counts, len(severities), state, incident_url, scanned, tone, text, url)


# Updates ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UpdatesPart:
    pending: int  # components with a newer version we hold
    waiting: Release | None  # a release staged and waiting for its maintenance window
    in_progress: Release | None
    last: Release | None  # the latest finished release (deployed or rolled back)
    next_batch: dt.date | None
    tone: str
    text: str
    url: str


def updates_part(site: Site, now: dt.datetime) -> UpdatesPart:
    pending = len(packages.pending(site))
    releases = Release.objects.filter(site=site)
    active = list(releases.filter(status__in=ACTIVE).order_by("created_at"))
    waiting = next((r for r in active if r.status == ReleaseStatus.AWAITING_WINDOW), None)
    in_progress = next((r for r in active if r.status != ReleaseStatus.AWAITING_WINDOW), None)
    finished = (ReleaseStatus.DEPLOYED, ReleaseStatus.ROLLED_BACK, ReleaseStatus.FAILED)
    last = releases.filter(status__in=finished).order_by("-prod_finished_at", "-created_at").first()
    batch = next_batch(site)
    url = reverse("portal_updates_site", args=[site.pk])
    if last is not None and last.status != ReleaseStatus.DEPLOYED and not active:
        tone = BAD
        text = "The last update failed its checks on your site, so we undid it. We are preparing it again."
    elif waiting is not None:
        tone, text = WARN, "Updates are tested and waiting for your next maintenance window."
    elif in_progress is not None:
        tone, text = WARN, "We are applying updates now — first to the test copy, then to your site."
    elif pending:
        tone = WARN
        waiting_updates = _count(pending, "update is", "updates are")
        text = f"{waiting_updates} available; they go into your next scheduled batch."
    elif last is None:
        tone, text = NONE, "No updates applied yet — we apply them in batches per your plan."
    else:
        tone, text = OK, "Your site is up to date."
    return UpdatesPart(pending, waiting, in_progress, last, batch, tone, text, url)


# Health: links and Lighthouse ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    key: str
    label: str
    value: float | None
    previous: float | None
    direction: str  # core.trend: up, down, steady, unknown

    @property
    def arrow(self) -> str:
        return ARROWS[self.direction]

    @property
    def words(self) -> str:
        if self.direction == trend.UNKNOWN:
            return TREND_WORDS[self.direction]
        return f"{TREND_WORDS[self.direction]} from {self.previous:g}"


@dataclass(frozen=True)
class ScoreRow:
    """One Lighthouse category with its score per form factor (the columns of `Lighthouse.form_factors`)."""

    key: str
    label: str
    cells: list[Score]


@dataclass(frozen=True)
class Lighthouse:
    page: str  # which page the scores are of, in words
    month: str  # "December 2026": the month the newest scores are the median of
    form_factors: list[str]  # column labels: Mobile, Desktop (those with results)
    rows: list[ScoreRow]

    @property
    def dropped(self) -> bool:
        return any(cell.direction == trend.DOWN for row in self.rows for cell in row.cells)


@dataclass(frozen=True)
class HealthPart:
    scan_at: dt.datetime | None
    broken: int
    new: int
    fixed: int
    scan_complete: bool
    lighthouse: Lighthouse | None  # None: never measured
    regression: bool  # an open performance drop the agency is handling
    tone: str
    links_text: str
    lighthouse_text: str
    links_url: str
    performance_url: str

    @property
    def text(self) -> str:
        return f"{self.links_text} {self.lighthouse_text}"


def _latest_two(points: Sequence[dict]) -> tuple[dict | None, dict | None]:
    """The newest month with results and the one with results before it (performance.trend's points)."""
    measured = [p for p in points if p["count"]]
    return (measured[-1] if measured else None, measured[-2] if len(measured) > 1 else None)


def lighthouse_scores(site: Site, now: dt.datetime) -> Lighthouse | None:
    """The first target page's monthly median scores per form factor with their direction against the
    previous month with results (performance.trend: the same medians as the performance page's chart)."""
    target = performance.targets(site)[0]
    url = performance.page_url(site, target.path)
    labels = dict(FormFactor.choices)
    columns: list[tuple[str, dict, dict | None]] = []
    for form_factor in performance.FORM_FACTORS:
        current, before = _latest_two(performance.trend(site, url, form_factor, months=6, now=now))
        if current is not None:
            columns.append((labels[form_factor], current, before))
    if not columns:
        return None
    rows = [
        ScoreRow(
            key,
            label,
            [
                Score(key, label, now_[key], before[key] if before else None,
                      trend.direction(before[key] if before else None, now_[key]))
                for _ff, now_, before in columns
            ],
        )
        for key, label in SCORES
    ]  # fmt: skip
    year, month = (int(part) for part in max(c[1]["month"] for c in columns).split("-"))
    page = "your home page" if target.page is None else f"“{target.label}”"
    return Lighthouse(page, f"{dt.date(year, month, 1):%B %Y}", [c[0] for c in columns], rows)


def health_part(site: Site, now: dt.datetime) -> HealthPart:
    scan = linkscan.latest(site)
    scores = lighthouse_scores(site, now)
    regression = Finding.objects.filter(
        site=site, kind=FindingKind.PERFORMANCE, status=FindingStatus.OPEN
    ).exists()
    if scan is None:
        links_text = "No link scan yet — we check every link on your site once a month."
    elif scan.broken:
        broken = _count(scan.broken, "broken link", "broken links")
        links_text = f"{broken} found; we fix ours and list the rest for you."
    else:
        links_text = "No broken links in the latest scan."
    if not scores:
        lighthouse_text = (
            "No speed measurement yet — we measure your site's speed with Lighthouse every month."
        )
    elif regression:
        lighthouse_text = "Your site got markedly slower; we have opened a request and are finding out why."
    else:
        lighthouse_text = "Speed and quality scores from our monthly Lighthouse measurement."
    worst = scores is not None and scores.dropped
    if regression or (scan is not None and scan.new):
        tone = BAD if regression else WARN
    elif scan is None and not scores:
        tone = NONE
    elif (scan is not None and scan.broken) or worst:
        tone = WARN
    else:
        tone = OK
    return HealthPart(
        scan_at=scan.finished_at if scan else None,
        broken=scan.broken if scan else 0,
        new=scan.new if scan else 0,
        fixed=scan.fixed if scan else 0,
        scan_complete=bool(scan) and not scan.incomplete,
        lighthouse=scores,
        regression=regression,
        tone=tone,
        links_text=links_text,
        lighthouse_text=lighthouse_text,
        links_url=reverse("portal_links_site", args=[site.pk]),
        performance_url=reverse("portal_performance_site", args=[site.pk]),
    )


# The card --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteCard:
    site: Site
    in_service: bool
    uptime: UptimePart
    requests: RequestsPart
    backups: BackupsPart
    security: SecurityPart
    updates: UpdatesPart
    health: HealthPart
    attention: list[str] = field(default_factory=list)  # the parts that need a look, worst first

    @property
    def tone(self) -> str:
        """The worst part's: a part not measured makes the card grey, never green."""
        tones = [p.tone for p in self.parts]
        return next((tone for tone in (BAD, WARN, NONE) if tone in tones), OK)

    @property
    def parts(
        self,
    ) -> list[UptimePart | RequestsPart | BackupsPart | SecurityPart | UpdatesPart | HealthPart]:
        return [self.uptime, self.requests, self.backups, self.security, self.updates, self.health]

    @property
    def unmeasured(self) -> list[str]:
        return [name.lower() for name, part in zip(AREA_NAMES, self.parts, strict=True) if part.tone == NONE]

    @property
    def headline(self) -> str:
        pending = f"Not measured yet: {', '.join(self.unmeasured)}." if self.unmeasured else ""
        if self.attention:
            return " ".join(filter(None, ["Needs attention: " + ", ".join(self.attention) + ".", pending]))
        return pending or "All looked after."


AREA_NAMES = ("Uptime", "Requests", "Backups", "Security", "Updates", "Site health")


def site_card(site: Site, now: dt.datetime) -> SiteCard:
    parts = (
        uptime_part(site, now),
        requests_part(site.client, now, site),
        backups_part(site, now),
        security_part(site, now),
        updates_part(site, now),
        health_part(site, now),
    )
    ranked = sorted(
        ((name, part.tone) for name, part in zip(AREA_NAMES, parts, strict=True) if part.tone in (BAD, WARN)),
        key=lambda item: item[1] != BAD,
    )
    return SiteCard(site, site_in_service(site, now), *parts, attention=[name.lower() for name, _ in ranked])


def site_cards(sites: Iterable[Site], now: dt.datetime) -> list[SiteCard]:
    """One card per site, those needing attention first (then by name)."""
    cards = [site_card(site, now) for site in sites]
    order = {BAD: 0, WARN: 1, NONE: 2, OK: 3}
    return sorted(cards, key=lambda c: (order[c.tone], str(c.site)))


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"
