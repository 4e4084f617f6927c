"""Findings: one row per distinct problem a scan found on a site, kept open until it is gone or a person
accepts it. `key` makes a finding idempotent across scans (the same plugin vulnerability, the same changed
file is one finding seen many times, not a new one each night)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models

from sitekeeper.access.audit import audited


class FindingKind(models.TextChoices):
    VULNERABILITY = "vulnerability", "Known vulnerability"
    INTEGRITY = "integrity", "File integrity"
    MALWARE = "malware", "Malware"
    SUSPICIOUS = "suspicious", "Suspicious activity"
    PERFORMANCE = "performance", "Performance regression"
    SITE_ERRORS = "site_errors", "Pages returning errors"


# Security findings (the security pages, the API under /security, security incidents) and site-health
# findings (the performance and link pages): a Lighthouse regression or a page-error share is not security.
SECURITY_KINDS = (
    FindingKind.VULNERABILITY,
    FindingKind.INTEGRITY,
    FindingKind.MALWARE,
    FindingKind.SUSPICIOUS,
)
HEALTH_KINDS = (FindingKind.PERFORMANCE, FindingKind.SITE_ERRORS)


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"
    INFO = "info", "Info"


class FindingStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved (no longer found)"
    ACCEPTED = "accepted", "Accepted by a person"


@audited
class Finding(models.Model):
    site = models.ForeignKey("contracts.Site", on_delete=models.CASCADE, related_name="findings")
    environment = models.CharField(max_length=10, default="prod")
    kind = models.CharField(max_length=14, choices=FindingKind.choices)
    key = models.CharField(max_length=300, help_text="Stable identity across scans")
    severity = models.CharField(max_length=10, choices=Severity.choices)
    title = models.CharField(max_length=300)
    details = models.JSONField(default=dict, blank=True, help_text="What was found: paths, diff, versions")
    remediation = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=FindingStatus.choices, default=FindingStatus.OPEN)
    first_seen = models.DateTimeField()
    detected_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Start of the current episode: first seen, or seen again after resolved",
    )
    last_seen = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    ticket = models.ForeignKey(
        "desk.Ticket", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = "finding"
        verbose_name_plural = "findings"
        ordering = ["-last_seen"]
        constraints = [
            models.UniqueConstraint(fields=["site", "environment", "kind", "key"], name="finding_unique_key")
        ]
        indexes = [models.Index(fields=["site", "status", "kind"])]

    def __str__(self) -> str:
        return f"[{self.severity}] {self.title}"

    @property
    def client_id(self) -> int:
        return self.site.client_id

    @property
    def episode_start(self) -> dt.datetime:
        """When this episode of the finding was detected (older rows: their first sighting)."""
        return self.detected_at or self.first_seen

    @property
    def is_security(self) -> bool:
        return self.kind in SECURITY_KINDS
