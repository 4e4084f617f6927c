"""One client's SLA figures for one calendar month: the numbers the monthly report will print.

Readings (each printed with the report, so a client can see how a figure was counted):
- the month is the calendar month in the zone of the contract's calendar; a request belongs to the month it
  was received in;
- a request is counted under its priority as it stands (a confirmed change recomputes its clocks from
  receipt, so its figures are those of the new priority);
- each clock is judged as of `now`: met on time, met late (it breached, and stays breached), breached (due
  instant passed, still unmet) or open (not yet due, or stopped by a pause); the share on time is met on
  time over the decided ones (on time + late + breached), truncated to one decimal so it never overstates
  (99.96 % prints as 99.9 %, not 100.0 %); None when no clock was decided;
- a request merged into another one as a duplicate (desk.services.merge) is counted once, as received,
  and its clocks stop at the merge: what they had decided by then (met on time, met late, breached) counts,
  as of the merge instant; a clock still undecided then is not counted at all (neither open nor, later,
  breached). The survivor keeps its own clocks. So nothing is counted twice, and merging cannot wipe out a
  breach that had already happened;
- paused time is every pause of the client's requests that overlaps the month, clipped to it (and to `now`
  for a pause still open), summed per reason in wall time and in business hours of the ticket's calendar;
- uptime per site is monitoring's figure (monitoring/uptime.py) with its coverage, the share of the month
  (so far) a probe watched the site: "not measured" (no figure, no credit) when nobody did, and a monitoring
  gap when coverage is under 99 % (the agreement promises 24/7 monitoring, 1.2); the service credit is the
  contract's month over all its sites, capped at the fee;
- an outage whose alert went out later than the contract's alert time (1.2; counted from the first failed
  check, or from the end of the maintenance it started in) is listed as a missed alert.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Q
from django.utils import timezone

from sitekeeper.contracts.models import PRIORITIES, Client
from sitekeeper.contracts.presenters import zone_of
from sitekeeper.core import clocks as core_clocks
from sitekeeper.core.uptime import month_bounds
from sitekeeper.desk import clocks
from sitekeeper.desk.models import Pause, PauseReason, Priority, RequestType, Ticket
from sitekeeper.monitoring.uptime import ContractMonth, contract_month

ON_TIME, LATE, BREACHED = "met", "met_late", "breached"
OPEN = frozenset({"running", "warning", "paused"})
_TENTH, _HUNDREDTH = Decimal("0.1"), Decimal("0.01")


class ReportError(ValueError):
    """A report that cannot be made (no contract, a month outside the calendar)."""


def _hours(span: dt.timedelta) -> Decimal:
    return (Decimal(span.total_seconds()) / 3600).quantize(_HUNDREDTH, ROUND_HALF_UP)


def _duration(span: dt.timedelta | None) -> dict[str, Any] | None:
    if span is None:
        return None
    return {"seconds": int(span.total_seconds()), "hours": str(_hours(span))}


def _instant(instant: dt.datetime | None) -> str | None:
    return None if instant is None else instant.astimezone(dt.UTC).isoformat()


# --- the figures --------------------------------------------------------------------------------------------


@dataclass
class ClockTally:
    """One clock at one priority over the month's requests."""

    clock: str
    priority: str
    with_target: int = 0
    met_on_time: int = 0
    met_late: int = 0
    breached: int = 0  # due instant passed, still unmet
    open: int = 0  # unmet and not due yet, or stopped by a pause

    def add(self, status: str) -> None:
        if status == "none":
            return
        self.with_target += 1
        if status == ON_TIME:
            self.met_on_time += 1
        elif status == LATE:
            self.met_late += 1
        elif status == BREACHED:
            self.breached += 1
        else:
            self.open += 1

    @property
    def decided(self) -> int:
        return self.met_on_time + self.met_late + self.breached

    @property
    def on_time_percent(self) -> Decimal | None:
        if not self.decided:
            return None
        return (Decimal(100 * self.met_on_time) / self.decided).quantize(_TENTH, ROUND_DOWN)

    def as_dict(self) -> dict[str, Any]:
        percent = self.on_time_percent
        return {
            "clock": self.clock,
            "priority": self.priority,
            "with_target": self.with_target,
            "met_on_time": self.met_on_time,
            "met_late": self.met_late,
            "breached": self.breached,
            "open": self.open,
            "on_time_percent": None if percent is None else str(percent),
        }


