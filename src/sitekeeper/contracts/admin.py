"""Django admin for the contract configuration (the agency admin's tool; `sitekeeper apply` is the other)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpRequest

from sitekeeper.contracts.models import (
    Calendar,
    CalendarVersion,
    Client,
    Contact,
    Contract,
    Environment,
    MaintenanceWindow,
    Plan,
    Site,
)
from sitekeeper.monitoring.alerting import contract_alert_problems


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "slug",
        "rank",
        "builtin",
        "uptime_sla",
        "backup_retention_days",
        "update_cadence",
    )
    ordering = ("rank", "slug")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    fieldsets = (
        (None, {"fields": ("name", "slug", "rank", "builtin")}),
        (
            "Service (agreement 1.2, 2.2)",
            {
                "fields": (
                    "backup_retention_days",
                    "update_cadence",
                    ("content_hours", "content_hours_open_ended"),
                    "security_level",
                    "support_channels",
                    "performance_call",
                )
            },
        ),
        (
            "Response (agreement 1.3)",
            {
                "fields": (
                    "standard_response",
                    "response_targets",
                    "resolution_targets",
                    "recovery_targets",
                    "after_hours_emergency",
                )
            },
        ),
        (
            "Uptime and credits (agreement 2.3)",
            {"fields": ("uptime_sla", "credit_kind", "credit_rate", "credit_step", "credit_table")},
        ),
    )


class CalendarVersionInline(admin.TabularInline):
    """Versions are immutable: tickets keep the version they arrived under. New ones come from `apply`."""

    model = CalendarVersion
    extra = 0
    fields = (
        "number",
        "timezone",
        "hours",
        "holiday_country",
        "holiday_subdivision",
        "closures",
        "created_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Calendar | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Calendar | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Calendar | None = None) -> bool:
        return False


@admin.register(Calendar)
class CalendarAdmin(admin.ModelAdmin):
    list_display = ("slug", "name")
    search_fields = ("slug", "name")
    inlines = (CalendarVersionInline,)


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0
    fields = ("name", "email", "role", "phone", "availability")


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "legal_name")
    search_fields = ("name", "slug", "legal_name")
    prepopulated_fields = {"slug": ("name",)}
    inlines = (ContactInline,)


class MaintenanceWindowInline(admin.TabularInline):
    model = MaintenanceWindow
    extra = 0


class ContractForm(forms.ModelForm):
    class Meta:
        model = Contract
        fields = "__all__"  # noqa: DJ007 — the admin edits every setting of a contract

    def clean_alert_minutes(self) -> int:
        """A new or changed alert time must be one every monitor of the client's sites can keep (1.2), as
        `apply` checks it; the message names each monitor and its numbers."""
        minutes = self.cleaned_data["alert_minutes"]
        client = self.cleaned_data.get("client")
        if client is None or (self.instance.pk and self.instance.alert_minutes == minutes):
            return minutes
        problems = contract_alert_problems(Contract(client=client, alert_minutes=minutes), minutes)
        if problems:
            raise ValidationError(problems)
        return minutes


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin):
    form = ContractForm
    list_display = ("client", "plan", "status", "start", "monthly_fee", "currency", "calendar")
    list_filter = ("status", "plan", "currency")
    list_select_related = ("client", "plan", "calendar")
    search_fields = ("client__name", "client__slug")
    autocomplete_fields = ("client",)
    date_hierarchy = "start"
    inlines = (MaintenanceWindowInline,)


# A site address typed without a scheme is an https one (Django 6's default; explicit until then).
HTTPS_URLS = {models.URLField: {"assume_scheme": "https"}}


class EnvironmentInline(admin.TabularInline):
    model = Environment
    extra = 0
    formfield_overrides = HTTPS_URLS


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ("__str__", "url", "client", "platform", "hosting")
    list_filter = ("platform", "client")
    list_select_related = ("client",)
    search_fields = ("name", "url", "client__name")
    autocomplete_fields = ("client",)
    formfield_overrides = HTTPS_URLS
    inlines = (EnvironmentInline,)
