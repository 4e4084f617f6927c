"""`sitekeeper term SLUG --notice DATE [--json]`: the dates a client's notice would lead to (changes nothing).

    sitekeeper term acme --notice 2026-05-10 --json
    {"minimum_term_end": "2026-03-31", "notice_period_end": "2026-06-09", "effective_date": "2026-06-30",
     "transition_end": "2026-07-30"}

The same core function (core/term.py) the pages, the agreement and the API use. Without --notice, the notice
on record is used.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from sitekeeper.contracts.management.commands.sla import find_contract
from sitekeeper.contracts.render import long_date


class Command(BaseCommand):
    help = "Minimum term end, notice period end, effective date and transition end for a notice day."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("contract", metavar="SLUG", help="The client's slug.")
        parser.add_argument("--notice", metavar="DATE", help="Notice day, YYYY-MM-DD (default: on record).")
        parser.add_argument("--json", action="store_true", help="Machine-readable output.")

    def handle(self, *args: Any, **options: Any) -> None:
        contract = find_contract(options["contract"])
        notice = parse_day(options["notice"]) if options["notice"] else contract.notice_given_on
        if notice is None:
            raise CommandError(
                f"contract {options['contract']!r} has no notice on record: give --notice DATE"
            )
        if notice < contract.start:
            raise CommandError(f"--notice {notice}: before the contract's start ({contract.start})")
        dates = contract.cancellation(notice)
        assert dates is not None  # noqa: S101 — a notice day was given
        if options["json"]:
            self.stdout.write(json.dumps(dates.as_json()))
            return
        reading = contract.get_cancellation_reading_display().lower()
        self.stdout.write(
            f"{contract.client.name} — {contract.plan.name} plan from {long_date(contract.start)}"
        )
        self.stdout.write(f"minimum term ends   {long_date(dates.minimum_term_end)}")
        self.stdout.write(f"notice given        {long_date(notice)} ({contract.notice_days} days' notice)")
        self.stdout.write(f"notice period ends  {long_date(dates.notice_period_end)}")
        self.stdout.write(
            f"effective           {long_date(dates.effective_date)} ({reading}); services run until then"
        )
        self.stdout.write(
            f"transition ends     {long_date(dates.transition_end)} (backups downloadable until then)"
        )


def parse_day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError as exc:
        raise CommandError(f"--notice {text!r}: not a date (YYYY-MM-DD)") from exc