@dataclass(frozen=True)
class IncidentClock:
    """One clock of one P1 incident: when it was met, how long that took, whether in time."""

    clock: str
    target: str | None
    due: dt.datetime | None
    met: dt.datetime | None
    wall: dt.timedelta | None  # receipt to met, every second
    counted: dt.timedelta | None  # receipt to met as the target counts, pauses left out
    status: str

    @property
    def on_time(self) -> bool | None:
        """True when met on time, False when late or breached, None without a target or not yet decided."""
        return {ON_TIME: True, LATE: False, BREACHED: False}.get(self.status)

    def as_dict(self) -> dict[str, Any]:
        return {
            "clock": self.clock,
            "target": self.target,
            "due": _instant(self.due),
            "met": _instant(self.met),
            "wall": _duration(self.wall),
            "counted": _duration(self.counted),
            "status": self.status,
            "on_time": self.on_time,
        }


@dataclass(frozen=True)
class IncidentLine:
    reference: str
    subject: str
    received: dt.datetime
    clocks: tuple[IncidentClock, ...]

    @property
    def on_time(self) -> bool | None:
        """False if any clock was late or breached; None while one is undecided; True if all were met in
        time; None for an incident without any target."""
        verdicts = [c.on_time for c in self.clocks if c.target is not None]
        if False in verdicts:
            return False
        if None in verdicts or not verdicts:
            return None
        return True

    def clock(self, name: str) -> IncidentClock:
        return next(c for c in self.clocks if c.clock == name)

    def as_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "subject": self.subject,
            "received": _instant(self.received),
            "clocks": [c.as_dict() for c in self.clocks],
            "on_time": self.on_time,
        }


@dataclass
class PausedTime:
    reason: str
    label: str
    pauses: int = 0
    wall: dt.timedelta = field(default_factory=dt.timedelta)
    business: dt.timedelta = field(default_factory=dt.timedelta)

    def as_dict(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "label": self.label,
            "pauses": self.pauses,
            "wall": _duration(self.wall),
            "business": _duration(self.business),
        }


@dataclass(frozen=True)
class SiteUptime:
    """One site's month: uptime (None: not measured), coverage, and the site's credit before the cap."""

    site: str
    name: str
    uptime: Decimal | None
    coverage: Decimal
    monitoring_gap: bool
    counted_minutes: str
    excluded_minutes: str
    credit_amount: Decimal | None

    @property
    def measured(self) -> bool:
        return self.uptime is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "name": self.name,
            "uptime": None if self.uptime is None else str(self.uptime),
            "coverage": str(self.coverage),
            "monitoring_gap": self.monitoring_gap,
            "counted_minutes": self.counted_minutes,
            "excluded_minutes": self.excluded_minutes,
            "credit_amount": None if self.credit_amount is None else str(self.credit_amount),
        }


@dataclass(frozen=True)
class MissedAlert:
    """An outage whose alert went out later than the contract's alert time (or has not gone out yet)."""

    site: str
    start: dt.datetime
    clock_start: dt.datetime  # the first failed check, or the end of the maintenance it started in
    alerted_at: dt.datetime | None
    alert_minutes: int

    @property
    def latency(self) -> dt.timedelta | None:
        return None if self.alerted_at is None else self.alerted_at - self.clock_start

    @property
    def latency_minutes(self) -> str | None:
        latency = self.latency
        return None if latency is None else f"{latency.total_seconds() / 60:.1f}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "start": _instant(self.start),
            "clock_start": _instant(self.clock_start),
            "alerted_at": _instant(self.alerted_at),
            "latency": _duration(self.latency),
            "alert_minutes": self.alert_minutes,
        }


