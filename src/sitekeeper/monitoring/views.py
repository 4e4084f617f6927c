"""Monitoring pages: the site uptime page (staff and portal), exclusion tags, announcements, the public status
page and the Prometheus /metrics endpoint.

Access (tests/web/test_persona_matrix.py checks each route):
- /staff/monitoring/…: agency roles only (access.permissions.agency_required);
- /portal/sites/<pk>/uptime/: the person's own client's site (client_sites), agency people go to the console;
- /status/<slug>/: public, but only for a client that enabled its page (404 otherwise); it shows site names,
  states and uptime figures — never outage causes, tickets or contacts;
- /metrics: a bearer token equal to SITEKEEPER_METRICS_TOKEN, or a signed-in agency person; anybody else
  gets 401 (anonymous) or 403 (a client person).
"""

from __future__ import annotations

import datetime as dt
import hmac
import os
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.db.models import Count, OuterRef, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from sitekeeper.access.models import AGENCY_ROLES
from sitekeeper.access.permissions import agency_required, client_sites, portal_view
from sitekeeper.contracts.models import Client, Site
from sitekeeper.contracts.presenters import contract_zone, zone_of
from sitekeeper.contracts.service import sites_in_service
from sitekeeper.core.credits import to_decimal
from sitekeeper.core.uptime import month_bounds
from sitekeeper.desk.models import State, Ticket
from sitekeeper.monitoring import gaps, maintenance
from sitekeeper.monitoring import monitors as changes
from sitekeeper.monitoring.forms import MonitorForm, PauseForm
from sitekeeper.monitoring.models import (
    CheckResult,
    Exclusion,
    MaintenanceAnnouncement,
    MaintenanceLog,
    Monitor,
    Outage,
    Rollup,
    StatusPage,
)
from sitekeeper.monitoring.uptime import contract_month, daily_bar, month_figures, span_figures

MONTHS_SHOWN = 6
CHART_DAYS = 7


# Forms --------------------------------------------------------------------------------------------------


class ExclusionForm(forms.Form):
    exclusion = forms.ChoiceField(
        choices=[("", "— none (counts as downtime) —"), *Exclusion.choices], required=False
    )
    reason = forms.CharField(max_length=500, required=False, widget=forms.TextInput)

    def clean(self) -> dict:
        data = super().clean()
        if data.get("exclusion") and not (data.get("reason") or "").strip():
            raise forms.ValidationError("Give the reason the client will read, e.g. the provider's incident.")
        return data


