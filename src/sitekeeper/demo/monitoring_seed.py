"""Demo monitoring: monitors, 90 days of probe sessions (with a gap), response times, outages (one with its P1
incident, one tagged "third-party platform", one inside announced maintenance, one in a weekly window in
which staff logged maintenance), and a public status page — for the named client's first site.

Every other site gets a home-page monitor, except the museum's online collection: nobody set one up, so its
uptime reads "not measured" and staff see it under "Sites nobody monitors". The outfitters' trail journal is
down now: it has failed every check for the last 38 minutes, and the real outage logic (outages.evaluate,
at the second failed check) opened its outage and its P1 incident, nobody assigned yet. While `sitekeeper
demo` runs, its local site server keeps that site answering 503 and the probe confirms it (demo/sites.py).

The law firm (two sites) had a bad last month — each site's credit is counted on the contract's basis and
the month's total is capped at the fee (with `credit_basis: full_fee` the two sites earn more than the fee,
and the page says it was capped).

Call `seed_monitoring(now)` after the contracts and logins exist (demo/seed.py), inside its acting_as block.
Safe to call twice: a site that already has monitors is left alone.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from django.conf import settings

from sitekeeper.access.models import Role, User
from sitekeeper.contracts.models import Client, Site
from sitekeeper.contracts.presenters import contract_zone
from sitekeeper.demo.sites import ensure_tls
from sitekeeper.desk import services
from sitekeeper.monitoring import maintenance, outages, rollup
from sitekeeper.monitoring.models import (
    CheckResult,
    MaintenanceAnnouncement,
    MaintenanceLog,
    Monitor,
    Outage,
    ProbeSession,
    Rollup,
    StatusPage,
)

RAW_DAYS = 3  # raw results for the last days; older hours exist only as rollups, as after the retention
WATCHED_DAYS = 95  # the probes (and the monitors) have been running this long
UNMONITORED_URL = "https://sammlung.stadtmuseum-nord.test"  # the demo's forgotten site: "not measured"
DOWN_URL = "https://blog.trailhead.test"  # the demo's site that is down right now
DOWN_FOR = dt.timedelta(minutes=38)
DOWN_CAUSE = "HTTP 503 Service Unavailable"
ALERTED_AFTER = dt.timedelta(minutes=2)  # the probes' alert: two confirmations a minute apart


@dataclass(frozen=True)
class MonitoringSeed:
    site: Site | None
    monitors: int
    outages: int


def _ms(hour_index: int) -> int:
    """A plausible, deterministic response time: a daily wave plus a weekly one."""
    return int(
        320 + 90 * math.sin(hour_index / 24 * 2 * math.pi) + 40 * math.sin(hour_index / 168 * 2 * math.pi)
    )


def _demo_site(slug: str | None) -> Site | None:
    clients = Client.objects.order_by("slug")
    client = clients.filter(slug=slug).first() if slug else None
    for candidate in [client] if client else clients:
        site = candidate.sites.order_by("pk").first()
        if site is not None and candidate.contract is not None:
            return site
    return None


def seed_monitoring(now: dt.datetime, client_slug: str | None = "bakery") -> MonitoringSeed:
    site = _demo_site(client_slug)
    if site is None or site.monitors.exists():
        return MonitoringSeed(site, 0, 0)
    client = site.client
    staff = (
        User.objects.filter(role=Role.ENGINEER).first() or User.objects.filter(role=Role.AGENCY_ADMIN).first()
    )
    now = now.astimezone(dt.UTC).replace(second=0, microsecond=0)
    since = now - dt.timedelta(days=WATCHED_DAYS)
    home = Monitor.objects.create(
        site=site,
        url=site.url,
        name="Home page",
        state="up",
        last_checked_at=now,
        max_response_ms=3000,
        keyword=site.name,
        created_at=since,
    )
    # The certificate the demo's site server presents (demo/sites.py), as the probe last recorded it.
    certificate = x509.load_pem_x509_certificate(
        ensure_tls(Path(settings.HOME) / "demo-sites" / "tls").cert.read_bytes()
    )
    Monitor.objects.create(
        site=site,
        kind="tls",
        url=site.url.split("//")[-1].strip("/") + ":443",
        name="Certificate",
        state="up",
        created_at=since,
        last_checked_at=now,
        cert_expires_at=certificate.not_valid_after_utc,
        cert_issuer=certificate.issuer.rfc4514_string(),
    )
    # Probes watched for 95 days, except a 14-hour gap 20 days ago (a host was being replaced): unknown time.
    gap_start = (now - dt.timedelta(days=20)).replace(hour=8, minute=0)
    gap = dt.timedelta(hours=14)
    ProbeSession.objects.create(
        location="fra1",
        instance="probe-fra1:4120",
        started_at=since,
        last_beat_at=gap_start,
        stopped_at=gap_start,
    )
    ProbeSession.objects.create(
        location="fra1",
        instance="probe-fra1:977",
        started_at=gap_start + gap,
        last_beat_at=now,
    )
    _response_times(home, now, (gap_start, gap_start + gap))
    rollup.run(now=now)  # hourly and daily rows for the raw hours; nothing is old enough to delete

    outages = []
    # 1. Down and back: 47 minutes ten days ago, with its P1 incident (filed by monitoring, resolved).
    down_at = (now - dt.timedelta(days=10)).replace(hour=9, minute=12)
    up_at = down_at + dt.timedelta(minutes=47)
    ticket = services.file_request(
        client,
        channel="monitor",
        type="incident",
        priority="P1",
        site=site,
        environment="prod",
        subject=f"{site} is down: HTTP 503",
        description="Two consecutive checks from fra1 failed with HTTP 503 Service Unavailable.",
        received_at=down_at + dt.timedelta(minutes=2),
    )
    services.add_message(
        ticket,
        "PHP-FPM pool exhausted after a plugin update; restarted and rolled the plugin back.",
        channel="staff",
        author=staff,
        at=up_at,
    )
    services.resolve(ticket, actor=staff, at=up_at + dt.timedelta(minutes=10), note="Site answers again.")
    outages.append(
        Outage.objects.create(
            monitor=home,
            site=site,
            start=down_at,
            end=up_at,
            cause="HTTP 503",
            ticket=ticket,
            alerted_at=down_at + ALERTED_AFTER,
        )
    )
    # 2. The payment platform's outage, tagged by staff: excluded entirely, the reason shown to the client.
    third = (now - dt.timedelta(days=25)).replace(hour=14, minute=5)
    outages.append(
        Outage.objects.create(
            monitor=home,
            site=site,
            start=third,
            end=third + dt.timedelta(minutes=95),
            cause="keyword 'Checkout' missing",
            exclusion="third_party_platform",
            exclusion_reason="Stripe API incident (status.stripe.com), checkout pages failed to render",
            tagged_by=staff,
            tagged_at=third + dt.timedelta(hours=3),
            alerted_at=third + ALERTED_AFTER,
        )
    )
    # 3. Announced extended maintenance (3 days' notice, up to 90 min): 35 min down inside it, excluded.
    contract = client.contract
    window_start = (now - dt.timedelta(days=40)).replace(hour=20, minute=0)
    announcement = MaintenanceAnnouncement.objects.create(
        contract=contract,
        kind="scheduled",
        start=window_start,
        end=window_start + dt.timedelta(hours=2),
        max_minutes=90,
        announced_at=window_start - dt.timedelta(days=3),
        created_by=staff,
        note="Server migration to a new PHP version",
    )
    announcement.sites.set([site])
    # Down 20 min into it and back 35 min later: held (nobody paged), as the probe records it; the hold would
    # have ended with the maintenance's 90 minutes (monitoring.outages.maintenance_hold).
    outages.append(
        Outage.objects.create(
            monitor=home,
            site=site,
            start=window_start + dt.timedelta(minutes=20),
            end=window_start + dt.timedelta(minutes=55),
            cause="connection refused",
            held_until=window_start + dt.timedelta(minutes=110),
        )
    )
    # 4. A weekly window occurrence in which staff did maintenance and logged it: its 12 min are excluded.
    outages += _logged_window(site, home, staff, now, (gap_start, gap_start + gap))
    # An upcoming emergency security update, shown on the portal and the status page.
    soon = (now + dt.timedelta(days=2)).replace(hour=21, minute=0)
    upcoming = MaintenanceAnnouncement.objects.create(
        contract=contract,
        kind="emergency_security",
        start=soon,
        end=soon + dt.timedelta(hours=1),
        max_minutes=30,
        announced_at=now,
        created_by=staff,
        note="Web server security patch (OpenSSL advisory): the shop may not answer for a few minutes",
    )
    upcoming.sites.set([site])
    StatusPage.objects.get_or_create(
        client=client, defaults={"slug": client.slug, "enabled": True, "title": f"{client.name} status"}
    )
    _monitor_other_sites(site, since, now)
    _lawfirm_last_month(now, staff, (gap_start, gap_start + gap))
    return MonitoringSeed(site, site.monitors.count(), len(outages))


def _response_times(home: Monitor, now: dt.datetime, gap: tuple[dt.datetime, dt.datetime]) -> None:
    """Hourly rollups for the older hours (none in the probe gap), raw results every 5 minutes for the last
    days."""
    hour = now.replace(minute=0)
    raw_from = hour - dt.timedelta(days=RAW_DAYS)
    first_hour = hour - dt.timedelta(days=90)
    rollups = []
    index = 0
    at = first_hour
    while at < raw_from:
        if not gap[0] <= at < gap[1]:
            ms = _ms(index)
            rollups.append(
                Rollup(
                    monitor=home,
                    period="hour",
                    start=at,
                    checks=60,
                    failures=0,
                    response_ms_avg=ms,
                    response_ms_max=ms * 2,
                )
            )
        at += dt.timedelta(hours=1)
        index += 1
    Rollup.objects.bulk_create(rollups)
    results = []
    at = raw_from
    while at < now:
        index = int((at - first_hour).total_seconds() // 3600)
        results.append(
            CheckResult(
                monitor=home,
                location="fra1",
                at=at,
                ok=True,
                status_code=200,
                response_ms=_ms(index) + (at.minute % 7) * 9,
            )
        )
        at += dt.timedelta(minutes=5)
    CheckResult.objects.bulk_create(results)


def _logged_window(
    site: Site, home: Monitor, staff: User | None, now: dt.datetime, gap: tuple[dt.datetime, dt.datetime]
) -> list[Outage]:
    """The latest weekly occurrence 8–30 days ago clear of the probe gap: a 12-minute outage in it while
    the server's PHP was upgraded, logged by staff as maintenance performed — so it is excluded."""
    contract = site.client.contract
    windows = maintenance.weekly_windows(contract, (now - dt.timedelta(days=30), now - dt.timedelta(days=8)))
    clear = [w for w in windows if w.end < gap[0] - dt.timedelta(hours=2) or w.start > gap[1]]
    if not clear:
        return []
    window = clear[-1]
    MaintenanceLog.objects.create(
        site=site,
        start=window.start,
        end=window.end,
        note="PHP 8.2 → 8.3 on the web server; the shop restarted twice while OPcache warmed up",
        logged_by=staff,
        logged_at=window.end + dt.timedelta(hours=8),
    )
    start = window.start + dt.timedelta(minutes=20)
    return [
        Outage.objects.create(
            monitor=home,
            site=site,
            start=start,
            end=start + dt.timedelta(minutes=12),
            cause="HTTP 502",
            alerted_at=start + ALERTED_AFTER,
        )
    ]


