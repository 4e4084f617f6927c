"""Everything that happens to a request, as functions; views, API, e-mail intake and monitoring call these.

Each function records the fact (rows + a timeline event) and then recomputes the clocks from history.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from sitekeeper.access.models import User
from sitekeeper.contracts.models import Client, Contact, Contract, Site
from sitekeeper.desk import clocks, escalation, presenters
from sitekeeper.desk.models import (
    DETECTED_CHANNELS,
    PAUSING_STATES,
    Event,
    Message,
    Pause,
    PauseReason,
    Priority,
    RequestType,
    SenderCheck,
    State,
    Ticket,
    TicketLink,
    TimeEntry,
)
from sitekeeper.notify import notify

# What a correctly submitted request carries (the guide: "breach only for a correctly submitted request").
REQUIRED_FIELDS = ("type", "priority", "site", "environment", "subject", "description")
REQUIRED_FOR_DEFECTS = ("steps",)  # bugs and incidents: how to reproduce
ALL_FIELDS = REQUIRED_FIELDS + REQUIRED_FOR_DEFECTS
DEFAULT_PRIORITY = Priority.P3  # used for the clocks of a request that did not say; it stays marked missing
CLASSIFICATION_QUESTIONS = {
    "specified": "Was the behaviour specified (in the spec, a ticket or the agreement)?",
    "accepted": "Was the behaviour accepted at hand-over?",
    "worked_before": "Did it work before?",
    "external_change": "Did external conditions change (third-party API, browser, law)?",
    "initiated_by": "Who initiated the change (client, agency, third party)?",
}
# Agreement 3.2(d): for P1 and P2 the client's emergency contact must be able to make decisions, so a wait
# for the client's decision on one of those tells them.
DECISION_STATES = {State.WAITING_APPROVAL: "approval", State.WAITING_INFO: "information"}
DECISION_PRIORITIES = {Priority.P1, Priority.P2}


class DeskError(ValueError):
    """A request operation that is not allowed, with the reason."""


def _now(at: dt.datetime | None) -> dt.datetime:
    if at is None:
        return timezone.now()
    if at.tzinfo is None or at.utcoffset() is None:
        raise DeskError(f"instant {at.isoformat()} has no time zone offset")
    return at


def _at(ticket: Ticket, at: dt.datetime | None) -> dt.datetime:
    """When something happens to a request: now unless given, and never before the request was received
    (a skewed clock or a back-dated e-mail would otherwise put a reply before the request)."""
    return max(_now(at), ticket.received_at)


def _check_choices(values: dict[str, Any]) -> None:
    """A type or priority outside the model's choices is refused, not stored."""
    if values.get("type") and values["type"] not in RequestType.values:
        raise DeskError(f"unknown request type {values['type']!r} ({', '.join(RequestType.values)})")
    if values.get("priority") and values["priority"] not in Priority.values:
        raise DeskError(f"unknown priority {values['priority']!r} (P1..P4)")


def _check_client(client_id: int, site: Site | None, contact: Contact | None, user: User | None) -> None:
    """A request's site, contacts and client people all belong to its client (staff to every client)."""
    if site is not None and site.client_id != client_id:
        raise DeskError("the site belongs to another client")
    if contact is not None and contact.client_id != client_id:
        raise DeskError("the contact belongs to another client")
    if user is not None and not user.is_agency and user.client_id != client_id:
        raise DeskError("the user belongs to another client")


def _label(actor: User | None, contact: Contact | None = None) -> str:
    if actor is not None:
        return actor.get_full_name() or actor.username
    return contact.name if contact is not None else "system"


def _event(
    ticket: Ticket, kind: str, at: dt.datetime, actor: User | None = None, public: bool = True, **data: Any
) -> Event:
    return Event.objects.create(
        ticket=ticket,
        kind=kind,
        at=at,
        actor=actor,
        actor_label=_label(actor, data.pop("contact", None)),
        data=data,
        public=public,
    )


def missing_fields(values: dict[str, Any]) -> list[str]:
    missing = [name for name in REQUIRED_FIELDS if not values.get(name)]
    if values.get("type") in {RequestType.BUG, RequestType.INCIDENT}:
        missing += [name for name in REQUIRED_FOR_DEFECTS if not values.get(name)]
    return missing


