"""`sitekeeper mail-in` (alias of mail_in): one RFC 822 message on stdin, from an MTA pipe.

Exit status, as MTAs read it (sysexits.h):
- 0: handled — a new request (verified or not), a reply, a polite refusal, or ignored automatic mail;
- 65 (EX_DATAERR): not a usable e-mail (unreadable, too complex, too large); the MTA bounces it, retrying
  would not help. The message is kept under SITEKEEPER_HOME/mail/unfiled/ with the reason;
- 75 (EX_TEMPFAIL): the database (or the disk) is unavailable, or filing failed on an error of ours (then
  the message is kept under mail/unfiled/ too); the MTA keeps the mail and retries.
Never anything else: a traceback with status 1 would make the MTA bounce a mail we could have filed.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any, BinaryIO

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import InterfaceError, OperationalError

from sitekeeper.desk import mail

logger = logging.getLogger("sitekeeper.desk.mail")
EX_DATAERR = 65
EX_TEMPFAIL = 75
MAX_BYTES = 50 * 1024 * 1024  # far above any MTA's message size limit; a runaway pipe stops here


def read_message(stream: BinaryIO) -> bytes:
    raw = stream.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        kept = mail.keep_unfiled(
            raw[:MAX_BYTES], "too_large", f"larger than {MAX_BYTES} bytes; kept cut short"
        )
        raise CommandError(f"message larger than {MAX_BYTES} bytes (kept as {kept})", returncode=EX_DATAERR)
    return raw


def handle_raw(raw: bytes) -> mail.Outcome:
    """One message, with the failures mapped to the exit status an MTA understands."""
    try:
        outcome = mail.intake(raw)
    except mail.MailError as exc:
        raise CommandError(str(exc), returncode=EX_DATAERR) from exc
    except (OperationalError, InterfaceError, OSError) as exc:
        raise CommandError(f"temporary failure, try again later: {exc}", returncode=EX_TEMPFAIL) from exc
    except Exception as exc:  # a bug of ours: logged with its traceback, the mail kept, the MTA retries
        logger.exception("mail-in failed on an internal error; the message is kept under mail/unfiled/")
        raise CommandError(
            f"internal error ({type(exc).__name__}); kept, try again later", returncode=EX_TEMPFAIL
        ) from exc
    mail.send_answers(outcome)
    return outcome


class Command(BaseCommand):
    help = (
        "Read one e-mail (RFC 822) on stdin and file it as a request, a reply on a request, or answer the "
        "sender politely. For an MTA pipe: exit 0 when handled, 65 for unreadable input, 75 to retry later."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--file", type=Path, help="read the message from this file instead of stdin (for testing)"
        )

    def handle(self, *args: Any, file: Path | None, **options: Any) -> None:
        if file is not None:
            with file.open("rb") as stream:
                raw = read_message(stream)
        else:
            raw = read_message(sys.stdin.buffer)
        outcome = handle_raw(raw)
        self.stdout.write(f"{outcome.action}: {outcome.detail}")
