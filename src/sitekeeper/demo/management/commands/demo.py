"""`sitekeeper demo`: migrate, load the demo agency, print the logins, then run the demo's sites (on a free
loopback port), the web server (127.0.0.1:8000 unless --bind says otherwise), the worker and one probe
location together until Ctrl+C (demo/run.py). --no-probe leaves the probe out (the seeded history stays as
it is; nothing records new checks)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from sitekeeper.demo import local_sites, run
from sitekeeper.demo.seed import AUDIT_DELAY_SECONDS, DEMO_PASSWORD, queue_background_runs, seed


class Command(BaseCommand):
    help = "Create the demo agency (idempotent), print its logins and serve it until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--bind", default="127.0.0.1:8000", help="HOST:PORT to serve on (default 127.0.0.1:8000)"
        )
        parser.add_argument("--no-serve", action="store_true", help="load the data and exit")
        parser.add_argument(
            "--probe",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="run a probe location that checks the demo's sites, served on this machine (default: on; "
            "--no-probe leaves it out)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        check_bind(options["bind"])
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
        self.stdout.write(f"\nE-mail: {mail_destination()}")
        sites = serve_sites()
        if queue_background_runs() is not None:
            self.stdout.write(
                f"Queued for the worker in {AUDIT_DELAY_SECONDS} s: a Lighthouse audit of the museum website "
                "(its local copy on the demo's site server; while Lighthouse is not installed it fails, "
                "saying so, and the staff home lists it)."
            )
        if options["probe"]:
            self.stdout.write("Starting the demo's sites, the web server, the worker and the probe …\n")
        else:
            self.stdout.write(
                "Starting the demo's sites, the web server and the worker (--no-probe: nothing checks the "
                "sites, the monitors keep their seeded history) …\n"
            )
        status = run.run(options["bind"], say=self.say, started=started, probe=options["probe"], sites=sites)
        if status:
            raise SystemExit(status)

    def say(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()  # the children write to the same terminal: keep the order


def serve_sites() -> run.SiteServer:
    """Two ports for the demo's sites (HTTPS for the monitors, plain HTTP for link scans and Lighthouse),
    their page list and certificate, and the demo monitors and prod environments pointed at them."""
    port, http_port = local_sites.ports(Path(settings.HOME))
    local = local_sites.prepare(Path(settings.HOME), port, http_port)
    return run.SiteServer(
        bind=f"{local_sites.LOCAL}:{port}", pages=local.pages, tls_folder=local.tls.ca.parent,
        ca_file=local.tls.ca, http_bind=f"{local_sites.LOCAL}:{http_port}",
    )  # fmt: skip


def check_bind(bind: str) -> None:
    """Refuse a malformed --bind before minutes of migrating and seeding, naming what is wrong."""
    host, sep, port = bind.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise CommandError(f"--bind: expected HOST:PORT such as 127.0.0.1:8000, got {bind!r}")


def mail_destination() -> str:
    """Where the demo's e-mail goes, in words (SITEKEEPER_EMAIL_URL; the console unless it says otherwise)."""
    backend = settings.EMAIL_BACKEND.rsplit(".", 2)[-2]
    if backend == "console":
        return "printed to this terminal (set SITEKEEPER_EMAIL_URL=file:// to keep it in files instead)"
    if backend == "filebased":
        return f"written as files to {settings.EMAIL_FILE_PATH}"
    return f"sent through {settings.EMAIL_HOST}:{settings.EMAIL_PORT} (SITEKEEPER_EMAIL_URL)"
