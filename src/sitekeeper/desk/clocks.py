"""Bridge from a ticket's rows to core.clocks, and back into the ticket's derived columns."""

from __future__ import annotations

import datetime as dt

from sitekeeper.core import clocks as core_clocks
from sitekeeper.core import sla
from sitekeeper.desk.models import Escalation, Event, Pause, RequestType, Ticket


def resolutions(ticket: Ticket) -> tuple[tuple[dt.datetime, dt.datetime | None], ...]:
    """(resolved, reopened or None) pairs from the timeline. A resolution while one still stands (e.g. a
    closed request set to resolved) is not a new one: it would move the instant the request was resolved."""
    pairs: list[tuple[dt.datetime, dt.datetime | None]] = []
    kinds = [Event.Kind.RESOLVED, Event.Kind.REOPENED]
    for kind, at in ticket.events.filter(kind__in=kinds).order_by("at", "id").values_list("kind", "at"):
        standing = bool(pairs) and pairs[-1][1] is None
        if kind == Event.Kind.RESOLVED and not standing:
            pairs.append((at, None))
        elif kind == Event.Kind.REOPENED and standing:
            pairs[-1] = (pairs[-1][0], at)
    return tuple(pairs)


def history(ticket: Ticket) -> core_clocks.History:
    return core_clocks.History(
        received=ticket.received_at,
        # A fresh query, not `ticket.pauses.all()`: a caller's prefetched pauses would miss the one just made.
        pauses=[
            sla.Pause(start, end, reason)
            for start, end, reason in Pause.objects.filter(ticket_id=ticket.pk)
            .order_by("start", "id")
            .values_list("start", "end", "reason")
        ],
        first_response=ticket.first_response_at,
        recovered=ticket.recovered_at,
        resolutions=resolutions(ticket),
        is_incident=ticket.type == RequestType.INCIDENT,
    )


def targets(ticket: Ticket) -> dict[str, str | None]:
    plan = ticket.contract.plan
    return {clock: plan.target(clock, ticket.priority) for clock in core_clocks.CLOCKS}


def evaluate(ticket: Ticket) -> dict[str, core_clocks.ClockState]:
    """The three clocks under the calendar version in force when the ticket arrived."""
    return core_clocks.evaluate_all(
        targets(ticket), history(ticket), ticket.calendar_version.to_core(), ticket.contract.batch_rule()
    )


def pending_checks(
    ticket: Ticket, states: dict[str, core_clocks.ClockState]
) -> list[tuple[dt.datetime, str, str]]:
    """(instant, clock, kind) of every warning/breach not yet sent for the current due instants."""
    sent = set(ticket.escalations.values_list("clock", "kind", "due"))
    checks = []
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