def _monitor_other_sites(done: Site, since: dt.datetime, now: dt.datetime) -> None:
    """A home-page monitor on every other site with a contract — except the one nobody set up."""
    for site in Site.objects.exclude(pk=done.pk).select_related("client").order_by("pk"):
        if site.url == UNMONITORED_URL or site.client.contract is None or site.monitors.exists():
            continue
        monitor = Monitor.objects.create(
            site=site,
            url=site.url,
            name="Home page",
            keyword=site.name,
            state="up",
            last_checked_at=now,
            created_at=since,
        )
        if site.url == DOWN_URL:
            _down_now(monitor, now)


def _down_now(monitor: Monitor, now: dt.datetime) -> None:
    """Failed checks from fra1 every minute for the last DOWN_FOR; the outage logic runs at the second one,
    as the probe would have run it then: the outage, its P1 incident and the alert are the real ones."""
    first = now - DOWN_FOR
    at = first
    while at <= now:
        CheckResult.objects.create(monitor=monitor, location="fra1", at=at, ok=False, status_code=503,
                                   response_ms=41, error=DOWN_CAUSE)  # fmt: skip
        if at == first + dt.timedelta(minutes=1):
            outages.evaluate(monitor, at, "P1", DOWN_CAUSE)
        at += dt.timedelta(minutes=1)
    Monitor.objects.filter(pk=monitor.pk).update(last_checked_at=now)


