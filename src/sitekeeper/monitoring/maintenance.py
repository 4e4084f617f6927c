"""Maintenance: the contract's weekly window, announced maintenance, and the exclusion intervals they give.

Agreement 2.4, read literally:
- the standard weekly window is agreed in the contract itself, so it needs no announcement — but it excludes
  downtime only in an occurrence in which maintenance actually happened: a release the update pipeline ran
  on the site's production in it (releases Release, prod started/finished), maintenance a person logged for
  it (MaintenanceLog), or maintenance announced for it. An occurrence with none of these excludes nothing:
  a site that is down in a quiet window is simply down;
- extended (scheduled) maintenance counts only when announced at least `notice_hours` before it starts
  (MaintenanceWindow.notice_hours, 48 h unless the contract says otherwise);
- emergency security maintenance counts whenever it was announced (before or during the work);
- in every case at most `max_minutes` of the downtime inside it is excluded: the first `max_minutes` of the
  outage time that overlaps the window, not simply the window's first minutes.

Announcing notifies the client's contacts by e-mail through the notify() seam and shows the announcement on
the portal's site pages.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Q

from sitekeeper.contracts.models import Contact, Contract, Site
from sitekeeper.contracts.presenters import contract_zone
from sitekeeper.core.uptime import Span, clip, merge, total
from sitekeeper.monitoring.models import MaintenanceAnnouncement, MaintenanceLog
from sitekeeper.notify.message import Message
from sitekeeper.notify.seam import notify, recipients_for_contact
from sitekeeper.releases.models import Release

DEFAULT_NOTICE_HOURS = 48
EVENT = "maintenance.announced"


class MaintenanceError(ValueError):
    """An announcement the agreement does not allow as given."""


@dataclass(frozen=True)
class Window:
    """One maintenance occurrence as UTC instants. When `excludes`, up to `max_minutes` of downtime in it is
    excluded; `reason` says why it does (or why it does not), in words a client can read."""

    start: dt.datetime
    end: dt.datetime
    max_minutes: int
    label: str
    kind: str  # "weekly", "scheduled", "emergency_security"
    excludes: bool = True
    reason: str = ""


def notice_hours(contract: Contract) -> int:
    """Hours of notice extended maintenance needs: the contract's window setting (the strictest), else 48."""
    hours = [w.notice_hours for w in contract.maintenance_windows.all()]
    return max(hours) if hours else DEFAULT_NOTICE_HOURS


def announced_in_time(announcement: MaintenanceAnnouncement, hours: int) -> bool:
    if announcement.kind == MaintenanceAnnouncement.Kind.EMERGENCY:
        return True
    return announcement.announced_at <= announcement.start - dt.timedelta(hours=hours)


def weekly_windows(contract: Contract, span: Span) -> list[Window]:
    """Each occurrence of the contract's weekly window(s) that overlaps `span`, in the calendar's zone.

    A window past midnight (23:00–02:00) ends on the next day; local times are resolved by zoneinfo, so a
    window in a DST night is as long as the wall clock says."""
    tz = contract_zone(contract)
    lo, hi = span
    first = lo.astimezone(tz).date() - dt.timedelta(days=1)
    last = hi.astimezone(tz).date()
    found = []
    for rule in contract.maintenance_windows.all():
        day = first
        while day <= last:
            if day.weekday() == rule.weekday:
                start = dt.datetime.combine(day, rule.start, tzinfo=tz)
                end_day = day + dt.timedelta(days=1) if rule.end <= rule.start else day
                end = dt.datetime.combine(end_day, rule.end, tzinfo=tz)
                start_utc, end_utc = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
                if end_utc > lo and start_utc < hi:
                    found.append(Window(start_utc, end_utc, rule.max_minutes, str(rule), "weekly"))
            day += dt.timedelta(days=1)
    return sorted(found, key=lambda w: w.start)


