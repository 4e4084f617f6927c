"""A request's clocks, pauses and history put into plain words, for the portal and the console.

Two sources: `desk.clocks.evaluate` (exact, per ticket: the ticket pages) and the ticket's stored clock
columns (cheap: the lists and the queue, where one query must serve a whole page). Instants are shown in the
zone of the calendar the request arrived under, with the zone named: the zone the contract counts in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sitekeeper.contracts.presenters import describe_target
from sitekeeper.core.clocks import ClockState
from sitekeeper.desk.models import (
    DETECTED_CHANNELS,
    Event,
    Message,
    Pause,
    PauseReason,
    Priority,
    RequestType,
    State,
    Ticket,
)

# Agreement 2.1: definition and examples of each priority, shown beside the choice.
PRIORITY_GUIDE: dict[str, tuple[str, str]] = {
    Priority.P1: (
        (
            "Website completely inaccessible; checkout or payment system broken; "
            "active security breach or data leak"
        ),
        (
            "Site returning 500/503 errors globally; malware detected and executing; "
            "SSL failure causing browser security blocks"
        ),
    ),
    Priority.P2: (
        (
            "Major functionality broken; significant portion of site inaccessible; "
            "severe performance degradation"
        ),
        (
            "Contact form not sending; 50%+ of pages returning errors; Lighthouse score dropped >40 points; "
            "e-commerce product pages broken"
        ),
    ),
    Priority.P3: (
        "Non-critical feature impaired; minor errors affecting some users; content displaying incorrectly",
        "Single form field not validating; one page loading slowly; image not displaying on one browser",
    ),
    Priority.P4: (
        "Minor visual issue; enhancement request; general question",
        "Button color slightly off on one device; inquiry about adding a new section; billing question",
    ),
}

# The guide's distinctions, one line each, beside the type choice.
TYPE_GUIDE: dict[str, str] = {
    RequestType.INCIDENT: "Something that worked is down or broken right now (site, checkout, forms).",
    RequestType.BUG: "Agreed behaviour works differently — a defect you can reproduce step by step.",
    RequestType.CHANGE: "A change or addition to how the site works; usually estimated and approved first.",
    RequestType.UPDATE: "Planned upkeep: core, plugins, themes, dependencies — behaviour stays the same.",
    RequestType.QUESTION: "Anything you would like to ask us.",
}

CLOCK_NAMES = {"response": "Response", "resolution": "Resolution", "recovery": "Recovery"}
MET_WORDS = {"response": "Response given", "resolution": "Resolved", "recovery": "Function restored"}

# A request's state in words, (staff, client): the one place both sets are defined. Staff pages speak of the
# client ("Waiting for client approval"); the client's pages, mails and API texts speak to "you".
STATE_LABELS: dict[str, tuple[str, str]] = {
    State.NEW: ("New", "Received"),
    State.OPEN: ("In progress", "In progress"),
    State.WAITING_ACCESS: ("Waiting for client access", "Waiting for your access"),
    State.WAITING_INFO: ("Waiting for client reply", "Waiting for your reply"),
    State.WAITING_APPROVAL: ("Waiting for client approval", "Waiting for your approval"),
    State.WAITING_THIRD_PARTY: ("Waiting on a third-party outage", "Waiting on a third-party outage"),
    State.RESOLVED: ("Resolved", "Resolved"),
    State.CLOSED: ("Closed", "Closed"),
}


def state_words(state: str, *, client: bool) -> str:
    """The label of a state value for staff or for the client."""
    labels = STATE_LABELS.get(state)
    if labels is None:
        return state.replace("_", " ").capitalize()
    return labels[1] if client else labels[0]


def state_label(ticket: Ticket, *, client: bool) -> str:
    """A request's state as its reader should see it; a merged duplicate names the request it went into."""
    if ticket.merged_into_id is not None:
        return f"Merged into {ticket.merged_into_reference}"
    return state_words(ticket.state, client=client)


