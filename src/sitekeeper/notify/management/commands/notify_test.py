"""`sitekeeper notify_test KIND TARGET`: one test message straight through a channel, bypassing the queue.

For checking a configuration (SMTP relay, an Apprise URL, a webhook receiver) before people depend on it.
The secret is read from the environment rather than the command line, where `ps` and shell history see it.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sitekeeper.notify.channels import ChannelError, get_channel
from sitekeeper.notify.message import KINDS, Message, Recipient


class Command(BaseCommand):
    help = "Send a test notification through one channel now (e-mail address, Apprise URL or webhook URL)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=KINDS)
        parser.add_argument("target", help="e-mail address, Apprise URL or webhook URL")
        parser.add_argument(
            "--secret-env",
            default="",
            metavar="VAR",
            help="name of an environment variable holding the webhook signing secret",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        secret = os.environ.get(options["secret_env"], "") if options["secret_env"] else ""
        recipient = Recipient(kind=options["kind"], target=options["target"], secret=secret)
        message = Message(
            subject="sitekeeper test notification",
            text="If you can read this, notifications reach you on this channel.",
            html="<p>If you can read this, notifications reach you on this channel.</p>",
            event="notify.test",
            data={"test": True},
        )
        try:
            get_channel(recipient.kind).send(recipient, message, delivery_id="test")
        except ChannelError as exc:
            raise CommandError(recipient.scrub(str(exc))) from None
        self.stdout.write(self.style.SUCCESS(f"sent to {recipient.label}"))
