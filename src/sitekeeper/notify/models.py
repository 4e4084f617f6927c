"""Deliveries (one row per message per recipient, retried until sent or given up) and people's preferences."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import models

from sitekeeper.access.audit import audited
from sitekeeper.access.crypto import EncryptedTextField, fingerprint
from sitekeeper.notify.message import Message, Recipient, redact


class Kind(models.TextChoices):
    EMAIL = "email", "E-mail"
    APPRISE = "apprise", "Apprise URL (Slack, Teams, Telegram, ntfy, …)"
    WEBHOOK = "webhook", "Webhook (signed JSON POST)"


def target_digest(kind: str, target: str) -> str:
    """Keyed fingerprint of a target: unique constraints work although the target itself is encrypted."""
    normalised = target.strip().lower() if kind == Kind.EMAIL else target.strip()
    return fingerprint(f"{kind}:{normalised}")


class Delivery(models.Model):
    """One message to one recipient. Rows are written by `notify()` and changed only by the sending loop."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed (gave up)"

    key = models.CharField(max_length=200, help_text="The caller's idempotency key, e.g. ticket:42:breach")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # Apprise and webhook URLs carry tokens, so the target is encrypted like a secret; `label` is for people.
    target = EncryptedTextField()
    target_digest = models.CharField(max_length=64, editable=False)
    label = models.CharField(max_length=200)
    name = models.CharField(max_length=200, blank=True)
    secret = EncryptedTextField(blank=True, default="")
    event = models.CharField(max_length=100, blank=True)
    message = models.JSONField(help_text="Message.to_json()")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # While pending: when to try next. While sending: when the claim lapses (a worker died mid-send).
    next_attempt_at = models.DateTimeField()
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["key", "kind", "target_digest"], name="notify_delivery_once_per_key"
            )
        ]
        indexes = [
            # The sending loop's one query: due rows only, so the index stays small as sent rows pile up.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status__in=["pending", "sending"]),
                name="notify_delivery_due",
            )
        ]

    def __str__(self) -> str:
        return f"{self.key} → {self.kind} {self.label} ({self.status})"

    def recipient(self) -> Recipient:
        return Recipient(kind=self.kind, target=self.target, name=self.name, secret=self.secret)

    def as_message(self) -> Message:
        return Message.from_json(self.message)


def _validate_target(kind: str, target: str) -> None:
    if kind == Kind.EMAIL:
        if target:  # blank: the person's own address
            validate_email(target)
    elif kind == Kind.WEBHOOK:
        URLValidator(schemes=["http", "https"])(target)
    elif "://" not in target:
        raise ValidationError("an Apprise URL looks like slack://…, tgram://…, ntfy://…")


@audited
class NotificationPreference(models.Model):
    """How one contact or one user wants to hear about events. No preferences at all: e-mail to them."""

    contact = models.ForeignKey(
        "contracts.Contact",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notification_preferences",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notification_preferences",
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.EMAIL)
    target = EncryptedTextField(
        blank=True,
        help_text="E-mail address, Apprise URL or webhook URL; blank e-mail: the person's own address.",
    )
    label = models.CharField(max_length=200, editable=False)
    secret = EncryptedTextField(blank=True, default="", help_text="Webhooks: the HMAC-SHA256 signing secret")
    events = models.JSONField(
        default=list,
        blank=True,
        help_text='Event prefixes, e.g. ["ticket.breach", "monitor"]; empty means every event',
    )
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(contact__isnull=False, user__isnull=True)
                    | models.Q(contact__isnull=True, user__isnull=False)
                ),
                name="notify_preference_one_owner",
            )
        ]

    def __str__(self) -> str:
        owner = self.contact if self.contact_id else self.user
        return f"{owner}: {self.get_kind_display()} {self.label}"

    def save(self, *args: object, **kwargs: object) -> None:
        self.label = redact(self.kind, self.target) if self.target else "(own address)"
        super().save(*args, **kwargs)

    @property
    def client_id(self) -> int | None:
        """Lets the audit log file the change under the person's client."""
        owner = self.contact if self.contact_id else self.user
        return getattr(owner, "client_id", None)

    def clean(self) -> None:
        if bool(self.contact_id) == bool(self.user_id):
            raise ValidationError("A preference belongs to exactly one contact or one user.")
        if self.kind != Kind.EMAIL and not self.target:
            raise ValidationError({"target": "This channel needs a URL."})
        try:
            _validate_target(self.kind, self.target)
        except ValidationError as exc:
            raise ValidationError({"target": exc.messages}) from None
        if not isinstance(self.events, list) or not all(isinstance(item, str) for item in self.events):
            raise ValidationError({"events": "A list of event prefixes (strings)."})
