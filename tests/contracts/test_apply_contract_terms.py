"""The contract file's issue-12 keys: `credit_basis`, no invented Schedule A remedy (a warning, never a
made-up table), notice (`notice_given_on`, `cancellation_reading`), per-site `link_scan` limits, and the
alert promise checked against the client's monitors before anything is written."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sitekeeper.contracts.apply import ApplyError, apply_file
from sitekeeper.contracts.export import export_data, export_yaml
from sitekeeper.contracts.models import Contract, Plan, Site
from sitekeeper.core.credits import NO_REMEDY
from sitekeeper.health.models import HealthConfig
from sitekeeper.monitoring.models import Monitor
from tests.contracts.apply_support import EXAMPLE, state, write

pytestmark = pytest.mark.django_db

CONTRACT = 'contract: {plan: business, start: 2026-01-01, monthly_fee: "900.00", currency: EUR, calendar: hq}'
SITE = '- {url: "https://acme.test", platform: wordpress}'


def with_contract(extra: str, plan: str = "business") -> str:
    """The issue's example with extra contract keys (flow style, e.g. 'credit_basis: full_fee')."""
    contract = CONTRACT.replace("plan: business", f"plan: {plan}")
    return EXAMPLE.replace(CONTRACT, contract.removesuffix("}") + (f", {extra}}}" if extra else "}"))


def with_site(extra: str) -> str:
    return EXAMPLE.replace(SITE, SITE.removesuffix("}") + f", {extra}}}")


def errors_of(path: Path) -> list[str]:
    """The errors, each starting with the file's name as the user typed it (here: acme.yaml)."""
    with pytest.raises(ApplyError) as raised:
        apply_file(path)
    return [error.removeprefix(f"{path.parent}/") for error in raised.value.errors]


def warnings_of(path: Path, **options: bool) -> list[str]:
    return [line.removeprefix(f"{path.parent}/") for line in apply_file(path, **options).warnings]


def contract() -> Contract:
    return Contract.objects.get(client__slug="acme")


def reapplied_export_changes(tmp_path: Path) -> list[str]:
    return apply_file(write(tmp_path, export_yaml(), "export.yaml")).changes


def test_the_helpers_edit_the_example():
    assert CONTRACT in EXAMPLE
    assert SITE in EXAMPLE


# --- credit_basis (item 3) ------------------------------------------------------------------------------
def test_credit_basis_is_applied_exported_and_read_back(tmp_path):
    result = apply_file(write(tmp_path, with_contract("credit_basis: full_fee")))
    assert 'credit_basis="full_fee"' in next(line for line in result.changes if "contract acme" in line)
    assert contract().credit_basis == "full_fee"
    assert export_data()["clients"][0]["contract"]["credit_basis"] == "full_fee"
    assert reapplied_export_changes(tmp_path) == []


def test_credit_basis_defaults_to_the_fee_share_and_is_not_exported(tmp_path):
    apply_file(write(tmp_path, with_contract("credit_basis: full_fee")))
    result = apply_file(write(tmp_path, EXAMPLE))  # left out: the default again
    assert result.changes == ['update contract acme: credit_basis: "full_fee" → "fee_share"']
    assert "credit_basis" not in export_data()["clients"][0]["contract"]


def test_a_misspelt_credit_basis_is_refused(tmp_path):
    (error,) = errors_of(write(tmp_path, with_contract("credit_basis: fee-share")))
    assert error.endswith(
        "clients[0].contract.credit_basis: 'fee-share' is not one of fee_share, full_fee; "
        "did you mean 'fee_share'?"
    )


# --- no invented remedy (item 14) -----------------------------------------------------------------------
def test_an_enterprise_contract_without_schedule_a_is_applied_with_a_warning(tmp_path):
    assert warnings_of(write(tmp_path, with_contract("", plan="enterprise"))) == [
        (
            "acme.yaml:13: clients[0].contract: warning: Acme GmbH (acme) is on plan 'enterprise', "
            "whose remedy is "
            f"per Schedule A, and agrees no credit_table: no service credit will be computed ({NO_REMEDY})"
        )
    ]
    assert contract().credit_rule() is None


