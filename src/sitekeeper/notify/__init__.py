"""Notifications through one seam: `notify(recipients, message, key=...)`.

    from sitekeeper.notify import Message, Recipient, notify, recipients_for_contact

    notify(recipients_for_contact(contact, "ticket.breach"),
           Message(subject="…", text="…", html="…", event="ticket.breach", data={"ticket": 42}),
           key="ticket:42:breach:response")

Many calls in one transaction (the escalation pass) can be recorded together, two queries for all of them:

    with batched():
        for ticket in due:
            notify(..., key=f"ticket:{ticket.pk}:breach")

The database-backed names are loaded on first use, so importing this package never touches Django's models
before the app registry is ready.
"""

from __future__ import annotations

from typing import Any

from sitekeeper.notify.channels import ChannelError
from sitekeeper.notify.message import Message, Recipient

_SEAM = {"notify", "batched", "deliver_pending", "send_now", "recipients_for_contact", "recipients_for_user"}

__all__ = [
    "ChannelError",
    "Message",
    "Recipient",
    "batched",
    "deliver_pending",
    "notify",
    "recipients_for_contact",
    "recipients_for_user",
    "send_now",
]


def __getattr__(name: str) -> Any:
    if name in _SEAM:
        from sitekeeper.notify import seam

        return getattr(seam, name)
    raise AttributeError(f"module 'sitekeeper.notify' has no attribute {name!r}")
