"""The staff home as an operations console: what needs a person now, most urgent first.

Each section reads its facts from the app that owns them — the desk's stored clock columns and its own
summary of them (desk.presenters), monitoring's open outages and announced maintenance, the backups app's
staleness rule (`backups.presenters.stale_hours`) and failure states, the security app's 6.3 clock
(`security.incidents.deadline`), the health jobs' and scan steps' outcomes, the release pipeline's states
(`releases.updates.ACTIVE`) and the agency-side gaps of `contracts.coverage` — read-only.

Speed: every section is a fixed handful of queries, whatever the number of sites or requests (the apps'
per-site helpers, e.g. `backups.presenters.layer_states`, ask the database once per site and layer, so
the batched readings below ask the same questions once for all sites). The exception is the last step of
the agency gaps: a site that the batched readings found lacking is handed to `contracts.coverage`'s own
check, for its wording — those queries grow with the number of gaps shown, never with healthy sites.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Exists, F, Max, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from sitekeeper.backups.models import (
    BackupRun,
    Layer,
    Repository,
    RestoreTest,
    RunStatus,
    SiteBackup,
    Snapshot,
)
from sitekeeper.backups.models import Source as BackupSource
from sitekeeper.backups.presenters import human_age, stale_hours
from sitekeeper.contracts import coverage
from sitekeeper.contracts.models import CalendarVersion, Contract, Site
from sitekeeper.contracts.presenters import NO_CONTRACT_ZONE
from sitekeeper.contracts.service import LIVE_STATUSES
from sitekeeper.contracts.templatetags import sitekeeper_time
from sitekeeper.desk import presenters as desk
from sitekeeper.desk.models import CLOSED_STATES, Priority, Ticket
from sitekeeper.desk.views_portal import open_pause_reason
from sitekeeper.health.models import LinkScan, LinkScanStatus, PerformanceAudit
from sitekeeper.health.models.jobs import JobStatus
from sitekeeper.monitoring.models import MaintenanceAnnouncement, Monitor, Outage
from sitekeeper.releases.models import Release, ReleaseKind, ReleaseStatus
from sitekeeper.releases.updates import ACTIVE as RELEASE_ACTIVE
from sitekeeper.security.incidents import deadline
from sitekeeper.security.models import ScanOutcome, ScanStepRun, SecurityIncident
from sitekeeper.security.scans import SCAN_FRESH

# "Due soon": a clock whose due instant is within this many hours (wall clock) — or one the desk already
# warns about (75 % of its target used, core.clocks.WARN_AT: the instant the escalation loop sends its
# warning). Wall-clock hours, not business hours: the console answers "what must a person do during this
# shift", and a P1's one-hour response clock or a P4's ten-day resolution clock near its end both show —
# the first by the horizon, the second by the desk's own warning. SITEKEEPER_OPS_SOON_HOURS changes it.
# Lines shown per section (the count above it is always the whole number; the section links to its app).
SHOWN = 25
URGENT_PRIORITIES = (Priority.P1, Priority.P2)
FAILED_RUNS = (RunStatus.FAILED, RunStatus.INTERRUPTED)  # as backups.presenters.layer_states counts a failure
# The backups app runs one restore test per site and month (backups.verify.month_slot) but has no "overdue"
# rule of its own: a site whose backups have not been proved restorable for a month and a day is overdue.
RESTORE_TEST_OVERDUE = dt.timedelta(days=32)


def soon_hours() -> int:
    return settings.SITEKEEPER_OPS_SOON_HOURS


@dataclass(frozen=True)
class Fix:
    """One of several things wrong on a line's object, with the page where it is fixed."""

    title: str
    detail: str
    url: str


