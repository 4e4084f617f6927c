"""People, their roles, API tokens, and the audit log of every change a person makes."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models


class Role(models.TextChoices):
    AGENCY_ADMIN = "agency_admin", "Agency admin"
    ENGINEER = "engineer", "Engineer"
    ACCOUNT_MANAGER = "account_manager", "Account manager"
    CLIENT_OWNER = "client_owner", "Client product owner"
    CLIENT_MEMBER = "client_member", "Client member"


AGENCY_ROLES = frozenset({Role.AGENCY_ADMIN, Role.ENGINEER, Role.ACCOUNT_MANAGER})
CLIENT_ROLES = frozenset({Role.CLIENT_OWNER, Role.CLIENT_MEMBER})


class SitekeeperUserManager(UserManager):
    """`createsuperuser` makes an agency admin: a superuser with the default role (client member, no client)
    would break the role/client rule and crash with an IntegrityError."""

    def create_superuser(self, username, email=None, password=None, **extra_fields):  # type: ignore[no-untyped-def]
        extra_fields.setdefault("role", Role.AGENCY_ADMIN)
        if extra_fields["role"] != Role.AGENCY_ADMIN:
            raise ValueError("a superuser is an agency admin (role agency_admin)")
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    """An individual account: agency staff, or a person at one client (never shared logins)."""

    objects = SitekeeperUserManager()

    role = models.CharField(max_length=20, choices=Role.choices, default=Role.CLIENT_MEMBER)
    client = models.ForeignKey(
        "contracts.Client", null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    # Set only by the demo seed on the accounts it creates (never in a form: editable=False), so `make demo`
    # works without a phone. It spares the second factor only on an installation not served over https
    # (access/twofactor.py), and it is shown in the user admin and written to the audit log.
    is_demo = models.BooleanField(
        "demo account",
        default=False,
        editable=False,
        help_text="Created by `sitekeeper demo`; no second factor while the site is not on https.",
    )

    class Meta:
        constraints = [
            # A client person always belongs to exactly one client; agency staff to none.
            models.CheckConstraint(
                condition=(
                    models.Q(role__in=["client_owner", "client_member"], client__isnull=False)
                    | models.Q(role__in=["agency_admin", "engineer", "account_manager"], client__isnull=True)
                ),
                name="user_role_matches_client",
            )
        ]

    @property
    def is_agency(self) -> bool:
        return self.role in AGENCY_ROLES

    def save(self, *args: object, **kwargs: object) -> None:
        # Only the agency admin reaches Django's admin site.
        self.is_staff = self.role == Role.AGENCY_ADMIN
        self.is_superuser = self.role == Role.AGENCY_ADMIN
        super().save(*args, **kwargs)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    """A per-user API token; only its SHA-256 is stored, the key is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=8, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API token"
        verbose_name_plural = "API tokens"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, user: User, name: str) -> tuple[ApiToken, str]:
        key = "sk_" + secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name, prefix=key[3:11], digest=_digest(key))
        return token, key

    @classmethod
    def find(cls, key: str) -> ApiToken | None:
        return cls.objects.select_related("user").filter(digest=_digest(key), user__is_active=True).first()


class AuditEntry(models.Model):
    """One change a person made: who, when, what, and the fields before and after."""

    class Action(models.TextChoices):
        CREATE = "create"
        UPDATE = "update"
        DELETE = "delete"

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(max_length=150)
    action = models.CharField(max_length=10, choices=Action.choices)
    model = models.CharField(max_length=100)
    object_pk = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    client = models.ForeignKey(
        "contracts.Client", null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_entries"
    )

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "audit entry"
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.model} {self.object_repr}"


class Invitation(models.Model):
    """An e-mailed invitation to become a person here with a role (access/invitations.py).

    Only the SHA-256 of the link's token is stored: the link is mailed once and never shown again. It works
    until `expires_at`, once, and not after it was revoked; re-sending it issues a new token (the old link
    stops working) and a new expiry.
    """

    email = models.EmailField("e-mail address")
    role = models.CharField(max_length=20, choices=Role.choices)
    client = models.ForeignKey(
        "contracts.Client", null=True, blank=True, on_delete=models.CASCADE, related_name="invitations"
    )
    invited_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="invitations_sent"
    )
    invited_by_label = models.CharField(max_length=150)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField()
    send_count = models.PositiveIntegerField(default=1)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_user = models.OneToOneField(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="invitation"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(role__in=["client_owner", "client_member"], client__isnull=False)
                    | models.Q(role__in=["agency_admin", "engineer", "account_manager"], client__isnull=True)
                ),
                name="invitation_role_matches_client",
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.get_role_display()})"
