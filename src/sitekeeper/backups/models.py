"""Backups: repositories (one restic repository per client), what is backed up per site (sources by layer),
runs, the snapshot catalogue, integrity checks + restore tests, restores and client downloads.

The catalogue in the database is the truth about which snapshots are good: a snapshot row is written only
after its source's dump finished cleanly and restic confirmed it; anything restic holds without a row (a run
killed half-way) is forgotten by the next retention pass.
"""

from __future__ import annotations

import datetime as dt
import secrets
from urllib.parse import urlsplit

from django.conf import settings
from django.db import models

from sitekeeper.access.audit import audited
from sitekeeper.access.crypto import EncryptedTextField

LOOPBACK_HOSTS = {"", "localhost", "127.0.0.1", "::1"}


class Layer(models.TextChoices):
    DATA = "data", "Data (database + uploads)"
    CODE = "code", "Code"
    CONFIG = "config", "Configuration"


def new_password() -> str:
    return secrets.token_urlsafe(32)


@audited
class Repository(models.Model):
    class Kind(models.TextChoices):
        LOCAL = "local", "Local folder"
        SFTP = "sftp", "SFTP"
        S3 = "s3", "S3-compatible"
        REST = "rest", "restic REST server"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        TRANSITION = "transition", "Download window (contract ended)"
        DELETED = "deleted", "Deleted"

    client = models.ForeignKey(
        "contracts.Client", on_delete=models.PROTECT, related_name="backup_repositories"
    )
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    location = models.CharField(
        max_length=500,
        help_text="local: /path; sftp: user@host:/path; s3: https://endpoint/bucket[/prefix]; rest: https://host:port/path",
    )
    port = models.PositiveIntegerField(null=True, blank=True, help_text="SFTP port (default 22)")
    ssh_key = EncryptedTextField(blank=True, help_text="SFTP: private key (OpenSSH format)")
    known_hosts = models.TextField(blank=True, help_text="SFTP: the server's known_hosts line(s)")
    access_key = EncryptedTextField(blank=True, help_text="S3 access key id / REST user")
    secret_key = EncryptedTextField(blank=True, help_text="S3 secret key / REST password")
    region = models.CharField(max_length=40, blank=True)
    password = EncryptedTextField(default=new_password, help_text="restic repository password (generated)")
    initialized_at = models.DateTimeField(null=True, blank=True)
    check_slices = models.PositiveSmallIntegerField(
        default=30, help_text="Integrity checks read 1/N of the data each time: all of it every N checks"
    )
    check_cursor = models.PositiveSmallIntegerField(default=0, help_text="Slices read so far (mod N)")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    download_until = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deletion_evidence = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = "backup repository"
        verbose_name_plural = "backup repositories"
        ordering = ["client", "name"]
        constraints = [models.UniqueConstraint(fields=["client", "name"], name="repository_unique_name")]

    def __str__(self) -> str:
        return f"{self.client.slug}/{self.name}"

    @property
    def host(self) -> str:
        """The host the repository lives on ('' for a local folder)."""
        if self.kind == self.Kind.LOCAL:
            return ""
        if self.kind == self.Kind.SFTP:
            target = self.location.split(":", 1)[0]
            return target.rsplit("@", 1)[-1].strip("[]").lower()
        return (urlsplit(self.location).hostname or "").lower()


@audited
class SiteBackup(models.Model):
    """How one site is backed up: where to, how to reach it, when."""

    site = models.OneToOneField("contracts.Site", on_delete=models.CASCADE, related_name="backup")
    repository = models.ForeignKey(Repository, on_delete=models.PROTECT, related_name="sites")
    enabled = models.BooleanField(default=True)
    site_host = models.CharField(
        max_length=200, blank=True, help_text="Host the site runs on; empty = this machine (no SSH)"
    )
    ssh_port = models.PositiveIntegerField(default=22)
    ssh_user = models.CharField(max_length=100, blank=True)
    ssh_key = EncryptedTextField(blank=True, help_text="Per-site private key (OpenSSH format)")
    known_hosts = models.TextField(blank=True, help_text="The site host's known_hosts line(s)")
    data_time = models.TimeField(
        default=dt.time(2), help_text="Daily data and code backup, contract time zone"
    )
    stale_hours = models.JSONField(
        default=dict, blank=True, help_text='Override, e.g. {"data": 26, "code": 50}: older = stale'
    )
    timeout_minutes = models.PositiveIntegerField(default=120)
    alerts = models.JSONField(default=dict, blank=True, help_text="Open alert -> ticket id (stale backups)")
    created_at = models.DateTimeField(auto_now_add=True)
    runbook_stale_since = models.DateTimeField(null=True, blank=True)
    runbook_stale_reason = models.CharField(max_length=300, blank=True)
    runbook_reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "site backup setting"
        verbose_name_plural = "site backup settings"
        ordering = ["site"]

    def __str__(self) -> str:
        return f"backup of {self.site}"

    @property
    def client_id(self) -> int:
        return self.site.client_id

    @property
    def off_site(self) -> bool:
        """False when the repository sits on the machine the site runs on — a copy next to prod."""
        repo_host = self.repository.host
        site_host = (self.site_host or "").lower()
        if self.repository.kind == Repository.Kind.LOCAL:
            return bool(site_host) and site_host not in LOOPBACK_HOSTS
        if repo_host in LOOPBACK_HOSTS:
            return bool(site_host) and site_host not in LOOPBACK_HOSTS
        return repo_host != site_host


