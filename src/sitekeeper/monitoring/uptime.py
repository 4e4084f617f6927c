"""A site's month in figures: downtime, excluded, counted, unknown, uptime (exact) and the credit it earns.

Read from outage intervals, maintenance and probe sessions only — never from raw check results, which are
deleted after SITEKEEPER_RAW_RESULT_DAYS days.

- Watched time is the union of probe sessions (start → stop, or → last heartbeat while running). What no
  session covers is unknown: reported as such, never counted as downtime — also not the part of an outage
  that runs on while no probe was watching.
- Outages are those of the site's production monitors, merged (two monitors down at once is one downtime).
- Excluded: outages staff tagged with an agreement exclusion, entirely; and the maintenance overlap (weekly
  window, or an announcement made in time) up to each window's maximum length (monitoring/maintenance.py).
- Uptime % = 100 × (1 − counted / length of the calendar month in the contract's zone) via core.uptime, and
  the credit via core.credits.compute_credit with the contract's rule.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from django.db.models import Q
from django.utils import timezone

from sitekeeper.contracts.models import Contract, Site
from sitekeeper.core import uptime as core
from sitekeeper.core.credits import Credit, compute_credit, to_decimal
from sitekeeper.monitoring import maintenance
from sitekeeper.monitoring.models import Outage, ProbeSession

Span = core.Span
ZERO = dt.timedelta(0)


@dataclass
class MonthFigures:
    site: Site
    year: int
    month: int
    zone: str
    start: dt.datetime  # the month, as UTC instants
    end: dt.datetime
    until: dt.datetime  # figures cover the month up to here (now, for the current month)
    downtime: dt.timedelta  # watched outage time in the month
    excluded: dt.timedelta  # of which excluded (tags + maintenance)
    counted: dt.timedelta  # downtime − excluded: what reduces uptime
    unknown: dt.timedelta  # time in the month (up to `until`) no probe watched
    uptime: Fraction  # percent, exact
    credit: Credit | None
    outages: list[Outage] = field(default_factory=list)
    windows: list[maintenance.Window] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def length(self) -> dt.timedelta:
        return self.end - self.start

    @property
    def uptime_decimal(self) -> Decimal:
        return to_decimal(self.uptime)

    def as_json(self) -> dict[str, object]:
        return {
            "site": self.site.pk,
            "client": self.site.client.slug,
            "month": self.label,
            "timezone": self.zone,
            "month_start": self.start.isoformat(),
            "month_end": self.end.isoformat(),
            "month_minutes": _minutes(self.length),
            "complete": self.until >= self.end,
            "downtime_minutes": _minutes(self.downtime),
            "excluded_minutes": _minutes(self.excluded),
            "counted_minutes": _minutes(self.counted),
            "unknown_minutes": _minutes(self.unknown),
            "uptime": str(to_decimal(self.uptime)),
            "uptime_exact": f"{self.uptime.numerator}/{self.uptime.denominator}",
            "credit": self.credit.as_json() if self.credit else None,
            "outages": [outage_json(o) for o in self.outages],
        }


def _minutes(delta: dt.timedelta) -> str:
    """Whole minutes as they are; anything finer to a tenth of a minute."""
    value = Fraction(delta // dt.timedelta(microseconds=1), 60_000_000)
    return str(value.numerator) if value.denominator == 1 else str(to_decimal(value, Decimal("0.1")))


def outage_json(outage: Outage) -> dict[str, object]:
    return {
        "id": outage.pk,
        "start": outage.start.isoformat(),
        "end": outage.end.isoformat() if outage.end else None,
        "cause": outage.cause,
        "exclusion": outage.exclusion or None,
        "exclusion_label": outage.get_exclusion_display() if outage.exclusion else None,
        "exclusion_reason": outage.exclusion_reason or None,
    }


def watched(span: Span) -> list[Span]:
    """Probe session time within `span` (any location: one probe watching is watching)."""
    lo, hi = span
    sessions = ProbeSession.objects.filter(started_at__lt=hi).filter(
        Q(stopped_at__gt=lo) | Q(stopped_at__isnull=True, last_beat_at__gt=lo)
    )
    sessions = sessions.only("started_at", "stopped_at", "last_beat_at")
    return core.clip(((s.started_at, s.stopped_at or s.last_beat_at) for s in sessions), span)


def site_outages(site: Site, span: Span) -> list[Outage]:
    lo, hi = span
    return list(
        Outage.objects.filter(site=site, monitor__environment="prod", start__lt=hi)
        .filter(Q(end__isnull=True) | Q(end__gt=lo))
        .select_related("tagged_by")
        .order_by("start")
    )


def figures_for_span(
    site: Site, contract: Contract | None, span: Span, now: dt.datetime
) -> tuple[list[Outage], list[maintenance.Window], dict[str, list[Span]]]:
    """The interval sets of `span` (clipped to now): outage, watched, excluded and counted spans."""
    lo, hi = span
    until = max(lo, min(hi, now))
    looked = (lo, until)
    outages = site_outages(site, span)
    spans = [(o.start, o.end or until) for o in outages]
    seen = core.clip(watched(looked), looked)
    down = core.subtract(core.clip(spans, looked), core.subtract([looked], seen))
    tagged = core.clip([(o.start, o.end or until) for o in outages if o.exclusion], looked)  # entirely
    windows = maintenance.counted_windows(site, contract, span)
    excluded = core.merge(tagged + maintenance.maintenance_exclusions(core.subtract(down, tagged), windows))
    excluded_down = core.subtract(down, core.subtract(down, excluded))  # excluded ∩ down
    return (
        outages,
        windows,
        {
            "down": down,
            "excluded": excluded_down,
            "counted": core.subtract(down, excluded),
            "unknown": core.subtract([looked], seen) if until > lo else [],
        },
    )


def month_figures(site: Site, year: int, month: int, now: dt.datetime | None = None) -> MonthFigures:
    now = now or timezone.now()
    contract = site.client.contract
    tz = maintenance.contract_zone(contract) if contract else timezone.get_default_timezone()
    span = core.month_bounds(year, month, tz)
    outages, windows, sets = figures_for_span(site, contract, span, now)
    for item in outages:  # for the outage list: which ones announced maintenance (partly) excludes
        spans = core.clip([(item.start, item.end or span[1])], span)
        item.in_maintenance = not item.exclusion and any(core.clip(spans, (w.start, w.end)) for w in windows)
    uptime = core.monthly_uptime(year, month, tz, sets["counted"])
    credit = None
    if contract is not None:
        credit = compute_credit(
            contract.credit_rule(), contract.plan.uptime_sla, uptime, contract.monthly_fee, contract.currency
        )
    return MonthFigures(
        site=site,
        year=year,
        month=month,
        zone=tz.key,
        start=span[0],
        end=span[1],
        until=max(span[0], min(span[1], now)),
        downtime=core.total(sets["down"]),
        excluded=core.total(sets["excluded"]),
        counted=core.total(sets["counted"]),
        unknown=core.total(sets["unknown"]),
        uptime=uptime,
        credit=credit,
        outages=outages,
        windows=windows,
    )


# The 90-day bar -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Day:
    date: dt.date
    state: str  # up, partial, down, unknown, maintenance
    counted: dt.timedelta
    excluded: dt.timedelta
    unknown: dt.timedelta

    @property
    def title(self) -> str:
        parts = [f"{self.date:%a %d %b %Y}: {self.state}"]
        for name, value in (("down", self.counted), ("excluded", self.excluded), ("unknown", self.unknown)):
            if value > ZERO:
                parts.append(f"{name} {int(value.total_seconds() // 60)} min")
        return " · ".join(parts)


# A day with at least this much counted downtime is "down"; less (but some) is "partial".
DOWN_DAY = dt.timedelta(hours=1)


def day_state(
    counted: dt.timedelta, excluded: dt.timedelta, unknown: dt.timedelta, length: dt.timedelta
) -> str:
    if counted >= DOWN_DAY:
        return "down"
    if counted > ZERO:
        return "partial"
    if excluded > ZERO:
        return "maintenance"
    if unknown >= length / 2:
        return "unknown"
    return "up"


def daily_bar(site: Site, days: int = 90, now: dt.datetime | None = None) -> list[Day]:
    """One cell per local day, oldest first, ending today (in the contract's zone)."""
    now = now or timezone.now()
    contract = site.client.contract
    tz = maintenance.contract_zone(contract) if contract else timezone.get_default_timezone()
    today = now.astimezone(tz).date()
    first = today - dt.timedelta(days=days - 1)
    lo = dt.datetime.combine(first, dt.time(), tzinfo=tz).astimezone(dt.UTC)
    hi = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tzinfo=tz).astimezone(dt.UTC)
    _outages, _windows, sets = figures_for_span(site, contract, (lo, hi), now)
    cells = []
    for offset in range(days):
        date = first + dt.timedelta(days=offset)
        start = dt.datetime.combine(date, dt.time(), tzinfo=tz).astimezone(dt.UTC)
        end = dt.datetime.combine(date + dt.timedelta(days=1), dt.time(), tzinfo=tz).astimezone(dt.UTC)
        end_seen = min(end, now)
        day = (start, end)
        counted = core.total(core.clip(sets["counted"], day))
        excluded = core.total(core.clip(sets["excluded"], day))
        unknown = core.total(core.clip(sets["unknown"], day))
        length = max(end_seen - start, ZERO)
        state = day_state(counted, excluded, unknown, length) if length > ZERO else "unknown"
        cells.append(Day(date, state, counted, excluded, unknown))
    return cells


def span_uptime(site: Site, days: int = 90, now: dt.datetime | None = None) -> Fraction | None:
    """Uptime % over the last `days` days of watched time (None when nothing was watched)."""
    now = now or timezone.now()
    contract = site.client.contract
    span = (now - dt.timedelta(days=days), now)
    _outages, _windows, sets = figures_for_span(site, contract, span, now)
    length = span[1] - span[0]
    micro = dt.timedelta(microseconds=1)
    seen = length - core.total(sets["unknown"])
    if seen <= ZERO:
        return None
    return 100 * (1 - Fraction(core.total(sets["counted"]) // micro, seen // micro))
