"""`sitekeeper sla due|credit`: a contract's SLA clocks and service credits from the command line.

    sitekeeper sla due --contract acme --priority P2 --received 2026-12-23T17:00+01:00 [--pause A/B] [--json]
    sitekeeper sla credit --contract acme --uptime 99.85 [--json]

Both print exactly the figures the desk and the billing use (the same core functions), so a client or an
engineer can check any number on a report by hand. Bad input is a CommandError naming the bad value.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandError

from sitekeeper.contracts import clocks
from sitekeeper.contracts.models import CalendarVersion, Client, Contract
from sitekeeper.contracts.render import money
from sitekeeper.core.calendar import UTC, CalendarError
from sitekeeper.core.credits import Credit, CreditError, compute_credit
from sitekeeper.core.sla import Pause
from sitekeeper.core.targets import TargetError

CLOCK_WIDTH = max(len(name) for name in clocks.CLOCKS)


class Command(BaseCommand):
    help = "SLA due instants and service credits for a client's contract."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{due,credit}")
        due = actions.add_parser("due", help="When the response, resolution and recovery clocks fall due.")
        due.add_argument("--contract", required=True, metavar="SLUG", help="The client's slug.")
        due.add_argument("--priority", required=True, help="P1, P2, P3 or P4.")
        due.add_argument("--received", required=True, help="ISO 8601 instant with an offset or Z.")
        due.add_argument(
            "--pause",
            action="append",
            default=[],
            metavar="START/END",
            help="A paused interval as two ISO 8601 instants; repeatable.",
        )
        due.add_argument("--json", action="store_true", help="Machine-readable output.")
        credit = actions.add_parser("credit", help="The service credit for a month's uptime.")
        credit.add_argument("--contract", required=True, metavar="SLUG", help="The client's slug.")
        credit.add_argument("--uptime", required=True, metavar="PCT", help="Measured uptime, 0–100.")
        credit.add_argument("--json", action="store_true", help="Machine-readable output.")

    def handle(self, *args: Any, **options: Any) -> None:
        contract = find_contract(options["contract"])
        if options["action"] == "due":
            self.due(contract, options)
        else:
            self.credit(contract, options)

    # --- due --------------------------------------------------------------------------------------------
    def due(self, contract: Contract, options: dict[str, Any]) -> None:
        try:
            priority = clocks.check_priority(options["priority"])
        except clocks.ClockError as exc:
            raise CommandError(str(exc)) from exc
        received = parse_instant(options["received"], "--received")
        pauses = [parse_pause(text) for text in options["pause"]]
        try:
            results = clocks.due(contract, priority, received, pauses)
        except (clocks.ClockError, TargetError, CalendarError) as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            data = {f"{r.clock}_due": r.due.isoformat() if r.due else None for r in results}
            self.stdout.write(json.dumps(data))
            return
        zone = contract.calendar.current.timezone
        self.stdout.write(
            f"{contract.client.name} — {contract.plan.name} plan, calendar "
            f"{contract.calendar.current} ({zone}), priority {priority}"
        )
        self.stdout.write(f"{'received':<{CLOCK_WIDTH}}  {when(received, zone)}")
        for result in results:
            self.stdout.write(clock_line(result, zone))
        for line in pause_lines(pauses, received, zone):
            self.stdout.write(line)

    # --- credit -----------------------------------------------------------------------------------------
    def credit(self, contract: Contract, options: dict[str, Any]) -> None:
        uptime = parse_uptime(options["uptime"])
        rule = contract.credit_rule()
        try:
            result = compute_credit(
                rule, contract.plan.uptime_sla, uptime, contract.monthly_fee, contract.currency
            )
        except CreditError as exc:
            raise CommandError(str(exc)) from exc
        reading = f"{rule.describe()}; capped at the monthly fee"
        if options["json"]:
            data = {**result.as_json(), "reading": reading, "credit_rounding": contract.credit_rounding}
            self.stdout.write(json.dumps(data))
            return
        for line in credit_lines(contract, result, reading):
            self.stdout.write(line)


# --- lookups and parsing -------------------------------------------------------------------------------
def find_contract(slug: str) -> Contract:
    client = Client.objects.filter(slug=slug).first()
    if client is None:
        raise CommandError(f"unknown contract {slug!r}: no client has that slug")
    contract = client.contract
    if contract is None:
        raise CommandError(f"contract {slug!r}: client {client.name!r} has no current contract")
    try:
        contract.calendar.current  # noqa: B018 — fail here, with the calendar's name, not mid-count
    except CalendarVersion.DoesNotExist as exc:
        raise CommandError(f"contract {slug!r}: {exc}") from exc
    return contract


def parse_instant(text: str, what: str) -> dt.datetime:
    try:
        instant = dt.datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise CommandError(f"{what} {text!r}: not an ISO 8601 instant (e.g. 2026-12-24T09:30+01:00)") from exc
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise CommandError(f"{what} {text!r}: no offset; add one (e.g. +01:00) or Z for UTC")
    return instant.astimezone(UTC)


def parse_pause(text: str) -> Pause:
    parts = text.split("/")
    if len(parts) != 2 or not all(part.strip() for part in parts):
        raise CommandError(f"--pause {text!r}: expected START/END, two ISO 8601 instants")
    start, end = (parse_instant(part, "--pause") for part in parts)
    if end <= start:
        raise CommandError(f"--pause {text!r}: the end is not after the start")
    return Pause(start=start, end=end)


def parse_uptime(text: str) -> Decimal:
    raw = str(text).strip().removesuffix("%").strip()
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        raise CommandError(f"--uptime {text!r}: not a number (e.g. 99.85)") from exc
    if not value.is_finite() or not 0 <= value <= 100:
        raise CommandError(f"--uptime {text!r}: must be a percentage between 0 and 100")
    return value


# --- human output --------------------------------------------------------------------------------------
def when(instant: dt.datetime, zone: str) -> str:
    """'Thu 24 Dec 2026 16:00 CET (15:00 UTC)': the calendar's zone first, UTC for checking."""
    local, utc = instant.astimezone(ZoneInfo(zone)), instant.astimezone(UTC)
    utc_text = f"{utc:%H:%M} UTC" if utc.date() == local.date() else f"{utc:%a %d %b %Y %H:%M} UTC"
    return f"{local:%a %d %b %Y %H:%M %Z} ({utc_text})"


