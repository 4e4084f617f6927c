"""Bridge from a ticket's rows to core.clocks, and back into the ticket's derived columns.

Per ticket (`history`, `evaluate`, `pending_checks`) for a ticket page or a change, and in batches
(`histories`, `evaluate_many`, `sent_notices`) for the escalation pass: the same readings, with pauses,
resolutions and sent notices of a whole batch in one query each instead of one each per ticket. Both read
the rows fresh when called, never a caller's prefetched cache (it would miss the pause just made).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence

from sitekeeper.core import clocks as core_clocks
from sitekeeper.core import sla
from sitekeeper.core.calendar import BusinessCalendar
from sitekeeper.core.targets import MonthlyBatch
from sitekeeper.desk.models import Escalation, Event, Pause, RequestType, Ticket


def resolutions(ticket: Ticket) -> tuple[tuple[dt.datetime, dt.datetime | None], ...]:
    """(resolved, reopened or None) pairs from the timeline. A resolution while one still stands (e.g. a
    closed request set to resolved) is not a new one: it would move the instant the request was resolved."""
    kinds = [Event.Kind.RESOLVED, Event.Kind.REOPENED]
    return _resolutions(ticket.events.filter(kind__in=kinds).order_by("at", "id").values_list("kind", "at"))


def _resolutions(
    timeline: Iterable[tuple[str, dt.datetime]],
) -> tuple[tuple[dt.datetime, dt.datetime | None], ...]:
    """resolutions() from (kind, at) of the RESOLVED and REOPENED events, in timeline order."""
    pairs: list[tuple[dt.datetime, dt.datetime | None]] = []
    for kind, at in timeline:
        standing = bool(pairs) and pairs[-1][1] is None
        if kind == Event.Kind.RESOLVED and not standing:
            pairs.append((at, None))
        elif kind == Event.Kind.REOPENED and standing:
            pairs[-1] = (pairs[-1][0], at)
    return tuple(pairs)


def history(ticket: Ticket) -> core_clocks.History:
    return _history(
        ticket,
        # A fresh query, not `ticket.pauses.all()`: a caller's prefetched pauses would miss the one just made.
        [
            sla.Pause(start, end, reason)
            for start, end, reason in Pause.objects.filter(ticket_id=ticket.pk)
            .order_by("start", "id")
            .values_list("start", "end", "reason")
        ],
        resolutions(ticket),
    )


def _history(
    ticket: Ticket,
    pauses: list[sla.Pause],
    resolved: tuple[tuple[dt.datetime, dt.datetime | None], ...],
) -> core_clocks.History:
    return core_clocks.History(
        received=ticket.received_at,
        pauses=pauses,
        first_response=ticket.first_response_at,
        recovered=ticket.recovered_at,
        resolutions=resolved,
        is_incident=ticket.type == RequestType.INCIDENT,
    )


def histories(tickets: Sequence[Ticket]) -> dict[int, core_clocks.History]:
    """history() of each ticket, by pk: two queries for the lot (pauses, then resolutions and reopenings)."""
    ids = [ticket.pk for ticket in tickets]
    pauses: dict[int, list[sla.Pause]] = defaultdict(list)
    for ticket_id, start, end, reason in (
        Pause.objects.filter(ticket_id__in=ids)
        .order_by("ticket_id", "start", "id")
        .values_list("ticket_id", "start", "end", "reason")
    ):
        pauses[ticket_id].append(sla.Pause(start, end, reason))
    timelines: dict[int, list[tuple[str, dt.datetime]]] = defaultdict(list)
    for ticket_id, kind, at in (
        Event.objects.filter(ticket_id__in=ids, kind__in=[Event.Kind.RESOLVED, Event.Kind.REOPENED])
        .order_by("ticket_id", "at", "id")
        .values_list("ticket_id", "kind", "at")
    ):
        timelines[ticket_id].append((kind, at))
    found = {}
    for ticket in tickets:
        found[ticket.pk] = _history(ticket, pauses[ticket.pk], _resolutions(timelines[ticket.pk]))
    return found


def targets(ticket: Ticket) -> dict[str, str | None]:
    plan = ticket.contract.plan
    return {clock: plan.target(clock, ticket.priority) for clock in core_clocks.CLOCKS}


def evaluate(ticket: Ticket) -> dict[str, core_clocks.ClockState]:
    """The three clocks under the calendar version in force when the ticket arrived."""
    return core_clocks.evaluate_all(
        targets(ticket), history(ticket), ticket.calendar_version.to_core(), ticket.contract.batch_rule()
    )


def evaluate_many(tickets: Sequence[Ticket]) -> dict[int, dict[str, core_clocks.ClockState]]:
    """evaluate() of each ticket, by pk, from histories() (two queries). Load the tickets with their
    contract, plan and calendar_version (select_related), or each of those is one more query per ticket."""
    found = histories(tickets)
    calendars: dict[int, BusinessCalendar] = {}  # each to_core() serialises the calendar's rules
    batches: dict[int, MonthlyBatch] = {}
    states = {}
    for ticket in tickets:
        calendar = calendars.get(ticket.calendar_version_id)
        if calendar is None:
            calendar = calendars[ticket.calendar_version_id] = ticket.calendar_version.to_core()
        batch = batches.get(ticket.contract_id)
        if batch is None:
            batch = batches[ticket.contract_id] = ticket.contract.batch_rule()
        states[ticket.pk] = core_clocks.evaluate_all(targets(ticket), found[ticket.pk], calendar, batch)
    return states


Sent = set[tuple[str, str, dt.datetime]]  # (clock, kind, due) of the notices sent for one ticket


def sent_notices(tickets: Sequence[Ticket]) -> dict[int, Sent]:
    """The (clock, kind, due) of every Escalation row of each ticket, by pk: one query for the lot."""
    sent: dict[int, Sent] = {ticket.pk: set() for ticket in tickets}
    for ticket_id, clock, kind, due in Escalation.objects.filter(ticket_id__in=list(sent)).values_list(
        "ticket_id", "clock", "kind", "due"
    ):
        sent[ticket_id].add((clock, kind, due))
    return sent


# The after-hours page of a P1 (agreement 2.2) as an escalation check: (clock, kind); its `due` is the
# instant the request became P1 after hours, so each such episode pages once.
PAGE_CLOCK = "emergency"


def pending_checks(
    ticket: Ticket, states: dict[str, core_clocks.ClockState], sent: Sent | None = None
) -> list[tuple[dt.datetime, str, str]]:
    """(instant, clock, kind) of every warning/breach not yet sent for the current due instants, and of the
    after-hours page of a P1 not yet sent; `sent` is the ticket's entry from sent_notices() (read fresh when
    not given)."""
    if sent is None:
        sent = set(ticket.escalations.values_list("clock", "kind", "due"))
    checks = []
    page_at = ticket.after_hours_p1_at
    if page_at is not None and (PAGE_CLOCK, Escalation.Kind.PAGE, page_at) not in sent:
        checks.append((page_at, PAGE_CLOCK, Escalation.Kind.PAGE))
    for name, state in states.items():
        if state.due is None or state.met is not None:
            continue
        for kind, instant in ((Escalation.Kind.WARNING, state.warn), (Escalation.Kind.BREACH, state.due)):
            if instant is not None and (name, kind, state.due) not in sent:
                checks.append((instant, name, kind))
    return sorted(checks)


def recompute(ticket: Ticket, save: bool = True) -> dict[str, core_clocks.ClockState]:
    """Rebuild the derived clock columns from the history; called after every change."""
    states = evaluate(ticket)
    for name, state in states.items():
        setattr(ticket, f"{name}_due", state.due)
        setattr(ticket, f"{name}_met_at", state.met)
    unmet = [s.due for s in states.values() if s.due is not None and s.met is None]
    ticket.next_due_at = min(unmet) if unmet and ticket.is_open else None
    checks = pending_checks(ticket, states) if ticket.is_open else []
    ticket.next_check_at = checks[0][0] if checks else None
    if save:
        Ticket.objects.filter(pk=ticket.pk).update(
            **{f"{name}_due": s.due for name, s in states.items()},
            **{f"{name}_met_at": s.met for name, s in states.items()},
            next_due_at=ticket.next_due_at,
            next_check_at=ticket.next_check_at,
        )
    return states