# Pause reasons as the client reads them ("paused 2 h waiting for your access") and as staff read them.
CLIENT_PAUSE_WORDS = {
    PauseReason.WAITING_ACCESS: "waiting for your access",
    PauseReason.WAITING_INFO: "waiting for your information",
    PauseReason.WAITING_APPROVAL: "waiting for your approval",
    PauseReason.THIRD_PARTY: "waiting on a third-party outage",
    PauseReason.INCOMPLETE: "waiting for the missing details of your request",
    PauseReason.UNAUTHORIZED_CHANGE: "after an unauthorized change on your side",
    PauseReason.ACCESS_REVOKED: "because our access was revoked",
    PauseReason.UNVERIFIED: "waiting for you to confirm the request (link in our e-mail)",
}
STAFF_PAUSE_WORDS = {reason: reason.label for reason in PauseReason}
# Every reason has its words for both readers (a test holds this).
PAUSE_LABELS: dict[str, tuple[str, str]] = {
    reason: (STAFF_PAUSE_WORDS[reason], CLIENT_PAUSE_WORDS[reason]) for reason in PauseReason
}
# How an unverified sender's request came to count (desk.services.verify_sender).
_VERIFIED_HOW = {"confirmed": "Sender confirmed the request", "accepted": "Accepted as genuine by the agency"}

# Status → CSS class suffix (status-…): colours in sitekeeper.css.
STATUS_CLASS = {
    "met": "ok",
    "met_late": "late",
    "breached": "breach",
    "warning": "warn",
    "paused": "paused",
    "running": "running",
    "resolved": "ok",
    "merged": "none",
    "none": "none",
}


def pause_words(reason: str, client: bool) -> str:
    labels = PAUSE_LABELS.get(reason)
    if labels is None:
        return reason.replace("_", " ")
    return labels[1] if client else labels[0]