def test_the_apply_command_prints_the_warning_on_stderr(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, with_contract("", plan="enterprise"))
    out, err = StringIO(), StringIO()
    call_command("apply", "acme.yaml", stdout=out, stderr=err)
    assert "warning: Acme GmbH (acme) is on plan 'enterprise'" in err.getvalue()
    assert "warning" not in out.getvalue()
    assert out.getvalue().rstrip().endswith("applied 8 changes")


def test_an_enterprise_contract_with_its_own_schedule_a_has_no_warning(tmp_path):
    table = 'credit_table: [{below: "99.95", percent: "15"}]'
    result = apply_file(write(tmp_path, with_contract(table, plan="enterprise")))
    assert result.warnings == []
    assert contract().credit_rule().describe() == "below 99.95 %: 15 % of the fee"


def test_a_schedule_a_the_agency_gives_the_plan_is_the_contracts_remedy(tmp_path):
    plans = 'plans:\n  enterprise:\n    credit_table: [{below: "99.9", percent: "20"}]\n'
    result = apply_file(write(tmp_path, plans + with_contract("", plan="enterprise")))
    assert result.warnings == []
    assert contract().credit_rule().describe() == "below 99.9 %: 20 % of the fee"


def test_a_table_plan_without_a_table_is_a_warning_not_an_error(tmp_path):
    text = "plans:\n  business:\n    credit_kind: table\n" + EXAMPLE
    assert warnings_of(write(tmp_path, text)) == [
        (
            "acme.yaml:3: plans.business.credit_kind: warning: a table plan without a credit_table: "
            "its contracts "
            "have no remedy (no credit computed) unless each agrees its own credit_table"
        ),
        (
            "acme.yaml:16: clients[0].contract: warning: Acme GmbH (acme) is on plan 'business', "
            "whose remedy is "
            f"per Schedule A, and agrees no credit_table: no service credit will be computed ({NO_REMEDY})"
        ),
    ]
    assert Plan.objects.get(slug="business").credit_rule() is None


def test_a_dry_run_warns_too(tmp_path):
    result = apply_file(write(tmp_path, with_contract("", plan="enterprise")), dry_run=True)
    assert len(result.warnings) == 1
    assert not Contract.objects.exists()


# --- notice (foundation fields) -------------------------------------------------------------------------
NOTICE = "status: cancelling, notice_given_on: 2026-05-12"


def test_a_contract_under_notice_is_applied_and_exported(tmp_path):
    apply_file(write(tmp_path, with_contract(f"{NOTICE}, cancellation_reading: cycle_after_notice_end")))
    stored = contract()
    assert (stored.status, stored.notice_given_on) == ("cancelling", dt.date(2026, 5, 12))
    assert stored.cancellation_reading == "cycle_after_notice_end"
    # notice 12 May + 30 days = 11 June; the end of the month after that month: 31 July
    assert stored.effective_end == dt.date(2026, 7, 31)
    exported = export_data()["clients"][0]["contract"]
    assert (exported["notice_given_on"], exported["cancellation_reading"]) == (
        "2026-05-12",
        "cycle_after_notice_end",
    )
    assert "notice_given_on: 2026-05-12\n" in export_yaml()  # a YAML date, as start is
    assert reapplied_export_changes(tmp_path) == []


def test_notice_left_out_clears_it(tmp_path):
    apply_file(write(tmp_path, with_contract(NOTICE)))
    result = apply_file(write(tmp_path, with_contract("status: terminated")))
    assert result.changes == [
        'update contract acme: notice_given_on: 2026-05-12 → null; status: "cancelling" → "terminated"'
    ]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "status: cancelling",
            (
                "clients[0].contract.status: a contract under notice needs notice_given_on, "
                "the day notice was "
                "given: its effective date (the last day of service) counts from it"
            ),
        ),
        (
            "notice_given_on: 2026-05-12",
            (
                "clients[0].contract.notice_given_on: notice given on 2026-05-12 but status is active: "
                "a contract "
                "under notice has status cancelling (terminated once it has ended)"
            ),
        ),
        (
            "status: cancelling, notice_given_on: 2025-12-31",
            "clients[0].contract.notice_given_on: notice given on 2025-12-31, before the start 2026-01-01",
        ),
        (
            "status: cancelling, notice_given_on: 2026-02-30",
            "clients[0].contract.notice_given_on: '2026-02-30' is not a date: February 2026 has 28 days",
        ),
        (
            f"{NOTICE}, cancellation_reading: next_month",
            (
                "clients[0].contract.cancellation_reading: 'next_month' is not one of cycle_of_notice_end, "
                "cycle_after_notice_end"
            ),
        ),
    ],
)
def test_notice_mistakes_are_refused(tmp_path, extra, message):
    (error,) = errors_of(write(tmp_path, with_contract(extra)))
    assert error.split(": ", 1)[1] == message


