"""Service desk at scale: the escalation pass over 50,000 open requests, and the staff queue page.

Run from the repository root against PostgreSQL; the script creates the database, migrates it, fills it and
drops it at the end (--keep leaves it):

    SITEKEEPER_DATABASE_URL=postgres://postgres@127.0.0.1:5432/sitekeeper_bench \\
        .venv/bin/python bench/bench_desk.py

The data: 40 clients (ten per built-in plan, with resolution targets added), one Berlin calendar (German
holidays, lunch break), 8 engineers, and --tickets open requests (seeded random priority, type, state and
assignee; received over the last 14 days; 15 % waiting for the client with an open pause). Their clock columns
are computed with core.clocks exactly as desk.clocks.recompute would, and every warning/breach reached by NOW
is stored as already sent (Escalation rows) — except, for --due randomly chosen tickets, the latest one, so
those few hundred are due for a check. Rows are written with bulk_create, not through desk.services.

(a) One escalation pass at NOW (Monday 2026-11-23 11:00 Berlin, in business hours), timed in full: the indexed
    query, the row claims, the clock evaluations, the notices (Escalation, Event and Delivery rows, queued for
    sending on commit) and the rescheduling. Between runs the pass's writes are undone, so each run finds the
    same due tickets. Goal: < 2 s.
(b) GET /staff/desk/ (the queue, first page, default filter) with Django's test client as an engineer.
    Goal: median < 300 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

SEED = 20261122
NOW = dt.datetime(2026, 11, 23, 11, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(dt.UTC)
PLANS = ("starter", "professional", "business", "enterprise")
RESOLUTION = {
    "starter": {"P1": "3bd", "P2": "5bd", "P3": "10bd", "P4": "next_cycle"},
    "professional": {"P1": "1bd", "P2": "3bd", "P3": "5bd", "P4": "10bd"},
    "business": {"P1": "8h", "P2": "2bd", "P3": "4bd", "P4": "8bd"},
    "enterprise": {"P1": "4h", "P2": "1bd", "P3": "2bd", "P4": "4bd"},
}
PRIORITIES = (("P1", 5), ("P2", 20), ("P3", 45), ("P4", 30))
TYPES = ("incident", "bug", "change_request", "update", "question")
HOURS = {day: ["09:00-12:00", "13:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
ESCALATION_LIST = "escalate@agency.test,lead@agency.test"


# --- database and Django --------------------------------------------------------------------------------
def admin_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"}:
        sys.exit("bench_desk: set SITEKEEPER_DATABASE_URL=postgres://…/sitekeeper_bench (PostgreSQL only)")
    return urlunsplit(parts._replace(scheme="postgresql", path="/postgres")), parts.path.lstrip("/")


def recreate_database(url: str) -> None:
    import psycopg

    admin, name = admin_url(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    admin, name = admin_url(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def setup_django() -> None:
    os.environ.setdefault("SITEKEEPER_HOME", tempfile.mkdtemp(prefix="bench_desk_"))
    os.environ["SITEKEEPER_ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
    os.environ["SITEKEEPER_ESCALATION_EMAILS"] = ESCALATION_LIST
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sitekeeper.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


# --- data -----------------------------------------------------------------------------------------------
def seed_agency() -> tuple[list, list, object]:
    from decimal import Decimal

    from sitekeeper.access.models import Role, User
    from sitekeeper.contracts.models import Calendar, CalendarVersion, Client, Contact, Contract, Plan, Site

    calendar = Calendar.objects.create(slug="hq", name="Berlin office")
    version = CalendarVersion.objects.create(
        calendar=calendar,
        number=1,
        timezone="Europe/Berlin",
        hours=HOURS,
        holiday_country="DE",
        closures=["2026-12-31"],
    )
    for slug, targets in RESOLUTION.items():
        Plan.objects.filter(slug=slug).update(resolution_targets=targets)
    contracts = []
    for index in range(40):
        slug = f"client-{index:02d}"
        client = Client.objects.create(slug=slug, name=f"Client {index:02d}")
        Contact.objects.create(client=client, name="Owner", email=f"owner@{slug}.test", role="product_owner")
        Contact.objects.create(
            client=client, name="Oncall", email=f"oncall@{slug}.test", role="emergency", phone="+49 30 1"
        )
        Site.objects.create(client=client, url=f"https://{slug}.test", name=slug)
        contracts.append(
            Contract.objects.create(
                client=client,
                plan=Plan.objects.get(slug=PLANS[index % 4]),
                calendar=calendar,
                start=dt.date(2026, 1, 1),
                monthly_fee=Decimal("900.00"),
                currency="EUR",
            )
        )
    engineers = []
    for index in range(8):
        user = User(username=f"engineer{index}", email=f"engineer{index}@agency.test", role=Role.ENGINEER)
        user.set_unusable_password()
        user.save()
        engineers.append(user)
    return contracts, engineers, version


Notice = tuple[dt.datetime, str, str, dt.datetime]  # (instant, clock, kind, due)


def clock_rows(ticket, pauses, version) -> list[Notice]:
    """Set the ticket's clock columns as desk.clocks.recompute would; return the notices reached by NOW."""
    from sitekeeper.core import clocks as core_clocks
    from sitekeeper.core import sla

    plan = ticket.contract.plan
    history = core_clocks.History(
        received=ticket.received_at,
        pauses=[sla.Pause(start, None, "waiting_information") for start in pauses],
        is_incident=ticket.type == "incident",
    )
    targets = {clock: plan.target(clock, ticket.priority) for clock in core_clocks.CLOCKS}
    states = core_clocks.evaluate_all(targets, history, version.to_core(), ticket.contract.batch_rule())
    checks = []
    for name, state in states.items():
        setattr(ticket, f"{name}_due", state.due)
        if state.due is not None:
            checks += [(state.warn, name, "warning", state.due), (state.due, name, "breach", state.due)]
    dues = [state.due for state in states.values() if state.due is not None]
    ticket.next_due_at = min(dues) if dues else None
    later = [check[0] for check in checks if check[0] > NOW]
    ticket.next_check_at = min(later) if later else None
    return sorted(check for check in checks if check[0] <= NOW)


