"""Django admin for the service desk: a place to look, and to correct a request's wording.

A request's history (events, pauses, messages, attachments, time, escalations) is evidence for the SLA report
and the invoice, and its clock columns are derived from that history (desk.clocks.recompute). So the admin
adds and deletes nothing here, and changes only a ticket's descriptive fields: everything that moves a clock
goes through desk.services — the console, the portal, the API or e-mail.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from sitekeeper.desk.models import (
    Attachment,
    Escalation,
    Event,
    Message,
    Pause,
    Ticket,
    TicketLink,
    TimeEntry,
)


class HistoryOnly:
    """No adding, no deleting: rows are written by desk.services."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnly(HistoryOnly):
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PauseInline(ReadOnly, admin.TabularInline):
    model = Pause
    extra = 0
    fields = ("reason", "note", "start", "end")
    readonly_fields = fields


class MessageInline(ReadOnly, admin.StackedInline):
    model = Message
    extra = 0
    fields = ("at", "kind", "author", "author_contact", "from_agency", "channel", "body")
    readonly_fields = fields


# What services own (state, priority, type, clocks, people) is shown, never edited here.
TICKET_DERIVED = (
    "client",
    "contract",
    "calendar_version",
    "type",
    "priority",
    "proposed_priority",
    "priority_confirmed",
    "state",
    "incomplete",
    "missing_fields",
    "channel",
    "requester",
    "requester_user",
    "assignee",
    "received_at",
    "token",
    "classification",
    "response_due",
    "response_met_at",
    "resolution_due",
    "resolution_met_at",
    "recovery_due",
    "recovery_met_at",
    "next_due_at",
    "next_check_at",
    "first_response_at",
    "recovered_at",
    "after_hours_p1_at",
    "merged_into",
    "merged_at",
    "merged_by",
    "created_at",
    "updated_at",
)


@admin.register(Ticket)
class TicketAdmin(HistoryOnly, admin.ModelAdmin):
    list_display = ("reference", "subject", "client", "type", "priority", "state", "assignee", "next_due_at")
    list_filter = ("state", "priority", "type", "channel", "client")
    list_select_related = ("client", "assignee")
    search_fields = ("subject", "description", "client__name", "client__slug")
    date_hierarchy = "received_at"
    readonly_fields = TICKET_DERIVED
    fieldsets = (
        (None, {"fields": ("client", "subject", "description", "steps", "site", "environment")}),
        (
            "Classification and people",
            {
                "fields": (
                    ("type", "priority", "proposed_priority", "priority_confirmed"),
                    ("state", "incomplete", "missing_fields"),
                    ("channel", "requester", "requester_user", "assignee"),
                    "classification",
                    ("merged_into", "merged_at", "merged_by"),
                )
            },
        ),
        (
            "Clocks (derived from the history)",
            {
                "fields": (
                    ("received_at", "calendar_version", "contract"),
                    ("response_due", "response_met_at", "first_response_at"),
                    ("resolution_due", "resolution_met_at"),
                    ("recovery_due", "recovery_met_at", "recovered_at"),
                    ("next_due_at", "next_check_at", "after_hours_p1_at"),
                    ("token", "created_at", "updated_at"),
                )
            },
        ),
    )
    inlines = (PauseInline, MessageInline)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "site" and field is not None:
            # Only the ticket's own client's sites (the change view is the only form: no adding here).
            match = request.resolver_match
            object_id = str(match.kwargs.get("object_id", "")) if match else ""
            tickets = (
                Ticket.objects.filter(pk=int(object_id)) if object_id.isdigit() else Ticket.objects.none()
            )
            client_id = tickets.values_list("client_id", flat=True).first()
            field.queryset = field.queryset.filter(client_id=client_id)
        return field

    @admin.display(ordering="pk", description="Reference")
    def reference(self, obj: Ticket) -> str:
        return obj.reference


@admin.register(Event)
class EventAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("at", "ticket", "kind", "actor_label", "public")
    list_filter = ("kind", "public")
    list_select_related = ("ticket",)
    search_fields = ("ticket__subject", "actor_label")
    date_hierarchy = "at"


@admin.register(Escalation)
class EscalationAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("at", "ticket", "clock", "kind", "due")
    list_filter = ("kind", "clock")
    list_select_related = ("ticket",)
    date_hierarchy = "at"


@admin.register(Pause)
class PauseAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("ticket", "reason", "start", "end", "note")
    list_filter = ("reason",)
    list_select_related = ("ticket",)


@admin.register(Message)
class MessageAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("at", "ticket", "kind", "author", "author_contact", "channel", "from_agency")
    list_filter = ("kind", "channel", "from_agency")
    list_select_related = ("ticket", "author", "author_contact")
    search_fields = ("body", "ticket__subject", "email_message_id")


@admin.register(Attachment)
class AttachmentAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("filename", "ticket", "content_type", "size", "uploaded_by", "at")
    list_filter = ("content_type",)
    list_select_related = ("ticket", "uploaded_by")
    search_fields = ("filename", "sha256")


@admin.register(TimeEntry)
class TimeEntryAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("day", "ticket", "user", "minutes", "billed_minutes", "billable", "note")
    list_filter = ("billable", "day")
    list_select_related = ("ticket", "user")


@admin.register(TicketLink)
class TicketLinkAdmin(ReadOnly, admin.ModelAdmin):
    """Related requests; linked and unlinked in the console (desk.services.link), shown here."""

    list_display = ("first", "second", "created_by", "created_at")
    list_select_related = ("first", "second", "created_by")