@dataclass(frozen=True)
class Line:
    """One thing that needs a person: what, where, by when, and the page where it is handled."""

    tone: str  # breach | warn | down | info — the colour of its badge
    badge: str  # short state, e.g. "Breached", "Down", "Failed"
    title: str  # what it is
    url: str  # where it is handled
    client: str = ""
    site: Site | None = None
    priority: str = ""
    detail: str = ""  # for staff: the exact state or error
    when_label: str = ""  # "due", "overdue since", "failed", "since"…
    when: dt.datetime | None = None
    zone: str = NO_CONTRACT_ZONE  # the zone `when` is shown in (named on the page)
    after: str = ""  # after the time, e.g. "2 h overdue"
    fixes: tuple[Fix, ...] = ()  # several problems of one object, each with its own page


@dataclass
class Section:
    key: str  # the anchor
    title: str
    lines: list[Line]
    evaluated: bool  # False: the facts could not be read, so an empty list says nothing
    empty: str  # what an empty section means (only said when evaluated)
    fills: str  # what would fill it, and where it is handled
    url: str  # the app's own page for the whole list
    total: int | None = None  # when more exist than are shown
    scope: str = ""  # what was looked at, e.g. "14 open requests checked"
    unread: str = ""  # when not evaluated: why nothing could be said
    parts: dict[str, int] = field(default_factory=dict)  # counts for the summary strip, e.g. breached/soon

    @property
    def count(self) -> int:
        return self.total if self.total is not None else len(self.lines)

    @property
    def more(self) -> int:
        return self.count - len(self.lines)

    @property
    def urgent(self) -> bool:
        return any(line.tone in {"breach", "down"} for line in self.lines)


@dataclass(frozen=True)
class Book:
    """What every section needs about clients, read once: the zone each client's contract counts in, and
    which clients' contracts are in service now (contracts.service's rule, `Contract.in_service`)."""

    now: dt.datetime
    zones: dict[int, str]
    in_service: frozenset[int]

    def zone(self, client_id: int) -> str:
        return self.zones.get(client_id, NO_CONTRACT_ZONE)


def read_book(now: dt.datetime) -> Book:
    """Two queries: each client's current contract (as `Client.contract` picks it: not terminated, latest
    start) with its calendar, then the newest version of those calendars (`Calendar.current`)."""
    current: dict[int, Contract] = {}
    for contract in Contract.objects.exclude(status=Contract.Status.TERMINATED).order_by(
        "client_id", "-start"
    ):
        current.setdefault(contract.client_id, contract)
    latest: dict[int, str] = {}
    versions = CalendarVersion.objects.filter(calendar_id__in={c.calendar_id for c in current.values()})
    for calendar_id, zone in versions.order_by("calendar_id", "-number").values_list(
        "calendar_id", "timezone"
    ):
        latest.setdefault(calendar_id, zone)
    zones = {client: latest.get(c.calendar_id, NO_CONTRACT_ZONE) for client, c in current.items()}
    serving = frozenset(
        client
        for client, contract in current.items()
        if contract.status in LIVE_STATUSES and contract.in_service(_local_day(now, zones[client]))
    )
    return Book(now=now, zones=zones, in_service=serving)


def _local_day(now: dt.datetime, zone: str) -> dt.date:
    return now.astimezone(ZoneInfo(zone)).date()


def _site_line_fields(site: Site, book: Book) -> dict[str, object]:
    return {"site": site, "client": site.client.name, "zone": book.zone(site.client_id)}


# -- SLA clocks --------------------------------------------------------------------------------------------


def _open_tickets() -> object:
    return Ticket.objects.exclude(state__in=CLOSED_STATES).select_related(
        "client", "site", "calendar_version", "assignee"
    )


def _next_due(ticket: Ticket, now: dt.datetime) -> dict[str, object]:
    """The line's time: the next due instant with its clock named (and how long left or overdue), or when
    the request was received if no clock runs."""
    zone = ticket.calendar_version.timezone
    if ticket.next_due_at is None:
        return {"when_label": "received", "when": ticket.received_at, "zone": zone}
    clock = desk.CLOCK_NAMES[desk.next_clock(ticket)]
    breached = ticket.next_due_at <= now
    return {
        "when_label": f"{clock} overdue since" if breached else f"{clock} due",
        "when": ticket.next_due_at,
        "zone": zone,
        "after": desk.remaining(ticket, now),
    }