def seed_tickets(count: int, due: int, contracts, engineers, version) -> int:
    from sitekeeper.desk.models import Escalation, Event, Pause, Ticket

    rng = random.Random(SEED)
    priorities = [p for p, weight in PRIORITIES for _ in range(weight)]
    for contract in contracts:
        contract.site = contract.client.sites.get()
    tickets, pauses_of, sent_of = [], [], []
    for _ in range(count):
        contract = rng.choice(contracts)
        received = NOW - dt.timedelta(seconds=rng.randrange(14 * 24 * 3600))
        state = rng.choices(("new", "open", "waiting_information"), (30, 55, 15))[0]
        pause = received + dt.timedelta(minutes=30) if state == "waiting_information" else None
        ticket = Ticket(
            client=contract.client,
            contract=contract,
            calendar_version=version,
            site=contract.site,
            environment="prod",
            type=rng.choice(TYPES),
            priority=rng.choice(priorities),
            priority_confirmed=True,
            subject=f"Request {_}",
            description="Something on the site needs attention.",
            state=state,
            channel="portal",
            assignee=rng.choice(engineers) if rng.random() < 0.7 else None,
            received_at=received,
        )
        pauses_of.append([pause] if pause and pause < NOW else [])
        sent_of.append(clock_rows(ticket, pauses_of[-1], version))
        tickets.append(ticket)
    # The due ones: the latest notice each has reached is not sent yet (the worker was busy a minute ago).
    reached = [index for index, sent in enumerate(sent_of) if sent]
    for index in rng.sample(reached, min(due, len(reached))):
        tickets[index].next_check_at = sent_of[index].pop()[0]
    Ticket.objects.bulk_create(tickets, batch_size=2000)
    Event.objects.bulk_create(
        (Event(ticket=t, kind="received", at=t.received_at, actor_label="client") for t in tickets),
        batch_size=5000,
    )
    Pause.objects.bulk_create(
        (
            Pause(ticket=t, reason="waiting_information", start=start)
            for t, starts in zip(tickets, pauses_of, strict=True)
            for start in starts
        ),
        batch_size=5000,
    )
    Escalation.objects.bulk_create(
        (
            Escalation(ticket=t, clock=clock, kind=kind, due=due, at=instant + dt.timedelta(minutes=1))
            for t, sent in zip(tickets, sent_of, strict=True)
            for instant, clock, kind, due in sent
        ),
        batch_size=5000,
    )
    return Escalation.objects.count()


# --- measurements ---------------------------------------------------------------------------------------
def undo_pass(saved: dict[int, dt.datetime | None]) -> None:
    from sitekeeper.desk.models import Escalation, Event, Ticket
    from sitekeeper.notify.models import Delivery

    Escalation.objects.filter(at=NOW).delete()
    Event.objects.filter(kind__in=["warning", "breach"]).delete()
    Delivery.objects.all().delete()
    tickets = list(Ticket.objects.filter(pk__in=saved).only("pk", "next_check_at"))
    for ticket in tickets:
        ticket.next_check_at = saved[ticket.pk]
    Ticket.objects.bulk_update(tickets, ["next_check_at"])


def time_calls(module: object, name: str, totals: dict[str, float]) -> None:
    """Add the time spent in module.name to totals[name] (to split the pass's time by who spends it)."""
    real = getattr(module, name)

    def timed(*args: object, **kwargs: object) -> object:
        began = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            totals[name] += time.perf_counter() - began

    setattr(module, name, timed)


