"""REST API /api/v1/tickets: the service desk for scripts and integrations, scoped like the portal.

A client person sees and files requests of their own client only; another client's request is a 404, never
a 403, so its existence is not revealed. Agency staff see every request, write internal notes and change
states. Every change goes through desk.services (the same functions the portal and e-mail intake use) and
is attributed to the token's owner in the audit log.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Query, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from sitekeeper.access.audit import acting_as
from sitekeeper.access.models import User
from sitekeeper.api.desk_schemas import (
    EnvironmentIn,
    MessageIn,
    MessageOut,
    MissingFieldsOut,
    PriorityIn,
    StateChangeIn,
    StateIn,
    TicketDetailOut,
    TicketIn,
    TicketOut,
)
from sitekeeper.api.errors import answers
from sitekeeper.api.params import MAX_OFFSET, SLUG_PATTERN, object_id
from sitekeeper.contracts.models import Client, Contact, Site
from sitekeeper.desk import attachments as desk_attachments
from sitekeeper.desk import clocks, mail, services
from sitekeeper.desk.models import Attachment, Channel, Message, Ticket

router = Router(tags=["tickets"])

TicketId = object_id("request")
AttachmentId = object_id("attachment")
# Attachments are whatever people uploaded: any type (always a download, see desk.attachments.download).
ATTACHMENT_DOWNLOAD = {
    "responses": {
        200: {
            "description": "The file, as a download (`Content-Disposition: attachment`), never cached",
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
}


class TicketFilters(Schema):
    state: StateIn | None = None
    priority: PriorityIn | None = None
    client: str | None = Field(None, max_length=50, pattern=SLUG_PATTERN, description="Client slug")
    limit: int = Field(100, ge=1, le=500, description="At most this many, newest first")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="Skip this many first")


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined,no-any-return]


def visible_tickets(user: User) -> QuerySet[Ticket]:
    tickets = Ticket.objects.select_related("client", "requester", "requester_user", "assignee")
    return tickets if user.is_agency else tickets.filter(client_id=user.client_id)


def _ticket(request: HttpRequest, ticket_id: int) -> Ticket:
    return get_object_or_404(visible_tickets(_user(request)), pk=ticket_id)


def _ticket_url(ticket: Ticket) -> str:
    return f"/api/v1/tickets/{ticket.pk}"


def ticket_summary(ticket: Ticket) -> dict[str, Any]:
    return {
        "id": ticket.pk,
        "reference": ticket.reference,
        "client": ticket.client.slug,
        "subject": ticket.subject,
        "type": ticket.type,
        "priority": ticket.priority,
        "proposed_priority": ticket.proposed_priority,
        "priority_confirmed": ticket.priority_confirmed,
        "state": ticket.state,
        "incomplete": ticket.incomplete,
        "missing_fields": list(ticket.missing_fields),
        "channel": ticket.channel,
        "detected": ticket.detected,
        "site": ticket.site_id,
        "environment": ticket.environment,
        "received_at": ticket.received_at,
        "response_due": ticket.response_due,
        "resolution_due": ticket.resolution_due,
        "recovery_due": ticket.recovery_due,
        "next_due_at": ticket.next_due_at,
        "merged_into": ticket.merged_into_reference or None,
        "url": _ticket_url(ticket),
    }


def _clocks(ticket: Ticket) -> dict[str, dict[str, Any]]:
    now = timezone.now()
    return {
        name: {"target": state.target, "due": state.due, "met": state.met, "status": state.status(now)}
        for name, state in clocks.evaluate(ticket).items()
    }


def _visible_messages(ticket: Ticket, user: User) -> QuerySet[Message]:
    messages = ticket.messages.select_related("author", "author_contact")
    return messages if user.is_agency else messages.exclude(kind=Message.Kind.NOTE)


def _message_out(message: Message) -> dict[str, Any]:
    author = message.author or message.author_contact
    if message.author is not None:
        name = message.author.get_full_name() or message.author.username
    else:
        name = getattr(author, "name", "") or ("sitekeeper" if message.from_agency else "")
    return {
        "id": message.pk,
        "kind": message.kind,
        "internal": message.kind == Message.Kind.NOTE,
        "from_agency": message.from_agency,
        "author": name,
        "body": message.body,
        "channel": message.channel,
        "at": message.at,
    }


def _visible_attachments(ticket: Ticket, user: User) -> QuerySet[Attachment]:
    found = ticket.attachments.order_by("at", "id")
    return found if user.is_agency else found.exclude(message__kind=Message.Kind.NOTE)


def _attachment_out(attachment: Attachment) -> dict[str, Any]:
    return {
        "id": attachment.pk,
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "at": attachment.at,
        "message": attachment.message_id,
        "url": f"{_ticket_url(attachment.ticket)}/attachments/{attachment.pk}",
    }


def ticket_detail(ticket: Ticket, user: User) -> dict[str, Any]:
    events = ticket.events.all() if user.is_agency else ticket.events.filter(public=True)
    requester = ticket.requester or ticket.requester_user
    return {
        **ticket_summary(ticket),
        "description": ticket.description,
        "steps": ticket.steps,
        "requester": str(getattr(requester, "name", "") or getattr(requester, "username", "") or ""),
        "assignee": ticket.assignee.username if ticket.assignee else None,
        "clocks": _clocks(ticket),
        "events": [
            {"at": e.at, "kind": e.kind, "actor": e.actor_label, "public": e.public, "data": e.data}
            for e in events
        ],
        "messages": [_message_out(m) for m in _visible_messages(ticket, user)],
        "attachments": [_attachment_out(a) for a in _visible_attachments(ticket, user)],
    }


@router.get("", response=answers({200: list[TicketOut]}), summary="List requests")
def list_tickets(request: HttpRequest, filters: Query[TicketFilters]) -> list[dict[str, Any]]:
    """Newest first. A client person's list holds only their own client's requests."""
    tickets = visible_tickets(_user(request))
    if filters.state:
        tickets = tickets.filter(state=filters.state)
    if filters.priority:
        tickets = tickets.filter(priority=filters.priority)
    if filters.client:
        tickets = tickets.filter(client__slug=filters.client)
    page = tickets.order_by("-received_at", "-id")[filters.offset : filters.offset + filters.limit]
    return [ticket_summary(ticket) for ticket in page]


def _client_for(user: User, slug: str | None) -> Client:
    if not user.is_agency:
        own = user.client
        if own is None or (slug and slug != own.slug):
            raise Http404("No such client.")
        return own
    if not slug:
        raise HttpError(422, "agency staff must name the client")
    return get_object_or_404(Client, slug=slug)


def _site_for(client: Client, site_id: int | None) -> Site | None:
    if site_id is None:
        return None
    site = client.sites.filter(pk=site_id).first()
    if site is None:
        raise HttpError(422, f"site {site_id} is not one of {client.slug}'s sites")
    return site


def _requester_contact(user: User, client: Client) -> Contact | None:
    if user.is_agency or not user.email:
        return None
    return client.contacts.filter(email__iexact=user.email).first()


def _missing(payload: TicketIn) -> list[str]:
    values = payload.dict(exclude={"client"})
    return services.missing_fields(values)


@router.post(
    "",
    response=answers({201: TicketDetailOut, 422: MissingFieldsOut}),
    summary="File a request",
)
def create_ticket(request: HttpRequest, payload: TicketIn) -> Status[dict[str, Any]]:
    """Every field the contract requires must be given: a 422 lists the missing field names."""
    user = _user(request)
    missing = _missing(payload) + ([] if payload.client or not user.is_agency else ["client"])
    if missing:
        return Status(422, _missing_fields(missing))
    client = _client_for(user, payload.client)
    site = _site_for(client, payload.site)
    with acting_as(user):
        try:
            ticket = services.file_request(
                client,
                channel=Channel.API,
                subject=payload.subject,
                description=payload.description,
                type=payload.type or "",
                priority=payload.priority or "",
                site=site,
                environment=_environment(payload.environment),
                steps=payload.steps,
                requester=_requester_contact(user, client),
                requester_user=user,
                allow_incomplete=False,
            )
        except services.DeskError as exc:
            return Status(422, {"detail": str(exc), "errors": [], "missing": []})
    mail.send_acknowledgement(ticket)
    return Status(201, ticket_detail(ticket, user))


def _missing_fields(missing: list[str]) -> dict[str, Any]:
    errors = [
        {"loc": ["body", name], "msg": "required by the contract for this request", "type": "missing"}
        for name in missing
    ]
    return {"detail": "missing required fields: " + ", ".join(missing), "errors": errors, "missing": missing}


def _environment(value: EnvironmentIn | None) -> str:
    return value or ""


@router.get("/{int:ticket_id}", response=answers({200: TicketDetailOut}), summary="One request")
def get_ticket(request: HttpRequest, ticket_id: TicketId) -> dict[str, Any]:
    """With its clocks, timeline, messages and attachments; internal notes only for agency staff."""
    return ticket_detail(_ticket(request, ticket_id), _user(request))


@router.get("/{int:ticket_id}/messages", response=answers({200: list[MessageOut]}), summary="Messages")
def list_messages(request: HttpRequest, ticket_id: TicketId) -> list[dict[str, Any]]:
    ticket = _ticket(request, ticket_id)
    return [_message_out(m) for m in _visible_messages(ticket, _user(request))]


@router.post(
    "/{int:ticket_id}/messages",
    response=answers({201: MessageOut}),
    summary="Reply (agency staff: or an internal note)",
)
def post_message(request: HttpRequest, ticket_id: TicketId, payload: MessageIn) -> Status[dict[str, Any]]:
    user = _user(request)
    ticket = _ticket(request, ticket_id)
    if payload.internal and not user.is_agency:
        return Status(403, {"detail": "only agency staff write internal notes", "errors": []})
    with acting_as(user):
        message = services.add_message(
            ticket,
            payload.body,
            channel=Channel.API,
            author=user,
            contact=_requester_contact(user, ticket.client),
            internal=payload.internal,
        )
    if message.from_agency and not payload.internal:
        mail.send_reply(message)
    return Status(201, _message_out(message))


@router.post(
    "/{int:ticket_id}/state",
    response=answers({200: TicketDetailOut}),
    summary="Change the state (agency staff)",
)
def change_state(
    request: HttpRequest, ticket_id: TicketId, payload: StateChangeIn
) -> dict[str, Any] | Status[dict[str, Any]]:
    """Waiting states pause the clocks with the note as the reason the client sees."""
    user = _user(request)
    ticket = _ticket(request, ticket_id)  # 404 before 403: another client's request stays invisible
    if not user.is_agency:
        return Status(
            403, {"detail": "only agency staff change a request's state; reply to reopen it", "errors": []}
        )
    previous = ticket.state
    with acting_as(user):
        try:
            ticket = services.set_state(ticket, payload.state, actor=user, note=payload.note)
        except services.DeskError as exc:
            return Status(422, {"detail": str(exc), "errors": []})
    if ticket.state != previous:
        mail.send_state_notice(ticket, payload.note)
    ticket.refresh_from_db()
    return ticket_detail(ticket, user)


class MergeIn(Schema):
    into: int = Field(..., ge=1, description="Id of the request that carries on (the survivor)")


class LinkIn(Schema):
    other: int = Field(..., ge=1, description="Id of the related request (same client)")


def _staff_action(
    request: HttpRequest, ticket_id: int, other_id: int, what: str
) -> tuple[User, Ticket, Ticket]:
    """The acting staff member, the request and the other one; HttpError for a client token or an unknown
    request (404 before 403: another client's request stays invisible)."""
    user = _user(request)
    ticket = _ticket(request, ticket_id)
    if not user.is_agency:
        raise HttpError(403, f"only agency staff {what} requests")
    other = Ticket.objects.filter(pk=other_id).select_related("client").first()
    if other is None:
        raise HttpError(422, f"there is no request {other_id}")
    return user, ticket, other


@router.post(
    "/{int:ticket_id}/merge",
    response=answers({200: TicketDetailOut}),
    summary="Merge this request into another one of the same client (agency staff)",
)
def merge_ticket(
    request: HttpRequest, ticket_id: TicketId, payload: MergeIn
) -> dict[str, Any] | Status[dict[str, Any]]:
    """The request is closed as a duplicate ("Merged into …"); its clocks stop, the survivor's stay. Merging
    again into the same request changes nothing."""
    user, ticket, survivor = _staff_action(request, ticket_id, payload.into, "merge")
    already = ticket.merged_into_id == survivor.pk
    with acting_as(user):
        try:
            ticket = services.merge(ticket, survivor, actor=user)
        except services.DeskError as exc:
            return Status(422, {"detail": str(exc), "errors": []})
    if not already:
        mail.send_merge_notice(ticket)
    ticket.refresh_from_db()
    return ticket_detail(ticket, user)


@router.post(
    "/{int:ticket_id}/links",
    response=answers({200: TicketDetailOut}),
    summary="Link a related request of the same client (agency staff)",
)
def link_ticket(
    request: HttpRequest, ticket_id: TicketId, payload: LinkIn
) -> dict[str, Any] | Status[dict[str, Any]]:
    """Both requests then show "Related: …"; linking again changes nothing."""
    user, ticket, other = _staff_action(request, ticket_id, payload.other, "link")
    with acting_as(user):
        try:
            services.link(ticket, other, actor=user)
        except services.DeskError as exc:
            return Status(422, {"detail": str(exc), "errors": []})
    ticket.refresh_from_db()
    return ticket_detail(ticket, user)


@router.get(
    "/{int:ticket_id}/attachments/{int:attachment_id}",
    response=answers({200: None}),
    summary="Download an attachment",
    openapi_extra=ATTACHMENT_DOWNLOAD,
)
def download_attachment(
    request: HttpRequest, ticket_id: TicketId, attachment_id: AttachmentId
) -> HttpResponse:
    user = _user(request)
    ticket = _ticket(request, ticket_id)
    attachment = get_object_or_404(_visible_attachments(ticket, user), pk=attachment_id)
    return desk_attachments.download(attachment)
