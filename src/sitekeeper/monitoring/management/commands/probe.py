"""`sitekeeper probe [--location NAME] [--once]`: run the probe engine (see monitoring/probe.py).

Run one per location, or several per location for more capacity: they split the due monitors between them.
SITEKEEPER_PROBE_CA_FILE adds a CA bundle (a private CA); SITEKEEPER_PROBE_INTERVAL overrides every
monitor's interval in seconds and exists for tests and benchmarks only.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from sitekeeper.monitoring.probe import Probe


class Command(BaseCommand):
    help = "Check the monitors that are due, forever (or once with --once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--location", default=os.environ.get("SITEKEEPER_PROBE_LOCATION", "default"))
        parser.add_argument("--once", action="store_true", help="check what is due now, then exit")
        parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
        parser.add_argument("--concurrency", type=int, default=200, help="checks in flight at most")
        parser.add_argument("--per-host", type=int, default=8, help="checks in flight per host at most")

    def handle(self, *args: Any, **options: Any) -> None:
        override = os.environ.get("SITEKEEPER_PROBE_INTERVAL")
        ca_file = os.environ.get("SITEKEEPER_PROBE_CA_FILE")
        probe = Probe(
            options["location"],
            concurrency=options["concurrency"],
            per_host=options["per_host"],
            interval_override=float(override) if override else None,
            ssl_context=ssl.create_default_context(cafile=ca_file) if ca_file else None,
        )
        try:
            checked = asyncio.run(probe.run(once=options["once"], duration=options["duration"]))
        except KeyboardInterrupt:
            checked = probe.checked
        self.stdout.write(f"sitekeeper probe {probe.instance}: {checked} checks")