@audited
class Source(models.Model):
    """One thing backed up for a site's environment: a folder, a database, a SQLite file."""

    class Kind(models.TextChoices):
        FILES = "files", "Files"
        MARIADB = "mariadb", "MariaDB / MySQL"
        POSTGRES = "postgres", "PostgreSQL"
        SQLITE = "sqlite", "SQLite"

    site = models.ForeignKey("contracts.Site", on_delete=models.CASCADE, related_name="backup_sources")
    environment = models.CharField(max_length=10, default="prod")
    name = models.SlugField(max_length=60, help_text="Same name in prod and stage pairs a restore")
    layer = models.CharField(max_length=8, choices=Layer.choices)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    path = models.CharField(max_length=500, blank=True, help_text="Folder (files) or database file (SQLite)")
    includes = models.JSONField(default=list, blank=True, help_text="Files: only these paths (relative)")
    excludes = models.JSONField(default=list, blank=True, help_text="Files: patterns to leave out")
    db_url = EncryptedTextField(blank=True, help_text="mysql://user:pass@host:port/db or postgres://…")
    over_ssh = models.BooleanField(default=False, help_text="Read over SSH from the site host")

    class Meta:
        verbose_name = "backup source"
        verbose_name_plural = "backup sources"
        ordering = ["site", "environment", "layer", "name"]
        constraints = [
            models.UniqueConstraint(fields=["site", "environment", "name"], name="backup_source_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.site} [{self.environment}] {self.layer}/{self.name}"

    @property
    def client_id(self) -> int:
        return self.site.client_id


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    INTERRUPTED = "interrupted", "Interrupted"


class BackupRun(models.Model):
    """One backup of one layer of one site. `slot` makes a scheduled run idempotent: the task for 02:00 on a
    given day creates (or finds) exactly one run."""

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        MANUAL = "manual", "On demand"
        RELEASE = "release", "Release"
        CHANGE = "change", "Configuration change"

    site = models.ForeignKey("contracts.Site", on_delete=models.CASCADE, related_name="backup_runs")
    layer = models.CharField(max_length=8, choices=Layer.choices)
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    slot = models.CharField(max_length=80)
    status = models.CharField(max_length=12, choices=RunStatus.choices, default=RunStatus.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    owner = models.CharField(max_length=120, blank=True, help_text="host:pid of the worker running it")
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    progress = models.JSONField(default=dict, blank=True, help_text="phase, source, percent, bytes")
    bytes_processed = models.BigIntegerField(default=0)
    bytes_added = models.BigIntegerField(default=0)
    files = models.PositiveIntegerField(default=0)
    log = models.TextField(blank=True)
    error = models.TextField(blank=True)
    ticket = models.ForeignKey(
        "desk.Ticket", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = "backup run"
        verbose_name_plural = "backup runs"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["site", "layer", "slot"], name="backup_run_unique_slot")
        ]
        indexes = [models.Index(fields=["status", "lease_until"])]

    def __str__(self) -> str:
        return f"{self.site} {self.layer} {self.slot} ({self.status})"

    @property
    def client_id(self) -> int:
        return self.site.client_id

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class Snapshot(models.Model):
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="snapshots")
    site = models.ForeignKey("contracts.Site", on_delete=models.CASCADE, related_name="snapshots")
    source = models.ForeignKey(Source, on_delete=models.SET_NULL, null=True, related_name="snapshots")
    source_name = models.CharField(max_length=60)
    source_kind = models.CharField(max_length=10, choices=Source.Kind.choices)
    layer = models.CharField(max_length=8, choices=Layer.choices)
    run = models.ForeignKey(
        BackupRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="snapshots"
    )
    restic_id = models.CharField(max_length=64)
    time = models.DateTimeField()
    bytes_processed = models.BigIntegerField(default=0)
    bytes_added = models.BigIntegerField(default=0)
    files = models.PositiveIntegerField(default=0)
    duration_seconds = models.FloatField(default=0)
    manifest = models.JSONField(default=dict, blank=True, help_text="What a restore test compares against")
    forgotten_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "snapshot"
        verbose_name_plural = "snapshots"
        ordering = ["-time"]
        constraints = [
            models.UniqueConstraint(fields=["repository", "restic_id"], name="snapshot_unique_restic_id")
        ]
        indexes = [models.Index(fields=["site", "layer", "source_name", "-time"])]

    def __str__(self) -> str:
        return f"{self.short_id} {self.site} {self.layer}/{self.source_name} {self.time:%Y-%m-%d %H:%M}"

    @property
    def short_id(self) -> str:
        return self.restic_id[:8]

    @property
    def client_id(self) -> int:
        return self.site.client_id


class RestoreTest(models.Model):
    """The monthly proof: an integrity check of a slice of the repository, then the latest snapshot of each
    data source restored into scratch space and compared with what was recorded at backup time.

    A job of the job seam (`sitekeeper.jobs`): a test waiting for its worker is RUNNING with no owner; the
    worker that claims it holds a lease, renewed with each progress report, and a test whose worker is gone
    is taken over by the next attempt."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"

    site = models.ForeignKey("contracts.Site", on_delete=models.CASCADE, related_name="restore_tests")
    trigger = models.CharField(max_length=10, default="schedule")
    slot = models.CharField(max_length=80)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    check_subset = models.CharField(max_length=20, blank=True, help_text="--read-data-subset used")
    check_passed = models.BooleanField(null=True)
    check_output = models.TextField(blank=True)
    evidence = models.JSONField(default=list, blank=True, help_text="Per source: snapshot, checks, figures")
    progress = models.JSONField(default=dict, blank=True)
    owner = models.CharField(max_length=120, blank=True, help_text="host:pid of the worker running it")
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    ticket = models.ForeignKey(
        "desk.Ticket", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = "restore test"
        verbose_name_plural = "restore tests"
        ordering = ["-started_at"]
        constraints = [models.UniqueConstraint(fields=["site", "slot"], name="restore_test_unique_slot")]

    def __str__(self) -> str:
        return f"restore test {self.site} {self.slot} ({self.status})"

    @property
    def client_id(self) -> int:
        return self.site.client_id

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class Restore(models.Model):
    """A restore someone asked for: to stage (default) or prod, whole or a subset."""

    class Target(models.TextChoices):
        STAGE = "stage", "Stage"
        PROD = "prod", "Production"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    site = models.ForeignKey("contracts.Site", on_delete=models.CASCADE, related_name="restores")
    snapshot = models.ForeignKey(Snapshot, on_delete=models.PROTECT, related_name="restores")
    target = models.CharField(max_length=8, choices=Target.choices, default=Target.STAGE)
    paths = models.JSONField(default=list, blank=True, help_text="Files: only these paths")
    tables = models.JSONField(default=list, blank=True, help_text="Database: only these tables")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    confirmation = models.CharField(max_length=300, blank=True, help_text="Typed confirmation (prod)")
    reason = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    progress = models.JSONField(default=dict, blank=True)
    log = models.TextField(blank=True)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name = "restore"
        verbose_name_plural = "restores"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"restore {self.snapshot} → {self.target} ({self.status})"

    @property
    def client_id(self) -> int:
        return self.site.client_id


class Export(models.Model):
    """A snapshot packed as a tar or zip for the client to download."""

    class Format(models.TextChoices):
        TAR = "tar", "tar"
        ZIP = "zip", "zip"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Packing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired"

    snapshot = models.ForeignKey(Snapshot, on_delete=models.CASCADE, related_name="exports")
    format = models.CharField(max_length=4, choices=Format.choices, default=Format.TAR)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    file = models.CharField(max_length=500, blank=True, help_text="Path under SITEKEEPER_HOME/exports")
    size = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    progress = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        verbose_name = "backup export"
        verbose_name_plural = "backup exports"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"export {self.snapshot} ({self.status})"

    @property
    def client_id(self) -> int:
        return self.snapshot.site.client_id
