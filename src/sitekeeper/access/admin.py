"""Django admin for people, tokens and the audit log. Only the agency admin reaches /admin/ (User.save)."""

from __future__ import annotations

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest

from sitekeeper.access import invitations, lockout
from sitekeeper.access.models import ApiToken, AuditEntry, Invitation, User

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
    list_display = (
        "username",
        "get_full_name",
        "email",
        "role",
        "client",
        "is_active",
        "is_demo",
        "last_login",
    )
    list_filter = ("role", "client", "is_active", "is_demo")
    list_select_related = ("client",)
    search_fields = ("username", "first_name", "last_name", "email")
    autocomplete_fields = ("client",)
    # is_staff/is_superuser follow the role (User.save); groups and per-user permissions are not used.
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Person", {"fields": ("first_name", "last_name", "email")}),
        # is_demo: set only by `sitekeeper demo`; shown so a demo account on a real installation stands out.
        ("Access", {"fields": ("role", "client", "is_active", "is_demo")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {"classes": ("wide",), "fields": ("username", "role", "client", "password1", "password2")},
        ),
    )
    readonly_fields = ("last_login", "date_joined", "is_demo")


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


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Invitations are made, re-sent and revoked at /staff/people/ (or `sitekeeper user invite`), where each
    step is audited and the link is mailed; here they can only be read."""

    list_display = ("email", "role", "client", "invited_by_label", "sent_at", "expires_at", "state")
    list_filter = ("role", "client")
    list_select_related = ("client",)
    search_fields = ("email", "invited_by_label")
    fields = (
        "email",
        "role",
        "client",
        "invited_by",
        "invited_by_label",
        "created_at",
        "sent_at",
        "send_count",
        "expires_at",
        "accepted_at",
        "accepted_user",
        "revoked_at",
    )
    readonly_fields = fields

    @admin.display(description="state")
    def state(self, obj: Invitation) -> str:
        return invitations.STATE_LABELS[invitations.state(obj)]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Invitation | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Invitation | None = None) -> bool:
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


# --- Login records (django-axes) --------------------------------------------------------------------------
# axes' own admin lets anyone with access delete failure records, which would unlock an account without an
# audit entry, and delete the login history. Replaced: the records are read-only here, and unlocking goes
# through lockout.unlock (audited), as on /staff/lockouts/ and `sitekeeper user unlock`.
for _model in (AccessAttempt, AccessLog, AccessFailureLog):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(AccessAttempt)
class AccessAttemptAdmin(ReadOnlyAdmin):
    """Recent failed logins (and failed API tokens, username "(api token)"); select rows to unlock them."""

    list_display = (
        "attempt_time",
        "username",
        "ip_address",
        "failures_since_start",
        "path_info",
        "user_agent",
    )
    search_fields = ("username", "ip_address")
    date_hierarchy = "attempt_time"
    fields = ("username", "ip_address", "user_agent", "path_info", "failures_since_start", "attempt_time")
    actions = ("unlock_accounts", "unlock_addresses")

    @admin.action(description="Unlock the accounts of the selected records (audited)")
    def unlock_accounts(self, request: HttpRequest, queryset: QuerySet[AccessAttempt]) -> None:
        names = {row.username for row in queryset if row.username and row.username not in lockout.MARKS}
        self._unlock(request, [{"username": name} for name in sorted(names)])

    @admin.action(description="Unlock the addresses of the selected records (audited)")
    def unlock_addresses(self, request: HttpRequest, queryset: QuerySet[AccessAttempt]) -> None:
        addresses = {row.ip_address for row in queryset if row.ip_address}
        self._unlock(request, [{"address": address} for address in sorted(addresses)])

    def _unlock(self, request: HttpRequest, targets: list[dict[str, str]]) -> None:
        done = []
        for target in targets:
            try:
                lockout.unlock(actor=request.user, **target)
            except lockout.UnlockError as exc:  # cleared meanwhile (another admin, the cool-off)
                self.message_user(request, f"Not unlocked: {exc}.", messages.WARNING)
                continue
            done.append(next(iter(target.values())))
        if done:
            self.message_user(request, f"Unlocked: {', '.join(done)}.", messages.SUCCESS)


@admin.register(AccessLog)
class AccessLogAdmin(ReadOnlyAdmin):
    """Successful logins and logouts: evidence, so read-only."""

    list_display = ("attempt_time", "logout_time", "username", "ip_address", "user_agent")
    search_fields = ("username", "ip_address")
    date_hierarchy = "attempt_time"


@admin.register(AccessFailureLog)
class AccessFailureLogAdmin(ReadOnlyAdmin):
    """Password-reset requests per address (username "(password reset)"), and failures if axes keeps them."""

    list_display = ("attempt_time", "username", "ip_address", "locked_out", "path_info")
    search_fields = ("username", "ip_address")
    date_hierarchy = "attempt_time"
