"""The platform detected something on a site: the one way to open its service-desk request.

Monitoring (a site down), security (a finding, a suspected incident), health (a Lighthouse drop), releases
(an update that failed in production) and backups (a missed or failed backup) all describe what they found as
a `Detection` and call `open_incident`. The seam gives every caller the same guarantees:

- once per episode: the request is keyed by the detection's `episode` (a unique key on the ticket), so a
  second call for the same episode — a retry, or a second worker that saw the same thing at the same moment —
  returns the request already open instead of opening another;
- the requester sees which part of sitekeeper found it and how (the `steps` line) and the detail staff need
  goes in an internal note, never in the client's view;
- people are told once per episode (the notice goes through `notify` with a key), to the escalation list for
  the notice's event unless the caller names the recipients the contract calls for (e.g. a P1 outage also
  pages the client's emergency contacts);
- when the thing is gone, `recovered` notes it on the request and meets the incident's recovery clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from sitekeeper.access.models import Role, User
from sitekeeper.contracts.models import Site
from sitekeeper.desk import services
from sitekeeper.desk.models import Channel, RequestType, Ticket
from sitekeeper.desk.oncall import escalation_list
from sitekeeper.notify import Message, Recipient, notify

SERVICE_USERNAME = "sitekeeper-monitor"  # author of the platform's internal notes; inactive, cannot log in

# Which part of sitekeeper found it (the `steps` line tells the requester in words).
FOUND_BY = frozenset({"monitoring", "security", "health", "releases", "backups"})


def service_user() -> User:
    """The platform's own author for internal notes (inactive, no usable password)."""
    user, created = User.objects.get_or_create(
        username=SERVICE_USERNAME,
        defaults={"role": Role.ENGINEER, "is_active": False, "first_name": "Monitoring"},
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


@dataclass(frozen=True)
class Detection:
    """What the platform found, in the words the request will carry."""

    site: Site
    found_by: str  # a key of FOUND_BY: which part of sitekeeper found it
    episode: str  # unique per episode of the problem, e.g. "outage:12" or "finding:7:2026-11-03T10:00:00"
    priority: str
    subject: str
    description: str
    steps: str  # how it was found, for the requester ("Found by sitekeeper's …")
    detected_at: dt.datetime
    environment: str = "prod"
    note: str = ""  # staff detail, an internal message on the request

    def __post_init__(self) -> None:
        if self.found_by not in FOUND_BY:
            raise ValueError(f"found_by {self.found_by!r}: expected one of {', '.join(sorted(FOUND_BY))}")
        if not self.episode:
            raise ValueError("a detection needs its episode key (one request per episode)")


@dataclass(frozen=True)
class Notice:
    """Whom to tell and what; `recipients` None means the escalation list of the message's event."""

    message: Message
    key: str  # once per key, even when called again (notify's idempotency key)
    recipients: list[Recipient] | None = None


def open_incident(
    detection: Detection, notice: Callable[[Ticket], Notice] | None = None
) -> tuple[Ticket, bool]:
    """The incident request for this episode: (ticket, opened now). Opened once; a later call for the same
    episode returns it unchanged and tells nobody again. `notice` builds what to tell from the new request
    (notices name it), and is told only when the request is opened now."""
    existing = find(detection.episode)
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            ticket = services.file_request(
                detection.site.client,
                channel=Channel.MONITOR,
                type=RequestType.INCIDENT,
                priority=detection.priority,
                site=detection.site,
                environment=detection.environment,
                subject=detection.subject[:200],
                description=detection.description[:5000],
                steps=detection.steps,
                received_at=detection.detected_at,
                detection_key=detection.episode[:200],
            )
    except IntegrityError:  # another worker opened it a moment ago: theirs is the one
        ticket = find(detection.episode)
        if ticket is None:
            raise
        return ticket, False
    if detection.note:
        note(ticket, detection.note, at=detection.detected_at)
    if notice is not None:
        tell(notice(ticket))
    return ticket, True


def find(episode: str) -> Ticket | None:
    return Ticket.objects.filter(detection_key=episode[:200]).first()


def note(ticket: Ticket, text: str, *, at: dt.datetime | None = None) -> None:
    """An internal note by the platform on a request it opened (staff see it; the client does not)."""
    services.add_message(ticket, text, channel=Channel.MONITOR, author=service_user(), internal=True, at=at)


def tell(notice: Notice) -> None:
    recipients = notice.recipients if notice.recipients is not None else escalation_list(notice.message.event)
    if recipients:
        notify(recipients, notice.message, key=notice.key)


def recovered(ticket: Ticket, *, at: dt.datetime, why: str, detail: str = "") -> None:
    """The thing detected is gone: say so on the request and meet its recovery clock (agreement 2.1)."""
    if detail:
        note(ticket, detail, at=at)
    services.mark_recovered(ticket, actor=None, at=at, note=why)