# --- link-scan limits (item 16) -------------------------------------------------------------------------
def test_link_scan_limits_are_written_to_the_sites_health_settings(tmp_path):
    result = apply_file(write(tmp_path, with_site("link_scan: {max_pages: 20000, max_depth: 8}")))
    assert (
        "create link-scan limits https://acme.test: link_max_pages=20000, link_max_depth=8" in result.changes
    )
    config = HealthConfig.objects.get(site__url="https://acme.test")
    assert (config.link_max_pages, config.link_max_depth) == (20000, 8)
    assert export_data()["clients"][0]["sites"][0]["link_scan"] == {"max_pages": 20000, "max_depth": 8}
    assert reapplied_export_changes(tmp_path) == []


def test_a_limit_left_out_takes_its_default_and_only_changed_limits_are_exported(tmp_path):
    apply_file(write(tmp_path, with_site("link_scan: {max_pages: 20000, max_depth: 8}")))
    result = apply_file(write(tmp_path, with_site("link_scan: {max_depth: 3}")))
    assert result.changes == [
        "update link-scan limits https://acme.test: link_max_pages: 20000 → 5000; link_max_depth: 8 → 3"
    ]
    assert export_data()["clients"][0]["sites"][0]["link_scan"] == {"max_depth": 3}
    result = apply_file(write(tmp_path, EXAMPLE))
    assert result.changes == ["update link-scan limits https://acme.test: link_max_depth: 3 → 6"]
    assert "link_scan" not in export_data()["clients"][0]["sites"][0]


def test_existing_health_settings_other_than_the_limits_are_kept(tmp_path):
    apply_file(write(tmp_path, EXAMPLE))
    site = Site.objects.get(url="https://acme.test")
    HealthConfig.objects.create(site=site, link_max_pages=900, link_check_external=False, audit_day=9)
    apply_file(write(tmp_path, with_site("link_scan: {max_pages: 1200}")))
    config = HealthConfig.objects.get(site=site)
    assert (config.link_max_pages, config.link_check_external, config.audit_day) == (1200, False, 9)


def test_a_site_without_limits_gets_no_settings_row(tmp_path):
    result = apply_file(write(tmp_path, EXAMPLE))
    assert not any("link-scan" in line for line in result.changes)
    assert not HealthConfig.objects.exists()


def test_a_dry_run_of_link_scan_limits_writes_nothing(tmp_path):
    apply_file(write(tmp_path, EXAMPLE))
    before = state()
    result = apply_file(write(tmp_path, with_site("link_scan: {max_pages: 100}")), dry_run=True)
    assert result.changes == ["create link-scan limits https://acme.test: link_max_pages=100"]
    assert state() == before


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "link_scan: {max_pages: 0}",
            "clients[0].sites[0].link_scan.max_pages: 0 is less than the minimum of 1",
        ),
        (
            "link_scan: {max_page: 10}",
            "clients[0].sites[0].link_scan.max_page: unknown key 'max_page' (did you mean 'max_pages'?)",
        ),
        (
            'link_scan: {max_depth: "4"}',
            "clients[0].sites[0].link_scan.max_depth: expected a whole number, got text '4'",
        ),
    ],
)
def test_bad_link_scan_limits_are_refused(tmp_path, extra, message):
    (error,) = errors_of(write(tmp_path, with_site(extra)))
    assert error.split(": ", 1)[1] == message


