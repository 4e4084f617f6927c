"""Requests (tickets), their history, pauses, messages, attachments, time entries and escalations.

A ticket's clock columns (`*_due`, `*_met_at`, `next_check_at`) are derived: `desk.clocks.recompute` rebuilds
them from the history rows on every change, so they never drift. They are stored (and indexed) only so the
queue and the escalation loop are single cheap queries.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models

from sitekeeper.access.audit import audited


class RequestType(models.TextChoices):
    INCIDENT = "incident", "Incident"
    BUG = "bug", "Bug"
    CHANGE = "change_request", "Change request"
    UPDATE = "update", "Update"
    QUESTION = "question", "Question"


class Priority(models.TextChoices):
    P1 = "P1", "P1 — Critical"
    P2 = "P2", "P2 — High"
    P3 = "P3", "P3 — Medium"
    P4 = "P4", "P4 — Low"


class State(models.TextChoices):
    NEW = "new", "New"
    OPEN = "open", "In progress"
    WAITING_ACCESS = "waiting_access", "Waiting for your access"
    WAITING_INFO = "waiting_information", "Waiting for your information"
    WAITING_APPROVAL = "waiting_approval", "Waiting for your approval"
    WAITING_THIRD_PARTY = "third_party_outage", "Waiting on a third-party outage"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


# A request in either state is done: the queue's "open", the portal's open list, the consoles' counts.
CLOSED_STATES = (State.RESOLVED, State.CLOSED)


class PauseReason(models.TextChoices):
    WAITING_ACCESS = "waiting_access", "waiting for client access"
    WAITING_INFO = "waiting_information", "waiting for client information"
    WAITING_APPROVAL = "waiting_approval", "waiting for client approval"
    THIRD_PARTY = "third_party_outage", "third-party outage"
    INCOMPLETE = "incomplete_request", "incomplete request"
    UNAUTHORIZED_CHANGE = "unauthorized_change", "unauthorized client change"
    ACCESS_REVOKED = "access_revoked", "access revoked"
    # An e-mail request whose sender we could not verify: its clocks start when the contact confirms it
    # (the link mailed to them) or staff accept it (docs/email.md).
    UNVERIFIED = "unverified_sender", "sender not yet confirmed"


# States that stop the clocks, and the pause reason each one records.
PAUSING_STATES = {
    State.WAITING_ACCESS: PauseReason.WAITING_ACCESS,
    State.WAITING_INFO: PauseReason.WAITING_INFO,
    State.WAITING_APPROVAL: PauseReason.WAITING_APPROVAL,
    State.WAITING_THIRD_PARTY: PauseReason.THIRD_PARTY,
}


class Channel(models.TextChoices):
    PORTAL = "portal", "Portal"
    API = "api", "API"
    EMAIL = "email", "E-mail"
    STAFF = "staff", "Staff"
    MONITOR = "monitor", "Monitoring"


# Requests the platform opened itself (monitoring, backup checks, security scans, health audits, the update
# pipeline all file on the monitor channel): nobody proposed their priority and nothing is missing from them.
DETECTED_CHANNELS = frozenset({Channel.MONITOR})


class SenderCheck(models.TextChoices):
    """Whether an e-mail request's From: address was shown to be genuine (desk.mailauth)."""

    NOT_NEEDED = "", "Not needed"  # not mailed, or the sender was verified on arrival
    UNVERIFIED = "unverified", "Sender not verified"
    CONFIRMED = "confirmed", "Confirmed by the sender"
    ACCEPTED = "accepted", "Accepted as genuine by staff"


def _new_token() -> str:
    return secrets.token_hex(5)


