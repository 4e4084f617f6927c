"""Plans, calendars, clients, contracts and sites: the configuration everything else reads."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from sitekeeper.access.audit import audited
from sitekeeper.core import calendar as bcal
from sitekeeper.core import targets as sla_targets
from sitekeeper.core import term
from sitekeeper.core.credits import CreditRule


class UpdateCadence(models.TextChoices):
    MONTHLY_BATCH = "monthly_batch", "Monthly batch"
    BIWEEKLY = "biweekly", "Bi-weekly"
    WEEKLY = "weekly", "Weekly"
    WEEKLY_EMERGENCY = "weekly_emergency", "Weekly + emergency"


class SecurityLevel(models.TextChoices):
    STANDARD = "standard", "Standard"
    ADVANCED = "advanced", "Advanced"
    ADVANCED_WAF = "advanced_waf", "Advanced + WAF"
    ADVANCED_WAF_SCHEDULING = "advanced_waf_scheduling", "Advanced + WAF + scheduling"


class PerformanceCall(models.TextChoices):
    NONE = "none", "—"
    MONTHLY_30MIN = "monthly_30min", "30 min"
    QUARTERLY_REVIEW = "quarterly_review", "Quarterly review"


class CreditKind(models.TextChoices):
    STEPS = "steps", "Percent of the fee per step below the SLA"
    TABLE = "table", "Custom table (Schedule A)"


CHANNEL_LABELS = {"email": "Email", "chat": "Chat", "phone": "Phone", "dedicated_line": "Dedicated line"}
PRIORITIES = ("P1", "P2", "P3", "P4")


@audited
class Plan(models.Model):
    """A service tier. The four built-in tiers carry the agreement's tables 1.2, 1.3, 2.2 and 2.3."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    rank = models.PositiveSmallIntegerField(default=0, help_text="Order in tables: Starter first.")
    builtin = models.BooleanField(default=False)
    backup_retention_days = models.PositiveIntegerField()
    update_cadence = models.CharField(max_length=20, choices=UpdateCadence.choices)
    content_hours = models.DecimalField(max_digits=6, decimal_places=2, help_text="Per calendar month.")
    content_hours_open_ended = models.BooleanField(default=False, help_text='Printed as "8+ hrs".')
    security_level = models.CharField(max_length=30, choices=SecurityLevel.choices)
    support_channels = models.JSONField(default=list, help_text="email, chat, phone, dedicated_line")
    standard_response = models.CharField(max_length=20, help_text="Table 1.3 'standard issues' target.")
    response_targets = models.JSONField(help_text="P1..P4 → target (Nm, Nh, Nbh, Nbd, same_bd, next_bd, …)")
    resolution_targets = models.JSONField(default=dict, blank=True)
    recovery_targets = models.JSONField(default=dict, blank=True)
    after_hours_emergency = models.BooleanField(default=False, help_text="P1 counted 24/7 with escalation.")
    uptime_sla = models.DecimalField(max_digits=6, decimal_places=3)
    credit_kind = models.CharField(max_length=10, choices=CreditKind.choices, default=CreditKind.STEPS)
    credit_rate = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    credit_step = models.DecimalField(max_digits=6, decimal_places=3, null=True, blank=True)
    credit_table = models.JSONField(
        default=list, blank=True, help_text='[{"below": "99.95", "percent": "10"}]'
    )
    performance_call = models.CharField(max_length=20, choices=PerformanceCall.choices)

    class Meta:
        verbose_name = "plan"
        verbose_name_plural = "plans"
        ordering = ["rank", "slug"]

    def __str__(self) -> str:
        return self.name

    def credit_rule(self, reading: str = "started_steps", table: list | None = None) -> CreditRule | None:
        """The remedy of table 2.3, or None when it is a Schedule A table and none is agreed — neither the
        contract's own `table` nor the plan's: then no credit is computed, never a made-up one."""
        rows = table or self.credit_table
        if self.credit_kind == CreditKind.TABLE and not rows:
            return None
        return CreditRule.from_data(
            kind=self.credit_kind,
            rate=self.credit_rate,
            step=self.credit_step,
            table=rows,
            reading=reading,
        )

    def target(self, clock: str, priority: str) -> str | None:
        table = {
            "response": self.response_targets,
            "resolution": self.resolution_targets,
            "recovery": self.recovery_targets,
        }[clock]
        return table.get(priority) or None

    @property
    def channels_label(self) -> str:
        return " + ".join(CHANNEL_LABELS.get(c, c) for c in self.support_channels) or "per Schedule A"

    @property
    def content_hours_label(self) -> str:
        hours = self.content_hours.normalize()
        suffix = "+" if self.content_hours_open_ended else ""
        unit = "hr" if hours == 1 and not suffix else "hrs"
        return f"{hours:f}{suffix} {unit}"