class MaintenanceLogForm(forms.Form):
    """Maintenance performed in a past weekly window occurrence that has nothing recorded yet."""

    occurrence = forms.ChoiceField(choices=())
    note = forms.CharField(
        max_length=500, widget=forms.TextInput, help_text="What was done (the client reads it)"
    )

    def __init__(self, *args: object, occurrences: list[maintenance.Window], zone, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.by_key = {w.start.isoformat(): w for w in occurrences}
        self.fields["occurrence"].choices = [
            (key, f"{w.start.astimezone(zone):%a %d %b %Y %H:%M}–{w.end.astimezone(zone):%H:%M %Z}")
            for key, w in self.by_key.items()
        ]

    def clean_note(self) -> str:
        note = self.cleaned_data["note"].strip()
        if not note:
            raise forms.ValidationError("Say what was done; the client reads it on the uptime page.")
        return note


class AnnounceForm(forms.Form):
    kind = forms.ChoiceField(choices=MaintenanceAnnouncement.Kind.choices)
    start = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    end = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    max_minutes = forms.IntegerField(min_value=1, max_value=24 * 60, initial=60)
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


# The site uptime page ------------------------------------------------------------------------------------


def _month_arg(request: HttpRequest, today: dt.date) -> tuple[int, int]:
    raw = request.GET.get("month", "")
    try:
        year, month = (int(part) for part in raw.split("-"))
        dt.date(year, month, 1)
    except ValueError:
        return today.year, today.month
    return year, month


def _previous_months(year: int, month: int, count: int) -> list[tuple[int, int]]:
    months = []
    for _ in range(count):
        months.append((year, month))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return months


@dataclass(frozen=True)
class Chart:
    """The response-time chart, drawn by the template as SVG: a plot box with a value axis (ms, labelled
    ticks) and a time axis (one labelled tick per day, at midnight in the contract's zone)."""

    svg_points: str
    width: int
    height: int
    max_ms: int
    avg_ms: int | None
    first: dt.datetime | None
    last: dt.datetime | None
    left: int  # the plot box
    top: int
    right: int
    bottom: int
    yticks: list[tuple[float, str]]  # (y, "250 ms")
    xticks: list[tuple[float, str]]  # (x, "Mon 7")


CHART_W, CHART_H = 720, 200
CHART_BOX = (66, 10, CHART_W - 14, CHART_H - 28)  # left, top, right, bottom


def _nice_top(value: int) -> int:
    """The value axis' top: four ticks of 1, 2 or 5 × 10^n ms, the smallest at or above the data's
    maximum plus 10 % (so 0, 50, 100, 150, 200 ms for a 180 ms peak)."""
    target = max(1, round(value * 1.1))
    scale = 1
    while True:
        for step in (1, 2, 5):
            if step * scale * 4 >= target:
                return step * scale * 4
        scale *= 10


def response_chart(
    site: Site, now: dt.datetime, days: int = CHART_DAYS, zone: ZoneInfo | None = None
) -> Chart:
    """Hourly average response time of the site's production monitors (from Rollup rows; the current hour,
    not rolled up yet, from its raw results), as an SVG polyline with labelled axes (times in `zone`)."""
    zone = zone or contract_zone(site.client.contract)
    left, top, right, bottom = CHART_BOX
    since = now - dt.timedelta(days=days)
    rows = list(
        Rollup.objects.filter(
            monitor__site=site, monitor__environment="prod", period="hour", start__gte=since
        )
        .exclude(response_ms_avg=None)
        .values_list("start", "response_ms_avg")
        .order_by("start")
    )
    hour = now.replace(minute=0, second=0, microsecond=0)
    recent = [
        r
        for r in CheckResult.objects.filter(
            monitor__site=site, monitor__environment="prod", at__gte=hour
        ).values_list("response_ms", flat=True)
        if r is not None
    ]
    if recent and not any(start == hour for start, _ in rows):
        rows.append((hour, round(sum(recent) / len(recent))))
    if not rows:
        return Chart("", CHART_W, CHART_H, 0, None, None, None, left, top, right, bottom, [], [])
    scale_top = _nice_top(max(ms for _, ms in rows))
    span = (now - since).total_seconds()

    def x_of(at: dt.datetime) -> float:
        return left + (at - since).total_seconds() / span * (right - left)

    def y_of(ms: float) -> float:
        return bottom - ms / scale_top * (bottom - top)

    points = " ".join(f"{x_of(start):.1f},{y_of(ms):.1f}" for start, ms in rows)
    yticks = [(round(y_of(scale_top * f / 4), 1), f"{scale_top * f // 4} ms") for f in range(5)]
    xticks = []
    day = since.astimezone(zone).date() + dt.timedelta(days=1)
    while (midnight := dt.datetime.combine(day, dt.time(), tzinfo=zone)) <= now:
        xticks.append((round(x_of(midnight), 1), f"{midnight:%a} {midnight.day}"))
        day += dt.timedelta(days=1)
    return Chart(
        points,
        CHART_W,
        CHART_H,
        scale_top,
        round(sum(ms for _, ms in rows) / len(rows)),
        rows[0][0],
        rows[-1][0],
        left,
        top,
        right,
        bottom,
        yticks,
        xticks,
    )


LOG_WEEKS = 8  # the staff can log maintenance for weekly occurrences this far back


def unlogged_occurrences(site: Site, now: dt.datetime) -> list[maintenance.Window]:
    """Past weekly window occurrences of the last weeks with no maintenance recorded (newest first)."""
    contract = site.client.contract
    windows = maintenance.occurrences(site, contract, (now - dt.timedelta(weeks=LOG_WEEKS), now))
    return [w for w in reversed(windows) if w.kind == "weekly" and not w.excludes and w.start <= now]


def outage_rows(outages: list[Outage], contract, now: dt.datetime) -> list[Outage]:
    """Outages with what the pages say about them: held for maintenance, alert latency, missed promise."""
    minutes = contract.alert_minutes if contract else None
    for item in outages:
        item.during_maintenance = item.end is None and item.held
        item.latency_minutes = (
            None if item.alert_latency is None else round(item.alert_latency.total_seconds() / 60, 1)
        )
        item.alert_missed = minutes is not None and item.missed_alert(minutes, now)
        item.alert_minutes = minutes
    return outages


def uptime_context(request: HttpRequest, site: Site, *, staff: bool) -> dict:
    now = timezone.now()
    contract = site.client.contract
    tz = contract_zone(contract)
    today = now.astimezone(tz).date()
    year, month = _month_arg(request, today)
    combined = contract_month(contract, year, month, now=now) if contract else None
    figures = combined.figures_for(site) if combined else month_figures(site, year, month, now=now)
    history = [
        month_figures(site, y, m, now=now)
        for y, m in _previous_months(today.year, today.month, MONTHS_SHOWN)
        if month_bounds(y, m, tz)[1] > site_start(site)
    ]
    bar = daily_bar(site, now=now)
    monitors = list(
        site.monitors.order_by("environment", "kind", "url").prefetch_related("pauses__paused_by")
    )
    for m in monitors:
        m.pause = m.open_pause
        m.cert_days = m.cert_days_left(now)
        m.cert_status = m.cert_state(now)
    uptime_90, coverage_90 = span_figures(site, now=now)
    outage_rows(figures.outages, contract, now)
    return {
        "site": site,
        "contract": contract,
        "combined": combined,
        "several_sites": combined is not None and len(combined.sites) > 1,
        "contract_rows": list(zip(combined.sites, combined.credit.sites, strict=True)) if combined else [],
        "credit_rule": figures.credit_rule,
        "staff": staff,
        "figures": figures,
        "history": history,
        "bar": bar,
        "bar_counts": {s: sum(1 for d in bar if d.state == s) for s in STATES},
        "states": STATES,
        "chart": response_chart(site, now, zone=tz),
        "month_title": f"{figures.first_day:%B %Y}",
        "monitors": monitors,
        "prod_monitors": [m for m in monitors if m.enabled and m.environment == "prod"],
        "open_outages": [o for o in figures.outages if o.end is None],
        "upcoming": maintenance.upcoming_for_site(site, now),
        "windows": list(contract.maintenance_windows.all()) if contract else [],
        "zone": tz.key,
        "now": now,
        "months": [f"{y:04d}-{m:02d}" for y, m in _previous_months(today.year, today.month, 12)],
        "uptime_90": _pct(uptime_90),
        "coverage_90": _pct(coverage_90),
        "gap_90": coverage_90 < 99,
    }


STATES = ("up", "partial", "down", "maintenance", "unknown")


def site_start(site: Site) -> dt.datetime:
    contract = site.client.contract
    start = contract.start if contract else dt.date(2000, 1, 1)
    return dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)