@transaction.atomic
def file_request(
    client: Client,
    *,
    channel: str,
    subject: str,
    description: str = "",
    type: str = "",
    priority: str = "",
    site: Site | None = None,
    environment: str = "",
    steps: str = "",
    requester: Contact | None = None,
    requester_user: User | None = None,
    received_at: dt.datetime | None = None,
    allow_incomplete: bool = True,
    detection_key: str = "",
    unverified: bool = False,
    mail_auth: dict[str, str] | None = None,
) -> Ticket:
    """Accept a request. Missing required fields: accepted, marked incomplete, clocks paused until done.

    A request the platform detected (the monitor channel: probes, backup checks, scans, audits, the update
    pipeline) is never incomplete and its priority is the platform's, confirmed — nobody proposed it.

    `unverified`: mailed from a contact's address we could not show to be genuine (desk.mailauth). It is
    kept and shown, but its clocks are paused (reason unverified_sender) and a P1 pages nobody until the
    contact confirms it or staff accept it (`verify_sender`).
    """
    contract = client.contract
    if contract is None:
        raise DeskError(f"client {client.slug!r} has no current contract")
    _check_client(client.pk, site, requester, requester_user)
    values = {
        "type": type,
        "priority": priority,
        "site": site,
        "environment": environment,
        "subject": subject,
        "description": description,
        "steps": steps,
    }
    _check_choices(values)
    detected = channel in DETECTED_CHANNELS
    missing = [] if detected else missing_fields(values)
    if missing and not allow_incomplete:
        raise DeskError("missing required fields: " + ", ".join(missing))
    at = _now(received_at)
    by_agency = requester_user is not None and requester_user.is_agency
    ticket = Ticket(
        client=client,
        contract=contract,
        calendar_version=contract.calendar.current,
        site=site,
        environment=environment,
        type=type or RequestType.QUESTION,
        priority=priority or DEFAULT_PRIORITY,
        proposed_priority="" if detected else priority,
        priority_confirmed=detected or (by_agency and bool(priority)),
        subject=subject or "(no subject)",
        description=description,
        steps=steps,
        channel=channel,
        requester=requester,
        requester_user=requester_user,
        received_at=at,
        incomplete=bool(missing),
        missing_fields=missing,
        detection_key=detection_key,
        sender_check=SenderCheck.UNVERIFIED if unverified else SenderCheck.NOT_NEEDED,
        mail_auth=mail_auth or {},
    )
    _track_p1(ticket, "", at)
    ticket.save(force_insert=True)
    _event(ticket, Event.Kind.RECEIVED, at, requester_user, channel=channel, contact=requester)
    if unverified:
        Pause.objects.create(ticket=ticket, reason=PauseReason.UNVERIFIED, start=at, note=UNVERIFIED_NOTE)
        _event(ticket, Event.Kind.PAUSE, at, reason=PauseReason.UNVERIFIED, note=UNVERIFIED_NOTE)
    if missing:
        Pause.objects.create(
            ticket=ticket, reason=PauseReason.INCOMPLETE, start=at, note="Missing: " + ", ".join(missing)
        )
        _event(ticket, Event.Kind.PAUSE, at, reason=PauseReason.INCOMPLETE, missing=missing)
    Message.objects.create(
        ticket=ticket,
        kind=Message.Kind.AUTO,
        from_agency=True,
        channel=channel,
        at=at,
        body=acknowledgement(ticket),
    )
    clocks.recompute(ticket)
    return ticket


UNVERIFIED_NOTE = "Waiting for the sender to confirm the request"


def acknowledgement(ticket: Ticket) -> str:
    """The automatic acknowledgement (it does not count as a response). For a request the platform opened,
    what was detected, where and when — the client has nothing to send us."""
    if ticket.detected:
        return detected_acknowledgement(ticket)
    text = f"We received your request {ticket.reference}: {ticket.subject}."
    if ticket.unverified:
        return text + (
            " We could not verify that it was sent from the contact's address, so we asked them by e-mail "
            "to confirm it. Its SLA clocks start when it is confirmed."
        )
    if ticket.missing_fields:
        text += (
            " It is missing: "
            + ", ".join(ticket.missing_fields)
            + ". The SLA clocks are paused until you complete it."
        )
    return text