def _assignee(ticket: Ticket) -> str:
    person = ticket.assignee
    return "unassigned" if person is None else f"assigned to {person.get_full_name() or person.username}"


def clock_section(book: Book, hours: int | None = None) -> Section:
    """Open requests whose next clock has breached or is due within the horizon (or is in the desk's warning
    time), nearest due first: two queries (the lines, the counts)."""
    hours = hours or soon_hours()
    horizon = book.now + dt.timedelta(hours=hours)
    candidates = (
        _open_tickets()
        .filter(next_due_at__isnull=False)
        .filter(Q(next_due_at__lte=horizon) | Q(next_check_at__lte=book.now))
    )
    lines = []
    for ticket in candidates.order_by("next_due_at", "pk")[:SHOWN]:
        breached = desk.summary(ticket, book.now, client=False).status == "breached"
        lines.append(
            Line(
                tone="breach" if breached else "warn",
                badge="Breached" if breached else "Due soon",
                title=f"{ticket.reference} {ticket.subject}",
                url=reverse("staff_ticket", args=[ticket.pk]),
                client=ticket.client.name,
                site=ticket.site,
                priority=ticket.priority,
                detail=f"{desk.state_label(ticket, client=False)} · {_assignee(ticket)}",
                **_next_due(ticket, book.now),  # type: ignore[arg-type]
            )
        )
    breached = candidates.filter(next_due_at__lte=book.now).count()
    total = candidates.count()
    checked = _open_tickets().aggregate(n=Count("pk"), paused=Count("pk", filter=Q(next_due_at__isnull=True)))
    return Section(
        key="clocks",
        title="SLA clocks — breached and due soon",
        lines=lines,
        evaluated=True,
        empty=f"No breached clocks, and none due in the next {hours} h.",
        fills=(
            f"An open request whose response, recovery or resolution clock has passed its due time, is due "
            f"within {hours} h, or has used 75 % of its target. Handle it on the request's page; the whole "
            "queue is nearest due first."
        ),
        url=reverse("staff_desk"),
        total=total,
        parts={"breached": breached, "soon": total - breached},
        scope=f"{checked['n']} open requests checked "
        f"({checked['paused']} with no clock running: paused or met)",
    )


def unassigned_section(book: Book) -> Section:
    """Open P1 and P2 requests nobody is assigned to: P1 first, then nearest due."""
    tickets = _open_tickets().filter(priority__in=URGENT_PRIORITIES, assignee__isnull=True)
    lines = []
    ordered = tickets.annotate(pause_reason=open_pause_reason()).order_by(
        "priority", F("next_due_at").asc(nulls_last=True), "received_at"
    )
    for ticket in ordered[:SHOWN]:
        state = desk.summary(ticket, book.now, client=False, open_pause_reason=ticket.pause_reason)
        detail = desk.state_label(ticket, client=False)
        if state.status in {"paused", "none"}:  # no clock running: say why (the text names no instant)
            detail += f" · {state.text}"
        lines.append(
            Line(
                tone="breach" if state.status == "breached" else "warn",
                badge="Unassigned",
                title=f"{ticket.reference} {ticket.subject}",
                url=reverse("staff_ticket", args=[ticket.pk]),
                client=ticket.client.name,
                site=ticket.site,
                priority=ticket.priority,
                detail=detail,
                **_next_due(ticket, book.now),  # type: ignore[arg-type]
            )
        )
    return Section(
        key="unassigned",
        title="Unassigned P1/P2 requests",
        lines=lines,
        evaluated=True,
        empty="Every open P1 and P2 request has someone assigned.",
        fills=(
            "An open P1 or P2 request without an assignee. Assign it on its page, or several at once in the "
            "queue."
        ),
        url=reverse("staff_desk") + "?assignee=none",
        total=tickets.count(),
    )


# -- sites down or in maintenance ----------------------------------------------------------------------------


