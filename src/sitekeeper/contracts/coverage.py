"""Agency-side service gaps (issue 12, item 1): a site under a contract in service that no production uptime
monitor watches, that nothing backs up, or that no security scan reached in the last 48 hours.

Each is the agency's problem, never the client's "all clear": staff pages list it ("Service gaps — agency
action needed"), the client's pages say what is not measured yet, and the escalation list is told once per
gap episode through the notify seam. The readings come from the apps that own them (monitoring: an enabled
prod monitor; backups: `backup_gap`; security: `last_scan_at`), so every page reads the same facts.

Episodes: a gap opens when the hourly pass first finds it and closes when a pass finds it gone; staff hear of
both. The notification keys ("service-gap:<site>:<kind>:<n>:open|closed") are the episodes' ledger, so a
second pass over the same gap sends nothing and a gap that comes back after being fixed is a new episode.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from sitekeeper.backups import presenters as backups
from sitekeeper.contracts.models import Site
from sitekeeper.contracts.presenters import local_time, zone_of
from sitekeeper.contracts.service import site_in_service, sites_in_service
from sitekeeper.desk.oncall import escalation_list
from sitekeeper.monitoring.models import Monitor
from sitekeeper.notify import Message, notify
from sitekeeper.notify.models import Delivery
from sitekeeper.security.scans import SCAN_FRESH, last_scan_at

MONITOR, BACKUP, SCAN = "monitor", "backup", "scan"
KINDS = (MONITOR, BACKUP, SCAN)
EVENT = "service.gap"
KEY_PREFIX = "service-gap"
SCAN_HOURS = int(SCAN_FRESH.total_seconds() // 3600)  # the security app's own freshness rule, in words

TITLES = {
    MONITOR: "No production uptime monitor",
    BACKUP: "No backup source",
    SCAN: f"No security scan in the last {SCAN_HOURS} h",
}
STAFF_PAGES = {MONITOR: "staff_site_uptime", BACKUP: "staff_backups_site", SCAN: "staff_security_site"}


@dataclass(frozen=True)
class Gap:
    site: Site
    kind: str
    detail: str  # for staff: what exactly is missing
    client: str  # the client's sentence: what is not measured yet, and that the agency is on it
    label: str  # the client's short state ("not measured yet")

    @property
    def title(self) -> str:
        return TITLES[self.kind]

    @property
    def staff_url(self) -> str:
        return reverse(STAFF_PAGES[self.kind], args=[self.site.pk])


def site_gaps(site: Site, now: dt.datetime | None = None) -> list[Gap]:
    """The site's agency-side gaps now; none for a site whose contract is not in service."""
    now = now or timezone.now()
    if not site_in_service(site, now):
        return []
    found = [monitor_gap(site), backup_gap(site), scan_gap(site, now)]
    return [gap for gap in found if gap is not None]


def gaps(now: dt.datetime | None = None) -> list[Gap]:
    """Every site in service with its gaps, by client then site."""
    now = now or timezone.now()
    sites = sorted(sites_in_service(now), key=lambda s: (s.client.name, s.url))
    return [gap for site in sites for gap in site_gaps(site, now)]


def monitor_gap(site: Site) -> Gap | None:
    if Monitor.objects.filter(site=site, environment="prod", enabled=True).exists():
        return None
    return Gap(
        site,
        MONITOR,
        "no enabled production monitor watches this site: its uptime is not measured",
        "Uptime: not measured yet — we are setting up monitoring.",
        "not measured yet",
    )


def backup_gap(site: Site) -> Gap | None:
    gap = backups.backup_gap(site, backups.backup_config(site))
    if gap is None:
        return None
    return Gap(site, BACKUP, gap.staff, gap.client, gap.label)


def scan_gap(site: Site, now: dt.datetime) -> Gap | None:
    last = last_scan_at(site)
    if last is not None and last >= now - SCAN_FRESH:
        return None
    if last is None:
        return Gap(
            site,
            SCAN,
            "never scanned",
            "Security scans: not scanned yet — we are setting up security scanning.",
            "not scanned yet",
        )
    return Gap(
        site,
        SCAN,
        f"last completed scan {local_time(last, zone_of(site.client.contract))}",
        f"Security scans: none in the last {SCAN_HOURS} hours — we are looking into it.",
        "overdue",
    )


# --- telling staff, once per episode -------------------------------------------------------------------
def notify_gaps(now: dt.datetime | None = None) -> list[tuple[int, str, str]]:
    """Tell the escalation list about each gap that opened or closed since the last pass; returns
    (site id, kind, "open"|"closed") for each notice sent."""
    now = now or timezone.now()
    recipients = escalation_list(EVENT)
    if not recipients:
        return []
    sent = []
    for site in sites_in_service(now):
        current = {gap.kind: gap for gap in site_gaps(site, now)}
        for kind in KINDS:
            number, is_open = episode(site.pk, kind)
            if kind in current and not is_open:
                notify(recipients, opened_message(current[kind]), key=key(site.pk, kind, number + 1, "open"))
                sent.append((site.pk, kind, "open"))
            elif kind not in current and is_open:
                notify(recipients, closed_message(site, kind), key=key(site.pk, kind, number, "closed"))
                sent.append((site.pk, kind, "closed"))
    return sent


def key(site_id: int, kind: str, number: int, state: str) -> str:
    return f"{KEY_PREFIX}:{site_id}:{kind}:{number}:{state}"


def episode(site_id: int, kind: str) -> tuple[int, bool]:
    """The latest episode number of this gap (0: none yet) and whether it is still open."""
    prefix = f"{KEY_PREFIX}:{site_id}:{kind}:"
    states: dict[int, set[str]] = {}
    for found in Delivery.objects.filter(key__startswith=prefix).values_list("key", flat=True).distinct():
        number, _, state = found.removeprefix(prefix).partition(":")
        if number.isdigit():
            states.setdefault(int(number), set()).add(state)
    if not states:
        return 0, False
    latest = max(states)
    return latest, "closed" not in states[latest]


def opened_message(gap: Gap) -> Message:
    site = gap.site
    return Message(
        subject=f"Service gap — agency action needed: {gap.title} on {site} ({site.client.name})"[:200],
        text=(
            f"{site.url} is under contract, but {gap.detail}. Until this is fixed the client's pages say "
            f'"{gap.client}" (agreement 1.2: 24/7 monitoring, daily backups, continuous security scanning).\n'
            f"Fix it here: {settings.SITEKEEPER_BASE_URL}{gap.staff_url}"
        ),
        event=EVENT,
        data={"site": site.pk, "client": site.client.slug, "gap": gap.kind, "state": "open"},
    )


def closed_message(site: Site, kind: str) -> Message:
    return Message(
        subject=f"Service gap closed: {TITLES[kind]} on {site} ({site.client.name})"[:200],
        text=f"{site.url}: {TITLES[kind].lower()} — fixed; the service is delivered again.",
        event=EVENT,
        data={"site": site.pk, "client": site.client.slug, "gap": kind, "state": "closed"},
    )