def _lawfirm_last_month(now: dt.datetime, staff: User | None, gap: tuple[dt.datetime, dt.datetime]) -> None:
    """Last month the law firm's two sites were each down about 15 hours: uptime under 98 % on both, so each
    earns 60 % (Professional: 15 % per started 0.5 % below 99.5 %) of the contract's basis — the two together
    more than the fee when the basis is the full fee, so the month's total is capped at it."""
    client = Client.objects.filter(slug="lawfirm").first()
    if client is None or client.contract is None:
        return
    sites = list(client.sites.order_by("pk"))
    if len(sites) < 2 or Outage.objects.filter(site__in=sites).exists():
        return
    tz = contract_zone(client.contract)
    today = now.astimezone(tz).date()
    first = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)  # last month's first day
    # (site, day of last month, local start, hours down, cause, what staff did)
    plan = [
        (sites[0], 4, 3, 9.5, "HTTP 500", "Database tables damaged by a failed plugin update; restored."),
        (sites[0], 18, 4, 5.75, "HTTP 503", "PHP workers exhausted by a crawler; rate limit added."),
        (sites[1], 11, 3, 15.25, "connection refused", "A deploy dropped the custom domain; re-added it."),
    ]
    for site, day, hour, hours, cause, fix in plan:
        start = _clear_of(dt.datetime.combine(first.replace(day=day), dt.time(hour), tzinfo=tz), gap)
        end = start + dt.timedelta(hours=hours)
        monitor = site.monitors.filter(environment="prod").first()
        if monitor is None or end >= now:
            continue
        _incident(monitor, (start, end), cause, fix, staff)


