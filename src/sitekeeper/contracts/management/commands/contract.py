"""`sitekeeper contract render SLUG --format md|html|pdf [--output FILE]`: the client's agreement.

Markdown and HTML go to stdout unless --output is given; a PDF is binary, so it always goes to a file
(--output, or SLUG-agreement.pdf in the current folder).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from sitekeeper.contracts.models import CalendarVersion, Client, Contract
from sitekeeper.contracts.render import FORMATS, render_agreement
from sitekeeper.core.calendar import CalendarError
from sitekeeper.core.credits import CreditError
from sitekeeper.core.targets import TargetError


class Command(BaseCommand):
    help = "Contract documents: render a client's maintenance agreement."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{render}")
        render = actions.add_parser("render", help="Render the client's agreement from its contract.")
        render.add_argument("slug", metavar="SLUG", help="The client's slug.")
        render.add_argument("--format", dest="fmt", choices=FORMATS, default="md", help="Default: md.")
        render.add_argument("--output", "-o", metavar="FILE", help="Write here instead of stdout.")

    def handle(self, *args: Any, **options: Any) -> None:
        contract = client_contract(options["slug"])
        try:
            document = render_agreement(contract, options["fmt"])
        except (CalendarVersion.DoesNotExist, CalendarError, CreditError, TargetError) as exc:
            raise CommandError(f"contract {options['slug']!r}: {exc}") from exc
        output = options["output"]
        if isinstance(document, bytes) and not output:
            output = f"{contract.client.slug}-agreement.pdf"
        if not output:
            self.stdout.write(document, ending="" if str(document).endswith("\n") else "\n")
            return
        path = write(Path(output), document)
        self.stderr.write(f"wrote {path} ({path.stat().st_size} bytes)")


def client_contract(slug: str) -> Contract:
    client = Client.objects.filter(slug=slug).first()
    if client is None:
        raise CommandError(f"unknown client {slug!r}: no client has that slug")
    contract = client.contract
    if contract is None:
        raise CommandError(f"client {slug!r} ({client.name}) has no current contract")
    return contract


def write(path: Path, document: str | bytes) -> Path:
    try:
        if isinstance(document, bytes):
            path.write_bytes(document)
        else:
            path.write_text(document, encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"--output {str(path)!r}: {exc.strerror or exc}") from exc
    return path