def announcements_for(site: Site, span: Span) -> list[MaintenanceAnnouncement]:
    """Announcements of the site's client that overlap `span` and cover this site (no sites listed: all)."""
    lo, hi = span
    return list(
        MaintenanceAnnouncement.objects.filter(contract__client_id=site.client_id, start__lt=hi, end__gt=lo)
        .filter(Q(sites=site) | Q(sites__isnull=True))
        .distinct()
        .order_by("start")
    )


def _clock(instant: dt.datetime, tz: ZoneInfo) -> str:
    return f"{instant.astimezone(tz):%a %d %b %H:%M %Z}"


def recorded_maintenance(site: Site, window: Window, tz: ZoneInfo) -> str | None:
    """What maintenance was recorded in this weekly occurrence, in words; None when nothing was."""
    lo, hi = window.start, window.end
    releases = Release.objects.filter(
        site=site, prod_started_at__lt=hi, prod_started_at__gte=lo - dt.timedelta(days=1)
    ).order_by("prod_started_at")
    for release in releases:
        finished = release.prod_finished_at or release.prod_started_at
        if finished >= lo:
            return (
                f"update release ({release.get_kind_display().lower()}) applied to production from "
                f"{_clock(release.prod_started_at, tz)} — {release.get_status_display().lower()}"
            )
    log = (
        MaintenanceLog.objects.filter(site=site, start__lt=hi, end__gt=lo).select_related("logged_by").first()
    )
    if log is not None:
        by = f" by {log.logged_by.get_full_name() or log.logged_by}" if log.logged_by else ""
        return f"maintenance logged{by}: {log.note}"
    announced = announcements_for(site, (lo, hi))
    if announced:
        return f"maintenance announced for it ({announced[0].get_kind_display().lower()})"
    return None


def occurrences(site: Site, contract: Contract | None, span: Span) -> list[Window]:
    """Every maintenance occurrence of `site` within `span`, each saying whether (and why) it excludes."""
    if contract is None:
        return []
    tz = contract_zone(contract)
    hours = notice_hours(contract)
    windows = []
    for weekly in weekly_windows(contract, span):
        done = recorded_maintenance(site, weekly, tz)
        why = done or "no maintenance was recorded in this occurrence, so downtime in it counts"
        windows.append(replace(weekly, excludes=done is not None, reason=why))
    for item in announcements_for(site, span):
        if item.contract_id != contract.pk:
            continue
        in_time = announced_in_time(item, hours)
        ahead = (item.start - item.announced_at).total_seconds() / 3600
        if item.kind == MaintenanceAnnouncement.Kind.EMERGENCY:
            why = "emergency security maintenance, announced"
        elif in_time:
            why = f"announced {ahead:.0f} h ahead (at least {hours} h needed)"
        else:
            why = (
                f"announced only {max(ahead, 0):.0f} h ahead: {hours} h are needed, so downtime in it counts"
            )
        label = item.get_kind_display()
        windows.append(Window(item.start, item.end, item.max_minutes, label, item.kind, in_time, why))
    return sorted(windows, key=lambda w: w.start)


def counted_windows(site: Site, contract: Contract | None, span: Span) -> list[Window]:
    """The maintenance occurrences that exclude downtime of `site` within `span`."""
    return [w for w in occurrences(site, contract, span) if w.excludes]


def capped_overlap(outages: Iterable[Span], window: Window) -> list[Span]:
    """The first `max_minutes` of outage time inside the window: what the window excludes."""
    budget = dt.timedelta(minutes=window.max_minutes)
    taken: list[Span] = []
    for start, end in clip(outages, (window.start, window.end)):
        if budget <= dt.timedelta(0):
            break
        part_end = min(end, start + budget)
        taken.append((start, part_end))
        budget -= part_end - start
    return taken


def maintenance_exclusions(outages: Iterable[Span], windows: Iterable[Window]) -> list[Span]:
    outage_list = merge(outages)
    spans: list[Span] = []
    for window in windows:
        if window.excludes:
            spans.extend(capped_overlap(outage_list, window))
    return merge(spans)


