"""`sitekeeper imap_poll [--url imaps://user:pass@host:993/INBOX] [--once] [--interval SECONDS]`."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sitekeeper.desk import imap

logger = logging.getLogger("sitekeeper.desk.imap")

DEFAULT_INTERVAL = 60


class Command(BaseCommand):
    help = (
        "Read desk mail from an IMAP mailbox: each unseen message is filed like `mail-in` does, then flagged "
        "\\Seen. The URL comes from --url or SITEKEEPER_IMAP_URL; the password is never printed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--url", help="imaps://user:password@host:993/INBOX (default: SITEKEEPER_IMAP_URL)"
        )
        parser.add_argument("--once", action="store_true", help="one pass, then exit (for cron or tests)")
        parser.add_argument(
            "--interval",
            type=float,
            default=DEFAULT_INTERVAL,
            help=f"seconds between passes ({DEFAULT_INTERVAL})",
        )
        parser.add_argument(
            "--timeout", type=float, default=imap.DEFAULT_TIMEOUT, help="network timeout, seconds"
        )

    def handle(
        self, *args: Any, url: str | None, once: bool, interval: float, timeout: float, **options: Any
    ) -> None:
        raw_url = url or imap.configured_url()
        if not raw_url:
            raise CommandError(
                "no mailbox: pass --url imaps://user:password@host/INBOX or set SITEKEEPER_IMAP_URL"
            )
        try:
            box = imap.parse_url(raw_url)
        except imap.ImapError as exc:
            raise CommandError(str(exc)) from exc
        if once:
            self._pass(box, timeout, fail=True)
            return
        self.stdout.write(f"imap_poll: watching {box.masked} every {interval:g} s")
        while True:
            self._pass(box, timeout, fail=False)
            time.sleep(interval)

    def _pass(self, box: imap.Mailbox, timeout: float, *, fail: bool) -> None:
        try:
            result = imap.poll_once(box, timeout=timeout)
        except imap.ImapError as exc:
            if fail:
                raise CommandError(str(exc)) from exc
            logger.warning("%s; trying again at the next pass", exc)  # the mailbox may be back by then
            return
        self.stdout.write(f"imap_poll: {box.masked}: {result.summary()}")
