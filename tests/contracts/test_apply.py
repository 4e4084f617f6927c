"""`apply_file`: the issue's example, idempotency, dry runs, versions, plans, deletions, all or nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError

from sitekeeper.access.models import AuditEntry
from sitekeeper.contracts.apply import ApplyError, apply_file
from sitekeeper.contracts.models import (
    Calendar,
    CalendarVersion,
    Client,
    Contact,
    Contract,
    Environment,
    MaintenanceWindow,
    Plan,
    Site,
)
from tests.contracts.apply_support import EXAMPLE, counts, state, write

pytestmark = pytest.mark.django_db

EXPECTED_EXAMPLE_CHANGES = [
    "create calendar hq",
    (
        'create calendar hq v1: timezone="Europe/Berlin", '
        'hours={"mon":["09:00-18:00"],"tue":["09:00-18:00"],"wed":["09:00-18:00"],"thu":["09:00-18:00"],'
        '"fri":["09:00-18:00"]}, holiday_country="DE", closures=["2026-12-31"]'
    ),
    'create client acme: name="Acme GmbH"',
    'create contact acme ada@acme.test (product_owner): name="Ada Owner"',
    'create contact acme ed@acme.test (emergency): name="Ed Oncall", phone="+49 30 1234567"',
    'create contract acme: plan=business, calendar=hq, start=2026-01-01, monthly_fee=900.00, currency="EUR"',
    'create site acme https://acme.test: platform="wordpress"',
    'create environment https://acme.test prod: url="https://acme.test"',
]


def test_the_issue_example_applies(tmp_path):
    result = apply_file(write(tmp_path, EXAMPLE))

    assert result.applied is True
    assert result.changes == EXPECTED_EXAMPLE_CHANGES
    client = Client.objects.get(slug="acme")
    assert client.name == "Acme GmbH"
    contacts = {(c.email, c.role, c.phone) for c in client.contacts.all()}
    assert contacts == {
        ("ada@acme.test", "product_owner", ""),
        ("ed@acme.test", "emergency", "+49 30 1234567"),
    }
    contract = client.contract
    assert contract.plan.slug == "business"
    assert contract.start == dt.date(2026, 1, 1)
    assert contract.monthly_fee == Decimal("900.00")
    assert (contract.currency, contract.billing_unit_minutes, contract.update_batch) == ("EUR", 15, "2nd tue")
    version = Calendar.objects.get(slug="hq").current
    assert version.number == 1
    assert version.timezone == "Europe/Berlin"
    assert version.hours["fri"] == ["09:00-18:00"]
    assert (version.holiday_country, version.closures) == ("DE", ["2026-12-31"])
    # The stored calendar works with the core arithmetic: New Year's Eve is closed, the 30th is open.
    core = version.to_core()
    assert not core.is_business_day(dt.date(2026, 12, 31))
    assert core.is_business_day(dt.date(2026, 12, 30))
    site = client.sites.get()
    assert (site.url, site.platform) == ("https://acme.test", "wordpress")
    assert [(env.kind, env.url) for env in site.environments.all()] == [("prod", "https://acme.test")]


def test_changes_are_audited_as_cli_apply(tmp_path):
    apply_file(write(tmp_path, EXAMPLE))

    entries = AuditEntry.objects.filter(actor_label="cli:apply")
    assert entries.count() == 8
    assert set(entries.values_list("action", flat=True)) == {"create"}
    assert entries.filter(model="contracts.Contract", client__slug="acme").exists()


def test_applying_the_same_file_twice_changes_nothing(tmp_path):
    path = write(tmp_path, EXAMPLE)
    apply_file(path)
    before = state()

    result = apply_file(path)

    assert result.changes == []
    assert result.applied is False
    assert state() == before  # no new rows, no audit entries, no calendar version


def test_dry_run_writes_nothing_and_shows_what_a_real_run_does(tmp_path):
    path = write(tmp_path, EXAMPLE)
    before = state()

    dry = apply_file(path, dry_run=True)

    assert state() == before
    assert dry.applied is False
    assert dry.changes == EXPECTED_EXAMPLE_CHANGES
    assert apply_file(path).changes == dry.changes


def test_dry_run_of_an_update_shows_before_and_after(tmp_path):
    apply_file(write(tmp_path, EXAMPLE))
    changed = EXAMPLE.replace('monthly_fee: "900.00"', 'monthly_fee: "950.00"').replace(
        "plan: business", "plan: enterprise"
    )
    before = state()

    result = apply_file(write(tmp_path, changed), dry_run=True)

    assert result.changes == [
        "update contract acme: plan: business → enterprise; monthly_fee: 900.00 → 950.00"
    ]
    assert state() == before


def test_a_matching_stored_calendar_gets_no_new_version(tmp_path, acme):
    """The fixture calendar has the example's rules (written in another order) but a name."""
    result = apply_file(write(tmp_path, EXAMPLE))

    assert 'update calendar hq: name: "Berlin office" → ""' in result.changes
    assert not any(line.startswith("create calendar hq v") for line in result.changes)
    assert CalendarVersion.objects.filter(calendar__slug="hq").count() == 1


