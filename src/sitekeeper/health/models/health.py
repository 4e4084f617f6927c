"""What the agency sets per site for the health audits and the update pipeline: the link-scan limits, the key
pages (the guide's key scenarios: home, forms, cart/checkout, account) with the text each must show and its
performance budget, and the monthly schedule."""

from __future__ import annotations

import datetime as dt

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from sitekeeper.access.audit import audited
from sitekeeper.health.linklimits import LINK_MAX_DEPTH, LINK_MAX_PAGES

__all__ = ["BUDGET_METRICS", "LINK_MAX_DEPTH", "LINK_MAX_PAGES", "HealthConfig", "KeyPage"]


# Budget keys a key page may set: a minimum category score (0-100) or a maximum metric.
BUDGET_METRICS = {
    "performance": "min performance score (0-100)",
    "accessibility": "min accessibility score (0-100)",
    "lcp_ms": "max Largest Contentful Paint (ms)",
    "fcp_ms": "max First Contentful Paint (ms)",
    "tbt_ms": "max Total Blocking Time (ms)",
    "cls": "max Cumulative Layout Shift",
    "speed_index_ms": "max Speed Index (ms)",
    "ttfb_ms": "max server response time (ms)",
    "page_weight_kb": "max page weight (KiB)",
}


@audited
class HealthConfig(models.Model):
    """One per site; created with defaults the first time a scan or the pipeline needs it."""

    site = models.OneToOneField("contracts.Site", on_delete=models.CASCADE, related_name="health")
    # Link scan
    link_max_depth = models.PositiveSmallIntegerField(
        default=6,
        validators=[MinValueValidator(LINK_MAX_DEPTH[0]), MaxValueValidator(LINK_MAX_DEPTH[1])],
        help_text="Clicks from the start page: pages this deep are read and their links checked",
    )
    link_max_pages = models.PositiveIntegerField(
        default=5000,
        validators=[MinValueValidator(LINK_MAX_PAGES[0]), MaxValueValidator(LINK_MAX_PAGES[1])],
        help_text="Same-site pages read at most (errors, redirects and duplicates do not count)",
    )
    link_concurrency = models.PositiveSmallIntegerField(
        default=4, validators=[MinValueValidator(1)], help_text="Requests in flight per host"
    )
    link_delay_ms = models.PositiveIntegerField(default=0, help_text="Pause between requests to one host")
    link_check_external = models.BooleanField(default=True)
    link_excludes = models.JSONField(default=list, blank=True, help_text="URL prefixes or regexes to skip")
    # Monthly schedule (contract time zone) of the link scan and the performance audit
    audit_day = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(28)], help_text="Day of the month"
    )
    audit_time = models.TimeField(default=dt.time(4, 0))
    # Performance
    lighthouse_runs = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(9)], help_text="Median of N runs"
    )
    drop_points = models.PositiveSmallIntegerField(
        default=40, help_text="A drop of more than this against last month's median opens a P2 (2.1)"
    )
    # Update pipeline
    smoke_lighthouse = models.BooleanField(default=True, help_text="Smoke checks include a Lighthouse run")
    smoke_screenshots = models.BooleanField(default=False, help_text="Compare screenshots of key pages")
    screenshot_similarity = models.DecimalField(
        max_digits=4, decimal_places=3, default=0.98, help_text="Below this, a screenshot check fails"
    )
    error_logs = models.JSONField(
        default=dict,
        blank=True,
        help_text='environment → PHP error log path, e.g. {"prod": "/var/log/php.log"}',
    )

    class Meta:
        verbose_name = "health settings"
        verbose_name_plural = "health settings"

    def __str__(self) -> str:
        return f"health settings of {self.site}"

    @property
    def client_id(self) -> int:
        return self.site.client_id

    @classmethod
    def for_site(cls, site: object) -> HealthConfig:
        config, _ = cls.objects.get_or_create(site=site)
        return config


@audited
class KeyPage(models.Model):
    class Kind(models.TextChoices):
        HOME = "home", "Home"
        FORM = "form", "Form"
        CART = "cart", "Cart / checkout"
        ACCOUNT = "account", "Account"
        OTHER = "other", "Other"

    site = models.ForeignKey("contracts.Site", on_delete=models.CASCADE, related_name="key_pages")
    path = models.CharField(max_length=500, help_text="Path on every environment, e.g. / or /contact/")
    label = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.OTHER)
    expected_text = models.CharField(max_length=300, blank=True, help_text="Smoke check: the page shows this")
    lighthouse = models.BooleanField(default=True, help_text="Audited monthly with Lighthouse")
    budget = models.JSONField(default=dict, blank=True, help_text="metric → limit; keys in BUDGET_METRICS")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = "key page"
        verbose_name_plural = "key pages"
        ordering = ["site", "position", "path"]
        constraints = [models.UniqueConstraint(fields=["site", "path"], name="key_page_unique_path")]

    def __str__(self) -> str:
        return f"{self.label} ({self.path})"

    @property
    def client_id(self) -> int:
        return self.site.client_id
