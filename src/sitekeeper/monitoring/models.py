"""Monitors, probe sessions, check results (raw, then rolled up), outages, maintenance announcements.

Uptime is computed from outage intervals and exclusions, never by scanning raw results; raw results are kept
for a configurable number of days and rolled up into hourly and daily aggregates.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from sitekeeper.access.audit import audited
from sitekeeper.monitoring.alerting import monitor_alert_problem
from sitekeeper.monitoring.validation import cert_state, days_left, target_errors


class Kind(models.TextChoices):
    HTTP = "http", "HTTP(S)"
    TCP = "tcp", "TCP port"
    TLS = "tls", "TLS certificate"
    DNS = "dns", "DNS resolves"


@audited
class Monitor(models.Model):
    site = models.ForeignKey("contracts.Site", on_delete=models.CASCADE, related_name="monitors")
    environment = models.CharField(max_length=10, default="prod")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.HTTP)
    name = models.CharField(max_length=200, blank=True)
    url = models.CharField(max_length=500, help_text="URL for HTTP; host[:port] for TCP/TLS/DNS")
    method = models.CharField(max_length=8, default="GET")
    expected_status = models.JSONField(default=list, blank=True, help_text="Empty: any 2xx/3xx")
    keyword = models.CharField(max_length=300, blank=True)
    keyword_absent = models.BooleanField(default=False, help_text="Fail when the keyword IS present")
    keyword_regex = models.BooleanField(default=False)
    max_response_ms = models.PositiveIntegerField(null=True, blank=True)
    follow_redirects = models.BooleanField(default=True)
    headers = models.JSONField(default=dict, blank=True)
    interval_seconds = models.PositiveIntegerField(default=60, validators=[MinValueValidator(30)])
    timeout_seconds = models.PositiveIntegerField(default=10)
    confirmations = models.PositiveSmallIntegerField(default=2, help_text="Consecutive failed checks = down")
    quorum = models.PositiveSmallIntegerField(default=1, help_text="Locations that must agree it is down")
    cert_warn_days = models.JSONField(default=list, blank=True, help_text="Default [30, 14, 7, 1]")
    enabled = models.BooleanField(default=True)
    # From here on the site counts as watched (while a probe runs): before it, nothing measured its uptime.
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Scheduling and state, written by probes (not audited person changes: saved with update()).
    next_check_at = models.DateTimeField(null=True, blank=True, db_index=True)
    claimed_by = models.CharField(max_length=100, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=8, default="unknown", help_text="up, down or unknown")
    last_checked_at = models.DateTimeField(null=True, blank=True)
    cert_expires_at = models.DateTimeField(null=True, blank=True)
    cert_issuer = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["site", "kind", "url"]
        verbose_name = "monitor"
        verbose_name_plural = "monitors"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(interval_seconds__gte=30), name="monitor_interval_min_30s"
            ),
        ]

    def __str__(self) -> str:
        return self.name or f"{self.get_kind_display()} {self.url}"

    @property
    def client_id(self) -> int:
        return self.site.client_id

    def clean(self) -> None:
        """The one validation of a monitor, wherever it is configured (the console form, the admin): what it
        checks must make sense for its kind (monitoring/validation.py), and a production monitor must be
        able to alert within the contract's time (agreement 1.2) — the rule `apply` checks a contract's
        alert time against (monitoring/alerting.py)."""
        super().clean()
        errors = target_errors(self)
        if errors:
            raise ValidationError(errors)
        problem = self.alert_problem()
        if problem:
            raise ValidationError(problem)

    def alert_problem(self, alert_minutes: int | None = None) -> str | None:
        if not self.enabled or self.environment != "prod" or self.site_id is None:
            return None
        contract = self.site.client.contract
        minutes = alert_minutes if alert_minutes is not None else getattr(contract, "alert_minutes", None)
        if minutes is None:
            return None
        return monitor_alert_problem(self, minutes)

    @property
    def open_pause(self) -> MonitorPause | None:
        """The pause in force (None: not paused). Prefetch `pauses` to read it without a query per row."""
        return next((p for p in self.pauses.all() if p.end is None), None)

    @property
    def paused(self) -> bool:
        return self.open_pause is not None

    def cert_days_left(self, now: dt.datetime | None = None) -> int | None:
        """Whole days until the certificate expires (negative: expired); None before a TLS check saw one."""
        if self.cert_expires_at is None:
            return None
        return days_left(self.cert_expires_at, now or timezone.now())

    def cert_state(self, now: dt.datetime | None = None) -> str | None:
        """ "ok", "warning" (within the first warning threshold) or "expired"; None: no certificate seen."""
        if self.cert_expires_at is None:
            return None
        return cert_state(self.cert_expires_at, now or timezone.now(), self.cert_warn_days)


@audited
class MonitorPause(models.Model):
    """A monitor paused by a person: not probed, and its paused time is not watched time (coverage), never
    up. The pause is kept when it ends, so the uptime arithmetic of any past month still sees it."""

    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="pauses")
    start = models.DateTimeField(default=timezone.now)
    end = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    paused_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resumed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-start"]
        verbose_name = "monitor pause"
        verbose_name_plural = "monitor pauses"
        constraints = [
            models.UniqueConstraint(
                fields=["monitor"], condition=models.Q(end__isnull=True), name="one_open_pause"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.monitor} paused {self.start:%Y-%m-%d %H:%M}"

    @property
    def client_id(self) -> int:
        return self.monitor.site.client_id


class ProbeSession(models.Model):
    """A probe process's run at one location: the union of sessions is when we were watching.

    Time no session covers is "unknown" — never counted as downtime."""

    location = models.CharField(max_length=100)
    instance = models.CharField(max_length=100, help_text="host:pid of the probe process")
    started_at = models.DateTimeField()
    last_beat_at = models.DateTimeField(db_index=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "probe session"
        verbose_name_plural = "probe sessions"

    def __str__(self) -> str:
        return f"{self.location} {self.instance} {self.started_at:%Y-%m-%d %H:%M}"


class CheckResult(models.Model):
    """One raw check, kept for SITEKEEPER_RAW_RESULT_DAYS days, then rolled up."""

    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="results")
    location = models.CharField(max_length=100)
    at = models.DateTimeField()
    ok = models.BooleanField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = "check result"
        verbose_name_plural = "check results"
        indexes = [models.Index(fields=["monitor", "at"], name="result_monitor_at")]

    def __str__(self) -> str:
        return f"{self.monitor_id} {self.at:%Y-%m-%d %H:%M:%S} {'ok' if self.ok else 'FAIL'}"


class Rollup(models.Model):
    """Hourly or daily aggregate of raw results (what remains after the raw retention)."""

    class Period(models.TextChoices):
        HOUR = "hour"
        DAY = "day"

    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="rollups")
    period = models.CharField(max_length=4, choices=Period.choices)
    start = models.DateTimeField()
    checks = models.PositiveIntegerField()
    failures = models.PositiveIntegerField()
    response_ms_avg = models.PositiveIntegerField(null=True, blank=True)
    response_ms_max = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = "rollup"
        verbose_name_plural = "hourly and daily rollups"
        constraints = [models.UniqueConstraint(fields=["monitor", "period", "start"], name="rollup_unique")]

    def __str__(self) -> str:
        return f"{self.monitor_id} {self.period} {self.start:%Y-%m-%d %H:%M}"


class Exclusion(models.TextChoices):
    HOSTING_PROVIDER = "hosting_provider", "Hosting provider infrastructure failure"
    THIRD_PARTY_PLATFORM = "third_party_platform", "Third-party platform outage"
    CLIENT_ACTION = "client_action", "Action by the client or its third parties"
    REGISTRAR_DNS = "registrar_dns", "Client-controlled registrar / DNS"
    LAPSED_DOMAIN = "lapsed_domain", "Lapsed domain or subscription"
    DDOS = "ddos", "DDoS beyond the hosting plan's mitigation"
    FORCE_MAJEURE = "force_majeure", "Force majeure"


@audited
class Outage(models.Model):
    """Confirmed downtime: from the first failed check of the confirmed run to the first success."""

    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="outages")
    site = models.ForeignKey("contracts.Site", on_delete=models.CASCADE, related_name="outages")
    start = models.DateTimeField(db_index=True)
    end = models.DateTimeField(null=True, blank=True, db_index=True)
    cause = models.CharField(
        max_length=300, help_text="What the checks saw, e.g. 'HTTP 503', 'connection refused'"
    )
    priority = models.CharField(max_length=2, default="P1")
    ticket = models.ForeignKey(
        "desk.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    alerted_at = models.DateTimeField(null=True, blank=True)
    # Started inside announced maintenance: nobody is paged until this instant (the maintenance's end or its
    # maximum length); if the site is still down then, the incident opens and the alert goes out.
    held_until = models.DateTimeField(null=True, blank=True, db_index=True)
    held = models.BooleanField(default=False, help_text="Incident and alert still held back")
    exclusion = models.CharField(max_length=24, choices=Exclusion.choices, blank=True)
    exclusion_reason = models.CharField(max_length=500, blank=True)
    tagged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tagged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "outage"
        verbose_name_plural = "outages"
        ordering = ["-start"]
        constraints = [
            # One open outage per monitor: a second probe confirming the same failure joins it.
            models.UniqueConstraint(
                fields=["monitor"], condition=models.Q(end__isnull=True), name="one_open_outage"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.site} down from {self.start:%Y-%m-%d %H:%M}"

    @property
    def client_id(self) -> int:
        return self.site.client_id

    @property
    def alert_clock_start(self) -> dt.datetime:
        """When the alert promise starts: at the first failed check, or when its maintenance hold ends."""
        return self.held_until if self.held_until and self.held_until > self.start else self.start

    @property
    def alert_latency(self) -> dt.timedelta | None:
        return None if self.alerted_at is None else self.alerted_at - self.alert_clock_start

    def missed_alert(self, alert_minutes: int, now: dt.datetime) -> bool:
        """Did the alert miss the contract's alert time — or is it overdue, still unsent? An outage that ended
        before the promise started to run (inside its maintenance hold) needed no alert."""
        limit = dt.timedelta(minutes=alert_minutes)
        if self.alerted_at is not None:
            return self.alerted_at - self.alert_clock_start > limit
        return (self.end or now) - self.alert_clock_start > limit


@audited
class MaintenanceAnnouncement(models.Model):
    """Announced maintenance: excluded from uptime when announced in time, up to its maximum length."""

    class Kind(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled maintenance (≥ 48 h notice)"
        EMERGENCY = "emergency_security", "Emergency security maintenance"

    contract = models.ForeignKey("contracts.Contract", on_delete=models.CASCADE, related_name="announcements")
    sites = models.ManyToManyField(
        "contracts.Site", blank=True, help_text="Empty: every site of the contract"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.SCHEDULED)
    start = models.DateTimeField()
    end = models.DateTimeField()
    max_minutes = models.PositiveIntegerField(
        help_text="Excluded at most this long (the agreement's maximum)"
    )
    announced_at = models.DateTimeField()
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "maintenance announcement"
        verbose_name_plural = "maintenance announcements"
        ordering = ["-start"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.start:%Y-%m-%d %H:%M}"

    @property
    def client_id(self) -> int:
        return self.contract.client_id


@audited
class MaintenanceLog(models.Model):
    """Maintenance a person performed in one occurrence of the contract's weekly window (agreement 2.4).

    With it (or a pipeline release, or an announcement) downtime in that occurrence is excluded up to the
    window's maximum length; without any of them, it counts."""

    site = models.ForeignKey("contracts.Site", on_delete=models.CASCADE, related_name="maintenance_logs")
    start = models.DateTimeField(help_text="The window occurrence's start")
    end = models.DateTimeField(help_text="The window occurrence's end")
    note = models.CharField(max_length=500, help_text="What was done, shown to the client")
    logged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    logged_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "maintenance log entry"
        verbose_name_plural = "maintenance log entries"
        ordering = ["-start"]
        constraints = [models.UniqueConstraint(fields=["site", "start"], name="one_log_per_occurrence")]

    def __str__(self) -> str:
        return f"maintenance on {self.site} {self.start:%Y-%m-%d %H:%M}"

    @property
    def client_id(self) -> int:
        return self.site.client_id


@audited
class StatusPage(models.Model):
    """A client's public status page at /status/<slug>/: opt-in, off (404) unless enabled."""

    client = models.OneToOneField("contracts.Client", on_delete=models.CASCADE, related_name="status_page")
    enabled = models.BooleanField(default=False)
    slug = models.SlugField(unique=True, help_text="Public address: /status/<slug>/")
    title = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = "status page"
        verbose_name_plural = "status pages"

    def __str__(self) -> str:
        return self.title or f"{self.client} status"
