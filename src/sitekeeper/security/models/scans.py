"""One row per step of a security pass over a site (inventory, integrity, malware, suspicious): when it ran
and whether it could. "Nothing found" is only true of a step that ran; a site whose steps never ran is
"never scanned", and one whose last good run is older than the scan interval allows is overdue — both are
the agency's to fix, never an all-clear for the client. Written by the scanner (no person): not audited."""

from __future__ import annotations

from django.db import models

__all__ = ["ScanOutcome", "ScanStepRun"]


class ScanOutcome(models.TextChoices):
    OK = "ok", "Ran"
    SKIPPED = "skipped", "Could not run (nothing to read)"
    FAILED = "failed", "Failed"


class ScanStepRun(models.Model):
    site = models.ForeignKey("contracts.Site", on_delete=models.CASCADE, related_name="scan_step_runs")
    environment = models.CharField(max_length=10, default="prod")
    step = models.CharField(max_length=12, help_text="inventory, integrity, malware or suspicious")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    outcome = models.CharField(max_length=8, choices=ScanOutcome.choices)
    summary = models.CharField(max_length=500, blank=True, help_text="What it found, or why it failed")

    class Meta:
        verbose_name = "scan step run"
        verbose_name_plural = "scan step runs"
        ordering = ["-finished_at"]
        indexes = [
            models.Index(
                fields=["site", "environment", "step", "finished_at"], name="security_scan_step_recent"
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.site} [{self.environment}] {self.step} {self.outcome} {self.finished_at:%Y-%m-%d %H:%M}"
        )

    @property
    def client_id(self) -> int:
        return self.site.client_id
