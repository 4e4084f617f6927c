"""Broken-link scans: one row per scan, one row per defect found (or fixed since the previous scan)."""

from __future__ import annotations

from django.db import models

from sitekeeper.health.models.jobs import HealthJob

__all__ = ["BrokenLink", "LinkChange", "LinkProblem", "LinkScan", "LinkScanStatus"]


class LinkScanStatus(models.TextChoices):
    """A link scan's states: the health jobs' four, and "incomplete" — the scan ran, but a limit (pages or
    depth) left same-site pages unread, so the links on them were never checked (issue 12.16)."""

    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    INCOMPLETE = "incomplete", "Incomplete"
    FAILED = "failed", "Failed"


# A scan with results (its defects stored): complete, or cut short by a limit.
WITH_RESULTS = (LinkScanStatus.SUCCEEDED, LinkScanStatus.INCOMPLETE)
LIMIT_NAMES = {"max_pages": "page limit", "max_depth": "depth limit"}


class LinkScanQuerySet(models.QuerySet):
    def with_results(self) -> LinkScanQuerySet:
        return self.filter(status__in=WITH_RESULTS)

    def latest_of(self, site: object, environment: str = "prod") -> LinkScan | None:
        """The site's latest scan with results (succeeded or incomplete)."""
        scans = self.with_results().filter(site=site, environment=environment)
        return scans.order_by("-finished_at", "-pk").first()


class LinkScan(HealthJob):
    site = models.ForeignKey("contracts.Site", on_delete=models.CASCADE, related_name="link_scans")
    status = models.CharField(max_length=10, choices=LinkScanStatus.choices, default=LinkScanStatus.QUEUED)
    start_url = models.URLField(max_length=1000)
    settings_used = models.JSONField(default=dict, blank=True, help_text="Depth, page limit, concurrency…")
    pages = models.PositiveIntegerField(default=0, help_text="Same-site pages fetched")
    links = models.PositiveIntegerField(default=0, help_text="Distinct URLs checked")
    broken = models.PositiveIntegerField(default=0)
    new = models.PositiveIntegerField(default=0)
    fixed = models.PositiveIntegerField(default=0)
    still = models.PositiveIntegerField(default=0)
    truncated = models.BooleanField(default=False, help_text="The page limit left pages unread")
    depth_limited = models.BooleanField(default=False, help_text="The depth limit left pages unread")
    unread = models.PositiveIntegerField(
        null=True, blank=True, default=0,
        help_text="Same-site pages found but not read because of a limit (the links on them were not "
        "checked); empty: not counted (scans from before this was counted)",
    )  # fmt: skip
    unread_examples = models.JSONField(default=list, blank=True, help_text="The first 20 of them")
    previous = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    objects = LinkScanQuerySet.as_manager()

    class Meta:
        verbose_name = "link scan"
        verbose_name_plural = "link scans"
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["site", "slot"], name="link_scan_unique_slot")]
        indexes = [models.Index(fields=["site", "status", "-created_at"])]

    def __str__(self) -> str:
        return f"link scan {self.slot} of {self.site}"

    @property
    def incomplete(self) -> bool:
        return self.status == LinkScanStatus.INCOMPLETE

    @property
    def limits(self) -> list[str]:
        """The limits that cut the scan short: "max_pages", "max_depth"."""
        hits = (("max_pages", self.truncated), ("max_depth", self.depth_limited))
        return [name for name, hit in hits if hit]

    @property
    def limits_text(self) -> str:
        """In words, with the values used: "the page limit (5000 pages)"."""
        used = self.settings_used or {}
        parts = []
        if self.truncated:
            parts.append(f"the page limit ({used.get('max_pages', '?')} pages)")
        if self.depth_limited:
            parts.append(f"the depth limit ({used.get('max_depth', '?')} clicks from the start page)")
        return " and ".join(parts) or "a limit"

    @property
    def unread_text(self) -> str:
        """How much was left out, in plain words (None: scans from before it was counted)."""
        if self.unread is None:
            return "an unknown number of pages were not read"
        pages = f"{self.unread} page{'s' if self.unread != 1 else ''}"
        return f"{pages} found {'were' if self.unread != 1 else 'was'} not read"


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
        verbose_name = "broken link"
        verbose_name_plural = "broken links"
        ordering = ["scan", "change", "url"]
        constraints = [
            models.UniqueConstraint(fields=["scan", "url", "problem"], name="broken_link_unique_url")
        ]

    def __str__(self) -> str:
        return f"{self.url} ({self.problem})"

    @property
    def client_id(self) -> int:
        return self.scan.site.client_id
