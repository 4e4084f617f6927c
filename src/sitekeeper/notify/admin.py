"""Admin: deliveries are a read-only record; preferences are edited, with secrets never shown in clear."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from sitekeeper.notify.models import Delivery, NotificationPreference


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """What was sent to whom and why it failed; the sending loop alone changes these rows."""

    list_display = ("created_at", "key", "event", "kind", "label", "status", "attempts", "next_attempt_at")
    list_filter = ("status", "kind", "event")
    search_fields = ("key", "label", "event")
    date_hierarchy = "created_at"
    # target and secret are left out: the label says where, without the tokens in the URL.
    fields = (
        "key",
        "event",
        "kind",
        "label",
        "name",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
        "created_at",
        "sent_at",
        "message",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Delivery | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Delivery | None = None) -> bool:
        # A delivery is the record of what was sent, and its key is what keeps notify() idempotent.
        return False


class PreferenceForm(forms.ModelForm):
    # The secret is write-only: the form never renders it, and a blank field keeps the stored value.
    secret = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Webhooks: the HMAC-SHA256 signing secret. Leave blank to keep the current one.",
    )
    clear_secret = forms.BooleanField(required=False, help_text="Remove the stored secret.")

    class Meta:
        model = NotificationPreference
        fields = ("contact", "user", "kind", "target", "secret", "clear_secret", "events", "active")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("clear_secret"):
            data["secret"] = ""
        elif not data.get("secret") and self.instance.pk:
            data["secret"] = self.instance.secret
        return data


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    form = PreferenceForm
    list_display = ("__str__", "kind", "label", "events", "has_secret", "active")
    list_filter = ("kind", "active")
    list_select_related = ("contact", "user")
    search_fields = ("label", "contact__name", "contact__email", "user__username", "user__email")
    autocomplete_fields = ("user",)
    raw_id_fields = ("contact",)

    @admin.display(boolean=True, description="secret")
    def has_secret(self, obj: NotificationPreference) -> bool:
        return bool(obj.secret)