def test_a_calendar_change_creates_version_2_and_keeps_version_1(tmp_path):
    apply_file(write(tmp_path, EXAMPLE))
    v1 = Calendar.objects.get(slug="hq").current
    changed = EXAMPLE.replace("closures: [2026-12-31]", "closures: [2026-12-24, 2026-12-31]")

    result = apply_file(write(tmp_path, changed))

    assert result.changes == ['create calendar hq v2: closures: ["2026-12-31"] → ["2026-12-24","2026-12-31"]']
    versions = list(CalendarVersion.objects.filter(calendar__slug="hq").order_by("number"))
    assert [v.number for v in versions] == [1, 2]
    assert versions[0].closures == ["2026-12-31"]  # never edited
    assert versions[0].pk == v1.pk
    assert versions[1].closures == ["2026-12-24", "2026-12-31"]
    assert Calendar.objects.get(slug="hq").current.number == 2
    assert apply_file(write(tmp_path, changed)).changes == []  # and no version 3


def test_plan_override_changes_only_the_listed_fields(tmp_path):
    before = Plan.objects.get(slug="business")
    text = EXAMPLE + 'plans:\n  business: {uptime_sla: "99.95", resolution_targets: {P1: 1bd}}\n'

    result = apply_file(write(tmp_path, text))

    assert 'update plan business: resolution_targets: {} → {"P1":"1bd"}; uptime_sla: 99.900 → 99.95' in (
        result.changes
    )
    plan = Plan.objects.get(slug="business")
    assert plan.uptime_sla == Decimal("99.95")
    assert plan.resolution_targets == {"P1": "1bd"}
    assert plan.response_targets == before.response_targets
    assert plan.credit_rate == before.credit_rate
    assert plan.builtin is True


def test_a_new_plan_needs_all_required_fields_and_goes_last(tmp_path):
    gold = """\
    plans:
      gold:
        name: Gold
        backup_retention_days: 180
        update_cadence: weekly
        content_hours: 6
        security_level: advanced_waf
        support_channels: [email, phone]
        standard_response: 2bh
        response_targets: {P1: 2h, P2: 4bh, P3: 1bd, P4: 2bd}
        uptime_sla: "99.95"
        credit_rate: "25"
        credit_step: "0.1"
        performance_call: monthly_30min
    """
    apply_file(write(tmp_path, gold))

    plan = Plan.objects.get(slug="gold")
    assert (plan.rank, plan.builtin, plan.content_hours) == (5, False, Decimal("6"))
    assert plan.credit_rule().describe() == "25 % of the monthly fee per started 0.1 % below the SLA"

    with pytest.raises(ApplyError) as raised:
        apply_file(write(tmp_path, "plans:\n  silver: {name: Silver, uptime_sla: '99.5'}\n", "silver.yaml"))
    where = f"{tmp_path / 'silver.yaml'}:2: plans.silver"
    assert raised.value.errors == [
        (
            f"{where}: a new plan needs backup_retention_days, update_cadence, content_hours, "
            "security_level, standard_response, response_targets, performance_call"
        ),
        f"{where}: a steps credit rule needs both a rate and a step",
    ]


def test_removing_a_site_from_the_file_deletes_it(tmp_path):
    two_sites = EXAMPLE.replace(
        '      - {url: "https://acme.test", platform: wordpress}\n',
        '      - {url: "https://acme.test", platform: wordpress}\n'
        '      - {url: "https://shop.acme.test", platform: shopify, environments: {stage: "https://stage.shop.acme.test"}}\n',
    )
    apply_file(write(tmp_path, two_sites))
    assert Environment.objects.filter(site__url="https://shop.acme.test").count() == 2

    result = apply_file(write(tmp_path, EXAMPLE))

    assert result.changes == ["delete site acme https://shop.acme.test"]
    assert list(Site.objects.values_list("url", flat=True)) == ["https://acme.test"]
    assert not Environment.objects.filter(site__url="https://shop.acme.test").exists()
    deleted = AuditEntry.objects.filter(action="delete").values_list("model", flat=True)
    assert sorted(deleted) == ["contracts.Environment", "contracts.Environment", "contracts.Site"]