@dataclass(frozen=True)
class SlaReport:
    client: str
    year: int
    month: int
    timezone: str
    start: dt.datetime  # the month's first instant, UTC
    end: dt.datetime  # the next month's first instant, UTC
    now: dt.datetime  # the instant the clocks were judged at
    received: int
    merged: int  # of the received: closed as duplicates of another request (clocks stopped there)
    by_priority: dict[str, int]
    by_type: dict[str, int]
    clocks: tuple[ClockTally, ...]
    incidents: tuple[IncidentLine, ...]
    paused: tuple[PausedTime, ...]
    uptime: tuple[SiteUptime, ...] = ()
    credit: dict[str, Any] | None = None  # the contract's month (monitoring.uptime.ContractMonth.as_json)
    credit_rule: str = ""
    missed_alerts: tuple[MissedAlert, ...] = ()

    @property
    def monitoring_gaps(self) -> tuple[SiteUptime, ...]:
        return tuple(u for u in self.uptime if u.monitoring_gap)

    def tally(self, clock: str, priority: str) -> ClockTally:
        return next(t for t in self.clocks if (t.clock, t.priority) == (clock, priority))

    def pause(self, reason: str) -> PausedTime:
        return next(p for p in self.paused if p.reason == reason)

    def as_dict(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "year": self.year,
            "month": self.month,
            "timezone": self.timezone,
            "start": _instant(self.start),
            "end": _instant(self.end),
            "now": _instant(self.now),
            "received": self.received,
            "merged": self.merged,
            "by_priority": dict(self.by_priority),
            "by_type": dict(self.by_type),
            "clocks": [t.as_dict() for t in self.clocks],
            "incidents": [i.as_dict() for i in self.incidents],
            "paused": [p.as_dict() for p in self.paused],
            "uptime": [u.as_dict() for u in self.uptime],
            "credit": self.credit,
            "credit_rule": self.credit_rule,
            "missed_alerts": [m.as_dict() for m in self.missed_alerts],
        }


# --- building it --------------------------------------------------------------------------------------------


def sla_report(client: Client, year: int, month: int, now: dt.datetime | None = None) -> SlaReport:
    """The month's SLA figures for `client`, its clocks judged as of `now` (default: this instant)."""
    contract = client.contract
    if contract is None:
        raise ReportError(f"client {client.slug!r} has no current contract")
    if not 1 <= month <= 12:
        raise ReportError(f"month {month}: expected 1..12")
    now = now or timezone.now()
    if now.tzinfo is None or now.utcoffset() is None:
        raise ReportError(f"instant {now.isoformat()} has no time zone offset")
    zone = zone_of(contract)
    start, end = month_bounds(year, month, ZoneInfo(zone))
    tickets = list(
        Ticket.objects.filter(client=client, received_at__gte=start, received_at__lt=end)
        .select_related("contract__plan", "calendar_version")
        .order_by("received_at", "id")
    )
    states = {ticket.pk: clocks.evaluate(ticket) for ticket in tickets}
    month_of_sites = contract_month(contract, year, month, now=now)
    return SlaReport(
        client=client.slug,
        year=year,
        month=month,
        timezone=zone,
        start=start,
        end=end,
        now=now,
        received=len(tickets),
        merged=sum(ticket.merged_at is not None for ticket in tickets),
        by_priority=_count(tickets, "priority", Priority.values),
        by_type=_count(tickets, "type", RequestType.values),
        clocks=_tallies(tickets, states, now),
        incidents=tuple(_incident(t, states[t.pk], now) for t in tickets if _is_p1_incident(t)),
        paused=_paused(client, start, min(end, max(now, start))),
        uptime=_uptime(month_of_sites),
        credit=month_of_sites.as_json(),
        credit_rule=month_of_sites.rule,
        missed_alerts=_missed_alerts(month_of_sites, contract.alert_minutes, now),
    )


