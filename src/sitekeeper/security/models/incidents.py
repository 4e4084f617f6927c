"""Suspicious-activity snapshots and security incidents.

A snapshot is what the site's database said about its administrators, e-mails, scheduled tasks and
sensitive options at one scan; the next scan compares against it (security/suspicious.py). A security incident
is opened by sitekeeper itself when a finding indicates one (malware, an unannounced administrator, a changed
admin e-mail or site address), or by a person who escalates a finding: it follows the guide's procedure —
first-measures checklist, the 24-hour client notification clock of clause 6.3 (from detection), and a
post-incident report the client can read once published — or it is dismissed by a person as a false
positive, with the reason (which stops the clock).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from sitekeeper.access.audit import audited

__all__ = ["ActivitySnapshot", "ChecklistItem", "SecurityIncident"]


class ActivitySnapshot(models.Model):
    """Written by the scanner (no person), so not audited; the findings it leads to are."""

    site = models.ForeignKey("contracts.Site", on_delete=models.CASCADE, related_name="activity_snapshots")
    environment = models.CharField(max_length=10, default="prod")
    taken_at = models.DateTimeField()
    data = models.JSONField(default=dict, help_text="admins, admin_email, options, cron hooks")

    class Meta:
        verbose_name = "activity snapshot"
        verbose_name_plural = "activity snapshots"
        ordering = ["-taken_at"]
        indexes = [models.Index(fields=["site", "environment", "taken_at"])]

    def __str__(self) -> str:
        return f"{self.site} [{self.environment}] activity {self.taken_at:%Y-%m-%d %H:%M}"

    @property
    def client_id(self) -> int:
        return self.site.client_id


@audited
class SecurityIncident(models.Model):
    site = models.ForeignKey("contracts.Site", on_delete=models.CASCADE, related_name="security_incidents")
    # One incident per episode of a finding (a finding that comes back after it was resolved is a new one).
    finding = models.ForeignKey(
        "security.Finding", on_delete=models.PROTECT, related_name="security_incidents"
    )
    ticket = models.ForeignKey("desk.Ticket", on_delete=models.SET_NULL, null=True, related_name="+")
    detected_at = models.DateTimeField(help_text="When the finding was detected: the 6.3 clock starts here")
    opened_at = models.DateTimeField()
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    automatic = models.BooleanField(
        default=False, help_text="Opened by sitekeeper at detection (the finding indicates an incident)"
    )
    # A person's decision that it was no incident: who, when and why (the client reads the reason).
    dismissed_at = models.DateTimeField(null=True, blank=True)
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    dismissal_reason = models.TextField(blank=True)
    client_notified_at = models.DateTimeField(null=True, blank=True)
    client_notified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    # Post-incident report (guide): what happened, since when, what was done, which data, what prevents it.
    what_happened = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True, help_text="When the incident began, if known")
    actions_taken = models.TextField(blank=True)
    data_affected = models.TextField(blank=True)
    prevention = models.TextField(blank=True)
    report_published_at = models.DateTimeField(null=True, blank=True)
    report_published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = "security incident"
        verbose_name_plural = "security incidents"
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(fields=["finding", "detected_at"], name="security_incident_per_episode")
        ]

    def __str__(self) -> str:
        return f"Security incident #{self.pk} · {self.site}"

    @property
    def dismissed(self) -> bool:
        return self.dismissed_at is not None

    @property
    def client_id(self) -> int:
        return self.site.client_id

    @property
    def published(self) -> bool:
        return self.report_published_at is not None


@audited
class ChecklistItem(models.Model):
    """One first measure of the guide, ticked by the person who did it."""

    incident = models.ForeignKey(SecurityIncident, on_delete=models.CASCADE, related_name="checklist")
    key = models.CharField(max_length=30)
    label = models.CharField(max_length=200)
    position = models.PositiveSmallIntegerField(default=0)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.TextField(blank=True)

    class Meta:
        verbose_name = "incident checklist item"
        verbose_name_plural = "incident checklist items"
        ordering = ["incident", "position"]
        constraints = [models.UniqueConstraint(fields=["incident", "key"], name="incident_checklist_key")]

    def __str__(self) -> str:
        return f"{self.label} ({'done' if self.done_at else 'open'})"

    @property
    def client_id(self) -> int:
        return self.incident.site.client_id