def detected_acknowledgement(ticket: Ticket) -> str:
    """'sitekeeper detected: <what> on <site> at <when, zone named>. We are on it; …' in plain words."""
    what = ticket.subject.rstrip(".")
    site = str(ticket.site) if ticket.site is not None else ""
    where = f" on {site}" if site and site not in what else ""
    return (
        f"sitekeeper detected: {what}{where} at {presenters.received(ticket)}. "
        f"We opened request {ticket.reference} for it and are on it; you do not need to do anything."
    )


def _present(ticket: Ticket) -> dict[str, Any]:
    """The ticket's required fields as given; a type or priority still marked missing holds a default
    (question, P3) used for the clocks, not an answer, so it still counts as missing."""
    return {name: "" if name in ticket.missing_fields else getattr(ticket, name) for name in ALL_FIELDS}


def _update_missing(ticket: Ticket, at: dt.datetime, actor: User | None, **data: Any) -> None:
    """Re-derive what is missing, save, write the completion event; end the pause once nothing is.
    (Nothing is ever missing from a request the platform detected.)"""
    ticket.missing_fields = [] if ticket.detected else missing_fields(_present(ticket))
    ticket.incomplete = bool(ticket.missing_fields)
    ticket.save()
    if not ticket.incomplete:
        ticket.pauses.filter(reason=PauseReason.INCOMPLETE, end__isnull=True).update(end=at)
    _event(ticket, Event.Kind.COMPLETED, at, actor, **data, missing=list(ticket.missing_fields))


def _fill(ticket: Ticket, given: dict[str, Any], by_agency: bool) -> tuple[list[str], str]:
    """Set the given fields; returns (names filled, priority only proposed or "")."""
    filled, proposed = [], ""
    for name in ALL_FIELDS:
        if name not in given:
            continue
        if name == "priority":
            ticket.proposed_priority = given[name]
            if "priority" not in ticket.missing_fields and not by_agency:
                # The client already gave one: a new one is a proposal the agency confirms.
                ticket.priority_confirmed, proposed = False, given[name]
                continue
            ticket.priority_confirmed = by_agency
        setattr(ticket, name, given[name])
        filled.append(name)
    ticket.missing_fields = [name for name in ticket.missing_fields if name not in filled]
    return filled, proposed


@transaction.atomic
def complete_request(
    ticket: Ticket, values: dict[str, Any], actor: User | None = None, at: dt.datetime | None = None
) -> Ticket:
    """Fill in missing fields; once nothing is missing, the incomplete-request pause ends.

    A priority the request already has is not replaced by the client this way: it becomes a proposal, as
    with change_priority, so completing a request cannot move its clocks.
    """
    at = _at(ticket, at)
    given = {name: value for name, value in values.items() if name in ALL_FIELDS and value}
    _check_choices(given)
    _check_client(ticket.client_id, given.get("site"), None, actor)
    previous = ticket.priority
    filled, proposed = _fill(ticket, given, by_agency=actor is not None and actor.is_agency)
    if not filled and not proposed:
        return ticket
    _track_p1(ticket, previous, at)
    data: dict[str, Any] = {"filled": filled}
    if proposed:
        data["proposed"] = proposed
    _update_missing(ticket, at, actor, **data)
    clocks.recompute(ticket)
    return ticket


def _close_state_pauses(ticket: Ticket, at: dt.datetime) -> None:
    _close_pauses(ticket, at, list(PAUSING_STATES.values()))


def _close_pauses(ticket: Ticket, at: dt.datetime, reasons: list[str] | None = None) -> None:
    """End the open pauses (of these reasons; all when None) at `at`, each with a resume event."""
    pauses = ticket.pauses.filter(end__isnull=True)
    if reasons is not None:
        pauses = pauses.filter(reason__in=reasons)
    for pause in pauses:
        pause.end = max(at, pause.start)
        pause.save(update_fields=["end"])
        _event(ticket, Event.Kind.RESUME, at, reason=pause.reason)


def pages_after_hours(contract: Contract, at: dt.datetime) -> bool:
    """Agreement 2.2: a P1 at `at` needs the on-call engineer now — the plan has after-hours emergency cover
    and `at` is outside the business hours of the contract's calendar (nights, weekends, holidays)."""
    if not contract.plan.after_hours_emergency:
        return False
    return not escalation.in_business_hours(contract.calendar.current.to_core(), at)