def sites_section(book: Book) -> Section:
    """Open outages (longest first; one held back by announced maintenance says until when), then
    announced maintenance in progress now: two queries, three with the announcements' sites."""
    lines = []
    outages = Outage.objects.filter(end__isnull=True).select_related("site__client", "monitor", "ticket")
    for outage in outages.order_by("start", "pk"):
        monitor = outage.monitor
        if outage.held:
            badge, detail = (
                "Down in maintenance",
                (
                    "down during announced maintenance: incident and alerts held back"
                    + (
                        f" until {_hhmm(outage.held_until, book.zone(outage.site.client_id))}"
                        if outage.held_until
                        else ""
                    )
                ),
            )
        else:
            badge, detail = (
                "Down",
                (f"request {outage.ticket.reference} open" if outage.ticket else "no request open"),
            )
        lines.append(
            Line(
                tone="down",
                badge=badge,
                title=f"{outage.site} — {outage.cause or 'checks failing'}",
                url=reverse("staff_site_uptime", args=[outage.site_id]),
                priority=outage.priority,
                detail=f"{monitor} ({monitor.environment}) · {detail}",
                when_label="down since",
                when=outage.start,
                after=human_age(book.now - outage.start),
                **_site_line_fields(outage.site, book),  # type: ignore[arg-type]
            )
        )
    maintenance = (
        MaintenanceAnnouncement.objects.filter(
            start__lte=book.now, end__gt=book.now, announced_at__lte=book.now
        )
        .select_related("contract__client")
        .prefetch_related("sites")
        .order_by("end", "pk")
    )
    for item in maintenance:
        client = item.contract.client
        sites = list(item.sites.all())
        where = ", ".join(str(site) for site in sites) if sites else f"every site of {client.name}"
        lines.append(
            Line(
                tone="info",
                badge="In maintenance",
                title=f"{where} — {item.get_kind_display()}",
                url=reverse("staff_site_uptime", args=[sites[0].pk])
                if len(sites) == 1
                else reverse("staff_monitoring"),
                client=client.name,
                site=sites[0] if len(sites) == 1 else None,
                detail=item.note,
                when_label="until",
                when=item.end,
                zone=book.zone(client.pk),
            )
        )
    watched = Monitor.objects.filter(enabled=True).count()
    return Section(
        key="sites",
        title="Sites down or in maintenance",
        lines=lines,
        evaluated=bool(watched or lines),
        scope=f"{watched} enabled monitors",
        unread="No monitor is enabled, so no outage can be seen: add monitors on each site's uptime page.",
        empty="No site is down and none is in announced maintenance.",
        fills=(
            "An outage a monitor confirmed and that has not ended, or announced maintenance in progress. "
            "Monitors and outages are on each site's uptime page."
        ),
        url=reverse("staff_monitoring"),
    )


def _hhmm(instant: dt.datetime, zone: str) -> str:
    """The one time format's "14:05 CET" (sitekeeper_time's `clock`), in the client's zone."""
    with timezone.override(ZoneInfo(zone)):
        return sitekeeper_time.clock(instant)


# -- backups and restore tests -------------------------------------------------------------------------------


def _later(model: type, *fields: str, order: str, **extra: object) -> Exists:
    """A later row of `model` for the same `fields` (so the row is not the latest): later by `order`, or
    at the same instant and created after it (a higher pk)."""
    match = {name: OuterRef(name) for name in fields}
    later = Q(**{f"{order}__gt": OuterRef(order)}) | Q(**{order: OuterRef(order), "pk__gt": OuterRef("pk")})
    return Exists(model.objects.filter(later, **match, **extra))  # type: ignore[attr-defined]


