"""What the health jobs (link scans, performance audits) share: status, trigger, the idempotency slot, and the
fields the job seam (sitekeeper.jobs) keeps — owner, lease and the progress the UI polls."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from sitekeeper import jobs

__all__ = ["HealthJob", "JobStatus", "JobTrigger"]


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class JobTrigger(models.TextChoices):
    SCHEDULE = "schedule", "Schedule"
    MANUAL = "manual", "On demand"
    PIPELINE = "pipeline", "Update pipeline"


class HealthJob(models.Model):
    site = models.ForeignKey("contracts.Site", on_delete=models.CASCADE, related_name="+")
    environment = models.CharField(max_length=10, default="prod")
    trigger = models.CharField(max_length=10, choices=JobTrigger.choices, default=JobTrigger.MANUAL)
    slot = models.CharField(max_length=80, help_text="One job per (site, slot): reruns are idempotent")
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    owner = models.CharField(max_length=120, blank=True, help_text="host:pid of the worker running it")
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    progress = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        abstract = True

    @classmethod
    def job_kind(cls) -> jobs.Kind:
        """How the job seam claims these rows: a queued job is taken as it is, a running one only when its
        worker is gone."""
        return jobs.Kind(cls, waiting=(JobStatus.QUEUED,), running=JobStatus.RUNNING)

    @property
    def client_id(self) -> int:
        return self.site.client_id

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()
