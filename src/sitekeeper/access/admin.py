"""Django admin for people, tokens and the audit log. Only the agency admin reaches /admin/ (User.save)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.contrib.auth.models import Group
from django.http import HttpRequest

from sitekeeper.access.models import ApiToken, AuditEntry, User

# Access is decided by User.role (and User.client), never by groups: hide them so nobody configures them
# believing they grant anything.
admin.site.unregister(Group)
admin.site.site_header = "sitekeeper administration"
admin.site.site_title = "sitekeeper admin"
admin.site.site_url = "/staff/"


class SitekeeperUserCreationForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "role", "client")


class SitekeeperUserChangeForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = SitekeeperUserChangeForm
    add_form = SitekeeperUserCreationForm
    list_display = ("username", "get_full_name", "email", "role", "client", "is_active", "last_login")
    list_filter = ("role", "client", "is_active")
    list_select_related = ("client",)
    search_fields = ("username", "first_name", "last_name", "email")
    autocomplete_fields = ("client",)
    # is_staff/is_superuser follow the role (User.save); groups and per-user permissions are not used.
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Person", {"fields": ("first_name", "last_name", "email")}),
        ("Access", {"fields": ("role", "client", "is_active")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {"classes": ("wide",), "fields": ("username", "role", "client", "password1", "password2")},
        ),
    )
    readonly_fields = ("last_login", "date_joined")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued by their owner at /account/tokens/ (the key is shown once); here: see and revoke."""

    list_display = ("name", "user", "prefix", "created_at", "last_used_at")
    list_select_related = ("user",)
    search_fields = ("name", "user__username", "prefix")
    readonly_fields = ("user", "prefix", "digest", "created_at", "last_used_at")
    fields = ("name", "user", "prefix", "digest", "created_at", "last_used_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The audit log is evidence: it can be read and searched, never written or removed here."""

    list_display = ("at", "actor_label", "action", "model", "object_repr", "client")
    list_filter = ("action", "model", "client")
    list_select_related = ("client",)
    search_fields = ("actor_label", "object_repr", "object_pk")
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False
