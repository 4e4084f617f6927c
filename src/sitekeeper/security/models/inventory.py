"""What runs on a site (components with their version history) and what is known to be wrong with which
versions (vulnerability feeds the agency imports)."""

from __future__ import annotations

from django.db import models

__all__ = ["Component", "ComponentVersion", "Ecosystem", "Feed", "Vulnerability"]


class Ecosystem(models.TextChoices):
    WORDPRESS_CORE = "wordpress-core", "WordPress core"
    WORDPRESS_PLUGIN = "wordpress-plugin", "WordPress plugin"
    WORDPRESS_THEME = "wordpress-theme", "WordPress theme"
    NPM = "npm", "npm"
    PACKAGIST = "packagist", "Packagist (Composer)"
    PYPI = "pypi", "PyPI"


class Component(models.Model):
    """One installed thing in a site's environment, identified by where it was found too (npm may install
    two versions of one package in one tree, in different folders); `removed_at` is set when a scan no
    longer finds it (and cleared if it comes back), so the inventory keeps what used to be there."""

    site = models.ForeignKey("contracts.Site", on_delete=models.CASCADE, related_name="components")
    environment = models.CharField(max_length=10, default="prod")
    ecosystem = models.CharField(max_length=20, choices=Ecosystem.choices)
    slug = models.CharField(
        max_length=200, help_text="Plugin/theme folder, package name; 'wordpress' for core"
    )
    name = models.CharField(max_length=200, blank=True, help_text="Display name from the header, if any")
    version = models.CharField(max_length=100, blank=True)
    active = models.BooleanField(null=True, help_text="None: unknown (database not reachable)")
    path = models.CharField(
        max_length=500, blank=True, help_text="Plugin file, theme folder, or lock file[:nested location]"
    )
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "installed component"
        verbose_name_plural = "installed components"
        ordering = ["site", "environment", "ecosystem", "slug"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "environment", "ecosystem", "slug", "path"], name="component_unique_slug"
            )
        ]

    def __str__(self) -> str:
        return f"{self.ecosystem}:{self.slug} {self.version}"

    @property
    def client_id(self) -> int:
        return self.site.client_id


class ComponentVersion(models.Model):
    """A version a component was first seen at; one row per change, so the history reads as a changelog."""

    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(max_length=100)
    seen_at = models.DateTimeField()

    class Meta:
        verbose_name = "component version"
        verbose_name_plural = "component versions"
        ordering = ["component", "seen_at"]

    def __str__(self) -> str:
        return f"{self.component.slug} {self.version} @ {self.seen_at:%Y-%m-%d}"


class Feed(models.Model):
    class Format(models.TextChoices):
        WORDFENCE = "wordfence", "Wordfence Intelligence v3"
        OSV = "osv", "OSV"

    name = models.SlugField(max_length=60, unique=True)
    format = models.CharField(max_length=10, choices=Format.choices)
    url = models.CharField(max_length=500, blank=True, help_text="Where it is fetched from; blank: a file")
    imported_at = models.DateTimeField(null=True, blank=True)
    entries = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True, help_text="Of the last imported document")
    progress = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = "vulnerability feed"
        verbose_name_plural = "vulnerability feeds"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Vulnerability(models.Model):
    """One (advisory, package) pair from a feed. `ranges` holds core.versions.Interval dicts.

    `has_exploit`: Wordfence v3 has no exploit field; an entry counts as exploited when one of its references
    points to an exploit database (exploit-db.com, packetstorm) or its description says "actively exploited".
    OSV: `database_specific.cisa_known_exploited` / `known_exploited` true, or a reference of type EVIDENCE
    or whose URL is an exploit database."""

    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="vulnerabilities")
    ident = models.CharField(max_length=120, help_text="Wordfence id or OSV id")
    ecosystem = models.CharField(max_length=20, choices=Ecosystem.choices)
    package = models.CharField(max_length=200, help_text="Plugin/theme slug or package name")
    title = models.CharField(max_length=500)
    cvss_score = models.DecimalField(max_digits=3, decimal_places=1, null=True, blank=True)
    severity = models.CharField(max_length=10, help_text="critical/high/medium/low/info")
    has_exploit = models.BooleanField(default=False)
    ranges = models.JSONField(default=list)
    patched = models.JSONField(default=list, blank=True, help_text="Versions that fix it")
    references = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name = "vulnerability"
        verbose_name_plural = "vulnerabilities"
        ordering = ["feed", "ident"]
        indexes = [models.Index(fields=["ecosystem", "package"])]

    def __str__(self) -> str:
        return f"{self.ident} {self.ecosystem}:{self.package}"