def test_a_client_is_described_completely_but_other_clients_are_left_alone(tmp_path, acme, globex):
    """acme (fixture) has a stage environment and a maintenance window the file does not list."""
    result = apply_file(write(tmp_path, EXAMPLE))

    assert "delete environment https://acme.test stage" in result.changes
    assert "delete maintenance window acme tue 23:00" in result.changes
    assert "delete contact acme owner@acme.test (product_owner)" in result.changes
    assert "update contract acme: hourly_rate: 95.00 → null" in result.changes
    assert not MaintenanceWindow.objects.filter(contract__client=acme).exists()
    # The product owner changed person: the old one was deleted before the new one was created.
    assert acme.contacts.get(role="product_owner").email == "ada@acme.test"
    assert not any("globex" in line for line in result.changes)
    assert Site.objects.filter(client=globex).count() == 1
    assert Contact.objects.filter(client=globex).count() == 2


def test_environments_and_maintenance_windows_are_upserted(tmp_path):
    text = EXAMPLE.replace(
        "calendar: hq}",
        'calendar: hq, maintenance_windows: [{weekday: tue, start: "23:00", end: "02:00"}]}',
    ).replace(
        "platform: wordpress}",
        'platform: wordpress, environments: {stage: "https://stage.acme.test"}}',
    )
    apply_file(write(tmp_path, text))
    window = MaintenanceWindow.objects.get()
    assert (window.weekday, window.start, window.end, window.max_minutes) == (1, dt.time(23), dt.time(2), 30)

    longer = text.replace('end: "02:00"}', 'end: "03:00", max_minutes: 45}').replace(
        "https://stage.acme.test", "https://staging.acme.test"
    )
    result = apply_file(write(tmp_path, longer))

    assert result.changes == [
        "update maintenance window acme tue 23:00: end: 02:00 → 03:00; max_minutes: 30 → 45",
        'update environment https://acme.test stage: url: "https://stage.acme.test" → "https://staging.acme.test"',
    ]
    assert MaintenanceWindow.objects.get().pk == window.pk


def test_a_terminated_contract_is_updated_not_reopened(tmp_path):
    apply_file(write(tmp_path, EXAMPLE))
    terminated = EXAMPLE.replace("calendar: hq}", "calendar: hq, status: terminated}")

    assert apply_file(write(tmp_path, terminated)).changes == [
        'update contract acme: status: "active" → "terminated"'
    ]
    assert apply_file(write(tmp_path, terminated)).changes == []
    assert Contract.objects.count() == 1


def test_one_error_leaves_the_database_untouched(tmp_path, acme, globex):
    before = state()
    text = EXAMPLE.replace("name: Acme GmbH", "name: Acme AG")
    text = text.replace("timezone: Europe/Berlin", "timezone: Mars/Base")

    with pytest.raises(ApplyError) as raised:
        apply_file(write(tmp_path, text))

    assert len(raised.value.errors) == 1
    assert "calendars.hq.timezone: time zone 'Mars/Base' is not an IANA zone name" in raised.value.errors[0]
    assert state() == before


def test_a_failure_half_way_rolls_everything_back(tmp_path, monkeypatch, acme):
    """Clients, contacts and the contract are written before the sites; a refused site undoes them all."""
    before = counts()
    names = dict(Client.objects.values_list("slug", "name"))

    def refuse(*args, **kwargs):
        raise IntegrityError("site refused")

    monkeypatch.setattr(Site, "save", refuse)
    text = EXAMPLE.replace("slug: acme", "slug: initech").replace("acme.test", "initech.test")
    with pytest.raises(ApplyError) as raised:
        apply_file(write(tmp_path, text))

    assert raised.value.errors == [
        f"{tmp_path / 'acme.yaml'}:15: clients[0].sites[0]: the database refused the change: site refused"
    ]
    assert counts() == before
    assert dict(Client.objects.values_list("slug", "name")) == names


def test_apply_as_a_user_records_the_user(tmp_path, admin):
    apply_file(write(tmp_path, EXAMPLE), user=admin)

    entry = AuditEntry.objects.filter(model="contracts.Client").get()
    assert (entry.actor, entry.actor_label) == (admin, "cli:apply")