def _track_p1(ticket: Ticket, previous: str, at: dt.datetime) -> None:
    """Keep `after_hours_p1_at` (not saved here): set when the request becomes P1 after hours on a plan
    with after-hours cover (the escalation loop pages on-call for it, once), cleared when it is no longer P1.
    """
    if ticket.priority != Priority.P1 or ticket.unverified:
        # Nobody is paged for a priority that a possibly forged e-mail set (verify_sender tracks it then).
        ticket.after_hours_p1_at = None
    elif previous != Priority.P1:
        ticket.after_hours_p1_at = at if pages_after_hours(ticket.contract, at) else None


def _tell_emergency_contacts(ticket: Ticket, pause: Pause, actor: User | None, note: str) -> None:
    """A P1/P2 request now waits for the client's decision: their emergency contacts hear it at once, once
    per wait (the pause is the wait; its id is the notify key)."""
    event = "ticket.decision"
    recipients = escalation.emergency_contacts(ticket, event)
    if recipients:
        notify(recipients, escalation.decision_message(ticket, pause, note), key=f"desk:decision:{pause.pk}")
    _event(
        ticket,
        Event.Kind.DECISION,
        pause.start,
        actor,
        public=bool(recipients),
        reason=pause.reason,
        notified=[recipient.label for recipient in recipients],
    )


@transaction.atomic
def set_state(
    ticket: Ticket, state: str, *, actor: User | None, at: dt.datetime | None = None, note: str = ""
) -> Ticket:
    """Move a request to a state. Waiting states pause the clocks with a reason the client sees.

    Resolving goes through `resolve`; closing a request that is not resolved resolves it first (its clocks
    stop there); any other state reopens a resolved or closed request.
    """
    at = _at(ticket, at)
    _not_merged(ticket)
    if state not in State.values:
        raise DeskError(f"unknown state {state!r} ({', '.join(State.values)})")
    if state == ticket.state:
        return ticket
    if state == State.RESOLVED:
        return resolve(ticket, actor=actor, at=at, note=note)
    if state == State.CLOSED and ticket.state != State.RESOLVED:
        resolve(ticket, actor=actor, at=at, note=note)
    elif state != State.CLOSED and not ticket.is_open:
        reopen(ticket, actor=actor, at=at, why=note or "reopened")
        if state == State.OPEN:
            return ticket
    previous = ticket.state
    _close_state_pauses(ticket, at)
    reason = PAUSING_STATES.get(State(state))
    pause = None
    if reason is not None:
        pause = Pause.objects.create(ticket=ticket, reason=reason, start=at, note=note)
        _event(ticket, Event.Kind.PAUSE, at, actor, reason=str(reason), note=note)
    ticket.state = state
    ticket.save(update_fields=["state", "updated_at"])
    _event(ticket, Event.Kind.STATE, at, actor, **{"from": previous, "to": state, "note": note})
    if pause is not None and state in DECISION_STATES and ticket.priority in DECISION_PRIORITIES:
        _tell_emergency_contacts(ticket, pause, actor, note)
    clocks.recompute(ticket)
    return ticket


