"""Issue 12, item 14: the built-in Enterprise plan shipped a made-up Schedule A table (10/25/50/100 %) that
applied whenever a contract agreed none. Its remedy is "per Schedule A", agreed contract by contract, so the
table is removed — only where it still equals the shipped default; a table an agency edited is its own."""

from decimal import Decimal

from django.db import migrations

# The table 0002 created (from the old contracts/plans.py), kept here verbatim: the code no longer has it.
MADE_UP_SCHEDULE_A = [
    {"below": "99.95", "percent": "10"},
    {"below": "99.9", "percent": "25"},
    {"below": "99.5", "percent": "50"},
    {"below": "99.0", "percent": "100"},
]


def rows(table):
    """A table as exact pairs, so "99.0" and "99" (or 10 and "10") compare equal."""
    try:
        return [(Decimal(str(row["below"])), Decimal(str(row["percent"]))) for row in table or ()]
    except (ArithmeticError, KeyError, TypeError, ValueError):
        return None


def remove_made_up_table(apps, schema_editor):
    Plan = apps.get_model("contracts", "Plan")
    for plan in Plan.objects.filter(slug="enterprise", builtin=True):
        if rows(plan.credit_table) == rows(MADE_UP_SCHEDULE_A):
            plan.credit_table = []
            plan.save(update_fields=["credit_table"])


def restore_made_up_table(apps, schema_editor):
    Plan = apps.get_model("contracts", "Plan")
    for plan in Plan.objects.filter(slug="enterprise", builtin=True, credit_kind="table"):
        if not plan.credit_table:
            plan.credit_table = MADE_UP_SCHEDULE_A
            plan.save(update_fields=["credit_table"])


class Migration(migrations.Migration):
    dependencies = [("contracts", "0003_contract_credit_basis_notice")]
    operations = [migrations.RunPython(remove_made_up_table, restore_made_up_table)]