def _pct(value: Fraction | None) -> str | None:
    return None if value is None else str(to_decimal(value, Decimal("0.001")))


def _with_zone(outages: list[Outage], now: dt.datetime) -> list[Outage]:
    """Each outage in its own contract's zone (the overview lists several clients)."""
    for item in outages:
        contract = item.site.client.contract
        item.zone = zone_of(contract)
        outage_rows([item], contract, now)
    return outages


def _client_zones(client_ids: set[int]) -> dict[int, str]:
    """Each client's contract calendar zone (the overview shows each row in its own client's zone)."""
    zones = {}
    for client in Client.objects.filter(pk__in=client_ids):
        contract = client.contract
        zones[client.pk] = zone_of(contract)
    return zones


def site_month_rows(now: dt.datetime) -> list[dict]:
    """This month so far for every site in service: uptime with its coverage (not measured: no figure)."""
    rows = []
    for site in sorted(sites_in_service(now), key=lambda s: (s.client.name, s.url)):
        contract = site.client.contract
        today = contract.today(now)
        figures = month_figures(site, today.year, today.month, now=now)
        rows.append({"site": site, "figures": figures, "zone": figures.zone})
    return rows


@agency_required
def staff_overview(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    monitors = list(
        Monitor.objects.select_related("site", "site__client").order_by(
            "site__client__name", "site__url", "environment", "kind"
        )
    )
    zones = _client_zones({m.site.client_id for m in monitors})
    for monitor in monitors:
        monitor.zone = zones.get(monitor.site.client_id, "UTC")
    open_outages = Outage.objects.filter(end__isnull=True).select_related("site", "site__client", "monitor")
    recent = Outage.objects.select_related("site", "site__client", "monitor", "tagged_by")[:20]
    return render(
        request,
        "monitoring/staff_overview.html",
        {
            "monitors": monitors,
            "open_outages": _with_zone(list(open_outages), now),
            "recent": _with_zone(list(recent), now),
            "unmonitored": gaps.unmonitored_sites(now),
            "site_rows": site_month_rows(now),
            "now": now,
        },
    )


def _staff_page(request: HttpRequest, site: Site, monitor_form: MonitorForm | None = None) -> HttpResponse:
    context = uptime_context(request, site, staff=True)
    context["announce_form"] = AnnounceForm()
    context["exclusion_form"] = ExclusionForm()
    context["monitor_form"] = monitor_form or MonitorForm(site=site)
    context["pause_form"] = PauseForm()
    zone = contract_zone(site.client.contract)
    context["log_form"] = MaintenanceLogForm(
        occurrences=unlogged_occurrences(site, context["now"]), zone=zone
    )
    return render(request, "monitoring/site_uptime.html", context)


@agency_required
def staff_site_uptime(request: HttpRequest, pk: int) -> HttpResponse:
    site = get_object_or_404(Site.objects.select_related("client"), pk=pk)
    if request.method == "POST":  # the page's own form: maintenance performed in a window occurrence
        return log_maintenance(request, site)
    return _staff_page(request, site)


# Monitors: add, edit, pause, resume (audited: Monitor and MonitorPause are audited models) ---------------


def _monitors_anchor(site_pk: int) -> str:
    return reverse("staff_site_uptime", args=[site_pk]) + "#monitors"


@agency_required
@require_POST
def monitor_add(request: HttpRequest, pk: int) -> HttpResponse:
    """Add a monitor to the site from its uptime page; a refused form is shown again on the page with each
    error beside its field (and summed up above the form)."""
    site = get_object_or_404(Site.objects.select_related("client"), pk=pk)
    form = MonitorForm(request.POST, site=site)
    if not form.is_valid():
        return _staff_page(request, site, form)
    monitor = changes.save_monitor(form.save(commit=False), list(form.fields))
    messages.success(request, f"Monitor “{monitor}” added; the probes check it from now on.")
    return redirect(_monitors_anchor(site.pk))


@agency_required
def monitor_edit(request: HttpRequest, pk: int) -> HttpResponse:
    monitor = get_object_or_404(Monitor.objects.select_related("site", "site__client"), pk=pk)
    site = monitor.site
    form = MonitorForm(request.POST or None, instance=monitor, site=site)
    if request.method == "POST" and form.is_valid():
        changes.save_monitor(form.save(commit=False), list(form.fields))
        messages.success(request, f"Monitor “{monitor}” saved.")
        return redirect(_monitors_anchor(site.pk))
    return render(
        request,
        "monitoring/monitor_edit.html",
        {"form": form, "monitor": monitor, "site": site, "zone": zone_of(site.client.contract)},
    )


@agency_required
@require_POST
def monitor_pause(request: HttpRequest, pk: int) -> HttpResponse:
    monitor = get_object_or_404(Monitor.objects.select_related("site", "site__client"), pk=pk)
    form = PauseForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    if not form.is_valid():
        messages.error(request, "Not paused: " + " ".join(form.errors.get("reason", [])))
        return redirect(_monitors_anchor(monitor.site_id))
    try:
        changes.pause(monitor, request.user, reason)
    except changes.MonitorError as exc:
        messages.error(request, str(exc))
    else:
        messages.warning(
            request,
            f"Monitor “{monitor}” paused: it is not checked, and until you resume it its time counts as not "
            "watched (coverage), never as up.",
        )
    return redirect(_monitors_anchor(monitor.site_id))


@agency_required
@require_POST
def monitor_resume(request: HttpRequest, pk: int) -> HttpResponse:
    monitor = get_object_or_404(Monitor.objects.select_related("site", "site__client"), pk=pk)
    try:
        changes.resume(monitor, request.user)
    except changes.MonitorError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Monitor “{monitor}” resumed; it is checked now.")
    return redirect(_monitors_anchor(monitor.site_id))


@portal_view(lambda pk: reverse("staff_site_uptime", args=[pk]))
def portal_site_uptime(request: HttpRequest, pk: int) -> HttpResponse:
    site = get_object_or_404(client_sites(request.user).select_related("client"), pk=pk)
    return render(request, "monitoring/site_uptime.html", uptime_context(request, site, staff=False))


@agency_required
@require_POST
def tag_outage(request: HttpRequest, pk: int) -> HttpResponse:
    """Set or clear an outage's agreement exclusion. Saved in the request, so the audit middleware records
    the person; the client sees the tag and reason on their uptime page and in the API."""
    outage = get_object_or_404(Outage.objects.select_related("site"), pk=pk)
    form = ExclusionForm(request.POST)
    back = reverse("staff_site_uptime", args=[outage.site_id])
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("__all__", [])) or "Choose an exclusion.")
        return redirect(back)
    exclusion = form.cleaned_data["exclusion"]
    outage.exclusion = exclusion
    outage.exclusion_reason = form.cleaned_data["reason"].strip() if exclusion else ""
    outage.tagged_by = request.user if exclusion else None
    outage.tagged_at = timezone.now() if exclusion else None
    outage.save(update_fields=["exclusion", "exclusion_reason", "tagged_by", "tagged_at"])
    label = outage.get_exclusion_display() if exclusion else "no exclusion (counts as downtime)"
    contract = outage.site.client.contract
    zone = contract_zone(contract)
    messages.success(
        request, f"Outage from {outage.start.astimezone(zone):%Y-%m-%d %H:%M %Z} tagged: {label}."
    )
    return redirect(back)


