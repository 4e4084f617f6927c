"""Pages' own compositions of contract values: a site's services, the plans table, the priority targets.

The words for single values (targets, credit rules, times in the contract's zone) are contracts/presenters.py,
shared with the apps; this module arranges them for the console and the portal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.urls import reverse

from sitekeeper.contracts.coverage import BACKUP, MONITOR, SCAN, site_gaps
from sitekeeper.contracts.models import PRIORITIES, Plan, Site
from sitekeeper.contracts.presenters import NOT_SET, describe_credit, describe_target, local_time, zone_of
from sitekeeper.security.scans import last_scan_at


def percent(value: Decimal | None) -> str:
    if value is None:
        return NOT_SET
    text = f"{value.normalize():f}"
    return f"{text} %"


@dataclass(frozen=True)
class ServiceLine:
    """One promised service of a site as its client reads it. `gap`: the agency has not set it up (or it
    lapsed) — the line says so, and is never shown as all clear."""

    label: str
    text: str
    gap: bool
    url: str


def service_status(site: Site, now: dt.datetime, portal: bool = True) -> list[ServiceLine]:
    """Uptime monitoring, backups and security scans of a site in plain words, gaps first-hand from
    contracts.coverage so the portal and the staff pages read the same facts."""
    gaps = {gap.kind: gap for gap in site_gaps(site, now)}
    prefix = "portal" if portal else "staff"
    zone = zone_of(site.client.contract)
    scan_text = f"Last scanned {local_time(last_scan_at(site), zone)}."
    rows = (
        (MONITOR, "Uptime", "Watched around the clock by our monitoring.", f"{prefix}_site_uptime"),
        (BACKUP, "Backups", "Backed up automatically every day.", f"{prefix}_backups_site"),
        (SCAN, "Security scans", scan_text, f"{prefix}_security_site"),
    )
    return [
        ServiceLine(
            label, gaps[kind].client if kind in gaps else fine, kind in gaps, reverse(name, args=[site.pk])
        )
        for kind, label, fine, name in rows
    ]


@dataclass(frozen=True)
class PlanRow:
    label: str
    values: list[str]


def plan_table(plans: list[Plan]) -> list[PlanRow]:
    """Every plan value, one row per value and one column per plan (the agreement's tables side by side)."""

    def row(label: str, value: Callable[[Plan], str]) -> PlanRow:
        return PlanRow(label, [value(plan) for plan in plans])

    return [
        row("Backup retention", lambda p: f"{p.backup_retention_days} days"),
        row("Update cadence", lambda p: p.get_update_cadence_display()),
        row("Content hours / month", lambda p: p.content_hours_label),
        row("Security", lambda p: p.get_security_level_display()),
        row("Support channels", lambda p: p.channels_label),
        row("Standard response", lambda p: describe_target(p.standard_response)),
        *[
            row(
                f"{priority} response",
                lambda p, priority=priority: describe_target(p.target("response", priority)),
            )
            for priority in PRIORITIES
        ],
        row("After-hours emergency", lambda p: "Yes, P1 counted 24/7" if p.after_hours_emergency else "No"),
        row("Uptime SLA", lambda p: percent(p.uptime_sla)),
        row("Service credit", describe_credit),
        row("Performance call", lambda p: p.get_performance_call_display()),
    ]


@dataclass(frozen=True)
class PriorityTargets:
    priority: str
    response: str
    resolution: str
    recovery: str


def priority_targets(plan: Plan) -> list[PriorityTargets]:
    return [
        PriorityTargets(
            priority,
            describe_target(plan.target("response", priority)),
            describe_target(plan.target("resolution", priority)),
            describe_target(plan.target("recovery", priority)),
        )
        for priority in PRIORITIES
    ]
