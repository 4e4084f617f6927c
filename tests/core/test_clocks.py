"""A request's three clocks evaluated from its history (core.clocks): table tests and properties.

The office calendar: Berlin, Mon-Fri 09:00-18:00, German holidays, closed 2026-12-31. February 2026 is CET
(UTC+1): 09:00 = 08:00 UTC, 18:00 = 17:00 UTC. Tue 10 Feb 2026 10:00 CET is the usual receipt.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sitekeeper.core.clocks import CLOCKS, ClockState, History, evaluate, evaluate_all
from sitekeeper.core.sla import Pause
from sitekeeper.core.targets import DEFAULT_BATCH
from tests.core.support import office, utc

CAL = office()
RECEIVED = utc(2026, 2, 10, 9)  # Tue 10:00 CET
PROPERTY = settings(
    max_examples=int(os.environ.get("SITEKEEPER_PROPERTY_EXAMPLES", "200")), deadline=None, database=None
)


def clock(name: str, target: str | None, **history: object) -> ClockState:
    return evaluate(name, target, History(received=RECEIVED, **history), CAL)  # type: ignore[arg-type]


# --- which event meets which clock --------------------------------------------------------------------------


def test_response_is_met_by_the_first_reply_or_the_first_resolution_whichever_is_earlier() -> None:
    replied = clock("response", "8bh", first_response=utc(2026, 2, 10, 12))
    assert (replied.due, replied.met) == (utc(2026, 2, 10, 17), utc(2026, 2, 10, 12))  # due Tue 18:00
    resolved_first = clock(
        "response",
        "8bh",
        first_response=utc(2026, 2, 10, 12),
        resolutions=((utc(2026, 2, 10, 11), utc(2026, 2, 10, 11, 30)),),  # resolved, then reopened
    )
    assert resolved_first.met == utc(2026, 2, 10, 11)


def test_recovery_applies_to_incidents_only_and_is_met_by_recovery_or_resolution() -> None:
    assert clock("recovery", "6h", recovered=utc(2026, 2, 10, 10)).applies is False
    recovered = clock("recovery", "6h", recovered=utc(2026, 2, 10, 12), is_incident=True)
    assert (recovered.due, recovered.met) == (utc(2026, 2, 10, 15), utc(2026, 2, 10, 12))  # 16:00 CET
    by_resolution = clock("recovery", "6h", resolutions=((utc(2026, 2, 10, 11), None),), is_incident=True)
    assert by_resolution.met == utc(2026, 2, 10, 11)


def test_resolution_is_met_only_by_a_resolution_still_standing() -> None:
    reopened = ((utc(2026, 2, 10, 10), utc(2026, 2, 10, 12)),)  # resolved 11:00, reopened 13:00
    running = clock("resolution", "1bd", resolutions=reopened)
    assert running.met is None
    # 9 bh from Tue 10:00, the two business hours it stood resolved not counted: Wed 12:00 CET.
    assert running.due == utc(2026, 2, 11, 11)
    again = clock("resolution", "1bd", resolutions=(*reopened, (utc(2026, 2, 11, 10), None)))
    assert (again.due, again.met) == (utc(2026, 2, 11, 11), utc(2026, 2, 11, 10))
    assert again.status(utc(2026, 3, 1)) == "met"


def test_the_resolved_interval_does_not_pause_the_response_clock() -> None:
    reopened = ((utc(2026, 2, 10, 10), utc(2026, 2, 10, 12)),)
    assert clock("response", "2bd", resolutions=reopened).met == utc(2026, 2, 10, 10)


# --- pauses -------------------------------------------------------------------------------------------------


def test_a_pause_pushes_wall_clock_targets_by_wall_time_and_business_targets_by_business_time() -> None:
    night = (Pause(utc(2026, 2, 10, 19), utc(2026, 2, 10, 21), "waiting_information"),)  # Tue 20-22 CET
    assert clock("response", "12h", pauses=night).due == utc(2026, 2, 10, 23)  # 21:00 UTC + 2 h
    assert clock("response", "12bh", pauses=night).due == utc(2026, 2, 11, 12)  # Wed 13:00, unmoved


def test_an_open_pause_stops_the_clock_unless_it_fell_due_before() -> None:
    open_pause = (Pause(utc(2026, 2, 10, 12), None, "waiting_access"),)
    stopped = clock("response", "8bh", pauses=open_pause)
    assert (stopped.due, stopped.paused) == (None, True)
    assert stopped.status(utc(2026, 2, 20)) == "paused"
    # A pause opened after the due instant changes nothing: the clock breached before it began.
    late_pause = (Pause(utc(2026, 2, 10, 18), None, "waiting_access"),)
    breached = clock("response", "8bh", pauses=late_pause)
    assert breached.due == utc(2026, 2, 10, 17)
    assert breached.status(utc(2026, 2, 10, 19)) == "breached"


def test_pauses_after_the_clock_was_met_change_nothing() -> None:
    after = (Pause(utc(2026, 2, 10, 13), None, "waiting_approval"),)
    met = clock("response", "8bh", first_response=utc(2026, 2, 10, 12), pauses=after)
    assert (met.due, met.paused) == (utc(2026, 2, 10, 17), False)
    # Met inside a pause: the pause counts up to the reply only.
    inside = clock(
        "response",
        "8bh",
        first_response=utc(2026, 2, 10, 16),
        pauses=(Pause(utc(2026, 2, 10, 15), None, "waiting_information"),),
    )
    assert inside.due == utc(2026, 2, 11, 9)  # one business hour paused (16:00-17:00 CET): Wed 10:00 CET
    assert inside.status(utc(2026, 2, 12)) == "met"


# --- status -------------------------------------------------------------------------------------------------

STATUS_TABLE = [
    # (target, history, now, status)
    (None, {}, utc(2026, 2, 10, 10), "none"),
    ("8bh", {}, utc(2026, 2, 10, 10), "running"),  # Tue 11:00
    ("8bh", {}, utc(2026, 2, 10, 15), "warning"),  # 6 bh = 75 % at Tue 16:00 CET
    ("8bh", {}, utc(2026, 2, 10, 14, 59), "running"),
    ("8bh", {}, utc(2026, 2, 10, 17), "warning"),  # the due instant itself is not past it
    ("8bh", {}, utc(2026, 2, 10, 17, 0, second=1), "breached"),
    ("8bh", {"first_response": utc(2026, 2, 10, 17)}, utc(2026, 2, 12), "met"),
    ("8bh", {"first_response": utc(2026, 2, 10, 17, 1)}, utc(2026, 2, 12), "met_late"),
    ("8bh", {"first_response": utc(2026, 2, 10, 17, 1)}, utc(2026, 2, 10, 10), "met_late"),
    ("8bh", {"pauses": (Pause(utc(2026, 2, 10, 10)),)}, utc(2026, 2, 20), "paused"),
]


@pytest.mark.parametrize(("target", "history", "now", "status"), STATUS_TABLE)
def test_status(target: str | None, history: dict, now: dt.datetime, status: str) -> None:
    assert clock("response", target, **history).status(now) == status


def test_warning_instant_is_three_quarters_of_the_counted_target() -> None:
    state = clock("response", "4h", pauses=(Pause(utc(2026, 2, 10, 10), utc(2026, 2, 10, 11)),))
    assert (state.warn, state.due) == (utc(2026, 2, 10, 13), utc(2026, 2, 10, 14))  # 3 h + 1 h paused


def test_evaluate_all_gives_every_clock_and_none_where_the_plan_sets_no_target() -> None:
    history = History(received=RECEIVED, is_incident=True)
    states = evaluate_all({"response": "4h", "resolution": "", "recovery": None}, history, CAL, DEFAULT_BATCH)
    assert tuple(states) == CLOCKS
    assert [states[name].applies for name in CLOCKS] == [True, False, False]
    assert states["response"].due == utc(2026, 2, 10, 13)


def test_history_knows_the_standing_and_the_first_resolution() -> None:
    first, second = utc(2026, 2, 10, 10), utc(2026, 2, 11, 10)
    assert History(RECEIVED).resolved is None
    reopened = History(RECEIVED, resolutions=((first, utc(2026, 2, 10, 12)),))
    assert (reopened.resolved, reopened.first_resolved) == (None, first)
    again = History(RECEIVED, resolutions=((first, utc(2026, 2, 10, 12)), (second, None)))
    assert (again.resolved, again.first_resolved) == (second, first)


# --- properties ---------------------------------------------------------------------------------------------

HOUR = 3600
instants = st.integers(0, 30 * 24 * HOUR).map(lambda s: RECEIVED + dt.timedelta(seconds=s))
targets = st.sampled_from(["30m", "4h", "24h", "8bh", "12bh", "1bd", "3bd", "same_bd", "next_bd"])


@st.composite
def pauses(draw: st.DrawFn) -> tuple[Pause, ...]:
    """0-3 pauses within four weeks of receipt, an hour to four days long; sometimes the last is open."""
    result = []
    for _ in range(draw(st.integers(0, 3))):
        start = draw(instants)
        length = draw(st.integers(60, 4 * 24 * HOUR))
        result.append(Pause(start, start + dt.timedelta(seconds=length), "waiting_information"))
    if result and draw(st.booleans()) and draw(st.booleans()):
        result[-1] = Pause(result[-1].start, None, "waiting_information")
    return tuple(result)


@st.composite
def histories(draw: st.DrawFn) -> History:
    first_response = draw(st.none() | instants)
    recovered = draw(st.none() | instants)
    moments = sorted(draw(st.lists(instants, max_size=4, unique=True)))
    resolutions = [(a, b) for a, b in zip(moments[::2], moments[1::2], strict=False)]
    if len(moments) % 2:
        resolutions.append((moments[-1], None))  # the last resolution is still standing
    return History(
        received=RECEIVED,
        pauses=draw(pauses()),
        first_response=first_response,
        recovered=recovered,
        resolutions=tuple(resolutions),
        is_incident=True,
    )


@PROPERTY
@given(name=st.sampled_from(CLOCKS), target=targets, history=histories(), now=instants)
def test_a_met_clock_is_met_or_met_late_and_late_only_when_met_after_its_due_instant(
    name: str, target: str, history: History, now: dt.datetime
) -> None:
    state = evaluate(name, target, history, CAL)
    if state.met is None:
        return
    assert state.due is not None  # met: every pause that mattered is closed
    expected = "met_late" if state.met > state.due else "met"
    assert state.status(now) == expected


@PROPERTY
@given(name=st.sampled_from(CLOCKS), target=targets, history=histories(), extra=pauses())
def test_adding_a_pause_never_brings_a_due_instant_earlier(
    name: str, target: str, history: History, extra: tuple[Pause, ...]
) -> None:
    before = evaluate(name, target, history, CAL)
    longer = dataclasses.replace(history, pauses=(*history.pauses, *extra))
    after = evaluate(name, target, longer, CAL)
    if before.due is None:
        assert after.due is None  # stopped by an open pause: more pauses do not restart it
    elif after.due is not None:
        assert after.due >= before.due
    assert after.met == before.met  # pauses never change when a clock was met


RANK = {"running": 0, "warning": 1, "paused": 2, "breached": 3}


@PROPERTY
@given(
    name=st.sampled_from(CLOCKS), target=targets, history=histories(), times=st.lists(instants, min_size=2)
)
def test_status_only_moves_forward_as_time_passes(
    name: str, target: str, history: History, times: list[dt.datetime]
) -> None:
    state = evaluate(name, target, history, CAL)
    seen = [state.status(now) for now in sorted(times)]
    if state.met is not None:
        assert len(set(seen)) == 1  # met or met_late, whenever one looks
        return
    ranks = [RANK[status] for status in seen]
    assert ranks == sorted(ranks)
    if state.paused and state.due is None:
        assert set(seen) == {"paused"}


@PROPERTY
@given(name=st.sampled_from(CLOCKS), target=targets, history=histories())
def test_the_warning_comes_no_later_than_the_due_instant_and_neither_before_receipt(
    name: str, target: str, history: History
) -> None:
    state = evaluate(name, target, history, CAL)
    if state.due is not None:
        assert state.warn is not None
        assert RECEIVED <= state.warn <= state.due
