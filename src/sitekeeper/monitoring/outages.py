"""From check results to outages, incidents and alerts.

A monitor is down when its latest run of consecutive failed checks (across locations, since the last success)
is at least `confirmations` long and comes from at least `quorum` locations (never more than are probing). The
outage starts at the run's first failed check and ends at the first success after it. Each outage opens a
service-desk incident (through desk.detected: one request per outage, however many probe passes see it) and
alerts the escalation list (and, for P1, the client's emergency contact) at once, so the alert goes out one
interval or so after the start — inside the contract's alert time when the monitor's configuration allows it
(monitoring/alerting.py refuses one that cannot).

An outage that starts inside announced maintenance is recorded and shown to staff at once as "down during
maintenance", but the incident and the pages are held until the maintenance ends — or its maximum length is
used up, whichever comes first (`held_until`). If the site is still down then, the incident opens and the
alert goes out at that moment: the probe's next check of the site does it (`evaluate`), and a periodic task
catches any the probes did not (monitoring/tasks.py). A conditional UPDATE of `held` makes it exactly once.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import IntegrityError, transaction
from django.db.models import Count, Min, Q

from sitekeeper.contracts.models import Contact, Site
from sitekeeper.desk import detected
from sitekeeper.desk.oncall import escalation_list
from sitekeeper.monitoring.models import (
    CheckResult,
    MaintenanceAnnouncement,
    Monitor,
    Outage,
    ProbeSession,
)
from sitekeeper.notify import Message, Recipient, recipients_for_contact

logger = logging.getLogger("sitekeeper.monitoring")

LIVE_SESSION = dt.timedelta(minutes=2)  # a probe session that beat this recently is probing
TIMELINE_CHECKS = 20  # checks listed in the incident's note


def _covering(site: Site, at: dt.datetime) -> list[MaintenanceAnnouncement]:
    return list(
        MaintenanceAnnouncement.objects.filter(
            contract__client_id=site.client_id, start__lte=at, end__gt=at, announced_at__lte=at
        )
        .filter(Q(sites=site) | Q(sites__isnull=True))
        .distinct()
    )


def under_maintenance(site: Site, at: dt.datetime) -> bool:
    """Is an announced maintenance covering this site at `at`? (Empty site list: the whole contract.)"""
    return bool(_covering(site, at))


def maintenance_hold(site: Site, first: dt.datetime, now: dt.datetime) -> dt.datetime | None:
    """Until when announced maintenance holds back the incident of an outage that started at `first`: the
    maintenance's end, or its maximum length counted from when the outage entered it — whichever is first.
    None when no maintenance covers it, or the hold is already over."""
    until = None
    for item in {*_covering(site, first), *_covering(site, now)}:
        ends = min(item.end, max(item.start, first) + dt.timedelta(minutes=item.max_minutes))
        until = ends if until is None else max(until, ends)
    return until if until is not None and until > now else None


def live_locations(now: dt.datetime) -> int:
    return (
        ProbeSession.objects.filter(stopped_at__isnull=True, last_beat_at__gte=now - LIVE_SESSION)
        .values("location")
        .distinct()
        .count()
    )


def needed_locations(monitor: Monitor, now: dt.datetime) -> int:
    # A quorum larger than the locations probing could never be met; the site would never be "down".
    return max(1, min(monitor.quorum, live_locations(now)))


def failing_run(monitor: Monitor) -> dict:
    """The failed checks since the last success: how many, from how many locations, the first one."""
    last_ok = (
        CheckResult.objects.filter(monitor=monitor, ok=True)
        .order_by("-at")
        .values_list("at", flat=True)
        .first()
    )
    failures = CheckResult.objects.filter(monitor=monitor, ok=False)
    if last_ok is not None:
        failures = failures.filter(at__gt=last_ok)
    return failures.aggregate(
        count=Count("pk"), locations=Count("location", distinct=True), first=Min("at")
    ) | {"last_ok": last_ok}


def evaluate(monitor: Monitor, now: dt.datetime, priority: str = "P1", cause: str = "") -> str:
    """Bring the monitor's outage in line with its results; returns its state: up, down or suspect."""
    run = failing_run(monitor)
    current = Outage.objects.filter(monitor=monitor, end__isnull=True).first()
    if not run["count"]:
        if current is not None:
            close(current)
        _set_state(monitor, "up")
        return "up"
    if current is not None:
        if current.held and current.held_until is not None and current.held_until <= now:
            release_hold(current, monitor, now)
        return "down"
    if run["count"] < monitor.confirmations or run["locations"] < needed_locations(monitor, now):
        return "suspect"
    start(monitor, run["first"], priority, cause, now)
    return "down"


def _set_state(monitor: Monitor, state: str) -> None:
    if monitor.state != state:
        Monitor.objects.filter(pk=monitor.pk).update(state=state)
        monitor.state = state


def start(monitor: Monitor, first: dt.datetime, priority: str, cause: str, now: dt.datetime) -> Outage | None:
    """Record the outage (once: another probe confirming the same failure joins the open one)."""
    site = monitor.site
    try:
        with transaction.atomic():
            outage = Outage.objects.create(
                monitor=monitor,
                site=site,
                start=first,
                cause=cause[:300] or "check failed",
                priority=priority,
            )
    except IntegrityError:
        return None  # one open outage per monitor: someone else opened it a moment ago
    _set_state(monitor, "down")
    hold = maintenance_hold(site, first, now)
    if hold is not None:
        Outage.objects.filter(pk=outage.pk).update(held_until=hold, held=True)
        outage.held_until, outage.held = hold, True
        logger.info("monitor %s down during announced maintenance: paging held until %s", monitor.pk, hold)
        return outage
    open_incident(outage, monitor)
    alert(outage, monitor, now)
    return outage


