"""The built-in plans against the agreement's own tables, cell by cell.

The rows below are copied verbatim from maintenance-agreement-template.txt (tables 1.2 — the retention row —,
1.3, 2.2 and 2.3), so the tests do not depend on a file outside the project. Each cell is parsed and compared
with the plan's data read through the same labels and Target.describe() the rendered agreement prints.
"""

from __future__ import annotations

import importlib
import re
from decimal import Decimal

import pytest
from django.apps import apps

from sitekeeper.contracts.models import Calendar, Client, Contract, Plan
from sitekeeper.contracts.render import percent, words
from sitekeeper.core.targets import parse_target

AGREEMENT_TABLES = """\
| Backup retention | Per plan | Starter: 30 days / Professional: 60 / Business: 90 / Enterprise: 365 |

| Service | Starter | Professional | Business | Enterprise |
|---|---|---|---|---|
| Update frequency | Monthly batch | Bi-weekly | Weekly | Weekly + emergency |
| Content update hours / month | 1 hr | 2 hrs | 4 hrs | 8+ hrs |
| Security level | Standard | Advanced | Advanced + WAF | Advanced + WAF + scheduling |
| Support channel | Email + Chat | Email + Chat + Phone | Dedicated line | |
| Response time (standard issues) | 2 business days | 1 business day | 4 business hours | 2 business hours |
| Emergency response (P1) | Next business day | Same business day | 4 hours | 1 hour |
| Monthly performance call | — | — | 30 min | Quarterly review |
| Uptime SLA | 99.0% | 99.5% | 99.9% | 99.95% |

| Priority | Starter | Professional | Business | Enterprise |
|---|---|---|---|---|
| P1 — Critical | Next business day | Same business day | 4 hours | 1 hour |
| P2 — High | 3 business days | 2 business days | 8 business hours | 4 business hours |
| P3 — Medium | 5 business days | 3 business days | 2 business days | 1 business day |
| P4 — Low | Next monthly cycle | 5 business days | 3 business days | 2 business days |

| Plan | Uptime Guarantee | Measurement | SLA Breach Remedy |
|---|---|---|---|
| Starter | 99.0% | Monthly | Service credit: 10% of monthly fee per 1% below SLA |
| Professional | 99.5% | Monthly | Service credit: 15% of monthly fee per 0.5% below SLA |
| Business | 99.9% | Monthly | Service credit: 20% of monthly fee per 0.1% below SLA |
| Enterprise | 99.95% | Monthly | Custom remedy per Schedule A |
"""

TIERS = ("Starter", "Professional", "Business", "Enterprise")


def rows() -> dict[str, list[str]]:
    """First cell → the other cells, for every table row (header and separator rows included, harmless)."""
    table: dict[str, list[str]] = {}
    for line in AGREEMENT_TABLES.splitlines():
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            table.setdefault(cells[0], cells[1:])
    return table


ROWS = rows()


def column(label: str) -> dict[str, str]:
    """The four plan columns of a row of table 1.3 or 2.2, by plan name."""
    cells = ROWS[label]
    return dict(zip(TIERS, cells + [""] * (len(TIERS) - len(cells)), strict=True))


def retention() -> dict[str, int]:
    text = ROWS["Backup retention"][1]
    return {name: int(days) for name, days in re.findall(r"(\w+): (\d+)", text)}


@pytest.fixture
def plans(db) -> dict[str, Plan]:
    return {plan.name: plan for plan in Plan.objects.filter(builtin=True)}


def test_the_four_tiers_ship_built_in(plans):
    assert sorted(plans) == sorted(TIERS)


def test_backup_retention(plans):
    assert retention() == {name: plans[name].backup_retention_days for name in TIERS}


@pytest.mark.parametrize(
    ("label", "read"),
    [
        ("Update frequency", lambda plan: plan.get_update_cadence_display()),
        ("Content update hours / month", lambda plan: plan.content_hours_label),
        ("Security level", lambda plan: plan.get_security_level_display()),
        ("Monthly performance call", lambda plan: plan.get_performance_call_display()),
        ("Response time (standard issues)", lambda plan: words(plan.standard_response)),
        ("Emergency response (P1)", lambda plan: words(plan.target("response", "P1"))),
        ("Uptime SLA", lambda plan: f"{percent(plan.uptime_sla)}%"),
    ],
)
def test_table_1_3(plans, label, read):
    expected = column(label)
    assert {name: read(plans[name]) for name in TIERS} == expected


def test_support_channel_blank_cell_is_schedule_a(plans):
    expected = column("Support channel")
    assert expected["Enterprise"] == ""
    for name in TIERS:
        want = expected[name] or "per Schedule A"
        assert plans[name].channels_label == want, name


def test_enterprise_content_hours_are_open_ended(plans):
    enterprise = plans["Enterprise"]
    assert enterprise.content_hours_open_ended
    assert enterprise.content_hours_label == "8+ hrs"


