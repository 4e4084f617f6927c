"""Contract and plan values put into words for pages: one place, so console, portal and tests agree."""

from __future__ import annotations

import calendar as stdcal
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from sitekeeper.contracts.models import PRIORITIES, Contract, Plan
from sitekeeper.core.credits import NO_REMEDY, CreditError
from sitekeeper.core.targets import TargetError, parse_target

NOT_SET = "—"


def describe_target(text: str | None) -> str:
    """'4h' → '4 hours (24/7)'; an empty target reads as a dash, a malformed one as itself, flagged."""
    if not text:
        return NOT_SET
    try:
        return parse_target(text).describe()
    except TargetError:
        return f"{text} (not a valid target)"


def percent(value: Decimal | None) -> str:
    if value is None:
        return NOT_SET
    text = f"{value.normalize():f}"
    return f"{text} %"


def describe_credit(plan: Plan) -> str:
    """A plan's default rule, for the plans table (a contract's own rule: `contract_credit_rule`)."""
    try:
        rule = plan.credit_rule()
    except CreditError as exc:
        return f"not configured ({exc})"
    return NO_REMEDY if rule is None else rule.describe()


def contract_credit_rule(contract: Contract) -> str:
    """The contract's service-credit rule in words — the one presenter every page, the API and reports use
    (the contract's own Schedule A table, rounding reading and basis, not the plan's defaults)."""
    try:
        rule = contract.credit_rule()
    except CreditError as exc:
        return f"not configured ({exc})"
    if rule is None:
        return NO_REMEDY
    basis = (
        "the full monthly fee per site"
        if contract.credit_basis == Contract.CreditBasis.FULL_FEE
        else "each site's share of the monthly fee"
    )
    return f"{rule.describe()}; counted on {basis}; the month's total over all sites capped at the fee"


def add_months(day: dt.date, months: int) -> dt.date:
    """Same day `months` later, clamped to the month's last day (31 Jan + 1 month → 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, stdcal.monthrange(year, month)[1]))


def minimum_term_end(contract: Contract) -> dt.date:
    return add_months(contract.start, contract.minimum_term_months)


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
