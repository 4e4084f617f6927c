"""`sitekeeper mail_unfiled [--day YYYY-MM-DD]`: the mail kept without being filed, and why.

Reads the notes beside the kept messages (SITEKEEPER_HOME/mail/unfiled/<UTC date>/<name>.json, written by
desk.mail.keep_unfiled): one line per message, newest first, with the file to open.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sitekeeper.desk import mail


def _day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--day: {value!r} is not a date like 2026-12-07 ({exc})") from exc


class Command(BaseCommand):
    help = (
        "List the e-mail kept without being filed on a request (refused, automatic, unreadable, too complex, "
        "too large, internal error) with the reason and the file, newest first. Times in UTC."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--day", help="only this UTC day, e.g. 2026-12-07 (default: every day kept)")

    def handle(self, *args: Any, day: str | None, **options: Any) -> None:
        notes = mail.unfiled(_day(day) if day else None)
        if not notes:
            where = f" on {day}" if day else ""
            self.stdout.write(
                f"No unfiled mail{where}: mail lands here when it cannot be filed on a request."
            )
            return
        for note in notes:
            sender = note.get("sender") or "(no sender)"
            subject = note.get("subject") or "(no subject)"
            self.stdout.write(
                f"{note.get('kept_at', '?')} UTC  {note.get('reason', '?')}  {sender}  {subject}\n"
                f"    {note.get('detail', '')}\n    {note['file']}"
            )