@dataclass(frozen=True)
class WindowEffect:
    """What one occurrence did to the month: downtime inside it and how much of that it excluded."""

    window: Window
    downtime: dt.timedelta
    excluded: dt.timedelta

    @property
    def downtime_minutes(self) -> str:
        return _whole_minutes(self.downtime)

    @property
    def excluded_minutes(self) -> str:
        return _whole_minutes(self.excluded)


def _whole_minutes(delta: dt.timedelta) -> str:
    """Minutes for a sentence on a page: whole ones as they are, else to a tenth."""
    seconds = delta.total_seconds()
    return f"{seconds / 60:.0f}" if seconds % 60 == 0 else f"{seconds / 60:.1f}"


def window_effects(outages: Iterable[Span], windows: Iterable[Window]) -> list[WindowEffect]:
    """Each occurrence with downtime in it: the uptime page's "which occurrence excluded what, and why"."""
    outage_list = merge(outages)
    effects = []
    for window in windows:
        inside = total(clip(outage_list, (window.start, window.end)))
        if inside:
            taken = total(capped_overlap(outage_list, window)) if window.excludes else dt.timedelta(0)
            effects.append(WindowEffect(window, inside, taken))
    return effects


# Announcing ---------------------------------------------------------------------------------------------


def announce(
    contract: Contract,
    *,
    kind: str,
    start: dt.datetime,
    end: dt.datetime,
    max_minutes: int,
    announced_at: dt.datetime,
    note: str = "",
    sites: Iterable[Site] = (),
    created_by=None,
) -> MaintenanceAnnouncement:
    """Record an announcement and e-mail the client's contacts (after commit, through notify())."""
    if end <= start:
        raise MaintenanceError("maintenance must end after it starts")
    if max_minutes <= 0:
        raise MaintenanceError("the maximum length must be at least one minute")
    if kind not in MaintenanceAnnouncement.Kind.values:
        raise MaintenanceError(f"unknown maintenance kind {kind!r}")
    site_list = list(sites)
    if any(site.client_id != contract.client_id for site in site_list):
        raise MaintenanceError("a site of another client cannot be in this announcement")
    with transaction.atomic():
        item = MaintenanceAnnouncement.objects.create(
            contract=contract,
            kind=kind,
            start=start,
            end=end,
            max_minutes=max_minutes,
            announced_at=announced_at,
            note=note,
            created_by=created_by,
        )
        if site_list:
            item.sites.set(site_list)
        send_announcement(item)
    return item


def describe(item: MaintenanceAnnouncement) -> str:
    tz = contract_zone(item.contract)
    start, end = item.start.astimezone(tz), item.end.astimezone(tz)
    sites = ", ".join(str(s) for s in item.sites.all()) or "all your sites"
    lines = [
        f"{item.get_kind_display()} for {sites}",
        f"From {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} ({tz.key}).",
        f"Sites may be unavailable for up to {item.max_minutes} minutes in this period.",
    ]
    if item.note:
        lines += ["", item.note]
    return "\n".join(lines)


def send_announcement(item: MaintenanceAnnouncement) -> int:
    """E-mail every contact of the client once (idempotent per announcement and contact)."""
    contract = item.contract
    subject = f"{contract.client.name}: {item.get_kind_display().split(' (')[0].lower()} announced"
    message = Message(subject=subject, text=describe(item), event=EVENT, data={"announcement": item.pk})
    recipients = []
    for contact in Contact.objects.filter(client_id=contract.client_id).exclude(role=Contact.Role.BILLING):
        recipients.extend(recipients_for_contact(contact, EVENT))
    return len(notify(recipients, message, key=f"maintenance:{item.pk}")) if recipients else 0


def upcoming_for_site(site: Site, now: dt.datetime, days: int = 30) -> list[MaintenanceAnnouncement]:
    """Announcements shown on the portal: running now or starting within `days`."""
    return announcements_for(site, (now, now + dt.timedelta(days=days)))