def backups_section(book: Book) -> Section:
    """Failed latest runs, stale layers (backups.presenters' rule: the newest kept snapshot older than the
    layer's `stale_hours`), failed latest restore tests and overdue restore tests: six queries."""
    lines: list[Line] = []
    failed = (
        BackupRun.objects.filter(status__in=FAILED_RUNS)
        .exclude(_later(BackupRun, "site", "layer", order="created_at"))
        .select_related("site__client")
        .order_by("created_at")
    )
    for run in failed:
        at = run.finished_at or run.created_at
        lines.append(
            Line(
                tone="breach",
                badge="Backup failed",
                title=f"{run.site} — {run.get_layer_display()} backup {run.get_status_display().lower()}",
                url=reverse("staff_backups_site", args=[run.site_id]),
                detail=_first_line(run.error) or f"{run.get_trigger_display()} run, attempt {run.attempts}",
                when_label="failed",
                when=at,
                after=f"{human_age(book.now - at)} ago",
                **_site_line_fields(run.site, book),  # type: ignore[arg-type]
            )
        )
    configs = list(
        SiteBackup.objects.filter(
            enabled=True,
            repository__status=Repository.Status.ACTIVE,
            site__client_id__in=book.in_service,
        ).select_related("site__client")
    )
    site_ids = [config.site_id for config in configs]
    newest = {
        (site, layer): at
        for site, layer, at in Snapshot.objects.filter(site_id__in=site_ids, forgotten_at=None)
        .values("site_id", "layer")
        .annotate(at=Max("time"))
        .values_list("site_id", "layer", "at")
    }
    layers: dict[int, set[str]] = {}
    for site, layer in BackupSource.objects.filter(site_id__in=site_ids).values_list("site_id", "layer"):
        layers.setdefault(site, set()).add(layer)
    for site, layer in newest:
        layers.setdefault(site, set()).add(layer)
    for config in configs:
        for layer in sorted(layers.get(config.site_id, ())):
            lines.extend(_stale_line(config, layer, newest.get((config.site_id, layer)), book))
    lines.extend(_restore_test_lines(configs, newest, book))
    lines.sort(key=lambda line: (line.tone != "breach", line.when or book.now))
    return Section(
        key="backups",
        title="Backups and restore tests",
        lines=lines,
        evaluated=bool(configs or lines),
        scope=f"{len(configs)} sites in service backed up automatically",
        unread="No site in service is backed up automatically, so no backup can be stale or failed: "
        "set up backups on each site's backups page (the service gaps below list them).",
        empty="No failed or stale backups, and every restore test is recent and passed.",
        fills=(
            "A backup whose latest run failed, a layer whose newest snapshot is older than its schedule "
            "allows, a restore test that failed, or no restore test passed in "
            f"{RESTORE_TEST_OVERDUE.days} days. Run it again from the site's backups page."
        ),
        url=reverse("staff_backups"),
    )


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")[:300]


def _stale_line(config: SiteBackup, layer: str, last: dt.datetime | None, book: Book) -> list[Line]:
    limit = stale_hours(config, layer)
    if limit is None or (last is not None and book.now - last <= dt.timedelta(hours=limit)):
        return []
    site = config.site
    return [
        Line(
            tone="warn",
            badge="Backup stale",
            title=f"{site} — {Layer(layer).label} backup stale",
            url=reverse("staff_backups_site", args=[site.pk]),
            detail=(
                f"newest snapshot {human_age(book.now - last)} old, allowed {limit} h"
                if last
                else f"no snapshot yet (allowed {limit} h)"
            ),
            when_label="newest snapshot",
            when=last,
            **_site_line_fields(site, book),  # type: ignore[arg-type]
        )
    ]


