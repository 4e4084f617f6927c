"""Errors name the file, the line and the key; all of them come together; nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from sitekeeper.contracts.apply import ApplyError, apply_file
from sitekeeper.contracts.models import Contact, MaintenanceWindow
from tests.contracts.apply_support import EXAMPLE, state, write

pytestmark = pytest.mark.django_db

TYPO_IN_PLAN = """\
calendars:
  hq:
    timezone: Europe/Berlin
    hours: {mon: ["09:00-18:00"]}
clients:
  - slug: acme
    name: Acme GmbH
    contacts:
      - {name: Ada Owner, email: ada@acme.test, role: product_owner}
      - {name: Ed Oncall, email: ed@acme.test, role: emergency, phone: "+49 30 1234567"}
    contract:
      plan: busines
      start: 2026-01-01
      monthly_fee: "900.00"
      currency: EUR
      calendar: hq
    sites:
      - {url: "https://acme.test", platform: wordpress}
"""

MANY_MISTAKES = """\
calendars:
  hq:
    timezone: Europe/Berln
    hours:
      mon: ["09:00-18:00"]
      tue: ["9-18"]
    holidays: {country: DE}
clients:
  - slug: acme
    name: Acme GmbH
    contacts:
      - {name: Ada Owner, email: ada@acme.test, role: product_owner}
      - {name: Ed Oncall, email: ed@acme.test, role: emergency}
    contract:
      plan: business
      start: 2026-01-01
      monthly_fee: 900.5
      currency: EUR
      calendar: hq
      update_batch: 5th tue
    sites:
      - url: https://acme.test
        platfrom: wordpress
