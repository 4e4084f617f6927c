"""`sitekeeper sla due|credit`: a contract's SLA clocks and service credits from the command line.

    sitekeeper sla due --contract acme --priority P2 --received 2026-12-23T17:00+01:00 [--pause A/B] [--json]
    sitekeeper sla credit --contract acme --uptime 99.85 [--json]
    sitekeeper sla credit --contract acme --uptime https://shop.acme.test=99.2 --uptime https://acme.test=99.95

Both print exactly the figures the desk and the billing use (the same core functions), so a client or an
engineer can check any number on a report by hand. Bad input is a CommandError naming the bad value.

`credit` with one bare figure reads it as one site's month (the contract's only site, or one of its sites:
its credit is counted on that site's basis); with SITE_URL=PCT per site it gives each site's credit and the
month's total over all of them, capped at the monthly fee (agreement 2.3). A contract whose remedy is "per
Schedule A" with no table agreed gets no computed credit: null in JSON, `NO_REMEDY` in words.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandError

from sitekeeper.contracts import clocks
from sitekeeper.contracts.models import CalendarVersion, Client, Contract, Site
from sitekeeper.contracts.presenters import zone_of
from sitekeeper.contracts.render import money
from sitekeeper.core.calendar import UTC, CalendarError
from sitekeeper.core.credits import (
    HUNDRED,
    NO_REMEDY,
    ContractCredit,
    CreditError,
    CreditRule,
    SiteCredit,
    compute_credit,
    contract_credit,
    shortfall,
    to_decimal,
    to_fraction,
)
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
        credit.add_argument(
            "--uptime",
            required=True,
            action="append",
            metavar="PCT|SITE_URL=PCT",
            help="Measured uptime, 0–100: one bare figure for one site, or SITE_URL=PCT repeated once per "
            "site for the month's total over the contract's sites (capped at the monthly fee).",
        )
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
        zone = zone_of(contract)
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
        sites = list(contract.client.sites.order_by("url"))
        figures = parse_uptimes(options["uptime"], contract, sites)
        try:
            rule = contract.credit_rule()
            month = contract_credit(
                rule,
                contract.plan.uptime_sla,
                figures.uptimes,
                contract.monthly_fee,
                contract.currency,
                basis=contract.credit_basis,
                covered_sites=max(len(sites), 1),
            )
        except CreditError as exc:
            raise CommandError(str(exc)) from exc
        reading = NO_REMEDY if rule is None else f"{rule.describe()}; capped at the monthly fee"
        view = CreditView(contract, rule, month, reading, covered=max(len(sites), 1))
        if options["json"]:
            data = view.one_site_json() if figures.bare else view.sites_json()
            self.stdout.write(json.dumps(data))
            return
        lines = view.one_site_lines() if figures.bare else view.sites_lines(figures.missing)
        for line in lines:
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


def parse_uptime(text: str, what: str | None = None) -> Decimal:
    raw = str(text).strip().removesuffix("%").strip()
    what = what or f"--uptime {text!r}"
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        raise CommandError(f"{what}: not a number (e.g. 99.85)") from exc
    if not value.is_finite() or not 0 <= value <= 100:
        raise CommandError(f"{what}: must be a percentage between 0 and 100")
    return value


@dataclass(frozen=True)
class Uptimes:
    uptimes: dict[str, Decimal]  # site label → typed uptime
    bare: bool  # one figure without a site: the one-site reading
    missing: tuple[str, ...] = ()  # the contract's sites no figure was given for


def parse_uptimes(texts: list[str], contract: Contract, sites: list[Site]) -> Uptimes:
    """One bare PCT, or SITE_URL=PCT per site (never a mix): each URL must be one of the contract's sites."""
    keyed = [text for text in texts if "=" in text]
    if not keyed:
        if len(texts) > 1:
            raise CommandError(
                f"--uptime given {len(texts)} times without a site ({', '.join(map(repr, texts))}): give one "
                "figure, or SITE_URL=PCT once per site"
            )
        label = sites[0].url if len(sites) == 1 else "one site"
        return Uptimes({label: parse_uptime(texts[0])}, bare=True)
    for text in texts:
        if "=" not in text:
            raise CommandError(
                f"--uptime {text!r}: a bare figure mixed with SITE_URL=PCT figures; give SITE_URL=PCT for "
                "every site"
            )
    by_url = {site_key(site.url): site.url for site in sites}
    uptimes: dict[str, Decimal] = {}
    for text in keyed:
        url, _, figure = text.rpartition("=")
        site = by_url.get(site_key(url))
        if site is None:
            known = ", ".join(site.url for site in sites) or "none"
            raise CommandError(
                f"--uptime {text!r}: {url.strip()!r} is not a site of {contract.client.name} "
                f"(its sites: {known})"
            )
        if site in uptimes:
            raise CommandError(f"--uptime {text!r}: {site} is given twice")
        uptimes[site] = parse_uptime(figure, f"--uptime {text!r}")
    missing = tuple(site.url for site in sites if site.url not in uptimes)
    return Uptimes(uptimes, bare=False, missing=missing)


def site_key(url: str) -> str:
    """A site URL as typed and as stored compare equal with or without the trailing slash."""
    return url.strip().rstrip("/").lower()


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