def duration(span: dt.timedelta) -> str:
    """45 min · 2 h · 2 h 30 min · 3 d 4 h (wall-clock time, rounded to the minute)."""
    minutes = max(0, round(span.total_seconds() / 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"


def when(instant: dt.datetime, tz: ZoneInfo) -> str:
    """'Tue 15 Dec 2026 15:30 CET': the pages' one time format (sitekeeper_time's |when), zone named, with
    the weekday in front because the desk's clocks count business days."""
    local = instant.astimezone(tz)
    return f"{local:%a} {local.day} {local:%b %Y %H:%M} {local.tzname()}"


def zone_of(ticket: Ticket) -> ZoneInfo:
    return ZoneInfo(ticket.calendar_version.timezone)


def received(ticket: Ticket) -> str:
    """When the request was received — the one way every list, page, API-facing text and acknowledgement
    shows it: in the zone of the calendar it arrived under (the contract's), with the zone named. (Load the
    tickets with select_related("calendar_version") in lists.)"""
    return at(ticket, ticket.received_at)


def at(ticket: Ticket, instant: dt.datetime) -> str:
    """An instant of a request in its calendar's zone, in the desk's one format (pages, mails, pages sent)."""
    return when(instant, zone_of(ticket))


DETECTED_ORIGIN = "Detected by monitoring (sitekeeper's automated checks)"


def origin(ticket: Ticket) -> str:
    """Where the request came from: detected by the platform, or filed by a person through a channel."""
    if ticket.detected:
        return DETECTED_ORIGIN
    return f"Filed via {ticket.get_channel_display().lower()}"


@dataclass(frozen=True)
class ClockLine:
    clock: str
    name: str
    status: str  # see ClockState.status
    text: str  # the plain-words sentence
    target: str  # described target, e.g. "4 business hours"
    due: dt.datetime | None
    met: dt.datetime | None
    paused_note: str = ""  # the note of the open pause, shown to the client

    @property
    def css(self) -> str:
        return STATUS_CLASS.get(self.status, "none")


def _paused_by_reason(
    pauses: Iterable[Pause], received: dt.datetime, until: dt.datetime
) -> dict[str, dt.timedelta]:
    """Wall time each pause reason stopped the clock between receipt and `until` (overlaps counted once)."""
    spans = sorted(
        (max(p.start, received), min(p.end or until, until), p.reason)
        for p in pauses
        if p.start < until and (p.end is None or p.end > received)
    )
    totals: dict[str, dt.timedelta] = {}
    cursor = received
    for start, end, reason in spans:
        begin = max(start, cursor)
        if end > begin:
            totals[reason] = totals.get(reason, dt.timedelta()) + (end - begin)
            cursor = end
    return totals


def _paused_clause(totals: dict[str, dt.timedelta], client: bool) -> str:
    parts = [f"{duration(span)} {pause_words(reason, client)}" for reason, span in totals.items() if span]
    return ", paused " + " and ".join(parts) if parts else ""


def clock_lines(
    ticket: Ticket,
    states: dict[str, ClockState],
    pauses: Sequence[Pause],
    now: dt.datetime,
    *,
    client: bool,
) -> list[ClockLine]:
    """One sentence per clock that applies, e.g.
    'Response due Tue 15 Dec 2026 15:30 CET, paused 2 h waiting for your access',
    'Response given Tue 15 Dec 2026 10:12 CET — on time',
    'Resolution overdue since Wed 16 Dec 2026 18:00 CET'.
    """
    tz = zone_of(ticket)
    open_pauses = [p for p in pauses if p.end is None]
    lines = []
    for clock, state in states.items():
        status = state.status(now)
        if status == "none":
            continue
        name = CLOCK_NAMES[clock]
        note = ""
        met, due = state.met or now, state.due or now  # (the status says which of them are set)
        if status in {"met", "met_late"}:
            verdict = "on time"
            if status == "met_late":
                verdict = f"late by {duration(met - due)} (was due {when(due, tz)})"
            text = f"{MET_WORDS[clock]} {when(met, tz)} — {verdict}"
        elif status == "breached":
            text = f"{name} overdue since {when(due, tz)}"
            if state.paused and open_pauses:
                text += f"; now paused {pause_words(open_pauses[0].reason, client)}"
        elif status == "paused":
            pause = min(open_pauses, key=lambda p: p.start) if open_pauses else None
            if pause is None:
                text = f"{name} clock paused"
            else:
                text = (
                    f"{name} clock paused since {when(pause.start, tz)} "
                    f"({duration(now - pause.start)}) — {pause_words(pause.reason, client)}"
                )
                note = pause.note
        else:  # running, warning
            totals = _paused_by_reason(pauses, ticket.received_at, now)
            text = f"{name} due {when(due, tz)}{_paused_clause(totals, client)}"
            if status == "warning":
                text += f" — {duration(due - now)} left"
        lines.append(
            ClockLine(
                clock=clock,
                name=name,
                status=status,
                text=text,
                target=describe_target(state.target),
                due=state.due,
                met=state.met,
                paused_note=note,
            )
        )
    return lines


# Cheap summaries from the stored columns (lists, queue) -----------------------------------------------


@dataclass(frozen=True)
class Summary:
    status: str  # breached | warning | paused | running | met | met_late | resolved | none
    text: str
    late: bool = False  # some clock breached at some point

    @property
    def css(self) -> str:
        return STATUS_CLASS.get(self.status, "none")


def _clock_columns(ticket: Ticket) -> Iterable[tuple[str, dt.datetime | None, dt.datetime | None]]:
    for clock in CLOCK_NAMES:
        yield clock, getattr(ticket, f"{clock}_due"), getattr(ticket, f"{clock}_met_at")


def next_clock(ticket: Ticket) -> str:
    """Which clock `next_due_at` is (desk.clocks.recompute keeps it the earliest unmet due instant)."""
    return next(
        (c for c, due, met in _clock_columns(ticket) if due == ticket.next_due_at and met is None), "response"
    )


def had_breach(ticket: Ticket, now: dt.datetime) -> bool:
    return any(due is not None and (met or now) > due for _clock, due, met in _clock_columns(ticket) if due)


def summary(  # noqa: PLR0911 (one return per situation reads best)
    ticket: Ticket,
    now: dt.datetime,
    *,
    client: bool,
    open_pause_reason: str | None = None,
    warned: bool = False,
) -> Summary:
    """The one clock that matters next, from the stored columns only (no queries).

    `open_pause_reason` and `warned` come from annotations of the list query (see views_staff.queue).
    """
    tz = zone_of(ticket)
    late = had_breach(ticket, now)
    if ticket.merged_into_id is not None:
        return Summary(
            "merged",
            f"Merged into {ticket.merged_into_reference} — its clocks stopped, that request carries on",
        )
    if not ticket.is_open:
        met = ticket.resolution_met_at
        if met is not None and ticket.resolution_due is not None:
            verdict = "late" if met > ticket.resolution_due else "on time"
            return Summary("resolved", f"Resolved {when(met, tz)} — {verdict}", late)
        return Summary("resolved", state_words(ticket.state, client=client), late)
    if ticket.next_due_at is not None:
        name = CLOCK_NAMES[next_clock(ticket)]
        if ticket.next_due_at <= now:
            return Summary("breached", f"{name} overdue since {when(ticket.next_due_at, tz)}", True)
        status = "warning" if warned or (ticket.next_check_at and ticket.next_check_at <= now) else "running"
        return Summary(status, f"{name} due {when(ticket.next_due_at, tz)}", late)
    if open_pause_reason:
        return Summary("paused", f"Paused — {pause_words(open_pause_reason, client)}", late)
    if ticket.response_met_at is not None:
        met, due = ticket.response_met_at, ticket.response_due
        verdict = " — late" if due is not None and met > due else " — on time"
        return Summary("met", f"Response given {when(met, tz)}{verdict}", late)
    return Summary("none", "No SLA clock running", late)


def remaining(ticket: Ticket, now: dt.datetime) -> str:
    """'in 3 h 5 min' / '2 h overdue' for the queue's due column."""
    if ticket.next_due_at is None:
        return ""
    if ticket.next_due_at <= now:
        return f"{duration(now - ticket.next_due_at)} overdue"
    return f"in {duration(ticket.next_due_at - now)}"


# Timeline -------------------------------------------------------------------------------------------


@dataclass
class Entry:
    at: dt.datetime
    kind: str  # an Event.Kind, or "message"
    actor: str
    text: str = ""
    note: str = ""
    message: Message | None = None
    internal: bool = False
    attachments: list[Any] = field(default_factory=list)
    source: str = ""  # the reference of the merged request a message came from, "" for the ticket's own

    @property
    def css(self) -> str:
        if self.message is not None:
            if self.internal:
                return "note"
            return "agency" if self.message.from_agency else "client"
        return "event"


def _type_label(value: str) -> str:
    try:
        return RequestType(value).label
    except ValueError:
        return value


def describe_event(event: Event, *, client: bool) -> tuple[str, str]:  # noqa: PLR0911, PLR0912
    """(sentence, note) for one timeline event."""
    data = event.data or {}
    kind = event.kind
    if kind == Event.Kind.RECEIVED:
        channel = data.get("channel", "")
        if channel in DETECTED_CHANNELS:
            return ("Detected by monitoring — request opened by sitekeeper", "")
        return (f"Request received{f' via {channel}' if channel else ''}", "")
    if kind == Event.Kind.STATE:
        before = state_words(data.get("from", ""), client=client)
        return (f"State: {before} → {state_words(data.get('to', ''), client=client)}", "")
    if kind == Event.Kind.PAUSE:
        note = data.get("note", "")
        if data.get("missing"):
            note = "Missing: " + ", ".join(data["missing"])
        return (f"Clocks paused — {pause_words(data.get('reason', ''), client)}", note)
    if kind == Event.Kind.RESUME:
        if data.get("reason") == PauseReason.UNVERIFIED and data.get("how") in _VERIFIED_HOW:
            return (f"{_VERIFIED_HOW[data['how']]} — clocks running", "")
        return (f"Clocks running again (no longer {pause_words(data.get('reason', ''), client)})", "")
    if kind == Event.Kind.PRIORITY:
        if "proposed" in data:
            return (f"Priority {data['proposed']} proposed", data.get("why", ""))
        if data.get("from") == data.get("to"):
            return (f"Priority {data.get('to')} confirmed", data.get("why", ""))
        return (f"Priority changed {data.get('from')} → {data.get('to')}", data.get("why", ""))
    if kind == Event.Kind.CLASSIFY:
        return (
            f"Reclassified {_type_label(data.get('from', ''))} → {_type_label(data.get('to', ''))}",
            data.get("why", ""),
        )
    if kind == Event.Kind.ASSIGN:
        return (f"Assigned to {data['to']}" if data.get("to") else "Unassigned", "")
    if kind == Event.Kind.RESPONDED:
        return ("First response given — the response clock is met", "")
    if kind == Event.Kind.RECOVERED:
        return ("Function restored — the recovery clock is met", data.get("note", ""))
    if kind == Event.Kind.RESOLVED:
        return ("Resolved", data.get("note", ""))
    if kind == Event.Kind.REOPENED:
        return ("Reopened", data.get("why", ""))
    if kind == Event.Kind.COMPLETED:
        return ("Request completed — the clocks run", "")
    if kind == Event.Kind.TIME:
        billable = "billable" if data.get("billable") else "included hours"
        return (f"{data.get('minutes', '?')} min logged ({billable})", "")
    if kind in {Event.Kind.WARNING, Event.Kind.BREACH}:
        clock = CLOCK_NAMES.get(data.get("clock", ""), data.get("clock", ""))
        word = "warning" if kind == Event.Kind.WARNING else "breach"
        notified = data.get("notified") or []
        note = "" if client or not notified else "Notified: " + ", ".join(notified)
        return (f"SLA {word}{f': {clock}' if clock else ''}", note)
    if kind == Event.Kind.ATTACHMENT:
        return ("File attached:", "")
    if kind == Event.Kind.PAGE:
        if client:
            return ("Our on-call engineer was alerted at once (after-hours emergency cover)", "")
        return (
            "On-call paged: P1 after hours",
            "Notified: " + (", ".join(data.get("notified") or []) or "nobody"),
        )
    if kind == Event.Kind.DECISION:
        return _decision_words(data, client)
    if kind in _DUPLICATE_WORDS:
        text = _DUPLICATE_WORDS[kind][client].format(ref=data.get("reference", ""))
        # What the merged request said, so its first words are on the survivor too.
        said = ": ".join(part for part in (data.get("subject", ""), data.get("description", "")) if part)
        return (text, said)
    return (kind.replace("_", " ").capitalize(), "")


# (staff, client) words of the duplicate events; {ref} is the other request's reference.
_DUPLICATE_WORDS: dict[str, tuple[str, str]] = {
    Event.Kind.MERGED: (
        "Merged into {ref} as a duplicate — closed here, clocks stopped; the conversation continues on {ref}",
        "Merged into {ref}, your request about the same thing — we continue there",
    ),
    Event.Kind.MERGED_IN: (
        "{ref} merged into this request — its messages and files show here; the clocks here are unchanged",
        "Your request {ref} was merged into this one — its messages are shown here",
    ),
    Event.Kind.LINKED: ("Related: {ref}", "Related: {ref}"),
    Event.Kind.UNLINKED: ("No longer related: {ref}", "No longer related: {ref}"),
}


def _decision_words(data: dict[str, Any], client: bool) -> tuple[str, str]:
    what = "approval" if data.get("reason") == PauseReason.WAITING_APPROVAL else "information"
    notified = data.get("notified") or []
    if client:
        return (f"Your emergency contact was told that we need your {what}", "")
    if not notified:
        return (f"No emergency contact on record to tell that we need the client's {what}", "")
    return (f"Emergency contact told that we need the client's {what}", "Notified: " + ", ".join(notified))


def timeline(
    events: Iterable[Event],
    messages: Iterable[Message],
    attachments: Iterable[Any],
    *,
    client: bool,
    ticket_id: int | None = None,
) -> list[Entry]:
    """Messages (with their attachments) and events in time order.

    For a client: no internal notes, no non-public events, nothing attached to an internal note. Message
    events are skipped (the message itself is the entry); attachment events are skipped for files that came
    with a message (listed under it). Messages of requests merged into this one (`ticket_id`) are marked
    with the reference they came from.
    """
    by_message: dict[int, list[Any]] = {}
    loose: dict[int, Any] = {}
    for attachment in attachments:
        if attachment.message_id is not None:
            by_message.setdefault(attachment.message_id, []).append(attachment)
        else:
            loose[attachment.pk] = attachment
    entries: list[Entry] = []
    for message in messages:
        internal = message.kind == Message.Kind.NOTE
        if client and internal:
            continue
        author = "sitekeeper (automatic)" if message.kind == Message.Kind.AUTO else _author(message)
        entries.append(
            Entry(
                at=message.at,
                kind="message",
                actor=author,
                message=message,
                internal=internal,
                attachments=by_message.get(message.pk, []),
                source=f"SK-{message.ticket_id:05d}"
                if ticket_id is not None and message.ticket_id != ticket_id
                else "",
            )
        )
    for event in events:
        if event.kind == Event.Kind.MESSAGE:
            continue
        if client and (not event.public or event.kind in {Event.Kind.ASSIGN, Event.Kind.TIME}):
            continue
        files: list[Any] = []
        if event.kind == Event.Kind.ATTACHMENT:
            attachment = loose.get(event.data.get("attachment"))
            if attachment is None:  # came with a message (shown there), or hidden from this reader
                continue
            files = [attachment]
        text, note = describe_event(event, client=client)
        entries.append(
            Entry(
                at=event.at, kind=event.kind, actor=event.actor_label, text=text, note=note, attachments=files
            )
        )
    # At one instant: the receipt first, then the message, then what it caused (response met, state).
    entries.sort(key=lambda e: (e.at, 0 if e.kind == Event.Kind.RECEIVED else 1 if e.message else 2))
    return entries


def _author(message: Message) -> str:
    if message.author is not None:
        return message.author.get_full_name() or message.author.username
    if message.author_contact is not None:
        return message.author_contact.name
    return "the agency" if message.from_agency else "the client"
