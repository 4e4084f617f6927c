"""Django admin for monitoring: monitors, outages (exclusion tags), announcements and status pages.

Probe sessions, raw results and rollups are written by the probes and the rollup only: not in the admin.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone

from sitekeeper.monitoring.models import MaintenanceAnnouncement, Monitor, MonitorPause, Outage, StatusPage
from sitekeeper.monitoring.monitors import PROBE_FIELDS


class PauseInline(admin.TabularInline):
    """Pauses are made with Pause/Resume on the site's uptime page (who and when kept): shown only."""

    model = MonitorPause
    extra = 0
    can_delete = False
    fields = ("start", "end", "reason", "paused_by", "resumed_by")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Monitor)
class MonitorAdmin(admin.ModelAdmin):
    inlines = (PauseInline,)

    def get_inlines(self, request, obj=None) -> tuple:
        return self.inlines if obj is not None else ()  # a new monitor has no pauses

    list_display = ("__str__", "site", "environment", "kind", "state", "enabled", "last_checked_at")
    list_filter = ("kind", "environment", "state", "enabled")
    search_fields = ("name", "url", "site__url", "site__client__name")
    raw_id_fields = ("site",)
    readonly_fields = tuple(sorted(PROBE_FIELDS))  # the probes' own fields, as the console leaves them
    # Saving runs Monitor.clean(): a prod monitor that cannot alert within the contract's time is refused.


@admin.register(Outage)
class OutageAdmin(admin.ModelAdmin):
    list_display = ("site", "start", "end", "cause", "exclusion", "tagged_by")
    list_filter = ("exclusion",)
    search_fields = ("site__url", "site__client__name", "cause")
    date_hierarchy = "start"
    readonly_fields = (
        "monitor",
        "site",
        "start",
        "end",
        "cause",
        "priority",
        "ticket",
        "alerted_at",
        "held_until",
        "held",
    )
    fields = (*readonly_fields, "exclusion", "exclusion_reason", "tagged_by", "tagged_at")

    def has_add_permission(self, request) -> bool:
        return False  # outages are confirmed by the probes, never typed in

    def save_model(self, request, obj, form, change) -> None:
        if "exclusion" in form.changed_data:
            obj.tagged_by = request.user if obj.exclusion else None
            obj.tagged_at = timezone.now() if obj.exclusion else None
        super().save_model(request, obj, form, change)


@admin.register(MaintenanceAnnouncement)
class MaintenanceAnnouncementAdmin(admin.ModelAdmin):
    list_display = ("__str__", "contract", "kind", "start", "end", "max_minutes", "announced_at")
    list_filter = ("kind",)
    raw_id_fields = ("contract",)
    filter_horizontal = ("sites",)


@admin.register(StatusPage)
class StatusPageAdmin(admin.ModelAdmin):
    list_display = ("__str__", "client", "slug", "enabled")
    list_filter = ("enabled",)
