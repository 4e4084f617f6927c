"""Demo monitoring: monitors, 90 days of probe sessions (with a gap), response times, outages (one with its P1
incident, one tagged "third-party platform", one inside announced maintenance), and a public status page.

Call `seed_monitoring(now)` after the contracts and logins exist (demo/seed.py), inside its acting_as block.
Safe to call twice: a site that already has monitors is left alone.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sitekeeper.access.models import Role, User
from sitekeeper.contracts.models import Client, Site
from sitekeeper.desk import services
from sitekeeper.monitoring import rollup
from sitekeeper.monitoring.models import (
    CheckResult,
    MaintenanceAnnouncement,
    Monitor,
    Outage,
    ProbeSession,
    Rollup,
    StatusPage,
)

RAW_DAYS = 3  # raw results for the last days; older hours exist only as rollups, as after the retention


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
    home = Monitor.objects.create(
        site=site, url=site.url, name="Home page", state="up", last_checked_at=now, max_response_ms=3000
    )
    Monitor.objects.create(
        site=site,
        kind="tls",
        url=site.url.split("//")[-1].strip("/") + ":443",
        name="Certificate",
        state="up",
    )
    # Probes watched for 95 days, except a 14-hour gap 20 days ago (a host was being replaced): unknown time.
    gap_start = (now - dt.timedelta(days=20)).replace(hour=8, minute=0)
    gap = dt.timedelta(hours=14)
    ProbeSession.objects.create(
        location="fra1",
        instance="probe-fra1:4120",
        started_at=now - dt.timedelta(days=95),
        last_beat_at=gap_start,
        stopped_at=gap_start,
    )
    ProbeSession.objects.create(
        location="fra1",
        instance="probe-fra1:977",
        started_at=gap_start + gap,
        last_beat_at=now,
    )
    # Response times: hourly rollups for the older hours, raw results every 5 minutes for the last days.
    hour = now.replace(minute=0)
    raw_from = hour - dt.timedelta(days=RAW_DAYS)
    first_hour = hour - dt.timedelta(days=90)
    rollups = []
    index = 0
    at = first_hour
    while at < raw_from:
        if not gap_start <= at < gap_start + gap:
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
            alerted_at=down_at + dt.timedelta(minutes=2),
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
    outages.append(
        Outage.objects.create(
            monitor=home,
            site=site,
            start=window_start + dt.timedelta(minutes=20),
            end=window_start + dt.timedelta(minutes=55),
            cause="connection refused",
        )
    )
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
        note="Security release of the shop plugin (critical advisory)",
    )
    upcoming.sites.set([site])
    StatusPage.objects.get_or_create(
        client=client, defaults={"slug": client.slug, "enabled": True, "title": f"{client.name} status"}
    )
    return MonitoringSeed(site, site.monitors.count(), len(outages))
