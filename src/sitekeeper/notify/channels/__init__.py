"""One small module per channel, each a class with one `send()` that raises one error type, ChannelError.

Channels are imported only when used, so building a notification never pays for loading Apprise's plugins.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from django.utils.module_loading import import_string

from sitekeeper.notify.message import Message, Recipient


class ChannelError(Exception):
    """The channel could not deliver; the message says why, without the recipient's secrets."""


class Channel(Protocol):
    def send(self, recipient: Recipient, message: Message, *, delivery_id: str = "") -> None:
        """Deliver or raise ChannelError. `delivery_id` lets a receiver drop a retried duplicate."""


_CHANNELS = {
    "email": "sitekeeper.notify.channels.email.EmailChannel",
    "apprise": "sitekeeper.notify.channels.apprise_url.AppriseChannel",
    "webhook": "sitekeeper.notify.channels.webhook.WebhookChannel",
}


def get_channel(kind: str) -> Channel:
    return import_string(_CHANNELS[kind])()


# The HTTP libraries under the channels log full request URLs (httpx at INFO, urllib3 and Apprise's plugins at
# DEBUG), and webhook and Apprise URLs carry tokens in their path. Their loggers get one shared filter that
# removes the secrets of every recipient being sent to right now, whichever thread logs.
_LIBRARY_LOGGERS = ("httpx", "httpcore", "apprise", "urllib3", "requests")
# Loggers that exist only once their module is imported, which Apprise does lazily in the middle of a send.
_KNOWN_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "apprise",
    "urllib3.connection",
    "urllib3.connectionpool",
    "urllib3.poolmanager",
    "urllib3.response",
    "urllib3.util.retry",
    "requests",
)


class _SecretsFilter(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._active: dict[int, list[str]] = {}
        self._tickets = itertools.count(1)

    def add(self, parts: list[str]) -> int:
        with self._lock:
            ticket = next(self._tickets)
            self._active[ticket] = parts
            return ticket

    def discard(self, ticket: int) -> None:
        with self._lock:
            self._active.pop(ticket, None)

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            parts = sorted({part for group in self._active.values() for part in group}, key=len, reverse=True)
        if parts:
            try:
                message = record.getMessage()
            except (TypeError, ValueError):
                return False  # unformattable: the handler would print its raw arguments, URL and all
            record.msg, record.args = _replace(message, parts), None
            if record.exc_info and not record.exc_text:
                # Formatters reuse exc_text, so the traceback they print is the scrubbed one.
                record.exc_text = _replace(logging.Formatter().formatException(record.exc_info), parts)
        return True


def _replace(text: str, parts: list[str]) -> str:
    for part in parts:
        text = text.replace(part, "…")
    return text


_FILTER = _SecretsFilter()


def _install_filter() -> None:
    # Filters only act on the logger a record is created on, not on its parents, so every existing logger
    # of these libraries gets it, including the ones their modules will create when imported later.
    existing = [
        name
        for name, logger in list(logging.root.manager.loggerDict.items())
        if name.split(".")[0] in _LIBRARY_LOGGERS and isinstance(logger, logging.Logger)
    ]
    for name in {*_KNOWN_LOGGERS, *existing}:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


@contextmanager
def secrets_kept_out_of_logs(recipient: Recipient) -> Iterator[None]:
    """While sending to `recipient`, library log records do not show its secret or URL tokens."""
    _install_filter()
    ticket = _FILTER.add(recipient.secret_parts())
    try:
        yield
    finally:
        _FILTER.discard(ticket)