def log_maintenance(request: HttpRequest, site: Site) -> HttpResponse:
    """Record maintenance performed in a weekly window occurrence (audited: saved in the request, so the
    audit middleware records the person). From then on downtime in that occurrence is excluded, up to the
    window's maximum length."""
    back = reverse("staff_site_uptime", args=[site.pk])
    contract = site.client.contract
    if contract is None:
        messages.error(request, "This site has no contract, so it has no maintenance window.")
        return redirect(back)
    zone = contract_zone(contract)
    form = MaintenanceLogForm(request.POST, occurrences=unlogged_occurrences(site, timezone.now()), zone=zone)
    if not form.is_valid():
        messages.error(
            request, "Not logged: " + " ".join(str(e) for errors in form.errors.values() for e in errors)
        )
        return redirect(back)
    window = form.by_key[form.cleaned_data["occurrence"]]
    MaintenanceLog.objects.create(
        site=site, start=window.start, end=window.end, note=form.cleaned_data["note"], logged_by=request.user
    )
    messages.success(
        request,
        f"Maintenance logged for the window of {window.start.astimezone(zone):%a %d %b %Y %H:%M %Z}: "
        "downtime in it is now excluded up to the window's maximum length.",
    )
    return redirect(back)


@agency_required
@require_POST
def announce_maintenance(request: HttpRequest, pk: int) -> HttpResponse:
    site = get_object_or_404(Site.objects.select_related("client"), pk=pk)
    back = reverse("staff_site_uptime", args=[site.pk])
    contract = site.client.contract
    form = AnnounceForm(request.POST)
    if contract is None or not form.is_valid():
        messages.error(request, "The announcement was not sent: check the fields (and the site's contract).")
        return redirect(back)
    tz = contract_zone(contract)
    data = form.cleaned_data
    start, end = (timezone.make_naive(data[k]).replace(tzinfo=tz) for k in ("start", "end"))
    try:
        item = maintenance.announce(
            contract,
            kind=data["kind"],
            start=start,
            end=end,
            max_minutes=data["max_minutes"],
            announced_at=timezone.now(),
            note=data["note"],
            sites=[site],
            created_by=request.user,
        )
    except maintenance.MaintenanceError as exc:
        messages.error(request, str(exc))
        return redirect(back)
    hours = maintenance.notice_hours(contract)
    if not maintenance.announced_in_time(item, hours):
        messages.warning(
            request,
            f"Announced less than {hours} h ahead: downtime in it will not be excluded from uptime.",
        )
    messages.success(request, "Maintenance announced; the client's contacts are being e-mailed.")
    return redirect(back)


