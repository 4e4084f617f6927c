"""Broken-link scans: one row per scan, one row per defect found (or fixed since the previous scan)."""

from __future__ import annotations

from django.db import models

from sitekeeper.audits.models.jobs import HealthJob

__all__ = ["BrokenLink", "LinkChange", "LinkProblem", "LinkScan"]


class LinkScan(HealthJob):
    site = models.ForeignKey("contracts.Site", on_delete=models.CASCADE, related_name="link_scans")
    start_url = models.URLField(max_length=1000)
    settings_used = models.JSONField(default=dict, blank=True, help_text="Depth, page limit, concurrency…")
    pages = models.PositiveIntegerField(default=0, help_text="Same-site pages fetched")
    links = models.PositiveIntegerField(default=0, help_text="Distinct URLs checked")
    broken = models.PositiveIntegerField(default=0)
    new = models.PositiveIntegerField(default=0)
    fixed = models.PositiveIntegerField(default=0)
    still = models.PositiveIntegerField(default=0)
    truncated = models.BooleanField(default=False, help_text="The page limit was reached")
    previous = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["site", "slot"], name="link_scan_unique_slot")]
        indexes = [models.Index(fields=["site", "status", "-created_at"])]

    def __str__(self) -> str:
        return f"link scan {self.slot} of {self.site}"


class LinkProblem(models.TextChoices):
    HTTP_ERROR = "http_error", "HTTP error"
    UNREACHABLE = "unreachable", "Unreachable (DNS, connection, timeout)"
    REDIRECT_LOOP = "redirect_loop", "Redirect loop"
    REDIRECT_CHAIN = "redirect_chain", "Long redirect chain"
    MISSING_FRAGMENT = "missing_fragment", "Missing #anchor"
    BLOCKED = "blocked", "Blocked by robots.txt"


class LinkChange(models.TextChoices):
    NEW = "new", "New"
    STILL = "still", "Still broken"
    FIXED = "fixed", "Fixed"


class BrokenLink(models.Model):
    """A defect of one URL (with its #fragment when that is what is missing) in one scan; `change` compares it
    with the previous scan of the same site, and a defect that is gone is kept as a `fixed` row."""

    scan = models.ForeignKey(LinkScan, on_delete=models.CASCADE, related_name="defects")
    url = models.URLField(max_length=2000)
    internal = models.BooleanField(help_text="On the scanned site")
    problem = models.CharField(max_length=20, choices=LinkProblem.choices)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    redirects = models.JSONField(default=list, blank=True, help_text="The chain followed, in order")
    pages = models.JSONField(default=list, blank=True, help_text="Pages it is on (first 50)")
    page_count = models.PositiveIntegerField(default=0)
    change = models.CharField(max_length=6, choices=LinkChange.choices)

    class Meta:
        ordering = ["scan", "change", "url"]
        constraints = [
            models.UniqueConstraint(fields=["scan", "url", "problem"], name="broken_link_unique_url")
        ]

    def __str__(self) -> str:
        return f"{self.url} ({self.problem})"

    @property
    def client_id(self) -> int:
        return self.scan.site.client_id