# --- the alert promise (item 12) ------------------------------------------------------------------------
@pytest.fixture
def monitored(tmp_path) -> Monitor:
    """The example applied, its site watched every 60 s, 2 confirmations, 30 s timeout: 150 s at worst."""
    apply_file(write(tmp_path, EXAMPLE))
    site = Site.objects.get(url="https://acme.test")
    return Monitor.objects.create(
        site=site,
        name="Home page",
        url="https://acme.test/",
        interval_seconds=60,
        confirmations=2,
        timeout_seconds=30,
    )


def test_an_alert_time_the_monitors_cannot_keep_is_refused_whole(tmp_path, monitored):
    before = state()
    errors = errors_of(write(tmp_path, with_contract("alert_minutes: 2, billing_unit_minutes: 6")))
    assert errors == [
        (
            "acme.yaml:13: clients[0].contract.alert_minutes: monitor “Home page” of https://acme.test "
            "cannot alert within the contract's 2 min (120 s): "
            "60 s interval × 2 confirmations + 30 s timeout = 150 s. "
            "Shorten the interval or the timeout, or lower the confirmations."
        )
    ]
    assert state() == before
    assert contract().alert_minutes == 5


def test_an_alert_time_the_monitors_can_keep_is_applied(tmp_path, monitored):
    result = apply_file(write(tmp_path, with_contract("alert_minutes: 3")))
    assert result.changes == ["update contract acme: alert_minutes: 5 → 3"]


def test_leaving_alert_minutes_out_is_checked_as_the_default(tmp_path, monitored):
    Contract.objects.filter(client__slug="acme").update(alert_minutes=10)
    Monitor.objects.filter(pk=monitored.pk).update(interval_seconds=300)  # 630 s at worst
    (error,) = errors_of(write(tmp_path, EXAMPLE))
    assert error.startswith(
        "acme.yaml:13: clients[0].contract: alert_minutes left out, so the default 5 min: monitor “Home page”"
    )


def test_an_unchanged_alert_time_is_not_rechecked(tmp_path, monitored):
    Monitor.objects.filter(pk=monitored.pk).update(interval_seconds=300)  # already too slow for 5 min
    assert apply_file(write(tmp_path, EXAMPLE)).changes == []


def test_disabled_and_stage_monitors_make_no_promise(tmp_path, monitored):
    Monitor.objects.filter(pk=monitored.pk).update(enabled=False)
    Monitor.objects.create(
        site=monitored.site, environment="stage", url="https://stage.acme.test/", interval_seconds=600
    )
    assert apply_file(write(tmp_path, with_contract("alert_minutes: 1"))).changes == [
        "update contract acme: alert_minutes: 5 → 1"
    ]


def test_the_apply_command_names_the_file_and_key_of_a_broken_promise(tmp_path, monitored, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, with_contract("alert_minutes: 2"))
    err = StringIO()
    with pytest.raises(CommandError, match=r"1 error in acme\.yaml; nothing was applied"):
        call_command("apply", "acme.yaml", stdout=StringIO(), stderr=err)
    assert "acme.yaml:13: clients[0].contract.alert_minutes: monitor “Home page”" in err.getvalue()


def admin_form(instance: Contract | None, **changes: object):
    from sitekeeper.contracts.admin import ContractForm

    base = instance or contract()
    data = {
        field.name: getattr(base, field.attname)
        for field in Contract._meta.concrete_fields
        if field.editable and field.name != "id"
    }
    data.update(changes)
    data["credit_table"] = json.dumps(data["credit_table"])
    return ContractForm(data=data, instance=instance)


def test_the_admin_refuses_an_alert_time_the_monitors_cannot_keep(monitored):
    form = admin_form(contract(), alert_minutes=2)
    assert not form.is_valid()
    (message,) = form.errors["alert_minutes"]
    assert message.startswith(
        "monitor “Home page” of https://acme.test cannot alert within the contract's 2 min"
    )


def test_the_admin_accepts_an_alert_time_the_monitors_can_keep(monitored):
    form = admin_form(contract(), alert_minutes=3)
    assert form.is_valid(), form.errors
    assert form.save().alert_minutes == 3