# Public status page ---------------------------------------------------------------------------------------


def status_page(request: HttpRequest, slug: str) -> HttpResponse:
    """Public (no login): each site's current state and 90-day uptime, only for an enabled page."""
    page = get_object_or_404(StatusPage.objects.select_related("client"), slug=slug, enabled=True)
    now = timezone.now()
    rows = []
    for site in page.client.sites.prefetch_related("monitors").order_by("name", "url"):
        prod = [m for m in site.monitors.all() if m.enabled and m.environment == "prod"]
        states = {m.state for m in prod}
        state = "down" if "down" in states else "up" if states == {"up"} else "unknown"
        upcoming = maintenance.upcoming_for_site(site, now, days=7)
        uptime, coverage = span_figures(site, now=now)
        rows.append(
            {
                "name": site.name or site.url,
                "state": state,
                "state_label": "not monitored" if not prod else state,
                "uptime": _pct(uptime),
                "coverage": _pct(coverage),
                "bar": daily_bar(site, now=now),
                "maintenance": upcoming,
            }
        )
    contract = page.client.contract
    zone = zone_of(contract)
    return render(
        request,
        "monitoring/status.html",
        {"page": page, "rows": rows, "now": now, "states": STATES, "zone": zone},
    )


# Prometheus /metrics --------------------------------------------------------------------------------------


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: object) -> str:
    return "{" + ",".join(f'{k}="{_label(v)}"' for k, v in labels.items()) + "}"


