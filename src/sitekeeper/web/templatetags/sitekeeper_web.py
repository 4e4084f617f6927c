"""Template filters for contract values: the wording of contracts/presenters.py, in every app's pages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import template

from sitekeeper.contracts.models import Plan
from sitekeeper.contracts.presenters import NOT_SET, describe_target, local_time
from sitekeeper.web.presenters import percent

register = template.Library()


@register.filter
def target(text: str | None) -> str:
    """{{ plan.standard_response|target }} → "4 business hours"."""
    return describe_target(text)


@register.filter
def first_response(plan: Plan, priority: str) -> str:
    """{{ plan|first_response:"P1" }} → "4 hours (24/7)"."""
    return describe_target(plan.target("response", priority))


@register.filter
def pct(value: Decimal | None) -> str:
    """{{ plan.uptime_sla|pct }} → "99.9 %"."""
    return percent(value)


@register.filter
def money(amount: Decimal | None, currency: str = "") -> str:
    """{{ contract.monthly_fee|money:contract.currency }} → "EUR 900.00"."""
    if amount is None:
        return NOT_SET
    return f"{currency} {amount:,.2f}".strip()


@register.filter
def in_zone(instant: dt.datetime | None, zone: str) -> str:
    """{{ announcement.start|in_zone:zone }} → "4 May 2026 12:00 CEST" (the zone always named, as |when)."""
    return local_time(instant, zone or "UTC")
