"""Template filters for contract values (shared wording with web/presenters.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import template

from sitekeeper.contracts.models import Plan
from sitekeeper.web import presenters

register = template.Library()


@register.filter
def target(text: str | None) -> str:
    """{{ plan.standard_response|target }} → "4 business hours"."""
    return presenters.describe_target(text)


@register.filter
def first_response(plan: Plan, priority: str) -> str:
    """{{ plan|first_response:"P1" }} → "4 hours (24/7)"."""
    return presenters.describe_target(plan.target("response", priority))


@register.filter
def pct(value: Decimal | None) -> str:
    """{{ plan.uptime_sla|pct }} → "99.9 %"."""
    return presenters.percent(value)


@register.filter
def money(amount: Decimal | None, currency: str = "") -> str:
    """{{ contract.monthly_fee|money:contract.currency }} → "EUR 900.00"."""
    if amount is None:
        return presenters.NOT_SET
    return f"{currency} {amount:,.2f}".strip()


@register.filter
def in_zone(instant: dt.datetime | None, zone: str) -> str:
    """{{ announcement.start|in_zone:zone }} → "4 May 2026 12:00 Europe/Berlin" (the zone always named)."""
    return presenters.local_time(instant, zone or "UTC")