@dataclass(frozen=True)
class CreditView:
    """A month's credit as JSON and as text: the one-site reading (today's keys), or per site with the cap."""

    contract: Contract
    rule: CreditRule | None
    month: ContractCredit
    reading: str
    covered: int  # sites sharing the fee under `fee_share`

    # JSON
    def one_site_json(self) -> dict[str, Any]:
        (site,) = self.month.sites
        detail = self.detail(site)
        return {
            "sla": detail["sla"],
            "uptime": str(site.uptime),
            "shortfall": detail["shortfall"],
            "started_steps": detail["started_steps"],
            "credit_percent": site.as_json()["credit_percent"],
            "credit_amount": amount_json(self.month.credit_amount),
            "currency": self.month.currency,
            "capped_at_fee": detail["capped_at_fee"],
            **self.common_json(),
        }

    def sites_json(self) -> dict[str, Any]:
        fee, total = self.contract.monthly_fee, self.month.credit_amount
        share = None  # the capped total as a percent of the fee
        if total is not None:
            share = to_decimal(Fraction(total) * HUNDRED / Fraction(fee)) if fee else Decimal(0)
        sites = []
        for site in self.month.sites:
            detail = self.detail(site)
            sites.append(
                {**site.as_json(), "shortfall": detail["shortfall"], "started_steps": detail["started_steps"]}
            )
        return {
            "sla": self.sla_text(),
            "uptime": None,  # one per site, below
            "shortfall": None,
            "started_steps": None,
            "credit_percent": None if share is None else str(share),
            "credit_amount": amount_json(total),
            "currency": self.month.currency,
            "capped_at_fee": self.month.capped,
            "capped": self.month.capped,
            "uncapped_amount": amount_json(self.month.uncapped_amount),
            "sites": sites,
            **self.common_json(),
        }

    def common_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "reading": self.reading,
            "credit_rounding": self.contract.credit_rounding,
            "credit_basis": self.month.basis,
            "basis_amount": str(self.month.basis_amount),
            "covered_sites": self.covered,
        }
        if self.rule is None:
            data["remedy"] = NO_REMEDY
        return data

    def sla_text(self) -> str:
        return str(to_decimal(to_fraction(self.contract.plan.uptime_sla, "uptime SLA")))

    def detail(self, site: SiteCredit) -> dict[str, Any]:
        """What the one-site figures show beside the credit: shortfall, started steps, the rule's own cap."""
        sla = to_fraction(self.contract.plan.uptime_sla, "uptime SLA")
        if site.uptime is None:
            return {"sla": self.sla_text(), "shortfall": None, "started_steps": None, "capped_at_fee": False}
        if self.rule is None:
            short = to_decimal(shortfall(sla, Fraction(site.uptime)))
            return {
                "sla": self.sla_text(),
                "shortfall": str(short),
                "started_steps": None,
                "capped_at_fee": False,
            }
        # compute_credit gives exactly today's one-site figures; its amount is replaced by the basis's.
        alone = compute_credit(self.rule, sla, site.uptime, Decimal(0), self.month.currency)
        return {
            "sla": str(alone.sla),
            "shortfall": str(alone.shortfall),
            "started_steps": alone.steps,
            "capped_at_fee": alone.capped,
        }

    # text
    def head(self) -> list[str]:
        plan = self.contract.plan
        return [
            f"{self.contract.client.name} — {plan.name} plan, uptime SLA {self.sla_text()} %",
            f"rule       {self.reading}",
        ]

    def basis_line(self, what: str) -> str:
        fee, currency = self.contract.monthly_fee, self.month.currency
        basis = money(self.month.basis_amount, currency)
        if self.month.basis == "full_fee":
            return f"basis      the full monthly fee per site: {basis}"
        split = f"{money(fee, currency)} ÷ {self.covered} sites = {basis}"
        return f"basis      {what} share of the monthly fee: {split}"

    def one_site_lines(self) -> list[str]:
        (site,) = self.month.sites
        lines = self.head()
        if self.month.basis_amount != self.contract.monthly_fee:
            lines.append(self.basis_line("one site's"))
        lines.append(self.uptime_line("uptime     ", site))
        lines.append(self.credit_line("credit     ", site, self.capped_note(site)))
        return [*lines, *self.footer()]

    def sites_lines(self, missing: tuple[str, ...]) -> list[str]:
        lines = [*self.head(), self.basis_line("each site's")]
        for site in self.month.sites:
            lines.append(f"site       {site.site}")
            lines.append(self.uptime_line("           uptime ", site))
            lines.append(self.credit_line("           credit ", site, ""))
        lines.extend(
            f"not given  {url} (no figure given: no credit; its share still counts)" for url in missing
        )
        lines.append(self.total_line())
        return [*lines, *self.footer()]

    def uptime_line(self, prefix: str, site: SiteCredit) -> str:
        detail = self.detail(site)
        steps = detail["started_steps"]
        counted = "" if steps is None else f" → {steps} started step{'s' * (steps != 1)}"
        return f"{prefix}{site.uptime} %   shortfall {detail['shortfall']} %{counted}"

    def credit_line(self, prefix: str, site: SiteCredit, note: str) -> str:
        if site.credit_amount is None:
            return f"{prefix}none computed: {NO_REMEDY}"
        currency = self.month.currency
        basis, amount = money(self.month.basis_amount, currency), money(site.credit_amount, currency)
        return f"{prefix}{site.credit_percent} % of {basis} = {amount}{note}"

    def capped_note(self, site: SiteCredit) -> str:
        return " (capped at the monthly fee)" if self.detail(site)["capped_at_fee"] else ""

    def total_line(self) -> str:
        currency = self.month.currency
        if self.month.credit_amount is None:
            return f"total      none computed: {NO_REMEDY}"
        total, fee = money(self.month.credit_amount, currency), money(self.contract.monthly_fee, currency)
        if self.month.capped:
            uncapped = money(self.month.uncapped_amount, currency)  # type: ignore[arg-type]
            return f"total      {total} — capped at the monthly fee (the sites' credits add up to {uncapped})"
        return f"total      {total} (cap: the monthly fee, {fee}; not reached)"

    def footer(self) -> list[str]:
        if self.month.credit_amount is None:
            return []
        return ["           applied to the next invoice, never paid out in cash"]


def amount_json(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount)
