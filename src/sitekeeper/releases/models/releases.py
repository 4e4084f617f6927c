"""The staged update pipeline's records: update packages the agency provides or fetches, and releases — one
per pipeline run on a site: what changed from which version to which, every check on stage and prod, the
restore point, who approved it and how it ended. Visible to the client."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from sitekeeper.access.audit import audited
from sitekeeper.security.models.inventory import Ecosystem

__all__ = ["Release", "ReleaseChange", "ReleaseKind", "ReleaseStatus", "UpdatePackage"]


@audited
class UpdatePackage(models.Model):
    """A zip of a newer plugin, theme or WordPress core, stored under SITEKEEPER_HOME/packages."""

    ecosystem = models.CharField(max_length=20, choices=Ecosystem.choices)
    slug = models.CharField(max_length=200, help_text="Plugin/theme folder; 'wordpress' for core")
    version = models.CharField(max_length=100)
    file = models.CharField(max_length=500, help_text="Path of the stored zip")
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField(default=0)
    source_url = models.CharField(max_length=1000, blank=True, help_text="Where it was fetched from")
    security = models.BooleanField(
        default=False, help_text="Fixes a vulnerability: emergency on weekly+emergency"
    )
    notes = models.TextField(blank=True, help_text="Changelog excerpt")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "update package"
        verbose_name_plural = "update packages"
        ordering = ["ecosystem", "slug", "-added_at"]
        constraints = [
            models.UniqueConstraint(fields=["ecosystem", "slug", "version"], name="update_package_unique")
        ]

    def __str__(self) -> str:
        return f"{self.slug} {self.version}"


class ReleaseKind(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled batch"
    EMERGENCY = "emergency", "Emergency security update"
    MANUAL = "manual", "On demand"


class ReleaseStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    STAGING = "staging", "Applying to stage"
    STAGE_FAILED = "stage_failed", "Failed on stage (prod untouched)"
    AWAITING_WINDOW = "awaiting_window", "Waiting for the maintenance window"
    DEPLOYING = "deploying", "Applying to production"
    DEPLOYED = "deployed", "Deployed"
    ROLLED_BACK = "rolled_back", "Rolled back"
    FAILED = "failed", "Failed (rollback did not complete)"
    CANCELLED = "cancelled", "Cancelled"


@audited
class Release(models.Model):
    site = models.ForeignKey("contracts.Site", on_delete=models.CASCADE, related_name="releases")
    kind = models.CharField(max_length=10, choices=ReleaseKind.choices, default=ReleaseKind.SCHEDULED)
    slot = models.CharField(max_length=80, help_text="One release per (site, slot): scheduling is idempotent")
    status = models.CharField(max_length=16, choices=ReleaseStatus.choices, default=ReleaseStatus.PLANNED)
    created_at = models.DateTimeField(auto_now_add=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    window_start = models.DateTimeField(null=True, blank=True, help_text="When prod may be updated")
    window_end = models.DateTimeField(null=True, blank=True)
    stage_started_at = models.DateTimeField(null=True, blank=True)
    stage_finished_at = models.DateTimeField(null=True, blank=True)
    prod_started_at = models.DateTimeField(null=True, blank=True)
    prod_finished_at = models.DateTimeField(null=True, blank=True)
    restore_point = models.JSONField(
        default=list, blank=True, help_text="[{source, snapshot (pk), restic_id}] taken before prod"
    )
    checks = models.JSONField(default=list, blank=True, help_text="[{environment, name, ok, detail, at}]")
    outcome = models.TextField(blank=True, help_text="One paragraph a client can read")
    log = models.TextField(blank=True)
    progress = models.JSONField(default=dict, blank=True)
    owner = models.CharField(max_length=120, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    client_notified_at = models.DateTimeField(null=True, blank=True, help_text="Emergency updates")
    ticket = models.ForeignKey(
        "desk.Ticket", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text="Incident opened when prod failed its checks",
    )  # fmt: skip

    class Meta:
        verbose_name = "release"
        verbose_name_plural = "releases"
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["site", "slot"], name="release_unique_slot")]
        indexes = [models.Index(fields=["status", "window_start"])]

    def __str__(self) -> str:
        return f"release {self.slot} of {self.site}"

    @property
    def client_id(self) -> int:
        return self.site.client_id


class ReleaseChange(models.Model):
    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="changes")
    package = models.ForeignKey(UpdatePackage, on_delete=models.PROTECT, related_name="+")
    ecosystem = models.CharField(max_length=20, choices=Ecosystem.choices)
    slug = models.CharField(max_length=200)
    name = models.CharField(max_length=200, blank=True)
    from_version = models.CharField(max_length=100, blank=True)
    to_version = models.CharField(max_length=100)

    class Meta:
        verbose_name = "release change"
        verbose_name_plural = "release changes"
        ordering = ["release", "ecosystem", "slug"]

    def __str__(self) -> str:
        return f"{self.slug} {self.from_version} → {self.to_version}"