@transaction.atomic
def add_message(
    ticket: Ticket,
    body: str,
    *,
    channel: str,
    author: User | None = None,
    contact: Contact | None = None,
    internal: bool = False,
    at: dt.datetime | None = None,
    email_message_id: str = "",
    email_digest: str = "",
    unverified: bool = False,
) -> Message:
    """A reply or internal note. The first substantive staff reply meets the response clock; a client reply
    ends a wait for the client and reopens a resolved request.

    `unverified`: mailed from a contact's address we could not verify. It is kept on the request, marked,
    and changes nothing else: no wait ends, nothing reopens (staff read it and decide).

    A message for a request that was merged into another one goes to that one (a reply to the old e-mail
    thread, say): the survivor carries the conversation and the clocks."""
    if ticket.merged_into_id is not None:
        ticket = Ticket.objects.get(pk=ticket.merged_into_id)
    at = _at(ticket, at)
    _check_client(ticket.client_id, None, contact, author)
    from_agency = author is not None and author.is_agency
    if internal and not from_agency:
        raise DeskError("only agency staff write internal notes")
    kind = Message.Kind.NOTE if internal else Message.Kind.REPLY
    message = Message.objects.create(
        ticket=ticket,
        kind=kind,
        author=author,
        author_contact=contact,
        from_agency=from_agency,
        body=body,
        channel=channel,
        at=at,
        email_message_id=email_message_id,
        email_digest=email_digest,
        unverified=unverified,
    )
    _event(
        ticket,
        Event.Kind.MESSAGE,
        at,
        author,
        public=not internal,
        message=message.pk,
        internal=internal,
        contact=contact,
    )
    if from_agency and not internal and ticket.first_response_at is None:
        ticket.first_response_at = at
        ticket.save(update_fields=["first_response_at", "updated_at"])
        _event(ticket, Event.Kind.RESPONDED, at, author)
        if ticket.state == State.NEW:
            set_state(ticket, State.OPEN, actor=author, at=at)
    if not from_agency and not unverified:
        if ticket.state in {State.WAITING_ACCESS, State.WAITING_INFO, State.WAITING_APPROVAL}:
            set_state(ticket, State.OPEN, actor=author, at=at, note="client replied")
        elif ticket.state == State.RESOLVED:
            set_state(ticket, State.OPEN, actor=author, at=at, note="client replied after resolution")
    clocks.recompute(ticket)
    return message


@transaction.atomic
def verify_sender(ticket: Ticket, how: str, *, actor: User | None, at: dt.datetime | None = None) -> Ticket:
    """An unverified e-mail request is genuine: confirmed by its contact (the link mailed to them; no
    actor) or accepted by staff (`actor`). Its clocks start now — the unverified-sender pause ends — and a
    P1 after hours pages on-call from this instant."""
    if how not in {SenderCheck.CONFIRMED, SenderCheck.ACCEPTED}:
        raise DeskError(f"unknown sender check {how!r} (confirmed, accepted)")
    if how == SenderCheck.ACCEPTED and (actor is None or not actor.is_agency):
        raise DeskError("only agency staff accept a request as genuine")
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)  # two clicks at once: one verification
    if not ticket.unverified:
        raise DeskError(f"{ticket.reference} is not waiting for its sender to be verified")
    at = _at(ticket, at)
    ticket.sender_check = how
    _track_p1(ticket, "", at)
    ticket.save(update_fields=["sender_check", "after_hours_p1_at", "updated_at"])
    pauses = ticket.pauses.filter(reason=PauseReason.UNVERIFIED, end__isnull=True)
    for pause in pauses:
        pause.end = max(at, pause.start)
        pause.save(update_fields=["end"])
    data: dict[str, Any] = {"reason": PauseReason.UNVERIFIED, "how": str(how)}
    if actor is None:
        data["contact"] = ticket.requester
    _event(ticket, Event.Kind.RESUME, at, actor, **data)
    clocks.recompute(ticket)
    return ticket


@transaction.atomic
def change_priority(
    ticket: Ticket, priority: str, *, actor: User | None, why: str, at: dt.datetime | None = None
) -> Ticket:
    """The client proposes, the agency confirms. Clocks are recomputed from receipt and keep every pause.

    A priority the request was filed without is simply filled in (as `complete_request` would).
    """
    at = _at(ticket, at)
    _check_client(ticket.client_id, None, None, actor)
    if not why.strip():
        raise DeskError("a priority change needs a reason")
    if priority not in Priority.values:
        raise DeskError(f"unknown priority {priority!r} (P1..P4)")
    if "priority" in ticket.missing_fields:
        _event(ticket, Event.Kind.PRIORITY, at, actor, **{"from": "", "to": priority, "why": why})
        return complete_request(ticket, {"priority": priority}, actor=actor, at=at)
    if actor is None or not actor.is_agency:
        ticket.proposed_priority = priority
        ticket.priority_confirmed = False
        ticket.save(update_fields=["proposed_priority", "priority_confirmed", "updated_at"])
        _event(ticket, Event.Kind.PRIORITY, at, actor, proposed=priority, why=why)
        return ticket
    previous = ticket.priority
    ticket.priority, ticket.priority_confirmed = priority, True
    _track_p1(ticket, previous, at)
    ticket.save(update_fields=["priority", "priority_confirmed", "after_hours_p1_at", "updated_at"])
    _event(ticket, Event.Kind.PRIORITY, at, actor, **{"from": previous, "to": priority, "why": why})
    clocks.recompute(ticket)
    return ticket