def release_hold(outage: Outage, monitor: Monitor, now: dt.datetime) -> bool:
    """The maintenance is over and the site is still down: open the incident and alert, exactly once (the
    probe and the periodic task may both try; the conditional UPDATE lets one of them through)."""
    if not Outage.objects.filter(pk=outage.pk, held=True, end__isnull=True).update(held=False):
        return False
    outage.held = False
    open_incident(outage, monitor)
    alert(outage, monitor, now)
    return True


def release_due_holds(now: dt.datetime) -> int:
    """Open the incidents of every outage still down after its maintenance hold (the periodic backstop)."""
    released = 0
    due = Outage.objects.filter(held=True, end__isnull=True, held_until__lte=now).select_related(
        "monitor", "site", "site__client"
    )
    for outage in due:
        released += release_hold(outage, outage.monitor, now)
    return released


def timeline(monitor: Monitor, since: dt.datetime, until: dt.datetime | None = None) -> str:
    results = CheckResult.objects.filter(monitor=monitor, at__gte=since).order_by("at")
    if until is not None:
        results = results.filter(at__lte=until)
    lines = [
        f"{r.at:%Y-%m-%d %H:%M:%S} UTC [{r.location}] {'ok' if r.ok else 'FAIL'} "
        f"{r.status_code or ''} {r.response_ms if r.response_ms is not None else '-'} ms {r.error}".rstrip()
        for r in results[:TIMELINE_CHECKS]
    ]
    return "Checks:\n" + "\n".join(lines)


def open_incident(outage: Outage, monitor: Monitor) -> None:
    """The outage's service-desk incident, once per outage (a second pass over the same outage finds the one
    already open), with the check timeline as an internal note; linked to the outage."""
    site = outage.site
    held = ""
    if outage.held_until is not None:
        held = (
            f" It went down during announced maintenance and was still down when the maintenance (or its "
            f"maximum length) ended at {outage.held_until:%Y-%m-%d %H:%M:%S} UTC."
        )
    ticket, _ = detected.open_incident(
        detected.Detection(
            site=site,
            found_by="monitoring",
            episode=f"outage:{outage.pk}",
            priority=outage.priority,
            subject=f"{site} is down: {outage.cause}"[:200],
            description=f"Monitor {monitor} failed {monitor.confirmations} consecutive checks "
            f"since {outage.start:%Y-%m-%d %H:%M:%S} UTC: {outage.cause}.{held}",
            steps=f"Open {monitor.url} (automated {monitor.get_kind_display()} check).",
            # A held outage became an incident when the maintenance ended, not when the site went down in it.
            detected_at=outage.alert_clock_start,
            environment=monitor.environment,
            note=timeline(monitor, outage.start),
        )
    )
    outage.ticket = ticket
    outage.save(update_fields=["ticket"])


def recipients(outage: Outage, event: str) -> list[Recipient]:
    found = escalation_list(event)
    if outage.priority == "P1":
        for contact in Contact.objects.filter(client_id=outage.site.client_id, role=Contact.Role.EMERGENCY):
            found += recipients_for_contact(contact, event)
    return found


def alert(outage: Outage, monitor: Monitor, now: dt.datetime) -> None:
    after = ""
    if outage.held_until is not None:
        after = (
            f"Still down after announced maintenance ended at {outage.held_until:%Y-%m-%d %H:%M:%S} UTC.\n"
        )
    message = Message(
        subject=f"[{outage.priority}] DOWN: {outage.site} — {outage.cause}"[:200],
        text=f"{monitor} has been down since {outage.start:%Y-%m-%d %H:%M:%S} UTC.\n{after}"
        f"Cause: {outage.cause}\nTicket: #{outage.ticket_id or '-'}",
        event="monitor.down",
        data={"outage": outage.pk, "site": outage.site_id, "start": outage.start, "cause": outage.cause},
    )
    # Told here, not by open_incident: the text names the ticket, which exists only once it is open.
    detected.tell(detected.Notice(message, f"outage:{outage.pk}:down", recipients(outage, "monitor.down")))
    outage.alerted_at = now
    outage.save(update_fields=["alerted_at"])


def close(outage: Outage) -> None:
    """End the outage at the first success after its start; the incident's recovery clock is met then."""
    end = (
        CheckResult.objects.filter(monitor_id=outage.monitor_id, ok=True, at__gt=outage.start)
        .order_by("at")
        .values_list("at", flat=True)
        .first()
    )
    if end is None:
        return
    outage.end = end
    outage.held = False  # back up inside its maintenance: nothing more to hold, nobody to page
    outage.save(update_fields=["end", "held"])
    if outage.ticket_id is None:
        return
    minutes = (end - outage.start).total_seconds() / 60
    note = f"Back up at {end:%Y-%m-%d %H:%M:%S} UTC after {minutes:.1f} min.\n" + timeline(
        outage.monitor, end - dt.timedelta(minutes=10), end
    )
    detected.recovered(outage.ticket, at=end, why="monitor: site back up", detail=note)
    _recovery_alert(outage)


def _recovery_alert(outage: Outage) -> None:
    message = Message(
        subject=f"UP: {outage.site} (down {outage.start:%H:%M}–{outage.end:%H:%M} UTC)",
        text=f"{outage.site} is back up. Outage {outage.start:%Y-%m-%d %H:%M:%S} – "
        f"{outage.end:%Y-%m-%d %H:%M:%S} UTC. Ticket #{outage.ticket_id}.",
        event="monitor.up",
        data={"outage": outage.pk, "start": outage.start, "end": outage.end},
    )
    detected.tell(detected.Notice(message, f"outage:{outage.pk}:up", recipients(outage, "monitor.up")))
