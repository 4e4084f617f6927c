"""Backup trouble becomes a P2 incident on the service desk and a notification to the escalation list — once
per occurrence (the notification key and the ticket reference make a repeat a no-op)."""

from __future__ import annotations

import datetime as dt

from sitekeeper.contracts.models import Site
from sitekeeper.desk import services
from sitekeeper.desk.models import Ticket
from sitekeeper.desk.oncall import escalation_list
from sitekeeper.monitoring.outages import service_user
from sitekeeper.notify import Message, notify

PRIORITY = "P2"


def incident(
    site: Site, *, key: str, subject: str, details: str, log: str = "", event: str = "backup.failed"
) -> Ticket:
    """File a P2 incident for `site` with `details` (and the job's log as an internal note) and notify."""
    now = dt.datetime.now(dt.UTC)
    ticket = services.file_request(
        site.client,
        channel="monitor",
        type="incident",
        priority=PRIORITY,
        site=site,
        environment="prod",
        subject=f"{site}: {subject}"[:200],
        description=details,
        steps="Found by sitekeeper's automated backup checks; see the backups page of the site.",
        received_at=now,
    )
    if log:
        services.add_message(
            ticket, f"Job log:\n{log[-6000:]}", channel="monitor", author=service_user(), internal=True
        )
    message = Message(
        subject=f"[{PRIORITY}] Backups: {site} — {subject}"[:200],
        text=f"{details}\n\nTicket {ticket.reference}.",
        event=event,
        data={"site": site.pk, "ticket": ticket.reference, "subject": subject},
    )
    notify(escalation_list(event), message, key=key)
    return ticket