@transaction.atomic
def mark_recovered(
    ticket: Ticket, *, actor: User | None, at: dt.datetime | None = None, note: str = ""
) -> Ticket:
    """Incidents: the critical function is restored (rollback, workaround) — the recovery clock is met.

    For a request merged into another one (monitoring saying an episode is over, say) it is the survivor's
    recovery clock, when the survivor is an incident; otherwise nothing changes."""
    if ticket.merged_into_id is not None:
        ticket = Ticket.objects.get(pk=ticket.merged_into_id)
        if ticket.type != RequestType.INCIDENT:
            return ticket
    at = _at(ticket, at)
    if ticket.type != RequestType.INCIDENT:
        raise DeskError("only incidents have a recovery clock")
    if ticket.recovered_at is None:
        ticket.recovered_at = at
        ticket.save(update_fields=["recovered_at", "updated_at"])
        _event(ticket, Event.Kind.RECOVERED, at, actor, note=note)
        clocks.recompute(ticket)
    return ticket


@transaction.atomic
def resolve(ticket: Ticket, *, actor: User | None, at: dt.datetime | None = None, note: str = "") -> Ticket:
    """Resolved: the resolution clock is met (and the response and recovery clocks, if they were not).

    Every open pause ends here, whatever its reason: nothing is paused on a request that is done (a pause
    running on would be charged to the client in the SLA report). A closed request was resolved when it was
    closed; resolving it again would move that instant.
    """
    at = _at(ticket, at)
    if not ticket.is_open:
        return ticket
    _close_pauses(ticket, at)
    previous, ticket.state = ticket.state, State.RESOLVED
    ticket.save(update_fields=["state", "updated_at"])
    _event(ticket, Event.Kind.RESOLVED, at, actor, note=note)
    _event(ticket, Event.Kind.STATE, at, actor, **{"from": previous, "to": State.RESOLVED, "note": note})
    clocks.recompute(ticket)
    return ticket


@transaction.atomic
def reopen(ticket: Ticket, *, actor: User | None, at: dt.datetime | None = None, why: str = "") -> Ticket:
    """Reopening resumes the resolution clock; the time it stood resolved does not count. A request that is
    still incomplete is paused again for its missing details (resolving ended that pause)."""
    at = _at(ticket, at)
    _not_merged(ticket)
    if ticket.state not in {State.RESOLVED, State.CLOSED}:
        raise DeskError("only a resolved or closed request can be reopened")
    previous, ticket.state = ticket.state, State.OPEN
    ticket.save(update_fields=["state", "updated_at"])
    _event(ticket, Event.Kind.REOPENED, at, actor, why=why)
    _event(ticket, Event.Kind.STATE, at, actor, **{"from": previous, "to": State.OPEN, "note": why})
    if ticket.incomplete:
        missing = list(ticket.missing_fields)
        Pause.objects.create(
            ticket=ticket, reason=PauseReason.INCOMPLETE, start=at, note="Missing: " + ", ".join(missing)
        )
        _event(ticket, Event.Kind.PAUSE, at, reason=PauseReason.INCOMPLETE, missing=missing)
    clocks.recompute(ticket)
    return ticket


@transaction.atomic
def assign(
    tickets: Iterable[Ticket], assignee: User | None, *, actor: User | None, at: dt.datetime | None = None
) -> int:
    if assignee is not None and not assignee.is_agency:
        raise DeskError("requests are assigned to agency staff only")
    at = _now(at)
    count = 0
    for ticket in tickets:
        if ticket.assignee_id == (assignee.pk if assignee else None):
            continue
        ticket.assignee = assignee
        ticket.save(update_fields=["assignee", "updated_at"])
        to = assignee.username if assignee else None
        _event(ticket, Event.Kind.ASSIGN, max(at, ticket.received_at), actor, public=False, to=to)
        count += 1
    return count