@audited
class Calendar(models.Model):
    """A named business calendar; its rules live in versions, tickets keep the version they arrived under."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100, blank=True)

    class Meta:
        verbose_name = "business calendar"
        verbose_name_plural = "business calendars"

    def __str__(self) -> str:
        return self.name or self.slug

    @property
    def current(self) -> CalendarVersion:
        version = self.versions.order_by("-number").first()
        if version is None:
            raise CalendarVersion.DoesNotExist(f"calendar {self.slug!r} has no version")
        return version


@audited
class CalendarVersion(models.Model):
    calendar = models.ForeignKey(Calendar, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    timezone = models.CharField(max_length=64)
    hours = models.JSONField(
        help_text='weekday → ["HH:MM-HH:MM", …], e.g. {"mon": ["09:00-13:00", "14:00-18:00"]}'
    )
    holiday_country = models.CharField(max_length=8, blank=True)
    holiday_subdivision = models.CharField(max_length=16, blank=True)
    closures = models.JSONField(default=list, blank=True, help_text="ISO dates the business is closed")
    business_day_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Length of one business day for Nbd targets; default: Monday's hours.",
    )

    class Meta:
        verbose_name = "calendar version"
        verbose_name_plural = "calendar versions"
        constraints = [models.UniqueConstraint(fields=["calendar", "number"], name="calendar_version_unique")]
        ordering = ["calendar", "number"]

    def __str__(self) -> str:
        return f"{self.calendar.slug} v{self.number}"

    def spec(self) -> dict:
        return {
            "timezone": self.timezone,
            "hours": self.hours,
            "holidays": {"country": self.holiday_country, "subdivision": self.holiday_subdivision or None}
            if self.holiday_country
            else None,
            "closures": list(self.closures),
            "business_day_minutes": self.business_day_minutes,
        }

    def to_core(self) -> bcal.BusinessCalendar:
        return _core_calendar(json.dumps(self.spec(), sort_keys=True))


@lru_cache(maxsize=256)
def _core_calendar(spec_json: str) -> bcal.BusinessCalendar:
    # Keyed by the rules themselves, not the row id: a core calendar caches each day's opening hours, and
    # building one (holidays included) costs far more than serialising the spec.
    return bcal.BusinessCalendar.from_spec(**json.loads(spec_json))


@audited
class Client(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    legal_name = models.CharField(max_length=200, blank=True)
    address = models.TextField(blank=True)
    # Chosen by the client's product owner in the portal (/account/two-factor/organisation/): then every
    # person of this client needs a second factor before using the portal (access/twofactor.py).
    require_second_factor = models.BooleanField(
        default=False, help_text="Everyone at this client must use a second factor to sign in."
    )

    class Meta:
        verbose_name = "client"
        verbose_name_plural = "clients"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def contract(self) -> Contract | None:
        return self.contracts.exclude(status=Contract.Status.TERMINATED).order_by("-start").first()


@audited
class Contact(models.Model):
    class Role(models.TextChoices):
        PRODUCT_OWNER = "product_owner", "Product owner"
        EMERGENCY = "emergency", "Emergency contact"
        BILLING = "billing", "Billing"
        MEMBER = "member", "Member"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=200)
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Role.choices)
    phone = models.CharField(max_length=40, blank=True)
    availability = models.CharField(
        max_length=100, blank=True, help_text="Hours the emergency contact answers"
    )

    class Meta:
        verbose_name = "contact"
        verbose_name_plural = "contacts"
        ordering = ["client", "role", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["client"],
                condition=models.Q(role="product_owner"),
                name="one_product_owner_per_client",
            ),
            models.UniqueConstraint(fields=["client", "email", "role"], name="contact_unique_role"),
            models.CheckConstraint(
                condition=~models.Q(role="emergency") | ~models.Q(phone=""),
                name="emergency_contact_has_phone",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_role_display()})"


# The admin's contract form refuses what the contract file refuses (core.term's range).
DATE_RANGE = [MinValueValidator(term.EARLIEST_DATE), MaxValueValidator(term.LATEST_DATE)]


@audited
class Contract(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        CANCELLING = "cancelling", "Notice given"
        TERMINATED = "terminated", "Terminated"

    class CreditRounding(models.TextChoices):
        STARTED_STEPS = "started_steps", "Per started step"
        PROPORTIONAL = "proportional", "Proportional"

    class CreditBasis(models.TextChoices):
        FEE_SHARE = "fee_share", "The monthly fee ÷ the number of covered sites"
        FULL_FEE = "full_fee", "The full monthly fee"

    class CancellationReading(models.TextChoices):
        CYCLE_OF_NOTICE_END = "cycle_of_notice_end", "End of the month in which the notice period ends"
        CYCLE_AFTER_NOTICE_END = "cycle_after_notice_end", "End of the month after the notice period ends"

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="contracts")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="contracts")
    calendar = models.ForeignKey(Calendar, on_delete=models.PROTECT, related_name="contracts")
    start = models.DateField(help_text="Plan start date", validators=DATE_RANGE)
    minimum_term_months = models.PositiveSmallIntegerField(default=3)
    monthly_fee = models.DecimalField(
        max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal(0))]
    )
    currency = models.CharField(max_length=3)
    hourly_rate = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    billing_unit_minutes = models.PositiveSmallIntegerField(default=15)
    credit_rounding = models.CharField(
        max_length=20, choices=CreditRounding.choices, default=CreditRounding.STARTED_STEPS
    )
    credit_table = models.JSONField(
        default=list, blank=True, help_text="Overrides the plan's table (Schedule A)"
    )
    credit_basis = models.CharField(
        max_length=12,
        choices=CreditBasis.choices,
        default=CreditBasis.FEE_SHARE,
        help_text="Each site's credit is a percent of this; the month's total is capped at the fee",
    )
    annual_prepayment = models.BooleanField(default=False)
    notice_days = models.PositiveSmallIntegerField(default=30)
    notice_given_on = models.DateField(
        null=True,
        blank=True,
        help_text="Day the client gave notice of cancellation (7.3)",
        validators=DATE_RANGE,
    )
    cancellation_reading = models.CharField(
        max_length=24, choices=CancellationReading.choices, default=CancellationReading.CYCLE_OF_NOTICE_END
    )
    update_batch = models.CharField(
        max_length=20, default="2nd tue", help_text='Monthly update batch day, e.g. "2nd tue" or "day 15"'
    )
    alert_minutes = models.PositiveSmallIntegerField(default=5, help_text="Uptime alert within N minutes")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)

    class Meta:
        verbose_name = "contract"
        verbose_name_plural = "contracts"
        ordering = ["client__name", "-start"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(billing_unit_minutes__gte=1), name="billing_unit_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client.name} — {self.plan.name} from {self.start:%Y-%m-%d}"

    @property
    def slug(self) -> str:
        return self.client.slug

    def credit_rule(self) -> CreditRule | None:
        """This contract's remedy: its own Schedule A table, else the plan's; None when none is agreed."""
        return self.plan.credit_rule(reading=self.credit_rounding, table=self.credit_table or None)

    def batch_rule(self) -> sla_targets.MonthlyBatch:
        return sla_targets.MonthlyBatch.parse(self.update_batch)

    @property
    def minimum_term_end(self) -> dt.date:
        """Last day of the minimum term (the one figure pages, the agreement and the API print)."""
        return term.minimum_term_end(self.start, self.minimum_term_months)

    def cancellation(self, notice: dt.date | None = None) -> term.Cancellation | None:
        """The dates notice given on `notice` (default: the notice on record) leads to; None without one."""
        notice = notice or self.notice_given_on
        if notice is None:
            return None
        return term.cancellation(
            self.start,
            self.minimum_term_months,
            notice,
            notice_days=self.notice_days,
            reading=self.cancellation_reading,
            annual=self.annual_prepayment,
        )

    @property
    def effective_end(self) -> dt.date | None:
        """Last day of service once notice is on record (every service runs up to and including it)."""
        dates = self.cancellation()
        return dates.effective_date if dates else None

    def in_service(self, on: dt.date) -> bool:
        """Is this contract in service on day `on` (contract zone)? The one test every scheduler uses:
        from the start date, through notice, up to and including the effective date (agreement 7.3)."""
        if self.status not in {self.Status.ACTIVE, self.Status.CANCELLING}:
            return False
        if on < self.start:
            return False
        end = self.effective_end
        return end is None or on <= end

    def today(self, now: dt.datetime | None = None) -> dt.date:
        """Today's date in the contract calendar's zone."""
        now = now or dt.datetime.now(dt.UTC)
        return now.astimezone(ZoneInfo(self.calendar.current.timezone)).date()


@audited
class MaintenanceWindow(models.Model):
    """The contract's standard weekly window, in the calendar's zone (agreement 2.4)."""

    WEEKDAYS = [
        (0, "Monday"),
        (1, "Tuesday"),
        (2, "Wednesday"),
        (3, "Thursday"),
        (4, "Friday"),
        (5, "Saturday"),
        (6, "Sunday"),
    ]

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="maintenance_windows")
    weekday = models.PositiveSmallIntegerField(choices=WEEKDAYS)
    start = models.TimeField()
    end = models.TimeField(help_text="May be past midnight (e.g. 23:00–02:00)")
    max_minutes = models.PositiveSmallIntegerField(default=30)
    notice_hours = models.PositiveSmallIntegerField(default=48, help_text="Notice for extended maintenance")

    class Meta:
        verbose_name = "maintenance window"
        verbose_name_plural = "maintenance windows"
        ordering = ["contract", "weekday", "start"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "weekday", "start"], name="window_unique"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_weekday_display()} {self.start:%H:%M}–{self.end:%H:%M} (max {self.max_minutes} min)"
        )


@audited
class Site(models.Model):
    class Platform(models.TextChoices):
        WORDPRESS = "wordpress", "WordPress"
        SHOPIFY = "shopify", "Shopify"
        NEXTJS = "nextjs", "Next.js"
        STATIC = "static", "Static"
        OTHER = "other", "Other"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="sites")
    url = models.URLField()
    name = models.CharField(max_length=200, blank=True)
    platform = models.CharField(max_length=20, choices=Platform.choices, default=Platform.OTHER)
    hosting = models.CharField(max_length=200, blank=True, help_text="Provider, region")
    notes = models.TextField(blank=True)

    class Meta:
        verbose_name = "site"
        verbose_name_plural = "sites"
        ordering = ["client", "url"]
        constraints = [models.UniqueConstraint(fields=["client", "url"], name="site_unique_url")]

    def __str__(self) -> str:
        return self.name or self.url


@audited
class Environment(models.Model):
    class Kind(models.TextChoices):
        PROD = "prod", "Production"
        STAGE = "stage", "Stage"
        DEV = "dev", "Development"

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="environments")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    url = models.URLField()

    class Meta:
        verbose_name = "environment"
        verbose_name_plural = "environments"
        ordering = ["site", "kind"]
        constraints = [models.UniqueConstraint(fields=["site", "kind"], name="environment_unique_kind")]

    def __str__(self) -> str:
        return f"{self.site} [{self.kind}]"

    @property
    def client_id(self) -> int:
        return self.site.client_id
