"""What the ticket API (api/desk.py) accepts and returns."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from ninja import Schema
from pydantic import ConfigDict, Field

from sitekeeper.api.errors import ErrorOut
from sitekeeper.api.params import SLUG_PATTERN, choices_of
from sitekeeper.desk.models import Event, Message, Ticket

# Mirrors of the desk's choices, as literals so the OpenAPI document lists the allowed values.
RequestTypeIn = Literal["incident", "bug", "change_request", "update", "question"]
PriorityIn = Literal["P1", "P2", "P3", "P4"]
EnvironmentIn = Literal["prod", "stage", "dev"]
StateIn = Literal[
    "new",
    "open",
    "waiting_access",
    "waiting_information",
    "waiting_approval",
    "third_party_outage",
    "resolved",
    "closed",
]


class StrictIn(Schema):
    """A request body taken as its schema says: `"internal": 0` or `"site": "3"` is a 422, not coerced."""

    model_config = ConfigDict(strict=True)


class TicketIn(StrictIn):
    """A new request. Every field the contract requires must be present (422 names the missing ones)."""

    client: str | None = Field(
        None,
        max_length=50,
        pattern=SLUG_PATTERN,
        description="Client slug; agency staff must name it, clients may omit it",
    )
    type: RequestTypeIn | None = None
    priority: PriorityIn | None = None
    site: int | None = Field(None, ge=1, description="Site id (see /api/v1/sites)")
    environment: EnvironmentIn | None = None
    subject: str = Field("", max_length=200)
    description: str = ""
    steps: str = Field("", description="Steps to reproduce (required for bugs and incidents)")


class MessageIn(StrictIn):
    body: str = Field(..., min_length=1)
    internal: bool = Field(False, description="An internal note (agency staff only)")


class StateChangeIn(StrictIn):
    state: StateIn
    note: str = Field("", max_length=300, description="Shown to the client (e.g. what we are waiting for)")


class ClockOut(Schema):
    target: str | None
    due: dt.datetime | None
    met: dt.datetime | None
    status: Literal["none", "met", "met_late", "breached", "paused", "warning", "running"]


class ClocksOut(Schema):
    response: ClockOut
    resolution: ClockOut
    recovery: ClockOut


class EventOut(Schema):
    at: dt.datetime
    kind: choices_of(Event, "kind")  # type: ignore[valid-type]
    actor: str
    public: bool
    data: dict[str, Any]


class AttachmentOut(Schema):
    id: int
    filename: str
    content_type: str
    size: int
    at: dt.datetime
    message: int | None
    url: str


class MessageOut(Schema):
    id: int
    kind: choices_of(Message, "kind")  # type: ignore[valid-type]
    internal: bool
    from_agency: bool
    author: str
    body: str
    channel: choices_of(Message, "channel")  # type: ignore[valid-type]
    at: dt.datetime


class TicketOut(Schema):
    id: int
    reference: str
    client: str
    subject: str
    type: choices_of(Ticket, "type")  # type: ignore[valid-type]
    priority: choices_of(Ticket, "priority")  # type: ignore[valid-type]
    proposed_priority: choices_of(Ticket, "proposed_priority")  # type: ignore[valid-type]
    priority_confirmed: bool
    state: choices_of(Ticket, "state")  # type: ignore[valid-type]
    incomplete: bool
    missing_fields: list[str]
    channel: choices_of(Ticket, "channel")  # type: ignore[valid-type]
    detected: bool = Field(
        ...,
        description="Opened by the platform (monitoring, scans, audits, updates): never incomplete, and "
        "its priority is the agency's, not a client proposal",
    )
    site: int | None
    environment: Literal["prod", "stage", "dev", ""] = Field(description='"" when not given')
    received_at: dt.datetime
    response_due: dt.datetime | None
    resolution_due: dt.datetime | None
    recovery_due: dt.datetime | None
    next_due_at: dt.datetime | None
    merged_into: str | None = Field(
        None, description='The reference of the request this one was merged into as a duplicate ("SK-00012")'
    )
    url: str


class TicketDetailOut(TicketOut):
    description: str
    steps: str
    requester: str
    assignee: str | None
    clocks: ClocksOut
    events: list[EventOut]
    messages: list[MessageOut]
    attachments: list[AttachmentOut]


class MissingFieldsOut(ErrorOut):
    """The error shape of every operation, plus the names of the fields the contract requires and the request
    left out (each is also in `errors`, at `["body", name]`)."""

    missing: list[str] = Field(
        default_factory=list, description="Fields the contract requires that were left out (may be empty)"
    )