def _restore_test_lines(
    configs: list[SiteBackup], newest: dict[tuple[int, str], dt.datetime], book: Book
) -> list[Line]:
    lines = []
    finished = (RestoreTest.Status.PASSED, RestoreTest.Status.FAILED)
    failed = (
        RestoreTest.objects.filter(status=RestoreTest.Status.FAILED)
        .exclude(_later(RestoreTest, "site", order="started_at", status__in=finished))
        .select_related("site__client")
        .order_by("started_at")
    )
    failed_sites = set()
    for test in failed:
        failed_sites.add(test.site_id)
        at = test.finished_at or test.started_at
        lines.append(
            Line(
                tone="breach",
                badge="Restore test failed",
                title=f"{test.site} — restore test {test.slot} failed",
                url=reverse("staff_backups_site", args=[test.site_id]),
                detail=_first_line(test.error) or "the restored data did not match what was backed up",
                when_label="failed",
                when=at,
                **_site_line_fields(test.site, book),  # type: ignore[arg-type]
            )
        )
    with_snapshots = {site for site, _layer in newest}
    verified = dict(
        RestoreTest.objects.filter(site_id__in=with_snapshots, status=RestoreTest.Status.PASSED)
        .values("site_id")
        .annotate(at=Max("finished_at"))
        .values_list("site_id", "at")
    )
    for config in configs:
        if config.site_id not in with_snapshots or config.site_id in failed_sites:
            continue
        last = verified.get(config.site_id)
        since = last or config.created_at
        if book.now - since <= RESTORE_TEST_OVERDUE:
            continue
        lines.append(
            Line(
                tone="warn",
                badge="Restore test overdue",
                title=f"{config.site} — restore test overdue",
                url=reverse("staff_backups_site", args=[config.site_id]),
                detail=(
                    f"last verified restorable {human_age(book.now - last)} ago"
                    if last
                    else "never verified restorable"
                ),
                when_label="last verified" if last else "backups set up",
                when=since,
                **_site_line_fields(config.site, book),  # type: ignore[arg-type]
            )
        )
    return lines


# -- security incidents --------------------------------------------------------------------------------------

_INCIDENT_ORDER = {"breached": 0, "warning": 1, "running": 2, "late": 3, "met": 4}


def incidents_section(book: Book) -> Section:
    """Open security incidents (not closed, not dismissed) with their 6.3 clock: one query."""
    incidents = SecurityIncident.objects.filter(
        closed_at__isnull=True, dismissed_at__isnull=True
    ).select_related("site__client", "finding", "ticket")
    rows = [(deadline(incident, book.now), incident) for incident in incidents]
    rows.sort(key=lambda row: (_INCIDENT_ORDER.get(row[0].state, 9), row[0].due))
    lines = []
    for clock, incident in rows:
        notified = clock.state in {"met", "late"}
        tone = {"breached": "breach", "warning": "warn"}.get(clock.state, "info")
        lines.append(
            Line(
                tone=tone,
                badge="6.3 " + clock.label,
                title=f"{incident.site} — {incident.finding.title or incident.finding.get_kind_display()}",
                url=reverse("staff_security_incident", args=[incident.pk]),
                detail=(
                    "client notified; report and close the incident"
                    if notified
                    else f"client notice {'overdue by' if clock.state == 'breached' else 'due in'} "
                    f"{clock.remaining_label}"
                ),
                when_label="client notice due" if not notified else "client notice was due",
                when=clock.due,
                **_site_line_fields(incident.site, book),  # type: ignore[arg-type]
            )
        )
    return Section(
        key="incidents",
        title="Open security incidents",
        lines=lines,
        evaluated=True,
        empty="No open security incident.",
        fills=(
            "A security incident opened from a finding (automatically, or escalated by staff) that is "
            "neither closed nor dismissed. Clause 6.3: the client is told within 24 h of detection — "
            "mark it on the "
            "incident's page."
        ),
        url=reverse("staff_security"),
    )


# -- failed scans and audits -------------------------------------------------------------------------------


def _failed_runs(
    model: type[LinkScan] | type[PerformanceAudit],
    done: tuple[str, ...],
    words: tuple[str, str],
    page: str,
    book: Book,
) -> list[Line]:
    """A line per site and environment whose latest finished link scan or Lighthouse audit failed.
    `words`: the badge and what the run is called in the title."""
    badge, what = words
    runs = (
        model.objects.filter(status="failed")
        .exclude(_later(model, "site", "environment", order="created_at", status__in=done))
        .select_related("site__client")
    )
    return [
        Line(
            tone="breach",
            badge=badge,
            title=f"{run.site} — {what} failed ({run.environment})",
            url=reverse(page, args=[run.pk]),
            detail=_first_line(run.error),
            when_label="failed",
            when=run.finished_at or run.created_at,
            **_site_line_fields(run.site, book),  # type: ignore[arg-type]
        )
        for run in runs
    ]