def _clear_of(start: dt.datetime, gap: tuple[dt.datetime, dt.datetime]) -> dt.datetime:
    """Two days later when the outage would run into the probes' gap (unwatched time is never downtime)."""
    start = start.astimezone(dt.UTC)
    if start < gap[1] + dt.timedelta(hours=2) and start + dt.timedelta(hours=18) > gap[0]:
        return start + dt.timedelta(days=2)
    return start


def _incident(
    monitor: Monitor, span: tuple[dt.datetime, dt.datetime], cause: str, fix: str, staff: User | None
) -> None:
    """The outage as the probes recorded it, with the P1 incident they opened and staff resolved."""
    site, (start, end) = monitor.site, span
    ticket = services.file_request(
        site.client,
        channel="monitor",
        type="incident",
        priority="P1",
        site=site,
        environment="prod",
        subject=f"{site} is down: {cause}",
        description=f"Two consecutive checks from fra1 failed: {cause}.",
        received_at=start + ALERTED_AFTER,
    )
    services.add_message(ticket, fix, channel="staff", author=staff, at=end)
    services.resolve(ticket, actor=staff, at=end + dt.timedelta(minutes=15), note="Site answers again.")
    Outage.objects.create(
        monitor=monitor,
        site=site,
        start=start,
        end=end,
        cause=cause,
        ticket=ticket,
        alerted_at=start + ALERTED_AFTER,
    )
