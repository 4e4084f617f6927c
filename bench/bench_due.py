"""Due-instant throughput: how many SLA due instants one core computes per second.

Run from the repository root:  .venv/bin/python bench/bench_due.py [--count N] [--profile]

A Berlin calendar with German public holidays, a lunch break and year-end closures; a deterministic
(seeded) mix of all seven target kinds, receipt instants spread over two years (2026-2027), about half of
them with one to three pauses. Inputs are built before the clock starts, so only the arithmetic is timed:
parsing the target, its counted length, and walking the pauses to the due instant. The checksum over the
results lets a speed-up show that it changed no result.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import pstats
import random
import time

from sitekeeper.core.calendar import BusinessCalendar
from sitekeeper.core.sla import Pause, due_instant
from sitekeeper.core.targets import MonthlyBatch

SEED = 20261122
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
SPAN = dt.timedelta(days=2 * 365)
# Each kind with a generator of its target text (amounts in the range plans use).
KINDS = {
    "m": lambda rng: f"{rng.choice((15, 30, 60, 120))}m",
    "h": lambda rng: f"{rng.choice((1, 2, 4, 8, 24))}h",
    "bh": lambda rng: f"{rng.choice((2, 4, 8, 16))}bh",
    "bd": lambda rng: f"{rng.randint(1, 5)}bd",
    "same_bd": lambda rng: "same_bd",
    "next_bd": lambda rng: "next_bd",
    "next_cycle": lambda rng: "next_cycle",
}

Case = tuple[str, dt.datetime, tuple[Pause, ...]]


def make_calendar() -> BusinessCalendar:
    return BusinessCalendar.from_spec(
        "Europe/Berlin",
        dict.fromkeys(("mon", "tue", "wed", "thu", "fri"), ("09:00-12:00", "13:00-18:00")),
        holidays={"country": "DE", "subdivision": None},
        closures=["2026-12-31", "2027-12-31"],
    )


def make_cases(count: int) -> list[Case]:
    rng = random.Random(SEED)
    makers = list(KINDS.values())
    cases = []
    for _ in range(count):
        text = rng.choice(makers)(rng)
        received = START + dt.timedelta(seconds=rng.randrange(int(SPAN.total_seconds())))
        pauses: list[Pause] = []
        if rng.random() < 0.5:
            for _ in range(rng.randint(1, 3)):
                # From two hours before receipt (clipped) to five days after; 5 minutes to 3 days long.
                start = received + dt.timedelta(minutes=rng.randint(-120, 5 * 24 * 60))
                pauses.append(Pause(start, start + dt.timedelta(minutes=rng.randint(5, 3 * 24 * 60))))
        cases.append((text, received, tuple(pauses)))
    return cases


def run(count: int, profile: bool) -> None:
    cal = make_calendar()
    batch = MonthlyBatch.parse("2nd tue")
    cases = make_cases(count)
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    began, began_cpu = time.perf_counter(), time.process_time()
    checksum = 0
    for text, received, pauses in cases:
        due = due_instant(text, cal, received, pauses, batch=batch)
        if due is not None:
            checksum = (checksum * 31 + int(due.timestamp() * 1_000_000)) % (1 << 61)
    elapsed, cpu = time.perf_counter() - began, time.process_time() - began_cpu
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(20)
    # Wall time is the figure; CPU time of this process shows what other load on the machine took from it.
    print(f"{count} due instants in {elapsed:.3f} s wall, {cpu:.3f} s CPU, one core")
    print(f"{count / elapsed:,.0f} computations/s wall ({count / cpu:,.0f}/s of CPU time)")
    print(f"checksum {checksum}")


def main() -> None:
    parser = argparse.ArgumentParser(description="Due-instant throughput on one core.")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--profile", action="store_true", help="print a cProfile summary (slower)")
    args = parser.parse_args()
    run(args.count, args.profile)


if __name__ == "__main__":
    main()