@transaction.atomic
def reclassify(
    ticket: Ticket,
    *,
    type: str,
    checklist: dict[str, Any],
    actor: User,
    why: str,
    at: dt.datetime | None = None,
) -> Ticket:
    """Bug or change request, by the guide's checklist; records who and why."""
    at = _at(ticket, at)
    if type not in RequestType.values:
        raise DeskError(f"unknown request type {type!r} ({', '.join(RequestType.values)})")
    if not actor.is_agency:
        raise DeskError("the agency classifies requests")
    if not why.strip():
        raise DeskError("reclassifying needs a reason")
    unknown = set(checklist) - set(CLASSIFICATION_QUESTIONS)
    if unknown:
        raise DeskError(f"unknown checklist item {sorted(unknown)[0]!r}")
    previous = ticket.type
    ticket.type = type
    ticket.classification = {**checklist, "by": actor.username, "at": at.isoformat(), "why": why}
    ticket.save(update_fields=["type", "classification", "updated_at"])
    _event(
        ticket,
        Event.Kind.CLASSIFY,
        at,
        actor,
        **{"from": previous, "to": type, "why": why, "checklist": checklist},
    )
    clocks.recompute(ticket)
    return ticket


def billed_minutes(minutes: int, unit: int) -> int:
    """Rounded up per entry to the contract's minimum billing unit."""
    if minutes <= 0:
        raise DeskError("time entries need a positive number of minutes")
    return math.ceil(minutes / unit) * unit


@transaction.atomic
def log_time(
    ticket: Ticket,
    *,
    user: User,
    minutes: int,
    billable: bool = False,
    note: str = "",
    day: dt.date | None = None,
    at: dt.datetime | None = None,
) -> TimeEntry:
    """Record work, rounded up per entry to the contract's billing unit; `day` defaults to the date of `at`
    (now) in the contract calendar's zone, the day the work shows under in hours and reports."""
    if not user.is_agency:
        raise DeskError("only agency staff record time")
    at = _at(ticket, at)
    billed = billed_minutes(minutes, ticket.contract.billing_unit_minutes)
    entry = TimeEntry.objects.create(
        ticket=ticket,
        user=user,
        minutes=minutes,
        billed_minutes=billed,
        billable=billable,
        note=note,
        day=day or at.astimezone(ZoneInfo(ticket.calendar_version.timezone)).date(),
    )
    _event(ticket, Event.Kind.TIME, at, user, public=False, minutes=billed, billable=billable)
    return entry


# Duplicates: link and merge ---------------------------------------------------------------------------------


def _not_merged(ticket: Ticket) -> None:
    """A merged duplicate stays closed: its request continues on the survivor."""
    if ticket.merged_into_id is not None:
        raise DeskError(
            f"{ticket.reference} was merged into {ticket.merged_into_reference}; "
            f"continue on {ticket.merged_into_reference}"
        )


def _same_client(one: Ticket, other: Ticket, verb: str) -> None:
    if one.pk == other.pk:
        raise DeskError(f"a request cannot be {verb} itself ({one.reference})")
    if one.client_id != other.client_id:
        raise DeskError(
            f"{one.reference} belongs to {one.client.name} and {other.reference} to {other.client.name}: "
            f"only requests of the same client can be {verb} each other"
        )


def _staff_only(actor: User | None, what: str) -> None:
    if actor is None or not actor.is_agency:
        raise DeskError(f"only agency staff {what} requests")


def linked(ticket: Ticket) -> list[Ticket]:
    """The requests marked as related to this one, oldest first."""
    pairs = TicketLink.objects.filter(Q(first_id=ticket.pk) | Q(second_id=ticket.pk)).values_list(
        "first_id", "second_id"
    )
    ids = {first if second == ticket.pk else second for first, second in pairs}
    return list(Ticket.objects.filter(pk__in=ids).order_by("pk"))


@transaction.atomic
def link(ticket: Ticket, other: Ticket, *, actor: User | None, at: dt.datetime | None = None) -> bool:
    """Mark two requests of one client as related; both show "Related: <the other>". True when the link is
    new; linking what is already linked changes nothing (False)."""
    _staff_only(actor, "link")
    _same_client(ticket, other, "linked to")
    first, second = sorted((ticket, other), key=lambda t: t.pk)
    at = _now(at)
    _link, created = TicketLink.objects.get_or_create(
        first=first, second=second, defaults={"created_by": actor, "created_at": at}
    )
    if not created:
        return False
    _event_on_both(first, second, Event.Kind.LINKED, at, actor)
    return True