def span(length: dt.timedelta) -> str:
    minutes = int(length.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def clock_line(result: clocks.ClockDue, zone: str) -> str:
    name = f"{result.clock:<{CLOCK_WIDTH}}"
    if result.target is None:
        return f"{name}  no target in the plan"
    if result.due is None:
        return f"{name}  {result.target.describe()}  stopped (a pause is still open)"
    paused = f"  (+{span(result.paused)} paused)" if result.paused else ""
    return f"{name}  {result.target.describe()}  due {when(result.due, zone)}{paused}"


def pause_lines(pauses: list[Pause], received: dt.datetime, zone: str) -> list[str]:
    """Each pause with its wall length; one that ended before receipt changes nothing and says so."""
    label = f"{'pauses':<{CLOCK_WIDTH}}"
    if not pauses:
        return [f"{label}  none"]
    counted = sum(1 for p in pauses if p.end is not None and p.end > received)
    lines = [f"{label}  {counted} of {len(pauses)} counted (a pause only counts after receipt)"]
    for pause in sorted(pauses, key=lambda p: p.start):
        end = pause.end or pause.start
        note = "" if end > received else "  ignored: ended before receipt"
        lines.append(
            f"{'':<{CLOCK_WIDTH}}  {when(pause.start, zone)} → {when(end, zone)}"
            f"  ({span(end - pause.start)}){note}"
        )
    return lines


def credit_lines(contract: Contract, result: Credit, reading: str) -> list[str]:
    fee, amount = money(contract.monthly_fee, result.currency), money(result.credit_amount, result.currency)
    steps = "" if result.steps is None else f" → {result.steps} started step{'s' * (result.steps != 1)}"
    capped = " (capped at the monthly fee)" if result.capped else ""
    return [
        f"{contract.client.name} — {contract.plan.name} plan, uptime SLA {result.sla} %",
        f"rule       {reading}",
        f"uptime     {result.uptime} %   shortfall {result.shortfall} %{steps}",
        f"credit     {result.credit_percent} % of {fee} = {amount}{capped}",
        "           applied to the next invoice, never paid out in cash",
    ]