def _uptime(month_of_sites: ContractMonth) -> tuple[SiteUptime, ...]:
    rows = []
    for figures, credit in zip(month_of_sites.sites, month_of_sites.credit.sites, strict=True):
        data = figures.as_json()
        rows.append(
            SiteUptime(
                site=figures.site.url,
                name=str(figures.site),
                uptime=figures.uptime_decimal,
                coverage=figures.coverage_decimal,
                monitoring_gap=figures.monitoring_gap,
                counted_minutes=str(data["counted_minutes"]),
                excluded_minutes=str(data["excluded_minutes"]),
                credit_amount=credit.credit_amount,
            )
        )
    return tuple(rows)


def _missed_alerts(
    month_of_sites: ContractMonth, alert_minutes: int, now: dt.datetime
) -> tuple[MissedAlert, ...]:
    missed = []
    for figures in month_of_sites.sites:
        for outage in figures.outages:
            if outage.start >= figures.start and outage.missed_alert(alert_minutes, now):
                missed.append(
                    MissedAlert(
                        figures.site.url,
                        outage.start,
                        outage.alert_clock_start,
                        outage.alerted_at,
                        alert_minutes,
                    )
                )
    return tuple(sorted(missed, key=lambda m: m.start))


def _count(tickets: list[Ticket], attribute: str, keys: list[str]) -> dict[str, int]:
    counts = Counter(getattr(ticket, attribute) for ticket in tickets)
    return {key: counts.get(key, 0) for key in keys}


def _tallies(
    tickets: list[Ticket], states: dict[int, dict[str, core_clocks.ClockState]], now: dt.datetime
) -> tuple[ClockTally, ...]:
    tallies = {(c, p): ClockTally(c, p) for c in core_clocks.CLOCKS for p in PRIORITIES}
    for ticket in tickets:
        for name, state in states[ticket.pk].items():
            tallies[name, ticket.priority].add(judged(ticket, state, now))
    return tuple(tallies.values())


def judged(ticket: Ticket, state: core_clocks.ClockState, now: dt.datetime) -> str:
    """The clock's status for the report: as of `now`, or — for a merged duplicate — as of the merge, with a
    clock still undecided there not counted ("none")."""
    if ticket.merged_at is None:
        return state.status(now)
    status = state.status(min(now, ticket.merged_at))
    return status if status in {ON_TIME, LATE, BREACHED} else "none"


def _is_p1_incident(ticket: Ticket) -> bool:
    return ticket.type == RequestType.INCIDENT and ticket.priority == Priority.P1


def _incident(ticket: Ticket, states: dict[str, core_clocks.ClockState], now: dt.datetime) -> IncidentLine:
    history = clocks.history(ticket)
    cal = ticket.calendar_version.to_core()
    lines = []
    for name, state in states.items():
        met = core_clocks.met_at(name, history)
        counted = None
        if met is not None and state.target is not None:
            counted = core_clocks.counted(name, state.target, history, cal, met)
        wall = None if met is None else met - ticket.received_at
        lines.append(
            IncidentClock(name, state.target, state.due, met, wall, counted, judged(ticket, state, now))
        )
    return IncidentLine(ticket.reference, ticket.subject, ticket.received_at, tuple(lines))


def _paused(client: Client, start: dt.datetime, until: dt.datetime) -> tuple[PausedTime, ...]:
    """Pause time per reason within [start, until): wall time, and business time of each ticket's calendar."""
    totals = {reason: PausedTime(reason, label) for reason, label in PauseReason.choices}
    pauses = (
        Pause.objects.filter(ticket__client=client, start__lt=until)
        .filter(Q(end__isnull=True) | Q(end__gt=start))
        .select_related("ticket__calendar_version")
        .order_by("start", "id")
    )
    for pause in pauses:
        lo, hi = max(pause.start, start), min(pause.end or until, until)
        if hi <= lo:
            continue
        total = totals[pause.reason]
        total.pauses += 1
        total.wall += hi - lo
        total.business += pause.ticket.calendar_version.to_core().measure(lo, hi)
    return tuple(totals.values())