def checks_section(book: Book) -> Section:
    """Security scan steps, link scans and Lighthouse audits whose latest attempt failed: three queries."""
    lines = []
    steps = (
        ScanStepRun.objects.filter(outcome=ScanOutcome.FAILED)
        .exclude(_later(ScanStepRun, "site", "environment", "step", order="finished_at"))
        .select_related("site__client")
    )
    for run in steps:
        lines.append(
            Line(
                tone="breach",
                badge="Scan failed",
                title=f"{run.site} — security scan step “{run.step}” failed ({run.environment})",
                url=reverse("staff_security_site", args=[run.site_id]),
                detail=run.summary,
                when_label="failed",
                when=run.finished_at,
                **_site_line_fields(run.site, book),  # type: ignore[arg-type]
            )
        )
    link_done = (LinkScanStatus.SUCCEEDED, LinkScanStatus.INCOMPLETE, LinkScanStatus.FAILED)
    lines += _failed_runs(LinkScan, link_done, ("Link scan failed", "link scan"), "staff_links_scan", book)
    audit_done = (JobStatus.SUCCEEDED, JobStatus.FAILED)
    lines += _failed_runs(
        PerformanceAudit,
        audit_done,
        ("Lighthouse failed", "Lighthouse audit"),
        "staff_performance_audit",
        book,
    )
    lines.sort(key=lambda line: line.when or book.now, reverse=True)
    return Section(
        key="checks",
        title="Failed scans and audits",
        lines=lines,
        evaluated=True,
        empty="No failed security scan, link scan or Lighthouse audit.",
        fills=(
            "A security scan step, link scan or Lighthouse audit whose latest attempt failed (could not "
            "run). Start it again from the site's security or health page once the cause is fixed."
        ),
        url=reverse("staff_health"),
    )


# -- releases ------------------------------------------------------------------------------------------------


def releases_section(book: Book) -> Section:
    """Releases waiting for approval or their maintenance window, and those that failed: one query."""
    waiting = Q(status__in=RELEASE_ACTIVE, kind=ReleaseKind.MANUAL, approved_by__isnull=True) | Q(
        status=ReleaseStatus.AWAITING_WINDOW
    )
    failed = (ReleaseStatus.STAGE_FAILED, ReleaseStatus.FAILED)
    releases = (
        Release.objects.filter(waiting | Q(status__in=failed))
        .select_related("site__client")
        .order_by("created_at")
    )
    lines = []
    for release in releases:
        lines.append(_release_line(release, book))
    lines.sort(key=lambda line: ({"breach": 0, "warn": 1}.get(line.tone, 2), line.when or book.now))
    return Section(
        key="releases",
        title="Releases waiting or failed",
        lines=lines,
        evaluated=True,
        empty="No release is waiting for approval or a window, and none failed.",
        fills=(
            "An on-demand release waiting for an approval, a release that passed stage and waits for its "
            "maintenance window, or one that failed. Approve, cancel or advance it on its page."
        ),
        url=reverse("staff_updates"),
    )


def _release_line(release: Release, book: Book) -> Line:
    url = reverse("staff_updates_release", args=[release.pk])
    common = _site_line_fields(release.site, book)
    if release.status in (ReleaseStatus.STAGE_FAILED, ReleaseStatus.FAILED):
        return Line(
            tone="breach",
            badge=release.get_status_display(),
            title=f"{release.site} — {release.get_kind_display().lower()} {release.slot}",
            url=url,
            detail=release.outcome,
            when_label="planned",
            when=release.created_at,
            **common,  # type: ignore[arg-type]
        )
    if release.kind == ReleaseKind.MANUAL and release.approved_by_id is None:
        return Line(
            tone="warn",
            badge="Waiting for approval",
            title=f"{release.site} — on-demand release {release.slot}",
            url=url,
            detail="production is updated only once an agency person approves it",
            when_label="window opens",
            when=release.window_start,
            **common,  # type: ignore[arg-type]
        )
    return Line(
        tone="info",
        badge="Waiting for the window",
        title=f"{release.site} — {release.get_kind_display().lower()} {release.slot}",
        url=url,
        detail="passed on stage; production is updated in the maintenance window",
        when_label="window opens",
        when=release.window_start,
        **common,  # type: ignore[arg-type]
    )