"""


def errors_of(path: Path) -> list[str]:
    with pytest.raises(ApplyError) as raised:
        apply_file(path)
    return raised.value.errors


def test_an_unknown_plan_is_reported_at_its_line_and_key(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, TYPO_IN_PLAN)

    assert errors_of(Path("acme.yaml")) == [
        (
            "acme.yaml:12: clients[0].contract.plan: unknown plan 'busines' "
            "(known: starter, professional, business, enterprise)"
        )
    ]


def test_all_errors_are_reported_together_in_file_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, MANY_MISTAKES)

    assert errors_of(Path("acme.yaml")) == [
        "acme.yaml:3: calendars.hq.timezone: time zone 'Europe/Berln' is not an IANA zone name",
        "acme.yaml:6: calendars.hq.hours.tue[0]: business hours '9-18': expected HH:MM-HH:MM",
        "acme.yaml:13: clients[0].contacts[1]: an emergency contact needs a phone number",
        (
            "acme.yaml:17: clients[0].contract.monthly_fee: 900.5 is a floating-point number, "
            'which is inexact: quote amounts and percentages as text, e.g. "900.50"'
        ),
        (
            "acme.yaml:20: clients[0].contract.update_batch: update batch '5th tue': "
            "expected e.g. '2nd tue', 'last fri' or 'day 15' (1..28)"
        ),
        "acme.yaml:22: clients[0].sites[0]: missing required key 'platform'",
        "acme.yaml:23: clients[0].sites[0].platfrom: unknown key 'platfrom' (did you mean 'platform'?)",
    ]


def test_a_file_with_errors_changes_nothing(tmp_path, acme, globex):
    before = state()

    errors_of(write(tmp_path, MANY_MISTAKES))

    assert state() == before


def test_float_money_is_rejected_with_advice_to_quote_it(tmp_path):
    text = EXAMPLE.replace('monthly_fee: "900.00"', "monthly_fee: 900.00")

    (error,) = errors_of(write(tmp_path, text))

    assert error.endswith(
        ":13: clients[0].contract.monthly_fee: 900.0 is a floating-point number, which is inexact: "
        'quote amounts and percentages as text, e.g. "900.00"'
    )


def test_whole_numbers_are_exact_and_accepted_as_money(tmp_path):
    apply_file(write(tmp_path, EXAMPLE.replace('monthly_fee: "900.00"', "monthly_fee: 900")))
    assert apply_file(write(tmp_path, EXAMPLE)).changes == []  # 900 == 900.00


def test_money_with_too_many_places_is_rejected(tmp_path):
    (error,) = errors_of(write(tmp_path, EXAMPLE.replace('"900.00"', '"900.005"')))
    assert "monthly_fee: '900.005' is not a decimal with at most 10 digits before and 2 after" in error


def test_yaml_syntax_errors_name_the_line(tmp_path):
    path = write(tmp_path, "clients:\n  - slug: acme\n   name: Acme\n")
    (error,) = errors_of(path)
    assert error.startswith(f"{path}:3: invalid YAML: ")


def test_a_key_written_twice_is_an_error(tmp_path):
    text = EXAMPLE.replace("    name: Acme GmbH\n", "    name: Acme GmbH\n    name: Acme AG\n")
    (error,) = errors_of(write(tmp_path, text))
    assert error.endswith(":10: clients[0].name: key written twice (first on line 9)")


def test_exactly_one_product_owner(tmp_path):
    two = EXAMPLE.replace('role: emergency, phone: "+49 30 1234567"', "role: product_owner")
    (error,) = errors_of(write(tmp_path, two))
    assert error.endswith(
        ":12: clients[0].contacts[1].role: a second product_owner (the first is contacts[0])"
    )

    none = EXAMPLE.replace("role: product_owner", "role: member")
    (error,) = errors_of(write(tmp_path, none))
    assert error.endswith(
        ":10: clients[0].contacts: no contact has role product_owner; exactly one is required"
    )


def test_unknown_calendar_and_duplicates(tmp_path):
    text = EXAMPLE.replace("calendar: hq}", "calendar: hk}") + EXAMPLE.split("clients:\n", 1)[1]
    errors = errors_of(write(tmp_path, text))
    assert [error.split(": ", 1)[1] for error in errors] == [
        "clients[0].contract.calendar: unknown calendar 'hk' (known: hq)",
        "clients[1].slug: duplicate client slug 'acme' (also at clients[0].slug)",
        "clients[1].sites[0].url: duplicate site url 'https://acme.test' (also at clients[0].sites[0].url)",
    ]
    assert [error.split(":")[1] for error in errors] == ["13", "16", "23"]


def test_sla_targets_and_credit_tables_are_checked_by_the_contract_arithmetic(tmp_path):
    text = """\
    plans:
      business:
        response_targets: {P1: 4h, P2: 8 hours, P3: 2bd, P4: 3bd}
        credit_kind: table
      enterprise:
        credit_table: [{below: "101", percent: "10"}]
    """
    errors = errors_of(write(tmp_path, text))
    assert [error.split(": ", 1)[1] for error in errors] == [
        (
            "plans.business.response_targets.P2: SLA target '8 hours': expected Nm, Nh, Nbh, Nbd (N ≥ 1), "
            "same_bd, next_bd or next_cycle"
        ),
        (
            "plans.enterprise.credit_table: credit table row {'below': '101', 'percent': '10'}: "
            "'below' must be 0..100 and 'percent' not negative"
        ),
    ]


def test_a_contract_credit_table_on_a_steps_plan_is_refused(tmp_path):
    text = EXAMPLE.replace("calendar: hq}", 'calendar: hq, credit_table: [{below: "99.9", percent: "10"}]}')
    (error,) = errors_of(write(tmp_path, text))
    assert error.endswith(
        "clients[0].contract.credit_table: plan 'business' counts credits in steps, "
        "so this table would be ignored"
    )


def test_holiday_subdivision_and_bad_urls(tmp_path):
    text = EXAMPLE.replace("{country: DE}", "{country: DE, subdivision: XX}").replace(
        '"https://acme.test"', '"acme.test"'
    )
    errors = errors_of(write(tmp_path, text))
    assert [error.split(": ", 1)[1] for error in errors] == [
        "calendars.hq.holidays.subdivision: holidays: DE has no subdivision 'XX'",
        "clients[0].sites[0].url: 'acme.test' is not an http(s) URL",
    ]


def test_typos_anywhere_are_caught(tmp_path):
    text = EXAMPLE.replace("clients:", "clinets:")
    (error,) = errors_of(write(tmp_path, text))
    assert error.endswith(":7: clinets: unknown key 'clinets' (did you mean 'clients'?)")


def test_empty_and_missing_files(tmp_path):
    (error,) = errors_of(write(tmp_path, "# nothing yet\n"))
    assert error.endswith(
        "acme.yaml:1: (document): the file is empty; expected calendars, plans and/or clients"
    )
    (error,) = errors_of(tmp_path / "missing.yaml")
    assert error == f"{tmp_path / 'missing.yaml'}: cannot read the file: No such file or directory"


def test_yaml_12_types_norway_and_unquoted_times(tmp_path):
    """YAML 1.1 would read NO as false and 23:00 as 1380; contract files mean text."""
    text = EXAMPLE.replace("{country: DE}", "{country: NO}").replace(
        "calendar: hq}", "calendar: hq, maintenance_windows: [{weekday: tue, start: 23:00, end: 02:00}]}"
    )
    apply_file(write(tmp_path, text))
    assert MaintenanceWindow.objects.get().start.hour == 23
    assert Contact.objects.count() == 2


def test_shape_errors_and_semantic_errors_in_one_calendar_come_together(tmp_path):
    text = """\
    calendars:
      hq:
        hours: {mon: ["09:00-18:00", "12:00-13:00"], monday: ["09:00-18:00"]}
        holidays: {country: XX}
        closures: [2026-12-31T10:00:00]
    """
    errors = errors_of(write(tmp_path, text))
    assert [error.split(": ", 1)[1] for error in errors] == [
        "calendars.hq: missing required key 'timezone'",
        "calendars.hq.hours.monday: unknown key 'monday' (did you mean 'mon'?)",
        "calendars.hq.holidays.country: holidays: unknown country 'XX'",
        "calendars.hq.closures[0]: '2026-12-31T10:00:00' is not a date (YYYY-MM-DD)",
    ]


def test_a_new_plan_and_calendar_in_a_dry_run(tmp_path, acme):
    """On a dry run the new plan and calendar are never saved; the client's contract still points at them."""
    text = (
        EXAMPLE.replace("  hq:", "  hk:")
        .replace("calendar: hq", "calendar: hk")
        .replace("plan: business", "plan: gold")
    )
    text += (
        "plans:\n  gold: {name: Gold, backup_retention_days: 90, update_cadence: weekly, content_hours: 4,\n"
        "    security_level: advanced, standard_response: 4bh, response_targets: {P1: 4h, P2: 8bh, P3: 2bd,"
        " P4: 3bd},\n    uptime_sla: '99.9', credit_rate: '20', credit_step: '0.1', performance_call: none}\n"
    )
    before = state()

    result = apply_file(write(tmp_path, text), dry_run=True)

    assert "update contract acme: plan: business → gold; calendar: hq → hk; hourly_rate: 95.00 → null" in (
        result.changes
    )
    assert "create plan gold" in "\n".join(result.changes)
    assert state() == before
