"""`export_data`/`export_yaml`: valid against the schema, deterministic, and a no-op when applied."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from sitekeeper.contracts.apply import apply_file
from sitekeeper.contracts.export import export_data, export_yaml
from sitekeeper.contracts.models import Client, Contract, Plan
from sitekeeper.contracts.schema import schema_issues
from tests.contracts.apply_support import EXAMPLE, state, write

pytestmark = pytest.mark.django_db

GOLD = {
    "name": "Gold",
    "rank": 5,
    "backup_retention_days": 180,
    "update_cadence": "weekly",
    "content_hours": "6",
    "content_hours_open_ended": False,
    "security_level": "advanced_waf",
    "support_channels": ["email", "phone"],
    "standard_response": "2bh",
    "response_targets": {"P1": "2h", "P2": "4bh", "P3": "1bd", "P4": "2bd"},
    "resolution_targets": {},
    "recovery_targets": {"P1": "4h"},
    "after_hours_emergency": True,
    "uptime_sla": "99.95",
    "credit_kind": "steps",
    "credit_rate": "25",
    "credit_step": "0.1",
    "credit_table": [],
    "performance_call": "monthly_30min",
}


@pytest.fixture
def configured(acme, globex):
    """The fixture agency plus an edited built-in tier, a new plan and a terminated contract."""
    business = Plan.objects.get(slug="business")
    business.uptime_sla = Decimal("99.95")
    business.save()
    Plan.objects.create(slug="gold", **{k: v for k, v in GOLD.items() if k != "credit_table"})
    Contract.objects.filter(client=globex).update(status="terminated", hourly_rate=None)


def test_the_example_exports_as_written(tmp_path):
    apply_file(write(tmp_path, EXAMPLE))

    assert export_data() == {
        "calendars": {
            "hq": {
                "timezone": "Europe/Berlin",
                "hours": {day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
                "holidays": {"country": "DE"},
                "closures": ["2026-12-31"],
            }
        },
        "clients": [
            {
                "slug": "acme",
                "name": "Acme GmbH",
                "contacts": [
                    {"name": "Ada Owner", "email": "ada@acme.test", "role": "product_owner"},
                    {
                        "name": "Ed Oncall",
                        "email": "ed@acme.test",
                        "role": "emergency",
                        "phone": "+49 30 1234567",
                    },
                ],
                "contract": {
                    "plan": "business",
                    "start": "2026-01-01",
                    "monthly_fee": "900.00",
                    "currency": "EUR",
                    "calendar": "hq",
                },
                "sites": [{"url": "https://acme.test", "platform": "wordpress"}],
            }
        ],
    }


def test_export_is_valid_against_the_schema(configured):
    data = export_data()
    assert schema_issues(data) == []
    assert [client["slug"] for client in data["clients"]] == ["acme", "globex"]


def test_export_lists_only_changed_fields_of_builtin_tiers_and_new_plans_in_full(configured):
    plans = export_data()["plans"]
    assert plans == {"business": {"uptime_sla": "99.95"}, "gold": GOLD}


def test_export_then_apply_changes_nothing(tmp_path, configured):
    path = write(tmp_path, export_yaml(), "export.yaml")
    before = state()

    result = apply_file(path)

    assert result.changes == []
    assert state() == before


def test_export_is_deterministic_and_readable(configured):
    text = export_yaml()
    assert text == export_yaml()
    assert text.startswith("# sitekeeper contract file, written by `sitekeeper export`.\n")
    assert "    closures: [2026-12-31]\n" in text  # dates as YAML dates
    assert "      start: 2026-01-01\n" in text
    assert "      monthly_fee: '900.00'\n" in text  # amounts quoted
    assert "      status: terminated\n" in text
    assert "          stage: https://stage.acme.test\n" in text
    assert "prod: https://acme.test" not in text  # the default, left out


def test_applying_an_export_to_a_database_without_clients_recreates_them(tmp_path, configured):
    exported = export_yaml()
    Contract.objects.all().delete()  # contracts protect their clients
    Client.objects.all().delete()  # contacts, sites and environments go with them

    result = apply_file(write(tmp_path, exported, "export.yaml"))

    assert 'create client acme: name="Acme GmbH", legal_name="Acme GmbH Ltd"' in result.changes
    assert export_yaml() == exported
    acme = Contract.objects.get(client__slug="acme")
    assert acme.maintenance_windows.get().start == dt.time(23)