# -- agency-side gaps ----------------------------------------------------------------------------------------


def gaps_section(book: Book) -> Section:
    """contracts.coverage's gaps (no production monitor, no backup source, no recent security scan) of the
    sites in service. Five batched queries find the sites that lack something; each of those is then
    checked by coverage's own function (which words it)."""
    sites = list(
        Site.objects.filter(client_id__in=book.in_service)
        .select_related("client")
        .order_by("client__name", "url")
    )
    ids = [site.pk for site in sites]
    monitored = set(
        Monitor.objects.filter(site_id__in=ids, environment="prod", enabled=True).values_list(
            "site_id", flat=True
        )
    )
    configs = {
        config.site_id: config
        for config in SiteBackup.objects.filter(site_id__in=ids).select_related("repository")
    }
    with_source = set(
        BackupSource.objects.filter(site_id__in=ids, environment="prod").values_list("site_id", flat=True)
    )
    scanned = dict(
        ScanStepRun.objects.filter(site_id__in=ids, environment="prod", outcome=ScanOutcome.OK)
        .values("site_id")
        .annotate(at=Max("finished_at"))
        .values_list("site_id", "at")
    )
    lines = []
    gaps = 0
    for site in sites:
        found: list[coverage.Gap] = []
        if site.pk not in monitored:
            found.extend(_gap(coverage.monitor_gap(site)))
        config = configs.get(site.pk)
        if config is None or (
            config.repository.status == Repository.Status.ACTIVE
            and (site.pk not in with_source or not config.enabled)
        ):
            found.extend(_gap(coverage.backup_gap(site)))
        last = scanned.get(site.pk)
        if last is None or last < book.now - SCAN_FRESH:
            found.extend(_gap(coverage.scan_gap(site, book.now)))
        if found:
            gaps += len(found)
            lines.append(_gaps_line(site, found, book))
    return Section(
        key="gaps",
        title="Service gaps — agency action needed",
        lines=lines,
        evaluated=True,
        scope=f"{len(sites)} sites in service checked; {gaps} gaps on {len(lines)} of them",
        empty="Every site in service has a production monitor, a backup source and a recent security scan.",
        fills=(
            f"A site under a contract in service with no enabled production monitor, no backup source, or no "
            f"security scan in the last {coverage.SCAN_HOURS} h. The client's pages show it as not measured "
            "yet; fix it from the linked page."
        ),
        parts={"gaps": gaps},
        url=reverse("staff_sites"),
    )


def _gaps_line(site: Site, found: list[coverage.Gap], book: Book) -> Line:
    """One line per site: each of its gaps with what exactly is missing and the page that fixes it."""
    return Line(
        tone="warn",
        badge=f"{len(found)} gap" if len(found) == 1 else f"{len(found)} gaps",
        title=str(site),
        url=reverse("staff_site_detail", args=[site.pk]),
        fixes=tuple(Fix(gap.title, gap.detail, gap.staff_url) for gap in found),
        client=site.client.name,
        zone=book.zone(site.client_id),
    )


def _gap(gap: coverage.Gap | None) -> Iterable[coverage.Gap]:
    return [] if gap is None else [gap]


# -- the console ---------------------------------------------------------------------------------------------


def console(now: dt.datetime, hours: int | None = None) -> list[Section]:
    """Every section, in the order a person works through them."""
    book = read_book(now)
    return [
        clock_section(book, hours),
        unassigned_section(book),
        sites_section(book),
        backups_section(book),
        incidents_section(book),
        checks_section(book),
        releases_section(book),
        gaps_section(book),
    ]