def _metrics_allowed(request: HttpRequest) -> int:
    """200 when allowed, else the status to answer with (401 anonymous, 403 a signed-in non-agency)."""
    expected = os.environ.get("SITEKEEPER_METRICS_TOKEN", "")
    given = request.headers.get("Authorization", "")
    if expected and given.startswith("Bearer "):
        if hmac.compare_digest(given.removeprefix("Bearer ").strip().encode(), expected.encode()):
            return 200
        return 401
    user = request.user
    if user.is_authenticated:
        return 200 if user.role in AGENCY_ROLES else 403
    return 401


def metrics(request: HttpRequest) -> HttpResponse:
    status = _metrics_allowed(request)
    if status != 200:
        response = HttpResponse(
            "Forbidden\n" if status == 403 else "Unauthorized: Bearer token required\n",
            status=status,
            content_type="text/plain; charset=utf-8",
        )
        if status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="sitekeeper metrics"'
        return response
    return HttpResponse(render_metrics(), content_type="text/plain; version=0.0.4; charset=utf-8")


def render_metrics() -> str:
    last_ms = CheckResult.objects.filter(monitor=OuterRef("pk")).order_by("-at").values("response_ms")[:1]
    monitors = (
        Monitor.objects.filter(enabled=True)
        .select_related("site", "site__client")
        .annotate(last_ms=Subquery(last_ms))
        .order_by("pk")
    )
    up, response = [], []
    for m in monitors:
        labels = _labels(
            monitor=m.pk,
            client=m.site.client.slug,
            site=m.site.url,
            environment=m.environment,
            kind=m.kind,
            url=m.url,
        )
        value = {"up": 1, "down": 0}.get(m.state)
        if value is not None:
            up.append(f"sitekeeper_monitor_up{labels} {value}")
        if m.last_ms is not None:
            response.append(f"sitekeeper_monitor_last_response_ms{labels} {m.last_ms}")
    outages = (
        Outage.objects.filter(end__isnull=True)
        .values("site__client__slug")
        .annotate(n=Count("pk"))
        .order_by("site__client__slug")
    )
    tickets = (
        Ticket.objects.exclude(state__in=(State.RESOLVED, State.CLOSED))
        .values("priority")
        .annotate(n=Count("pk"))
        .order_by("priority")
    )
    by_priority = {row["priority"] or "none": row["n"] for row in tickets}
    lines = [
        "# HELP sitekeeper_monitor_up 1 when the monitor is up, 0 when down (unknown: no sample).",
        "# TYPE sitekeeper_monitor_up gauge",
        *up,
        "# HELP sitekeeper_monitor_last_response_ms Response time of the monitor's latest check.",
        "# TYPE sitekeeper_monitor_last_response_ms gauge",
        *response,
        "# HELP sitekeeper_outages_open Open outages per client.",
        "# TYPE sitekeeper_outages_open gauge",
        *(f"sitekeeper_outages_open{_labels(client=r['site__client__slug'])} {r['n']}" for r in outages),
        "# HELP sitekeeper_tickets_open Open service desk requests by priority.",
        "# TYPE sitekeeper_tickets_open gauge",
        *(
            f"sitekeeper_tickets_open{_labels(priority=p)} {by_priority.get(p, 0)}"
            for p in sorted({"P1", "P2", "P3", "P4", *by_priority})
        ),
    ]
    return "\n".join(lines) + "\n"