@transaction.atomic
def unlink(ticket: Ticket, other: Ticket, *, actor: User | None, at: dt.datetime | None = None) -> bool:
    """Remove the relation between two requests (both timelines say so). False when they were not linked."""
    _staff_only(actor, "unlink")
    first, second = sorted((ticket, other), key=lambda t: t.pk)
    found = TicketLink.objects.filter(first=first, second=second).first()
    if found is None:
        return False
    found.delete()
    at = _now(at)
    _event_on_both(first, second, Event.Kind.UNLINKED, at, actor)
    return True


def _event_on_both(first: Ticket, second: Ticket, kind: str, at: dt.datetime, actor: User | None) -> None:
    """The same event on both requests' timelines, each naming the other."""
    for one, another in ((first, second), (second, first)):
        _event(one, kind, max(at, one.received_at), actor, other=another.pk, reference=another.reference)


@transaction.atomic
def merge(
    duplicate: Ticket, survivor: Ticket, *, actor: User | None, at: dt.datetime | None = None
) -> Ticket:
    """Merge a duplicate request into the survivor, all or nothing.

    The duplicate is closed with a pointer to the survivor ("Merged into SK-…", for staff and client); its
    open pauses end and its clocks stop at the merge: what they had decided by then (met on time, met late,
    breached) stays on record, nothing after counts (desk.sla_report). The survivor keeps its own clocks,
    untouched, and shows the duplicate's messages and files in its timeline; later messages to the duplicate
    go to the survivor (add_message). Requests that had been merged into the duplicate now point to the
    survivor too, so a pointer is never two steps long.

    Refused: another client's request, the request itself, a survivor that was merged away, a duplicate
    already merged elsewhere. Merging again into the same survivor changes nothing. Both rows are locked, so
    two staff merging at once cannot cross.
    """
    _staff_only(actor, "merge")
    given = duplicate
    locked = {t.pk: t for t in Ticket.objects.select_for_update().filter(pk__in=[duplicate.pk, survivor.pk])}
    duplicate = locked.get(duplicate.pk, duplicate)
    survivor = locked.get(survivor.pk, survivor)
    _same_client(duplicate, survivor, "merged into")
    if duplicate.merged_into_id == survivor.pk:
        return duplicate  # done before: idempotent
    if duplicate.merged_into_id is not None:
        raise DeskError(f"{duplicate.reference} was already merged into {duplicate.merged_into_reference}")
    if survivor.merged_into_id is not None:
        raise DeskError(
            f"{survivor.reference} was itself merged into {survivor.merged_into_reference}: "
            f"merge into {survivor.merged_into_reference} instead"
        )
    at = _at(duplicate, at)
    _close_pauses(duplicate, at)
    previous = duplicate.state
    duplicate.state = State.CLOSED
    duplicate.merged_into, duplicate.merged_at, duplicate.merged_by = survivor, at, actor
    duplicate.save(update_fields=["state", "merged_into", "merged_at", "merged_by", "updated_at"])
    _event(duplicate, Event.Kind.MERGED, at, actor, into=survivor.pk, reference=survivor.reference)
    _event(duplicate, Event.Kind.STATE, at, actor, **{"from": previous, "to": State.CLOSED, "note": ""})
    _event(
        survivor,
        Event.Kind.MERGED_IN,
        max(at, survivor.received_at),
        actor,
        source=duplicate.pk,
        reference=duplicate.reference,
        subject=duplicate.subject,
        description=duplicate.description[:1000],
    )
    for earlier in Ticket.objects.filter(merged_into=duplicate):
        earlier.merged_into = survivor
        earlier.save(update_fields=["merged_into", "updated_at"])
    clocks.recompute(duplicate)
    given.refresh_from_db()  # the caller's object reads as merged too
    return duplicate


def merged_sources(ticket: Ticket) -> list[int]:
    """Ids of the requests merged into this one (their messages and files show in its timeline)."""
    return list(Ticket.objects.filter(merged_into=ticket).values_list("pk", flat=True))