def bench_pass(runs: int) -> list[float]:
    from sitekeeper.desk.escalation import BATCH, escalation_pass
    from sitekeeper.desk.models import Ticket
    from sitekeeper.notify import seam
    from sitekeeper.notify.models import Delivery

    totals = {"_record": 0.0, "_enqueue": 0.0}
    time_calls(seam, "_record", totals)  # recording deliveries: in notify(), or where a batched() block ends
    time_calls(seam, "_enqueue", totals)  # queueing them for sending after each commit (one task per commit)

    due = dict(Ticket.objects.filter(next_check_at__lte=NOW).values_list("pk", "next_check_at"))
    query = Ticket.objects.filter(next_check_at__lte=NOW).order_by("next_check_at", "pk")
    plan = query.values_list("next_check_at", "pk")[:BATCH].explain()
    print(f"due for a check at {NOW:%Y-%m-%d %H:%M} UTC: {len(due)} tickets; the pass's query:")
    print("    " + plan.replace("\n", "\n    "))
    seconds = []
    for run in range(runs):
        totals.update(_record=0.0, _enqueue=0.0)
        began = time.perf_counter()
        summary = escalation_pass(NOW)
        seconds.append(time.perf_counter() - began)
        deliveries = Delivery.objects.count()
        print(f"  run {run + 1}: {seconds[-1]:.3f} s — {summary}")
        print(
            f"         {deliveries} deliveries; recording them {totals['_record']:.3f} s, "
            f"queueing them after commit {totals['_enqueue']:.3f} s"
        )
        if run == 0:
            quiet = time.perf_counter()
            idle = escalation_pass(NOW)
            quiet = (time.perf_counter() - quiet) * 1000
            print(f"  a pass with nothing due: {quiet:.1f} ms ({idle.tickets} tickets)")
        undo_pass(due)
    return seconds


def profile_pass(top: int = 25) -> None:
    """One more pass under cProfile, with its SQL statements counted by kind (then undone like the others)."""
    import cProfile
    import pstats
    from collections import Counter

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from sitekeeper.desk.escalation import escalation_pass
    from sitekeeper.desk.models import Ticket

    due = dict(Ticket.objects.filter(next_check_at__lte=NOW).values_list("pk", "next_check_at"))
    profiler = cProfile.Profile()
    with CaptureQueriesContext(connection) as queries:
        profiler.enable()
        summary = escalation_pass(NOW)
        profiler.disable()
    undo_pass(due)
    kinds = Counter(query["sql"].split(None, 1)[0].upper() for query in queries.captured_queries)
    print(f"  profiled pass: {summary}")
    counted = ", ".join(f"{count} {kind}" for kind, count in kinds.most_common())
    print(f"  {len(queries.captured_queries)} SQL statements: {counted}; the slowest:")
    slowest = sorted(queries.captured_queries, key=lambda query: -float(query["time"]))[:8]
    for query in slowest:
        print(f"    {float(query['time']) * 1000:7.1f} ms  {query['sql'][:120]}")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(top)


def bench_queue(runs: int) -> list[float]:
    from django.test import Client

    from sitekeeper.access.models import User

    browser = Client()
    browser.force_login(User.objects.get(username="engineer0"))
    first = browser.get("/staff/desk/")
    if first.status_code != 200:
        sys.exit(f"bench_desk: GET /staff/desk/ answered {first.status_code}")
    seconds = []
    for _ in range(runs):
        began = time.perf_counter()
        response = browser.get("/staff/desk/")
        seconds.append(time.perf_counter() - began)
        if response.status_code != 200:
            sys.exit(f"bench_desk: GET /staff/desk/ answered {response.status_code}")
    rows = response.content.count(b"<tr") - 1  # less the header row
    print(f"  GET /staff/desk/ as an engineer: {len(response.content):,} bytes, {rows} rows on the page")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description="Escalation pass and staff queue over many open requests.")
    parser.add_argument("--tickets", type=int, default=50_000)
    parser.add_argument("--due", type=int, default=300, help="tickets with a notice to send at NOW")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="leave the database for a look afterwards")
    parser.add_argument("--profile", action="store_true", help="one more pass under cProfile, SQL counted")
    args = parser.parse_args()
    url = os.environ.get("SITEKEEPER_DATABASE_URL", "")
    admin_url(url)
    recreate_database(url)
    try:
        setup_django()
        began = time.perf_counter()
        contracts, engineers, version = seed_agency()
        escalations = seed_tickets(args.tickets, args.due, contracts, engineers, version)
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        print(
            f"seeded {args.tickets:,} open requests and {escalations:,} notices already sent "
            f"in {time.perf_counter() - began:.1f} s"
        )
        print("(a) escalation pass")
        passes = bench_pass(args.runs)
        print(f"    median {statistics.median(passes):.3f} s, max {max(passes):.3f} s (goal < 2 s)")
        if args.profile:
            profile_pass()
        print("(b) staff queue page")
        pages = bench_queue(max(args.runs, 9))
        median, worst = statistics.median(pages) * 1000, max(pages) * 1000
        print(f"    median {median:.0f} ms, max {worst:.0f} ms (goal < 300 ms)")
    finally:
        if not args.keep:
            drop_database(url)


if __name__ == "__main__":
    main()
