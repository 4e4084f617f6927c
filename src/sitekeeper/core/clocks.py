"""A request's three SLA clocks, evaluated from its history (no Django).

The desk stores what happened — receipt, pauses, the first substantive staff reply, "function restored",
each resolution and reopening — and recomputes every clock from that history on every change, so nothing
drifts. The readings (DESIGN.md):
- response: met by the first substantive staff reply (an automatic acknowledgement does not count);
  resolving a request also answers it;
- recovery (incidents): met by the "function restored" action, or by the resolution if that comes first;
- resolution: met by the last resolution still standing; a reopening resumes the clock, and the time between
  a resolution and its reopening does not count (it is treated as a pause);
- a clock breaches when its due instant passes unmet, and stays breached if met later;
- a priority change recomputes from receipt with the new target and keeps every pause.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from sitekeeper.core.calendar import BusinessCalendar
from sitekeeper.core.sla import Pause, counted_so_far, due_instant
from sitekeeper.core.targets import DEFAULT_BATCH, MonthlyBatch

CLOCKS = ("response", "resolution", "recovery")
WARN_AT = Fraction(3, 4)


@dataclass(frozen=True)
class History:
    received: dt.datetime
    pauses: Sequence[Pause] = ()
    first_response: dt.datetime | None = None
    recovered: dt.datetime | None = None
    # (resolved_at, reopened_at or None) in order; only the last may be still standing
    resolutions: Sequence[tuple[dt.datetime, dt.datetime | None]] = field(default_factory=tuple)
    is_incident: bool = False

    @property
    def resolved(self) -> dt.datetime | None:
        if self.resolutions and self.resolutions[-1][1] is None:
            return self.resolutions[-1][0]
        return None

    @property
    def first_resolved(self) -> dt.datetime | None:
        return self.resolutions[0][0] if self.resolutions else None


@dataclass(frozen=True)
class ClockState:
    clock: str
    target: str | None
    due: dt.datetime | None  # None: no target, or stopped by an open pause
    warn: dt.datetime | None  # the 75 % instant
    met: dt.datetime | None
    paused: bool

    @property
    def applies(self) -> bool:
        return self.target is not None

    def breached(self, now: dt.datetime) -> bool:
        if self.due is None:
            return False
        return (self.met if self.met is not None else now) > self.due

    def status(self, now: dt.datetime) -> str:
        """none | met | met_late | breached | paused | warning | running"""
        if not self.applies:
            return "none"
        if self.met is not None:
            return "met_late" if self.breached(now) else "met"
        if self.breached(now):
            return "breached"
        if self.paused:
            return "paused"
        if self.warn is not None and now >= self.warn:
            return "warning"
        return "running"


def _earliest(*instants: dt.datetime | None) -> dt.datetime | None:
    present = [instant for instant in instants if instant is not None]
    return min(present) if present else None


def _met_and_pauses(clock: str, history: History) -> tuple[dt.datetime | None, list[Pause]]:
    pauses = list(history.pauses)
    if clock == "response":
        return _earliest(history.first_response, history.first_resolved), pauses
    if clock == "recovery":
        return _earliest(history.recovered, history.first_resolved), pauses
    # resolution: time spent resolved-then-reopened does not count
    pauses += [
        Pause(resolved, reopened, "resolved") for resolved, reopened in history.resolutions if reopened
    ]
    return history.resolved, pauses


def met_at(clock: str, history: History) -> dt.datetime | None:
    """When the clock was met by the history alone, target or not (the report prints it either way)."""
    if clock == "recovery" and not history.is_incident:
        return None
    return _met_and_pauses(clock, history)[0]


def counted(
    clock: str, target: str, history: History, cal: BusinessCalendar, until: dt.datetime
) -> dt.timedelta:
    """Counted time on a clock from receipt to `until`, as its target counts (wall time for m/h, business
    time otherwise), without its pauses — for resolution also without the time it stood resolved."""
    _, pauses = _met_and_pauses(clock, history)
    return counted_so_far(target, cal, history.received, until, pauses)


def evaluate(
    clock: str,
    target: str | None,
    history: History,
    cal: BusinessCalendar,
    batch: MonthlyBatch = DEFAULT_BATCH,
) -> ClockState:
    if clock == "recovery" and not history.is_incident:
        target = None
    if not target:
        return ClockState(clock, None, None, None, None, paused=False)
    met, pauses = _met_and_pauses(clock, history)
    # Pauses only matter until the clock is met; a pause after that changes nothing.
    if met is not None:
        pauses = [
            Pause(p.start, met if p.end is None or p.end > met else p.end, p.reason)
            for p in pauses
            if p.start < met
        ]
    due = due_instant(target, cal, history.received, pauses, batch=batch)
    warn = due_instant(target, cal, history.received, pauses, batch=batch, fraction=WARN_AT)
    paused = met is None and any(p.end is None for p in pauses)
    return ClockState(clock, target, due, warn, met, paused=paused)


def evaluate_all(
    targets: dict[str, str | None],
    history: History,
    cal: BusinessCalendar,
    batch: MonthlyBatch = DEFAULT_BATCH,
) -> dict[str, ClockState]:
    return {clock: evaluate(clock, targets.get(clock), history, cal, batch) for clock in CLOCKS}
