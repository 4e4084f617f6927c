"""Alert channels through Apprise URLs (Slack, Teams, Telegram, ntfy, …): one URL, title and body.

Apprise says why a notification failed only in its log, so while we send, a handler keeps its warnings for
the ChannelError. Apprise sends from its own thread pool but copies our context into it, so a context variable
tells this send's records from those of a send running in another worker thread. Its plugins log full URLs,
tokens included: `secrets_kept_out_of_logs` scrubs them.
"""

from __future__ import annotations

import contextvars
import io
import logging

import apprise

from sitekeeper.notify.channels import ChannelError, secrets_kept_out_of_logs
from sitekeeper.notify.message import Message, Recipient

_LOGGER = logging.getLogger("apprise")
_SENDING: contextvars.ContextVar[object | None] = contextvars.ContextVar(
    "sitekeeper_apprise_send", default=None
)


class _ThisSend(logging.Filter):
    def __init__(self, token: object) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        return _SENDING.get() is self.token


class AppriseChannel:
    def send(self, recipient: Recipient, message: Message, *, delivery_id: str = "") -> None:
        token = object()
        captured = io.StringIO()
        handler = logging.StreamHandler(captured)
        handler.setLevel(logging.WARNING)
        handler.addFilter(_ThisSend(token))
        _LOGGER.addHandler(handler)
        reset = _SENDING.set(token)
        try:
            with secrets_kept_out_of_logs(recipient):
                delivered = self._notify(recipient, message)
        finally:
            _SENDING.reset(reset)
            _LOGGER.removeHandler(handler)
        if not delivered:
            reason = recipient.scrub(" ".join(captured.getvalue().split())) or "no reason given"
            raise ChannelError(f"Apprise could not deliver to {recipient.label}: {reason[:500]}")

    def _notify(self, recipient: Recipient, message: Message) -> bool:
        sender = apprise.Apprise()
        if not sender.add(recipient.target):
            raise ChannelError(f"not a usable Apprise URL: {recipient.label}")
        return bool(sender.notify(title=message.subject, body=message.text))
