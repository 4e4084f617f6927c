"""`sitekeeper demo`: migrate, load the demo agency, print the logins, serve on 127.0.0.1:8000."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from sitekeeper.demo.seed import DEMO_PASSWORD, seed


class Command(BaseCommand):
    help = "Create the demo agency (idempotent), print its logins and serve it until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", default="127.0.0.1:8000", help="address:port to serve on")
        parser.add_argument("--no-serve", action="store_true", help="load the data and exit")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write("Migrating the database …")
        call_command("migrate", verbosity=0, interactive=False)
        self.stdout.write("Loading the demo agency …")
        result = seed()
        summary = f"{len(result.changes)} changes applied" if result.changes else "contracts already loaded"
        self.stdout.write(f"  {summary}; {result.requests} demo requests created")
        self.stdout.write(f"\nDemo logins (password for all: {DEMO_PASSWORD}):")
        for login in result.logins:
            self.stdout.write(f"  {login.username:<18} {login.role:<22} {login.client}")
        if options["no_serve"]:
            return
        self.stdout.write(f"\nServing on http://{options['bind']}/  (Ctrl+C to stop)\n")
        call_command("serve", bind=options["bind"])