@audited
class Ticket(models.Model):
    client = models.ForeignKey("contracts.Client", on_delete=models.PROTECT, related_name="tickets")
    contract = models.ForeignKey("contracts.Contract", on_delete=models.PROTECT, related_name="tickets")
    calendar_version = models.ForeignKey(
        "contracts.CalendarVersion",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="In force at receipt",
    )
    site = models.ForeignKey(
        "contracts.Site", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    environment = models.CharField(max_length=10, blank=True, help_text="prod, stage or dev")
    type = models.CharField(max_length=20, choices=RequestType.choices)
    priority = models.CharField(max_length=2, choices=Priority.choices)
    proposed_priority = models.CharField(max_length=2, choices=Priority.choices, blank=True)
    priority_confirmed = models.BooleanField(default=False)
    subject = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    steps = models.TextField(blank=True, help_text="Steps to reproduce")
    state = models.CharField(max_length=24, choices=State.choices, default=State.NEW)
    incomplete = models.BooleanField(default=False)
    missing_fields = models.JSONField(default=list, blank=True)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    requester = models.ForeignKey(
        "contracts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="requests"
    )
    requester_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tickets",
    )
    received_at = models.DateTimeField()
    token = models.CharField(max_length=16, unique=True, default=_new_token, editable=False)
    # Bug-versus-change-request checklist (the guide): specified / accepted / worked before /
    # external change / initiated by; with who classified and why.
    classification = models.JSONField(default=dict, blank=True)
    # Derived clock columns (see desk.clocks.recompute).
    response_due = models.DateTimeField(null=True, blank=True)
    response_met_at = models.DateTimeField(null=True, blank=True)
    resolution_due = models.DateTimeField(null=True, blank=True)
    resolution_met_at = models.DateTimeField(null=True, blank=True)
    recovery_due = models.DateTimeField(null=True, blank=True)
    recovery_met_at = models.DateTimeField(null=True, blank=True)
    next_due_at = models.DateTimeField(
        null=True, blank=True, help_text="Earliest unmet due instant (queue order)"
    )
    next_check_at = models.DateTimeField(
        null=True, blank=True, help_text="When the escalation loop looks next"
    )
    first_response_at = models.DateTimeField(null=True, blank=True)
    recovered_at = models.DateTimeField(null=True, blank=True)
    after_hours_p1_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the request became P1 outside business hours on a plan with after-hours emergency "
        "cover: on-call is paged once for it (agreement 2.2)",
    )
    sender_check = models.CharField(
        max_length=12,
        choices=SenderCheck.choices,
        default=SenderCheck.NOT_NEEDED,
        blank=True,
        help_text="An e-mail request whose sender could not be verified waits, clocks paused, until the "
        "contact confirms it or staff accept it",
    )
    mail_auth = models.JSONField(
        default=dict, blank=True, help_text="What the sender check of the request's e-mail said"
    )
    detection_key = models.CharField(
        max_length=200,
        blank=True,
        help_text="For a request the platform opened: the episode it was opened for (desk.detected) — one "
        "request per episode, even when two workers detect it at once",
    )
    # A duplicate merged into another request of the same client (desk.services.merge): closed, with a pointer
    # to the survivor, which carries the conversation and the SLA clocks from then on.
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_from",
        help_text="The request this duplicate was merged into",
    )
    merged_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was merged; its clocks stop here"
    )
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name = "request"
        verbose_name_plural = "requests"
        constraints = [
            models.UniqueConstraint(
                fields=["detection_key"], condition=~models.Q(detection_key=""), name="ticket_one_per_episode"
            )
        ]
        indexes = [
            models.Index(fields=["next_due_at"], name="ticket_next_due"),
            models.Index(fields=["next_check_at"], name="ticket_next_check"),
            models.Index(fields=["client", "state"], name="ticket_client_state"),
            models.Index(fields=["response_due"], name="ticket_response_due"),
            models.Index(fields=["resolution_due"], name="ticket_resolution_due"),
            models.Index(fields=["sender_check"], name="ticket_sender_check"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.subject}"

    @property
    def reference(self) -> str:
        return f"SK-{self.pk:05d}" if self.pk else "SK-new"

    @property
    def is_open(self) -> bool:
        return self.state not in CLOSED_STATES

    @property
    def merged(self) -> bool:
        """Merged into another request (closed; that request carries on)."""
        return self.merged_into_id is not None

    @property
    def merged_into_reference(self) -> str:
        """The survivor's reference without loading it ("SK-00012"), or ""."""
        return f"SK-{self.merged_into_id:05d}" if self.merged_into_id else ""

    @property
    def unverified(self) -> bool:
        """Mailed by someone we could not show to be the contact: no clocks, no page, until confirmed."""
        return self.sender_check == SenderCheck.UNVERIFIED

    @property
    def detected(self) -> bool:
        """Opened by the platform (a probe, a scan, an audit, the update pipeline), not by a person."""
        return self.channel in DETECTED_CHANNELS


class Event(models.Model):
    """The ticket's timeline: every state change, pause, priority change, reply, clock event. Append-only."""

    class Kind(models.TextChoices):
        RECEIVED = "received"
        MESSAGE = "message"
        STATE = "state"
        PAUSE = "pause"
        RESUME = "resume"
        PRIORITY = "priority"
        CLASSIFY = "classify"
        ASSIGN = "assign"
        RESPONDED = "responded"
        RECOVERED = "recovered"
        RESOLVED = "resolved"
        REOPENED = "reopened"
        COMPLETED = "completed"
        TIME = "time"
        WARNING = "warning"
        BREACH = "breach"
        ATTACHMENT = "attachment"
        PAGE = "page"  # on-call paged for a P1 after hours
        DECISION = "decision"  # the client's emergency contact told that we need a decision
        MERGED = "merged"  # this duplicate was merged into another request (data: into, reference)
        MERGED_IN = "merged_in"  # another request was merged into this one (data: source, reference)
        LINKED = "linked"  # related to another request (data: other, reference)
        UNLINKED = "unlinked"  # no longer related (data: other, reference)

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    kind = models.CharField(max_length=12, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True)
    data = models.JSONField(default=dict, blank=True)
    public = models.BooleanField(default=True, help_text="Shown to the client")

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["ticket", "kind"], name="event_ticket_kind")]
        verbose_name = "timeline event"
        verbose_name_plural = "timeline events"

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"


