"""The four built-in tiers, value for value from the agreement's tables 1.2, 1.3, 2.2 and 2.3.

Response targets use DESIGN.md's grammar: "Next business day" → next_bd, "Same business day" → same_bd,
"4 hours" → 4h (24/7: Business and Enterprise have after-hours P1 escalation), "8 business hours" → 8bh,
"3 business days" → 3bd, "Next monthly cycle" → next_cycle. The agreement fixes response times only, so
resolution and recovery targets start empty; a contract file can set them per plan. Enterprise's remedy is
"Custom remedy per Schedule A": no table ships with it (see `Contract.credit_rule`).
"""

from __future__ import annotations

from typing import Any

BUILTIN_PLANS: list[dict[str, Any]] = [
    {
        "slug": "starter",
        "name": "Starter",
        "rank": 1,
        "backup_retention_days": 30,
        "update_cadence": "monthly_batch",
        "content_hours": "1",
        "content_hours_open_ended": False,
        "security_level": "standard",
        "support_channels": ["email", "chat"],
        "standard_response": "2bd",
        "response_targets": {"P1": "next_bd", "P2": "3bd", "P3": "5bd", "P4": "next_cycle"},
        "after_hours_emergency": False,
        "uptime_sla": "99.0",
        "credit_kind": "steps",
        "credit_rate": "10",
        "credit_step": "1",
        "credit_table": [],
        "performance_call": "none",
    },
    {
        "slug": "professional",
        "name": "Professional",
        "rank": 2,
        "backup_retention_days": 60,
        "update_cadence": "biweekly",
        "content_hours": "2",
        "content_hours_open_ended": False,
        "security_level": "advanced",
        "support_channels": ["email", "chat", "phone"],
        "standard_response": "1bd",
        "response_targets": {"P1": "same_bd", "P2": "2bd", "P3": "3bd", "P4": "5bd"},
        "after_hours_emergency": False,
        "uptime_sla": "99.5",
        "credit_kind": "steps",
        "credit_rate": "15",
        "credit_step": "0.5",
        "credit_table": [],
        "performance_call": "none",
    },
    {
        "slug": "business",
        "name": "Business",
        "rank": 3,
        "backup_retention_days": 90,
        "update_cadence": "weekly",
        "content_hours": "4",
        "content_hours_open_ended": False,
        "security_level": "advanced_waf",
        "support_channels": ["dedicated_line"],
        "standard_response": "4bh",
        "response_targets": {"P1": "4h", "P2": "8bh", "P3": "2bd", "P4": "3bd"},
        "after_hours_emergency": True,
        "uptime_sla": "99.9",
        "credit_kind": "steps",
        "credit_rate": "20",
        "credit_step": "0.1",
        "credit_table": [],
        "performance_call": "monthly_30min",
    },
    {
        "slug": "enterprise",
        "name": "Enterprise",
        "rank": 4,
        "backup_retention_days": 365,
        "update_cadence": "weekly_emergency",
        "content_hours": "8",
        "content_hours_open_ended": True,
        "security_level": "advanced_waf_scheduling",
        # The agreement's table leaves Enterprise's support channel blank: it is agreed in Schedule A.
        "support_channels": [],
        "standard_response": "2bh",
        "response_targets": {"P1": "1h", "P2": "4bh", "P3": "1bd", "P4": "2bd"},
        "after_hours_emergency": True,
        "uptime_sla": "99.95",
        # "Custom remedy per Schedule A": the table is agreed contract by contract, so none ships. A
        # contract without one has no remedy agreed and earns no computed credit (never a made-up table).
        "credit_kind": "table",
        "credit_rate": None,
        "credit_step": None,
        "credit_table": [],
        "performance_call": "quarterly_review",
    },
]


def ensure_builtin_plans(plan_model: Any) -> None:
    """Create the built-in tiers that are missing; never overwrite a tier an agency has edited."""
    for values in BUILTIN_PLANS:
        fields = {key: value for key, value in values.items() if key != "slug"}
        plan_model.objects.get_or_create(slug=values["slug"], defaults={**fields, "builtin": True})
