"""Lighthouse audits: one audit per site and run, one result per (key page, form factor) holding the median
of the runs' scores and metrics and the median run's report (gzip-compressed JSON, dropped after the
retention period)."""

from __future__ import annotations

from django.db import models

from sitekeeper.health.models.jobs import HealthJob

__all__ = ["FormFactor", "LighthouseResult", "PerformanceAudit"]


class FormFactor(models.TextChoices):
    MOBILE = "mobile", "Mobile"
    DESKTOP = "desktop", "Desktop"


class PerformanceAudit(HealthJob):
    site = models.ForeignKey("contracts.Site", on_delete=models.CASCADE, related_name="performance_audits")
    runs = models.PositiveSmallIntegerField(default=3, help_text="Lighthouse runs per page and form factor")
    lighthouse_version = models.CharField(max_length=20, blank=True)

    class Meta:
        verbose_name = "performance audit"
        verbose_name_plural = "performance audits"
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["site", "slot"], name="performance_audit_unique_slot")]
        indexes = [models.Index(fields=["site", "status", "-created_at"])]

    def __str__(self) -> str:
        return f"performance audit {self.slot} of {self.site}"


class ResultQuerySet(models.QuerySet):
    def without_report(self) -> ResultQuerySet:
        """Rows for lists and charts: the gzip report (up to a few hundred KB each) stays in the database;
        `has_report` says whether there is one to download."""
        has_report = models.ExpressionWrapper(
            models.Q(report_gz__isnull=False), output_field=models.BooleanField()
        )
        return self.defer("report_gz").annotate(has_report=has_report)


class LighthouseResult(models.Model):
    audit = models.ForeignKey(PerformanceAudit, on_delete=models.CASCADE, related_name="results")
    site = models.ForeignKey("contracts.Site", on_delete=models.CASCADE, related_name="lighthouse_results")
    page = models.ForeignKey("health.KeyPage", on_delete=models.SET_NULL, null=True, related_name="results")
    url = models.URLField(max_length=1000)
    form_factor = models.CharField(max_length=8, choices=FormFactor.choices)
    measured_at = models.DateTimeField()
    # Category scores 0-100 (median of the runs); None when Lighthouse could not score the category.
    performance = models.PositiveSmallIntegerField(null=True, blank=True)
    accessibility = models.PositiveSmallIntegerField(null=True, blank=True)
    best_practices = models.PositiveSmallIntegerField(null=True, blank=True)
    seo = models.PositiveSmallIntegerField(null=True, blank=True)
    run_scores = models.JSONField(default=list, blank=True, help_text="Performance score of every run")
    # Key metrics of the median run
    lcp_ms = models.PositiveIntegerField(null=True, blank=True)
    fcp_ms = models.PositiveIntegerField(null=True, blank=True)
    tbt_ms = models.PositiveIntegerField(null=True, blank=True)
    speed_index_ms = models.PositiveIntegerField(null=True, blank=True)
    ttfb_ms = models.PositiveIntegerField(null=True, blank=True)
    cls = models.DecimalField(max_digits=6, decimal_places=3, null=True, blank=True)
    page_weight_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    over_budget = models.JSONField(default=list, blank=True, help_text="[{metric, limit, actual}]")
    error = models.TextField(blank=True)
    report_gz = models.BinaryField(null=True, blank=True, help_text="Median run's JSON report, gzip")
    report_purged_at = models.DateTimeField(null=True, blank=True)
    ticket = models.ForeignKey(
        "desk.Ticket", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text="The P2 opened for a drop of more than the allowed points",
    )  # fmt: skip

    objects = ResultQuerySet.as_manager()

    class Meta:
        verbose_name = "Lighthouse result"
        verbose_name_plural = "Lighthouse results"
        ordering = ["site", "url", "form_factor", "-measured_at"]
        indexes = [models.Index(fields=["site", "url", "form_factor", "measured_at"])]

    def __str__(self) -> str:
        return f"{self.url} {self.form_factor} {self.performance}"

    @property
    def client_id(self) -> int:
        return self.site.client_id