@pytest.mark.parametrize("priority", ["P1", "P2", "P3", "P4"])
def test_table_2_2_response_times(plans, priority):
    label = next(key for key in ROWS if key.startswith(f"{priority} — "))
    expected = column(label)
    for name in TIERS:
        target = plans[name].target("response", priority)
        assert target is not None
        # the agreement's words ↔ the grammar: "4 hours" ↔ 4h, "Next business day" ↔ next_bd, …
        assert words(target).lower() == expected[name].lower(), (name, priority, target)


def test_wall_clock_p1_only_on_plans_with_after_hours_emergency(plans):
    for name in TIERS:
        p1 = parse_target(plans[name].target("response", "P1"))
        assert p1.is_wall_clock == plans[name].after_hours_emergency, name
    assert [name for name in TIERS if plans[name].after_hours_emergency] == ["Business", "Enterprise"]


def test_grammar_mapping_examples():
    assert words("next_bd") == "Next business day"
    assert words("same_bd") == "Same business day"
    assert words("next_cycle") == "Next monthly cycle"
    assert words("4bh") == "4 business hours"
    assert words("4h") == "4 hours"
    assert words("1h") == "1 hour"
    assert parse_target("4h").describe() == "4 hours (24/7)"


REMEDY = re.compile(r"^Service credit: (?P<rate>[\d.]+)% of monthly fee per (?P<step>[\d.]+)% below SLA$")


@pytest.mark.parametrize("name", TIERS)
def test_table_2_3_uptime_and_remedy(plans, name):
    guarantee, measurement, remedy = ROWS[name]
    plan = plans[name]
    assert plan.uptime_sla == Decimal(guarantee.rstrip("%"))
    assert measurement == "Monthly"
    match = REMEDY.match(remedy)
    if match is None:
        # Schedule A is agreed contract by contract: no table ships, and none is made up (issue 12, item 14).
        assert remedy == "Custom remedy per Schedule A"
        assert plan.credit_kind == "table"
        assert plan.credit_table == []
        assert plan.credit_rule() is None
        return
    assert plan.credit_kind == "steps"
    assert plan.credit_rate == Decimal(match["rate"])
    assert plan.credit_step == Decimal(match["step"])
    rule = plan.credit_rule()
    assert rule.describe() == (
        f"{match['rate']} % of the monthly fee per started {match['step']} % below the SLA"
    )


def test_uptime_sla_column_of_1_3_matches_2_3():
    assert column("Uptime SLA") == {name: ROWS[name][0] for name in TIERS}


# --- no invented remedy (issue 12, item 14) --------------------------------------------------------------
MADE_UP = [
    {"below": "99.95", "percent": "10"},
    {"below": "99.9", "percent": "25"},
    {"below": "99.5", "percent": "50"},
    {"below": "99.0", "percent": "100"},
]
AGREED = [{"below": "99.95", "percent": "15"}, {"below": "99.0", "percent": "100"}]


def enterprise_contract(table: list) -> Contract:
    client = Client.objects.create(slug="museum", name="Museum")
    return Contract(
        client=client,
        plan=Plan.objects.get(slug="enterprise"),
        calendar=Calendar.objects.create(slug="hq"),
        start="2026-01-01",
        monthly_fee=Decimal("2900.00"),
        currency="EUR",
        credit_table=table,
    )


def test_an_enterprise_contract_without_schedule_a_has_no_remedy(plans):
    assert enterprise_contract([]).credit_rule() is None


def test_an_enterprise_contract_with_its_own_schedule_a_uses_it(plans):
    rule = enterprise_contract(AGREED).credit_rule()
    assert rule.describe() == "below 99.95 %: 15 % of the fee; below 99 %: 100 % of the fee"


def test_a_plan_table_an_agency_agreed_is_the_default_for_its_contracts(plans):
    Plan.objects.filter(slug="enterprise").update(credit_table=AGREED)
    assert enterprise_contract([]).credit_rule().describe().startswith("below 99.95 %: 15 %")


def test_a_steps_plan_always_has_its_rule(plans):
    assert plans["Business"].credit_rule().describe().startswith("20 % of the monthly fee")


MIGRATION = importlib.import_module(
    "sitekeeper.contracts.migrations.0004_enterprise_without_made_up_schedule_a"
)


def test_migration_removes_the_made_up_table_from_the_builtin_enterprise_plan(plans):
    # A database migrated before issue 12 holds the made-up default; written as "99" to prove the comparison
    # is by value, not by text.
    stored = [*MADE_UP[:3], {"below": "99", "percent": 100}]
    Plan.objects.filter(slug="enterprise").update(credit_table=stored)
    MIGRATION.remove_made_up_table(apps, None)
    assert Plan.objects.get(slug="enterprise").credit_table == []
    MIGRATION.restore_made_up_table(apps, None)  # the reverse puts it back
    assert Plan.objects.get(slug="enterprise").credit_table == MADE_UP


def test_migration_keeps_a_table_the_agency_changed(plans):
    Plan.objects.filter(slug="enterprise").update(credit_table=AGREED)
    MIGRATION.remove_made_up_table(apps, None)
    assert Plan.objects.get(slug="enterprise").credit_table == AGREED
