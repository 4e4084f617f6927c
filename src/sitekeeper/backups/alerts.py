"""Backup trouble becomes a P2 incident on the service desk and a notification to the escalation list — once
per episode (a failed attempt of a run, a failed restore test, a stale layer since a given snapshot, a failed
repository check): the request is opened through the incident seam (`desk.detected`), keyed by the episode,
so a repeat returns the request already open and tells nobody again."""

from __future__ import annotations

import datetime as dt

from sitekeeper.contracts.models import Site
from sitekeeper.desk import detected
from sitekeeper.desk.models import Ticket
from sitekeeper.notify import Message

PRIORITY = "P2"
STEPS = "Found by sitekeeper's automated backup checks; see the backups page of the site."
LOG_KEPT = 6000  # characters of a job's log kept in the request's internal note


def incident(
    site: Site, *, episode: str, subject: str, details: str, log: str = "", event: str = "backup.failed"
) -> Ticket:
    """The P2 incident for this episode of backup trouble on `site`: `details` for the requester, the job's
    log as an internal note, and the escalation list told — all only when the request is opened now."""

    def notice(ticket: Ticket) -> detected.Notice:
        message = Message(
            subject=f"[{PRIORITY}] Backups: {site} — {subject}"[:200],
            text=f"{details}\n\nTicket {ticket.reference}.",
            event=event,
            data={"site": site.pk, "ticket": ticket.reference, "subject": subject},
        )
        return detected.Notice(message=message, key=episode)

    ticket, _ = detected.open_incident(
        detected.Detection(
            site=site,
            found_by="backups",
            episode=episode,
            priority=PRIORITY,
            subject=f"{site}: {subject}",
            description=details,
            steps=STEPS,
            detected_at=dt.datetime.now(dt.UTC),
            note=f"Job log:\n{log[-LOG_KEPT:]}" if log else "",
        ),
        notice,
    )
    return ticket
