"""A site's month in figures: downtime, excluded, counted, unknown, coverage, uptime (exact) and credits.

Read from outage intervals, maintenance and probe sessions only — never from raw check results, which are
deleted after SITEKEEPER_RAW_RESULT_DAYS days.

- Watched time is probe-session time (start → stop, or → last heartbeat while running) in which the site had
  a production monitor watching: from each monitor's `created_at`, less the time a person paused it
  (MonitorPause). A site without one is watched nowhere; a paused monitor's time is not watched, never up,
  and its outages count only while it was watching. What is not watched is unknown: reported as such,
  never counted as downtime — also not the part of an outage that runs on while nobody was watching.
- Coverage = watched ÷ the month (up to now for the current month, the whole month for a past one). A month
  with no watched time at all is "not measured": its uptime is None, never 100 %, and it earns no credit.
  Coverage under 99 % is a monitoring gap (the agreement promises 24/7 monitoring, 1.2).
- Outages are those of the site's production monitors, merged (two monitors down at once is one downtime).
- Excluded: outages staff tagged with an agreement exclusion, entirely; and the maintenance overlap (a weekly
  window occurrence in which maintenance was recorded, or an announcement made in time) up to each window's
  maximum length (monitoring/maintenance.py).
- Uptime % = 100 × (1 − counted / length of the calendar month in the contract's zone) via core.uptime.
- Credits: each site earns its percent of the contract's basis (`credit_basis`); a contract's month sums its
  sites and caps the total at the month's fee (core.credits.contract_credit; `contract_month` below).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from django.db.models import Q
from django.utils import timezone

from sitekeeper.contracts.models import Contract, Site
from sitekeeper.contracts.presenters import contract_credit_rule, contract_zone
from sitekeeper.core import uptime as core
from sitekeeper.core.credits import (
    ContractCredit,
    Credit,
    CreditError,
    CreditRule,
    contract_credit,
    to_decimal,
)
from sitekeeper.core.credits import site_credit as credit_on_basis
from sitekeeper.monitoring import maintenance
from sitekeeper.monitoring.models import Monitor, MonitorPause, Outage, ProbeSession

Span = core.Span
ZERO = dt.timedelta(0)
GAP_BELOW = Fraction(99)  # coverage under this percent is flagged as a monitoring gap


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
    unknown: dt.timedelta  # time in the month (up to `until`) nobody watched the site
    watched: dt.timedelta  # time in the month (up to `until`) a probe watched it
    uptime: Fraction | None  # percent, exact; None: not measured
    credit: Credit | None  # this site's credit on the contract's basis (None: not measured / no remedy)
    credit_rule: str = ""
    outages: list[Outage] = field(default_factory=list)
    windows: list[maintenance.Window] = field(default_factory=list)
    effects: list[maintenance.WindowEffect] = field(default_factory=list)

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
    def measured(self) -> bool:
        return self.uptime is not None

    @property
    def coverage(self) -> Fraction:
        """Watched share of the month in percent: up to now for the current month, else of the whole month."""
        looked = self.until - self.start
        if looked <= ZERO:
            return Fraction(0)
        micro = dt.timedelta(microseconds=1)
        return 100 * Fraction(self.watched // micro, looked // micro)

    @property
    def coverage_decimal(self) -> Decimal:
        return to_decimal(self.coverage)

    @property
    def monitoring_gap(self) -> bool:
        return self.coverage < GAP_BELOW

    @property
    def uptime_decimal(self) -> Decimal | None:
        return None if self.uptime is None else to_decimal(self.uptime)

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
            "watched_minutes": _minutes(self.watched),
            "measured": self.measured,
            "coverage": str(self.coverage_decimal),
            "monitoring_gap": self.monitoring_gap,
            "uptime": None if self.uptime is None else str(to_decimal(self.uptime)),
            "uptime_exact": None
            if self.uptime is None
            else f"{self.uptime.numerator}/{self.uptime.denominator}",
            "credit": self.credit.as_json() if self.credit else None,
            "credit_rule": self.credit_rule,
            "outages": [outage_json(o) for o in self.outages],
            "maintenance": [effect_json(e) for e in self.effects],
        }


def _exact(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


def _minutes(delta: dt.timedelta) -> str:
    """Whole minutes as they are; anything finer to a tenth of a minute."""
    value = Fraction(delta // dt.timedelta(microseconds=1), 60_000_000)
    return str(value.numerator) if value.denominator == 1 else str(to_decimal(value, Decimal("0.1")))


def outage_json(outage: Outage) -> dict[str, object]:
    latency = outage.alert_latency
    return {
        "id": outage.pk,
        "start": outage.start.isoformat(),
        "end": outage.end.isoformat() if outage.end else None,
        "cause": outage.cause,
        "exclusion": outage.exclusion or None,
        "exclusion_label": outage.get_exclusion_display() if outage.exclusion else None,
        "exclusion_reason": outage.exclusion_reason or None,
        "held_until": outage.held_until.isoformat() if outage.held_until else None,
        "alerted_at": outage.alerted_at.isoformat() if outage.alerted_at else None,
        "alert_latency_seconds": None if latency is None else int(latency.total_seconds()),
    }


def effect_json(effect: maintenance.WindowEffect) -> dict[str, object]:
    window = effect.window
    return {
        "start": window.start.isoformat(),
        "end": window.end.isoformat(),
        "kind": window.kind,
        "max_minutes": window.max_minutes,
        "downtime_minutes": _minutes(effect.downtime),
        "excluded_minutes": _minutes(effect.excluded),
        "excludes": window.excludes,
        "reason": window.reason,
    }


def probe_time(span: Span) -> list[Span]:
    """Probe session time within `span` (any location: one probe watching is watching)."""
    lo, hi = span
    if hi <= lo:
        return []
    sessions = ProbeSession.objects.filter(started_at__lt=hi).filter(
        Q(stopped_at__gt=lo) | Q(stopped_at__isnull=True, last_beat_at__gt=lo)
    )
    sessions = sessions.only("started_at", "stopped_at", "last_beat_at")
    return core.clip(((s.started_at, s.stopped_at or s.last_beat_at) for s in sessions), span)


def monitor_spans(site: Site, span: Span) -> dict[int, list[Span]]:
    """Per production monitor of the site, the time within `span` it was watching: from its `created_at`,
    less the pauses a person made (MonitorPause: paused time is not watched — never up). A monitor switched
    off without a pause record (an old disabled one) watches nothing."""
    hi = span[1]
    result: dict[int, list[Span]] = {}
    for monitor in Monitor.objects.filter(site=site, environment="prod").prefetch_related("pauses"):
        pauses = list(monitor.pauses.all())
        if not monitor.enabled and not any(p.end is None for p in pauses):
            continue
        active = core.clip([(monitor.created_at, max(hi, monitor.created_at))], span)
        result[monitor.pk] = core.subtract(active, [(p.start, p.end or hi) for p in pauses])
    return result


def paused_spans(site: Site, until: dt.datetime) -> dict[int, list[Span]]:
    """Per monitor of the site, the times a person had it paused (an open pause runs to `until`)."""
    result: dict[int, list[Span]] = {}
    for pause in MonitorPause.objects.filter(monitor__site=site, start__lt=until):
        result.setdefault(pause.monitor_id, []).append((pause.start, pause.end or until))
    return result


def watched(site: Site, span: Span, spans: dict[int, list[Span]] | None = None) -> list[Span]:
    """Probe session time within `span` in which the site had a production monitor watching (not paused)."""
    spans = monitor_spans(site, span) if spans is None else spans
    active = core.merge(s for monitor in spans.values() for s in monitor)
    if not active:
        return []
    return core.subtract(probe_time(span), core.subtract([span], active))


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
    """The interval sets of `span` (clipped to now): down, excluded, counted, watched and unknown spans."""
    lo, hi = span
    until = max(lo, min(hi, now))
    looked = (lo, until)
    outages = site_outages(site, span)
    active = monitor_spans(site, looked)
    # An outage does not count while its own monitor was paused (a paused monitor's time is not watched).
    paused = paused_spans(site, until)
    spans = [
        piece
        for o in outages
        for piece in core.subtract([(o.start, o.end or until)], paused.get(o.monitor_id, []))
    ]
    seen = core.clip(watched(site, looked, active), looked)
    down = core.subtract(core.clip(spans, looked), core.subtract([looked], seen))
    tagged = core.clip([(o.start, o.end or until) for o in outages if o.exclusion], looked)  # entirely
    windows = maintenance.occurrences(site, contract, span)
    untagged = core.subtract(down, tagged)
    excluded = core.merge(tagged + maintenance.maintenance_exclusions(untagged, windows))
    excluded_down = core.subtract(down, core.subtract(down, excluded))  # excluded ∩ down
    return (
        outages,
        windows,
        {
            "down": down,
            "untagged": untagged,
            "excluded": excluded_down,
            "counted": core.subtract(down, excluded),
            "watched": seen,
            "unknown": core.subtract([looked], seen) if until > lo else [],
        },
    )


def _rule(contract: Contract) -> CreditRule | None:
    """The contract's credit rule; None when no remedy is agreed or the rule cannot be read (the presenter
    says which) — in both cases no amount is computed."""
    try:
        return contract.credit_rule()
    except CreditError:
        return None


def rule_text(contract: Contract | None) -> str:
    if contract is None:
        return ""
    return contract_credit_rule(contract)


def covered_sites(contract: Contract) -> list[Site]:
    """The sites a contract's credits cover: its client's sites."""
    return list(Site.objects.filter(client_id=contract.client_id).select_related("client").order_by("pk"))


def site_credit(contract: Contract, uptime: Fraction | None, covered: int) -> Credit | None:
    """One site's credit for a month on the contract's basis (before the contract's cap): None when the month
    was not measured or no remedy is agreed."""
    rule = _rule(contract)
    if uptime is None or rule is None:
        return None
    return credit_on_basis(
        rule,
        contract.plan.uptime_sla,
        uptime,
        contract.monthly_fee,
        contract.currency,
        basis=contract.credit_basis,
        covered_sites=covered,
    )


def month_figures(
    site: Site, year: int, month: int, now: dt.datetime | None = None, *, covered: int | None = None
) -> MonthFigures:
    now = now or timezone.now()
    contract = site.client.contract
    tz = contract_zone(contract)
    span = core.month_bounds(year, month, tz)
    outages, windows, sets = figures_for_span(site, contract, span, now)
    counting = [w for w in windows if w.excludes]
    for item in outages:  # for the outage list: which ones maintenance (partly) excludes
        spans = core.clip([(item.start, item.end or span[1])], span)
        item.in_maintenance = not item.exclusion and any(core.clip(spans, (w.start, w.end)) for w in counting)
    measured = bool(sets["watched"])
    uptime = core.monthly_uptime(year, month, tz, sets["counted"]) if measured else None
    credit = None
    if contract is not None:
        count = covered if covered is not None else Site.objects.filter(client_id=contract.client_id).count()
        credit = site_credit(contract, uptime, count)
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
        watched=core.total(sets["watched"]),
        uptime=uptime,
        credit=credit,
        credit_rule=rule_text(contract),
        outages=outages,
        windows=windows,
        effects=maintenance.window_effects(sets["untagged"], windows),
    )


# A contract's month: every site's figures and the credit over all of them, capped at the fee ----------------


@dataclass
class ContractMonth:
    contract: Contract
    year: int
    month: int
    sites: list[MonthFigures]
    credit: ContractCredit
    rule: str  # the credit rule in words (contracts.presenters.contract_credit_rule)

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def measured_sites(self) -> int:
        return sum(1 for f in self.sites if f.measured)

    @property
    def total(self) -> Decimal | None:
        """The month's credit over all sites, capped at the fee; None: no remedy, or nothing measured."""
        return self.credit.credit_amount if self.measured_sites else None

    def figures_for(self, site: Site) -> MonthFigures:
        return next(f for f in self.sites if f.site.pk == site.pk)

    def as_json(self) -> dict[str, object]:
        credit = self.credit
        return {
            "month": self.label,
            "basis": credit.basis,
            "basis_amount": str(credit.basis_amount),
            "covered_sites": len(self.sites),
            "measured_sites": self.measured_sites,
            "credit_amount": None if self.total is None else str(self.total),
            "uncapped_amount": None if self.total is None else str(credit.uncapped_amount),
            "capped": credit.capped if self.total is not None else False,
            "currency": credit.currency,
            "credit_rule": self.rule,
            "sites": [
                {**row.as_json(), "coverage": str(f.coverage_decimal)}
                for row, f in zip(credit.sites, self.sites, strict=True)
            ],
        }


def contract_month(
    contract: Contract, year: int, month: int, now: dt.datetime | None = None
) -> ContractMonth:
    """Each covered site's figures for the month and the contract's credit: per-site percent of the basis
    (`contract.credit_basis`), the sum capped at the month's fee (agreement 2.3). An unmeasured site earns
    nothing; no remedy agreed: no amount at all."""
    now = now or timezone.now()
    sites = covered_sites(contract)
    figures = [month_figures(site, year, month, now=now, covered=len(sites)) for site in sites]
    credit = contract_credit(
        _rule(contract),
        contract.plan.uptime_sla,
        {f.site.url: f.uptime for f in figures},
        contract.monthly_fee,
        contract.currency,
        basis=contract.credit_basis,
        covered_sites=len(sites),
    )
    return ContractMonth(contract, year, month, figures, credit, rule_text(contract))


# The 90-day bar -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Day:
    date: dt.date
    state: str  # up, partial, down, unknown (not measured), maintenance
    counted: dt.timedelta
    excluded: dt.timedelta
    unknown: dt.timedelta

    @property
    def title(self) -> str:
        parts = [f"{self.date:%a %d %b %Y}: {STATE_WORDS.get(self.state, self.state)}"]
        for name, value in (("down", self.counted), ("excluded", self.excluded), ("unwatched", self.unknown)):
            if value > ZERO:
                parts.append(f"{name} {int(value.total_seconds() // 60)} min")
        return " · ".join(parts)


# A day with at least this much counted downtime is "down"; less (but some) is "partial".
DOWN_DAY = dt.timedelta(hours=1)
STATE_WORDS = {"unknown": "not measured", "maintenance": "maintenance / excluded"}


def day_state(
    counted: dt.timedelta, excluded: dt.timedelta, unknown: dt.timedelta, length: dt.timedelta
) -> str:
    if unknown >= length:
        return "unknown"  # nothing observed: never "up"
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
    tz = contract_zone(contract)
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


def span_figures(
    site: Site, days: int = 90, now: dt.datetime | None = None
) -> tuple[Fraction | None, Fraction]:
    """Uptime % over the watched time of the last `days` days (None when nothing was watched) and coverage %
    (watched share of those days)."""
    now = now or timezone.now()
    contract = site.client.contract
    span = (now - dt.timedelta(days=days), now)
    _outages, _windows, sets = figures_for_span(site, contract, span, now)
    micro = dt.timedelta(microseconds=1)
    length = span[1] - span[0]
    seen = core.total(sets["watched"])
    coverage = 100 * Fraction(seen // micro, length // micro)
    if seen <= ZERO:
        return None, Fraction(0)
    return 100 * (1 - Fraction(core.total(sets["counted"]) // micro, seen // micro)), coverage


def span_uptime(site: Site, days: int = 90, now: dt.datetime | None = None) -> Fraction | None:
    """Uptime % over the last `days` days of watched time (None when nothing was watched: not measured)."""
    return span_figures(site, days, now)[0]