class Pause(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="pauses")
    reason = models.CharField(max_length=24, choices=PauseReason.choices)
    note = models.CharField(max_length=300, blank=True, help_text="Shown to the client")
    start = models.DateTimeField()
    end = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["start", "id"]
        verbose_name = "pause"
        verbose_name_plural = "pauses"

    def __str__(self) -> str:
        return f"{self.get_reason_display()} from {self.start:%Y-%m-%d %H:%M}"


class Message(models.Model):
    class Kind(models.TextChoices):
        REPLY = "reply", "Reply"
        NOTE = "note", "Internal note"
        AUTO = "auto", "Automatic acknowledgement"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.REPLY)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_contact = models.ForeignKey(
        "contracts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_agency = models.BooleanField(default=False)
    body = models.TextField()
    channel = models.CharField(max_length=10, choices=Channel.choices)
    email_message_id = models.CharField(max_length=300, blank=True, db_index=True)
    email_digest = models.CharField(
        max_length=64, blank=True, help_text="Digest of the mail's content: a reused Message-ID is told apart"
    )
    unverified = models.BooleanField(
        default=False,
        help_text="Mailed from a contact's address we could not verify: kept, changes nothing on the request",
    )
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]
        verbose_name = "message"
        verbose_name_plural = "messages"

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"


class Attachment(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="attachments"
    )
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    path = models.CharField(max_length=400, help_text="Relative to SITEKEEPER_HOME/attachments")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()

    class Meta:
        verbose_name = "attachment"
        verbose_name_plural = "attachments"

    def __str__(self) -> str:
        return self.filename


@audited
class TimeEntry(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="time_entries")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="time_entries")
    day = models.DateField()
    minutes = models.PositiveIntegerField(help_text="As worked")
    billed_minutes = models.PositiveIntegerField(help_text="Rounded up to the contract's billing unit")
    billable = models.BooleanField(default=False, help_text="Billed at the contract rate, not included hours")
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["day", "id"]
        verbose_name = "time entry"
        verbose_name_plural = "time entries"

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.user_id} {self.billed_minutes} min"

    @property
    def client_id(self) -> int:
        return self.ticket.client_id


class Escalation(models.Model):
    """One warning, breach notice or after-hours page. The unique constraint makes sending exactly-once
    across workers. A page's `clock` is "emergency" and its `due` the instant the request became P1."""

    class Kind(models.TextChoices):
        WARNING = "warning"
        BREACH = "breach"
        PAGE = "page"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="escalations")
    clock = models.CharField(max_length=12)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    due = models.DateTimeField(help_text="The due instant this notice was about")
    at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ticket", "clock", "kind", "due"], name="escalation_once"),
        ]
        verbose_name = "escalation notice"
        verbose_name_plural = "escalation notices"

    def __str__(self) -> str:
        return f"{self.ticket_id} {self.clock} {self.kind}"


@audited
class TicketLink(models.Model):
    """Two requests of one client that staff marked as related ("Related: SK-00012" on both). Stored once per
    pair, the lower id first, so linking A to B and B to A is the same link."""

    first = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    second = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["first_id", "second_id"]
        verbose_name = "request link"
        verbose_name_plural = "request links"
        constraints = [
            models.UniqueConstraint(fields=["first", "second"], name="ticket_link_once"),
            models.CheckConstraint(
                condition=models.Q(first__lt=models.F("second")), name="ticket_link_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"SK-{self.first_id:05d} ↔ SK-{self.second_id:05d}"

    @property
    def client_id(self) -> int:
        return self.first.client_id
