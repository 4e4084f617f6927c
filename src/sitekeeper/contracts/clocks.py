"""A thin bridge from a Contract to core's SLA arithmetic: its calendar, its plan's targets, its batch day.

Everything here only gathers what the contract says and hands it to `sitekeeper.core`; no counting happens
in this module, so the CLI, the desk and the rendered agreement all read the same figures.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sitekeeper.contracts.models import PRIORITIES, Contract
from sitekeeper.core import sla
from sitekeeper.core.calendar import WALL, BusinessCalendar
from sitekeeper.core.targets import Target, parse_target

CLOCKS = ("response", "resolution", "recovery")


class ClockError(ValueError):
    """A priority or target the contract cannot answer for."""


@dataclass(frozen=True)
class ClockDue:
    """One clock of one request: its target (None when the plan sets none) and when it falls due."""

    clock: str
    target: Target | None
    due: dt.datetime | None
    paused: dt.timedelta  # counted time the pauses took off this clock before it fell due


def check_priority(priority: str) -> str:
    value = str(priority).strip().upper()
    if value not in PRIORITIES:
        raise ClockError(f"priority {priority!r}: expected one of {', '.join(PRIORITIES)}")
    return value


def calendar(contract: Contract) -> BusinessCalendar:
    """The core calendar of the contract's calendar version in force now."""
    return contract.calendar.current.to_core()


def targets(contract: Contract, priority: str) -> dict[str, str | None]:
    """clock → target text from the contract's plan (None where the plan sets no target)."""
    level = check_priority(priority)
    return {clock: contract.plan.target(clock, level) for clock in CLOCKS}


def due(
    contract: Contract,
    priority: str,
    received: dt.datetime,
    pauses: Sequence[sla.Pause] = (),
) -> list[ClockDue]:
    """The three clocks of a request received under this contract, in CLOCKS order."""
    cal, batch = calendar(contract), contract.batch_rule()
    result = []
    for clock, text in targets(contract, priority).items():
        if not text:
            result.append(ClockDue(clock, None, None, dt.timedelta()))
            continue
        target = parse_target(text)
        when = sla.due_instant(target, cal, received, pauses, batch=batch)
        result.append(ClockDue(clock, target, when, paused_time(target, cal, received, when, pauses)))
    return result


def paused_time(
    target: Target,
    cal: BusinessCalendar,
    received: dt.datetime,
    until: dt.datetime | None,
    pauses: Sequence[sla.Pause],
) -> dt.timedelta:
    """How much counted time (wall or business, as the target counts) the pauses covered before `until`."""
    if until is None or not pauses:
        return dt.timedelta()
    measure = WALL if target.is_wall_clock else cal
    elapsed = measure.measure(received, until)
    return elapsed - sla.counted_so_far(target, cal, received, until, pauses)
