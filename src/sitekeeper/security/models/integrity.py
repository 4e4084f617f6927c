"""File integrity and malware scanning: the approved baseline of a site's files, the stat cache that lets a
scan skip unchanged files, one row per scan, and the files a person moved out of the web root.

The baseline is the evidence for clause 3.2(b) (unauthorized modification): it only changes when a person
approves it (audited, with who and when) or when sitekeeper's own update pipeline made the change — so any
other difference found by a scan was made by someone else, and the finding carries when it was seen."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from sitekeeper.access.audit import audited


class BaselineOrigin(models.TextChoices):
    INITIAL = "initial", "First scan"
    PERSON = "person", "Approved by a person"
    PIPELINE = "pipeline", "sitekeeper's update pipeline"


@audited
class Baseline(models.Model):
    """The approved state of one file. `content` keeps small text files (zlib + base64, text so the audit log
    can hold it) so a later change can be shown as a diff."""

    site = models.ForeignKey("contracts.Site", on_delete=models.CASCADE, related_name="+")
    environment = models.CharField(max_length=10, default="prod")
    path = models.CharField(max_length=1000, help_text="Relative to the site's code folder")
    size = models.BigIntegerField()
    mode = models.PositiveIntegerField(help_text="Permission bits")
    sha256 = models.CharField(max_length=64)
    content = models.TextField(blank=True, help_text="Small text files: zlib-compressed, base64")
    approved_at = models.DateTimeField()
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    origin = models.CharField(max_length=10, choices=BaselineOrigin.choices)
    release = models.CharField(max_length=200, blank=True, help_text="Pipeline changes: which update")

    class Meta:
        verbose_name = "integrity baseline"
        verbose_name_plural = "integrity baselines"
        ordering = ["site", "environment", "path"]
        constraints = [
            models.UniqueConstraint(fields=["site", "environment", "path"], name="baseline_unique_path")
        ]

    def __str__(self) -> str:
        return f"{self.site} [{self.environment}] {self.path}"

    @property
    def client_id(self) -> int:
        return self.site.client_id


class ScanState(models.Model):
    """What a file looked like when it was last hashed. A file whose size, mtime and inode are unchanged is
    not read again (until the periodic full re-hash); `clean_ruleset` says it was scanned clean by that
    version of the malware rules, so the malware scan skips it too."""

    site = models.ForeignKey("contracts.Site", on_delete=models.CASCADE, related_name="+")
    environment = models.CharField(max_length=10, default="prod")
    path = models.CharField(max_length=1000)
    size = models.BigIntegerField()
    mtime_ns = models.BigIntegerField()
    inode = models.BigIntegerField()
    mode = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    md5 = models.CharField(max_length=32, help_text="For WordPress core's published checksums")
    hashed_at = models.DateTimeField()
    clean_ruleset = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = "file scan state"
        verbose_name_plural = "file scan states"
        constraints = [
            models.UniqueConstraint(fields=["site", "environment", "path"], name="scanstate_unique_path")
        ]

    def __str__(self) -> str:
        return f"{self.path} ({self.sha256[:12]})"


class ScanKind(models.TextChoices):
    INTEGRITY = "integrity", "File integrity"
    MALWARE = "malware", "Malware"


class IntegrityScan(models.Model):
    site = models.ForeignKey("contracts.Site", on_delete=models.CASCADE, related_name="+")
    environment = models.CharField(max_length=10, default="prod")
    kind = models.CharField(max_length=10, choices=ScanKind.choices, default=ScanKind.INTEGRITY)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    files = models.PositiveIntegerField(default=0)
    bytes = models.BigIntegerField(default=0)
    hashed = models.PositiveIntegerField(default=0, help_text="Files read this scan")
    skipped = models.PositiveIntegerField(default=0, help_text="Unchanged files not read again")
    changes = models.JSONField(default=dict, blank=True, help_text="{added, changed, removed} or matches")
    full_rehash = models.BooleanField(default=False)
    engines = models.JSONField(default=list, blank=True, help_text="Malware: the engines that ran")
    progress = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name = "integrity scan"
        verbose_name_plural = "integrity scans"
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["site", "environment", "kind", "started_at"])]

    def __str__(self) -> str:
        return f"{self.kind} scan of {self.site} [{self.environment}] at {self.started_at:%Y-%m-%d %H:%M}"


@audited
class Quarantine(models.Model):
    """A file a person moved out of the web root; kept so it can be examined or put back."""

    finding = models.ForeignKey("security.Finding", on_delete=models.CASCADE, related_name="quarantines")
    path = models.CharField(max_length=1000, help_text="Where it was, relative to the site's code folder")
    sha256 = models.CharField(max_length=64, help_text="Of the file when it was moved")
    moved_to = models.CharField(max_length=1500, help_text="Absolute path on the host that held the file")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    restored_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "quarantined file"
        verbose_name_plural = "quarantined files"
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.path} → {self.moved_to}"

    @property
    def client_id(self) -> int:
        return self.finding.site.client_id


__all__ = ["Baseline", "BaselineOrigin", "IntegrityScan", "Quarantine", "ScanKind", "ScanState"]
