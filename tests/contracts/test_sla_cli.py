"""`sitekeeper sla due|credit` on the fixture contracts.

Calendar `hq` (tests/conftest.py): Europe/Berlin, Mon–Fri 09:00–18:00, German public holidays, closed
2026-12-31. December is CET (UTC+1). 2026-12-24 is a Thursday; 25 and 26 December are holidays, 27 is a
Sunday, so the next business day after the 24th is Monday the 28th. Expected instants are hand-computed
and written in UTC; the comment gives the Berlin wall time.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import textwrap
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sitekeeper.contracts.models import Client, Contract, Plan, Site
from tests.conftest import make_client

SITEKEEPER = Path(sys.executable).with_name("sitekeeper")


# Declared statically so pytest-django orders these with the other database tests: the parametrized ones
# reach their client fixture through request.getfixturevalue(), which it cannot see, and would otherwise run
# after the live-server (transactional) tests, whose flush removes the built-in plans.
pytestmark = pytest.mark.django_db


@pytest.fixture
def professional(berlin_calendar) -> Client:
    return make_client("initech", "Initech AG", "professional", berlin_calendar)


@pytest.fixture
def enterprise(berlin_calendar) -> Client:
    return make_client("umbrella", "Umbrella Corp", "enterprise", berlin_calendar)


def run(*args: str) -> str:
    out = StringIO()
    call_command("sla", *args, stdout=out)
    return out.getvalue()


def due_json(slug: str, priority: str, received: str, *pauses: str) -> dict:
    args = ["due", "--contract", slug, "--priority", priority, "--received", received, "--json"]
    for pause in pauses:
        args += ["--pause", pause]
    return json.loads(run(*args))


def response(slug: str, priority: str, received: str, *pauses: str) -> str | None:
    return due_json(slug, priority, received, *pauses)["response_due"]


# --- due: one case per target kind ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fixture", "priority", "received", "expected"),
    [
        # Business P1 "4h": 4 wall hours, Christmas Eve evening → 21:00 CET
        ("acme", "P1", "2026-12-24T17:00:00+01:00", "2026-12-24T20:00:00+00:00"),
        # Business P2 "8bh": Wed 17:00 → 1 h Wed + 7 h Thu → Thu 16:00 CET
        ("acme", "P2", "2026-12-23T17:00:00+01:00", "2026-12-24T15:00:00+00:00"),
        # Business P3 "2bd" = 18 business hours: Wed 09:00 → Thu 18:00 CET
        ("acme", "P3", "2026-12-23T09:00:00+01:00", "2026-12-24T17:00:00+00:00"),
        # Business P4 "3bd" = 27 h: Wed, Thu, (25, 26 holidays, 27 Sunday), Mon 28 → 18:00 CET
        ("acme", "P4", "2026-12-23T09:00:00+01:00", "2026-12-28T17:00:00+00:00"),
        # Starter P1 "next_bd": received Thu 24 → Mon 28, close 18:00 CET
        ("globex", "P1", "2026-12-24T10:00:00+01:00", "2026-12-28T17:00:00+00:00"),
        # Starter P1 "next_bd" across the closure (31 Dec) and New Year → Mon 4 Jan 2027 18:00 CET
        ("globex", "P1", "2026-12-30T10:00:00+01:00", "2027-01-04T17:00:00+00:00"),
        # Starter P4 "next_cycle": the 2nd Tuesday after 24 Dec is 12 Jan 2027 → 18:00 CET
        ("globex", "P4", "2026-12-24T10:00:00Z", "2027-01-12T17:00:00+00:00"),
        # Professional P1 "same_bd": before close → close of that day
        ("professional", "P1", "2026-12-24T10:00:00+01:00", "2026-12-24T17:00:00+00:00"),
        # Professional P1 "same_bd": after close → close of the next business day (Mon 28)
        ("professional", "P1", "2026-12-24T19:00:00+01:00", "2026-12-28T17:00:00+00:00"),
        # Enterprise P1 "1h" on a Saturday holiday at 03:00 CET: wall clock → 04:00 CET
        ("enterprise", "P1", "2026-12-26T03:00:00+01:00", "2026-12-26T03:00:00+00:00"),
        # Enterprise P2 "4bh": Thu 16:00 → 2 h Thu + 2 h Mon 28 → 11:00 CET
        ("enterprise", "P2", "2026-12-24T16:00:00+01:00", "2026-12-28T10:00:00+00:00"),
    ],
)
def test_due_for_each_target_kind(request, fixture, priority, received, expected):
    client = request.getfixturevalue(fixture)
    assert response(client.slug, priority, received) == expected


def test_due_json_is_exact_with_null_for_clocks_without_target(acme):
    out = run("due", "--contract", "acme", "--priority", "P2", "--received", "2026-12-23T16:00:00Z", "--json")
    assert out == (
        '{"response_due": "2026-12-24T15:00:00+00:00", "resolution_due": null, "recovery_due": null}\n'
    )


def test_due_json_reports_resolution_and_recovery_when_the_plan_sets_them(enterprise):
    Plan.objects.filter(slug="enterprise").update(
        resolution_targets={"P1": "next_bd"}, recovery_targets={"P1": "30m"}
    )
    assert due_json("umbrella", "P1", "2026-12-24T10:00:00+01:00") == {
        "response_due": "2026-12-24T10:00:00+00:00",  # 1 h → 11:00 CET
        "resolution_due": "2026-12-28T17:00:00+00:00",  # next business day → Mon 28 18:00 CET
        "recovery_due": "2026-12-24T09:30:00+00:00",  # 30 min → 10:30 CET
    }


# --- pauses --------------------------------------------------------------------------------------------
def test_pause_shifts_a_business_hours_target_by_the_business_time_paused(acme):
    pause = "2026-12-24T10:00:00+01:00/2026-12-24T12:00:00+01:00"
    # 8 bh from Wed 17:00: without the pause Thu 16:00 CET, with 2 paused business hours Thu 18:00 CET
    assert response("acme", "P2", "2026-12-23T17:00:00+01:00", pause) == "2026-12-24T17:00:00+00:00"


def test_pause_shifts_a_wall_clock_target_by_the_wall_time_paused(acme):
    pause = "2026-12-24T18:00:00+01:00/2026-12-24T18:30:00+01:00"
    assert response("acme", "P1", "2026-12-24T17:00:00+01:00", pause) == "2026-12-24T20:30:00+00:00"


def test_pause_outside_business_hours_does_not_move_a_business_target(acme):
    night = "2026-12-23T20:00:00+01:00/2026-12-24T08:00:00+01:00"
    assert response("acme", "P2", "2026-12-23T17:00:00+01:00", night) == "2026-12-24T15:00:00+00:00"


def test_several_pauses_add_up_and_a_pause_before_receipt_is_ignored(acme):
    before = "2026-12-22T10:00:00+01:00/2026-12-22T12:00:00+01:00"
    first = "2026-12-24T09:00:00+01:00/2026-12-24T10:00:00+01:00"
    second = "2026-12-24T13:00:00+01:00/2026-12-24T13:30:00+01:00"
    # 8 bh from Wed 17:00 = Thu 16:00 CET; +1 h 30 min paused → Thu 17:30 CET
    got = response("acme", "P2", "2026-12-23T17:00:00+01:00", before, first, second)
    assert got == "2026-12-24T16:30:00+00:00"


def test_pause_pushes_a_deadline_target(globex):
    # next_bd from Thu 24 = Mon 28 18:00 CET; 3 business hours paused on Mon → Tue 29 12:00 CET
    pause = "2026-12-28T09:00:00+01:00/2026-12-28T12:00:00+01:00"
    assert response("globex", "P1", "2026-12-24T10:00:00+01:00", pause) == "2026-12-29T11:00:00+00:00"


# --- human output --------------------------------------------------------------------------------------
def test_human_output_names_target_due_in_the_calendar_zone_and_utc(acme):
    out = run("due", "--contract", "acme", "--priority", "p2", "--received", "2026-12-23T17:00:00+01:00")
    assert "Acme GmbH — Business plan" in out
    assert "Europe/Berlin" in out
    assert "8 business hours  due Thu 24 Dec 2026 16:00 CET (15:00 UTC)" in out
    assert "resolution  no target in the plan" in out
    assert "pauses      none" in out


def test_human_output_counts_the_pauses(acme):
    out = run(
        "due",
        "--contract",
        "acme",
        "--priority",
        "P2",
        "--received",
        "2026-12-23T17:00:00+01:00",
        "--pause",
        "2026-12-24T10:00:00+01:00/2026-12-24T12:00:00+01:00",
        "--pause",
        "2026-12-20T10:00:00+01:00/2026-12-20T11:00:00+01:00",
    )
    assert "due Thu 24 Dec 2026 18:00 CET (17:00 UTC)  (+2 h 00 min paused)" in out
    assert "1 of 2 counted" in out
    assert "ignored: ended before receipt" in out


def test_human_output_shows_the_utc_date_when_it_differs(acme):
    out = run("due", "--contract", "acme", "--priority", "P1", "--received", "2026-12-24T22:30:00+01:00")
    # 4 h after 22:30 CET is 02:30 CET on the 25th, 01:30 UTC the same day
    assert "4 hours (24/7)  due Fri 25 Dec 2026 02:30 CET (01:30 UTC)" in out
    out = run("due", "--contract", "acme", "--priority", "P1", "--received", "2026-12-24T20:30:00+01:00")
    assert "due Fri 25 Dec 2026 00:30 CET (Thu 24 Dec 2026 23:30 UTC)" in out


# --- errors --------------------------------------------------------------------------------------------
DUE = ["due", "--contract", "acme", "--priority", "P2"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([*DUE, "--received", "2026-12-23T17:00:00"], "--received '2026-12-23T17:00:00': no offset"),
        ([*DUE, "--received", "2026-12-23"], "--received '2026-12-23': no offset"),
        ([*DUE, "--received", "yesterday"], "--received 'yesterday': not an ISO 8601 instant"),
        ([*DUE, "--received", "2026-13-01T10:00Z"], "--received '2026-13-01T10:00Z': not an ISO"),
        (
            ["due", "--contract", "acme", "--priority", "P5", "--received", "2026-12-23T17:00Z"],
            "priority 'P5': expected one of P1, P2, P3, P4",
        ),
        (
            ["due", "--contract", "nope", "--priority", "P1", "--received", "2026-12-23T17:00Z"],
            "unknown contract 'nope'",
        ),
        (
            [*DUE, "--received", "2026-12-23T17:00Z", "--pause", "2026-12-24T12:00Z/2026-12-24T10:00Z"],
            "--pause '2026-12-24T12:00Z/2026-12-24T10:00Z': the end is not after the start",
        ),
        (
            [*DUE, "--received", "2026-12-23T17:00Z", "--pause", "2026-12-24T12:00Z"],
            "--pause '2026-12-24T12:00Z': expected START/END",
        ),
        (
            [*DUE, "--received", "2026-12-23T17:00Z", "--pause", "2026-12-24T10:00/2026-12-24T12:00Z"],
            "--pause '2026-12-24T10:00': no offset",
        ),
        (["due", "--contract", "acme", "--received", "2026-12-23T17:00Z"], "--priority"),
        (["credit", "--contract", "acme", "--uptime", "abc"], "--uptime 'abc': not a number"),
        (["credit", "--contract", "acme", "--uptime", "-0.5"], "--uptime '-0.5': must be a percentage"),
        (["credit", "--contract", "acme", "--uptime", "100.01"], "--uptime '100.01': must be a percentage"),
        (["credit", "--contract", "acme", "--uptime", "NaN"], "--uptime 'NaN': must be a percentage"),
        (["credit", "--contract", "nope", "--uptime", "99"], "unknown contract 'nope'"),
    ],
)
def test_bad_input_is_a_command_error_naming_the_value(acme, args, message):
    with pytest.raises(CommandError, match=_literal(message)):
        run(*args)


def test_client_without_a_current_contract_is_an_error(acme):
    Contract.objects.filter(client=acme).update(status=Contract.Status.TERMINATED)
    with pytest.raises(CommandError, match="has no current contract"):
        run("due", "--contract", "acme", "--priority", "P1", "--received", "2026-12-23T17:00Z")


def _literal(text: str) -> str:
    return re.escape(text)


# --- credit --------------------------------------------------------------------------------------------
def credit(slug: str, uptime: str) -> dict:
    return json.loads(run("credit", "--contract", slug, "--uptime", uptime, "--json"))


@pytest.mark.parametrize(
    ("fixture", "uptime", "expected"),
    [
        # Business: 20 % per started 0.1 %; 0.15 short → 2 steps → 40 % of 900.00
        (
            "acme",
            "99.75",
            {"sla": "99.9", "shortfall": "0.15", "credit_percent": "40", "credit_amount": "360.00"},
        ),
        # Business: 0.9 short → 9 steps → 180 %, capped at the fee
        ("acme", "99.0", {"shortfall": "0.9", "credit_percent": "100", "credit_amount": "900.00"}),
        # Business: above the SLA → nothing
        ("acme", "99.95", {"shortfall": "0", "credit_percent": "0", "credit_amount": "0.00"}),
        # Starter: 10 % per started 1 %; 0.5 short → 1 step → 10 % of 250.00
        (
            "globex",
            "98.5",
            {"sla": "99", "shortfall": "0.5", "credit_percent": "10", "credit_amount": "25.00"},
        ),
        # Starter: 1.01 short → 2 steps → 20 %
        ("globex", "97.99", {"shortfall": "1.01", "credit_percent": "20", "credit_amount": "50.00"}),
        # Professional: 15 % per started 0.5 %; 0.6 short → 2 steps → 30 % of 900.00
        ("professional", "98.9", {"sla": "99.5", "credit_percent": "30", "credit_amount": "270.00"}),
        # Enterprise with its own Schedule A table: below 99.95 → 15 %, below 99.0 → 100 %
        ("schedule_a", "99.92", {"sla": "99.95", "credit_percent": "15", "credit_amount": "135.00"}),
        ("schedule_a", "98", {"credit_percent": "100", "credit_amount": "900.00"}),
        # Enterprise with no Schedule A agreed: no remedy, so no credit (was a made-up 10 %, issue 12 item 14)
        ("enterprise", "99.92", {"sla": "99.95", "credit_percent": None, "credit_amount": None}),
    ],
)
def test_credit_json_for_each_plan(request, fixture, uptime, expected):
    client = request.getfixturevalue(fixture)
    data = credit(client.slug, uptime)
    assert {key: data[key] for key in expected} == expected
    assert data["currency"] == "EUR"


def test_credit_json_keys_and_cap_flag(acme):
    data = credit("acme", "99.0")
    assert list(data)[:1] == ["sla"]
    assert {"sla", "shortfall", "credit_percent", "credit_amount", "currency"} <= set(data)
    assert data["capped_at_fee"] is True
    assert data["started_steps"] == 9
    assert data["reading"] == (
        "20 % of the monthly fee per started 0.1 % below the SLA; capped at the monthly fee"
    )


def test_credit_proportional_reading(acme):
    Contract.objects.filter(client=acme).update(credit_rounding="proportional")
    data = credit("acme", "99.75")  # 20 % × 0.15 / 0.1 = 30 %
    assert data["credit_percent"] == "30"
    assert data["credit_amount"] == "270.00"
    assert "pro rata per 0.1 %" in data["reading"]


def test_credit_human_output_explains_the_reading(acme):
    out = run("credit", "--contract", "acme", "--uptime", "99.75%")
    assert "20 % of the monthly fee per started 0.1 % below the SLA; capped at the monthly fee" in out
    assert "shortfall 0.15 % → 2 started steps" in out
    assert "40 % of 900.00 EUR = 360.00 EUR" in out


def test_credit_human_output_for_a_schedule_a_table(schedule_a):
    out = run("credit", "--contract", "umbrella", "--uptime", "99.92")
    assert "below 99.95 %: 15 % of the fee" in out
    assert "15 % of 900.00 EUR = 135.00 EUR" in out


# --- no invented remedy (issue 12, item 14) -------------------------------------------------------------
def test_credit_without_an_agreed_schedule_a_is_null_in_json(enterprise):
    data = credit("umbrella", "98")
    assert (data["credit_percent"], data["credit_amount"]) == (None, None)
    assert data["remedy"] == data["reading"] == "remedy per Schedule A — not agreed in this contract"
    assert (data["sla"], data["uptime"], data["shortfall"], data["started_steps"]) == (
        "99.95",
        "98",
        "1.95",
        None,
    )
    assert data["capped_at_fee"] is False


def test_credit_without_an_agreed_schedule_a_says_so(enterprise):
    out = run("credit", "--contract", "umbrella", "--uptime", "98")
    assert "rule       remedy per Schedule A — not agreed in this contract" in out
    assert "credit     none computed: remedy per Schedule A — not agreed in this contract" in out
    assert "EUR" not in out  # no amount at all, not even 0.00
    assert "never paid out" not in out


def test_credit_per_site_without_an_agreed_schedule_a(enterprise):
    data = credit_sites("umbrella", "https://umbrella.test=98")
    assert (data["credit_amount"], data["credit_percent"], data["capped"]) == (None, None, False)
    assert data["sites"][0]["credit_amount"] is None
    assert data["sites"][0]["uptime"] == "98"


# --- several sites: per-site credits, the month's total capped at the fee (issue 12, item 3) ---------------
@pytest.fixture
def schedule_a(enterprise) -> Client:
    table = [{"below": "99.95", "percent": "15"}, {"below": "99.0", "percent": "100"}]
    Contract.objects.filter(client=enterprise).update(credit_table=table)
    return enterprise


@pytest.fixture
def two_sites(acme) -> Client:
    """Acme (Business, 900.00 EUR) with a second site: each site's share is 450.00 EUR."""
    Site.objects.create(client=acme, url="https://shop.acme.test", platform="shopify")
    return acme


def credit_sites(slug: str, *figures: str) -> dict:
    args = ["credit", "--contract", slug, "--json"]
    for figure in figures:
        args += ["--uptime", figure]
    return json.loads(run(*args))


def test_two_sites_at_180_percent_each_earn_the_fee_once(two_sites):
    Contract.objects.filter(client=two_sites).update(credit_basis="full_fee")
    data = credit_sites("acme", "https://acme.test=99.0", "https://shop.acme.test=99.0")
    assert [site["credit_amount"] for site in data["sites"]] == ["900.00", "900.00"]
    assert (data["credit_amount"], data["uncapped_amount"], data["capped"]) == ("900.00", "1800.00", True)
    assert data["credit_percent"] == "100"
    assert (data["credit_basis"], data["basis_amount"]) == ("full_fee", "900.00")


def test_fee_share_counts_each_site_on_its_share(two_sites):
    data = credit_sites("acme", "https://acme.test/=99.75", "https://shop.acme.test=99.95")
    assert data["sites"] == [
        {
            "site": "https://acme.test",
            "uptime": "99.75",
            "credit_percent": "40",
            "credit_amount": "180.00",
            "shortfall": "0.15",
            "started_steps": 2,
        },
        {
            "site": "https://shop.acme.test",
            "uptime": "99.95",
            "credit_percent": "0",
            "credit_amount": "0.00",
            "shortfall": "0",
            "started_steps": 0,
        },
    ]
    assert (data["credit_amount"], data["capped"], data["credit_percent"]) == ("180.00", False, "20")
    assert (data["credit_basis"], data["basis_amount"], data["covered_sites"]) == ("fee_share", "450.00", 2)
    assert {"sla", "shortfall", "credit_percent", "credit_amount", "currency"} <= set(data)


def test_fee_share_sites_both_down_reach_the_fee_exactly(two_sites):
    data = credit_sites("acme", "https://acme.test=90", "https://shop.acme.test=90")
    assert (data["credit_amount"], data["uncapped_amount"], data["capped"]) == ("900.00", "900.00", False)


def test_a_bare_figure_on_a_two_site_contract_is_one_sites_credit(two_sites):
    data = credit("acme", "99.75")  # 40 % of the site's 450.00 share, not of the whole fee
    assert (data["credit_percent"], data["credit_amount"], data["basis_amount"]) == ("40", "180.00", "450.00")
    out = run("credit", "--contract", "acme", "--uptime", "99.75")
    assert "basis      one site's share of the monthly fee: 900.00 EUR ÷ 2 sites = 450.00 EUR" in out
    assert "40 % of 450.00 EUR = 180.00 EUR" in out


def test_site_form_on_a_one_site_contract_matches_the_bare_figure(acme):
    bare, keyed = credit("acme", "99.75"), credit_sites("acme", "https://acme.test=99.75")
    assert keyed["credit_amount"] == bare["credit_amount"] == "360.00"
    assert keyed["sites"][0]["credit_percent"] == bare["credit_percent"] == "40"


def test_credit_per_site_human_output_shows_each_site_and_the_cap(two_sites):
    Contract.objects.filter(client=two_sites).update(credit_basis="full_fee")
    out = run(
        "credit",
        "--contract",
        "acme",
        "--uptime",
        "https://acme.test=99.0",
        "--uptime",
        "https://shop.acme.test=99.8",
    )
    assert "basis      the full monthly fee per site: 900.00 EUR" in out
    assert "site       https://acme.test\n           uptime 99 %   shortfall 0.9 % → 9 started steps\n" in out
    assert "           credit 100 % of 900.00 EUR = 900.00 EUR" in out
    assert "site       https://shop.acme.test" in out
    assert "           credit 20 % of 900.00 EUR = 180.00 EUR" in out
    assert (
        "total      900.00 EUR — capped at the monthly fee (the sites' credits add up to 1,080.00 EUR)" in out
    )


def test_credit_per_site_human_output_names_sites_without_a_figure(two_sites):
    out = run("credit", "--contract", "acme", "--uptime", "https://shop.acme.test=99.85")
    assert "not given  https://acme.test (no figure given: no credit; its share still counts)" in out
    assert "total      90.00 EUR (cap: the monthly fee, 900.00 EUR; not reached)" in out


@pytest.mark.parametrize(
    ("figures", "message"),
    [
        (
            ["https://nope.test=99"],
            (
                "--uptime 'https://nope.test=99': 'https://nope.test' is not a site of Acme GmbH "
                "(its sites: https://acme.test, https://shop.acme.test)"
            ),
        ),
        (
            ["https://acme.test=99", "99.5"],
            "--uptime '99.5': a bare figure mixed with SITE_URL=PCT figures",
        ),
        (["99", "98"], "--uptime given 2 times without a site ('99', '98')"),
        (["https://acme.test=99", "https://acme.test/=98"], "https://acme.test is given twice"),
        (["https://acme.test=abc"], "--uptime 'https://acme.test=abc': not a number"),
        (["https://acme.test=101"], "--uptime 'https://acme.test=101': must be a percentage"),
    ],
)
def test_bad_site_figures_are_command_errors_naming_the_value(two_sites, figures, message):
    with pytest.raises(CommandError, match=_literal(message)):
        credit_sites("acme", *figures)


# --- the real console script ---------------------------------------------------------------------------
SEED = textwrap.dedent(
    """
    import datetime as dt
    from decimal import Decimal
    from sitekeeper.contracts.models import Calendar, CalendarVersion, Client, Contract, Plan, Site
    cal = Calendar.objects.create(slug="hq")
    CalendarVersion.objects.create(
        calendar=cal, number=1, timezone="Europe/Berlin",
        hours={d: ["09:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
        holiday_country="DE", closures=["2026-12-31"],
    )
    client = Client.objects.create(slug="acme", name="Acme GmbH")
    Contract.objects.create(
        client=client, plan=Plan.objects.get(slug="business"), calendar=cal,
        start=dt.date(2026, 1, 1), monthly_fee=Decimal("900.00"), currency="EUR",
    )
    two = Client.objects.create(slug="globex", name="Globex Inc")
    Contract.objects.create(
        client=two, plan=Plan.objects.get(slug="business"), calendar=cal,
        start=dt.date(2026, 1, 1), monthly_fee=Decimal("900.00"), currency="EUR",
    )
    Site.objects.create(client=two, url="https://globex.test", platform="wordpress")
    Site.objects.create(client=two, url="https://shop.globex.test", platform="shopify")
    """
)


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory) -> dict[str, str]:
    """A fresh SITEKEEPER_HOME with a migrated SQLite database holding one Business contract."""
    env = {**os.environ, "SITEKEEPER_HOME": str(tmp_path_factory.mktemp("home"))}
    env.pop("SITEKEEPER_DATABASE_URL", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    subprocess.run([SITEKEEPER, "migrate", "-v0"], env=env, check=True, capture_output=True, timeout=120)
    subprocess.run([SITEKEEPER, "shell", "-c", SEED], env=env, check=True, capture_output=True, timeout=60)
    return env


def sitekeeper(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SITEKEEPER, *args], check=False, env=env, capture_output=True, text=True, timeout=60
    )


def test_console_script_prints_exact_json(cli_env):
    done = sitekeeper(
        cli_env,
        "sla", "due", "--contract", "acme", "--priority", "P2",
        "--received", "2026-12-23T17:00:00+01:00",
        "--pause", "2026-12-24T10:00:00+01:00/2026-12-24T12:00:00+01:00",
        "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        '{"response_due": "2026-12-24T17:00:00+00:00", "resolution_due": null, "recovery_due": null}\n'
    )


def test_console_script_exits_non_zero_naming_the_unknown_contract(cli_env):
    done = sitekeeper(
        cli_env, "sla", "due", "--contract", "nope", "--priority", "P1", "--received", "2026-12-23T17:00Z"
    )
    assert done.returncode != 0
    assert "unknown contract 'nope'" in done.stderr
    assert done.stdout == ""


def test_console_script_exits_non_zero_on_a_naive_instant(cli_env):
    done = sitekeeper(
        cli_env, "sla", "due", "--contract", "acme", "--priority", "P1", "--received", "2026-12-23T17:00"
    )
    assert done.returncode != 0
    assert "no offset" in done.stderr


def test_console_script_credit_json(cli_env):
    done = sitekeeper(cli_env, "sla", "credit", "--contract", "acme", "--uptime", "99.75", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["sla"], data["credit_amount"], data["currency"]) == ("99.9", "360.00", "EUR")


def test_console_script_credit_over_several_sites(cli_env):
    done = sitekeeper(
        cli_env,
        "sla", "credit", "--contract", "globex",
        "--uptime", "https://globex.test=99.0", "--uptime", "https://shop.globex.test=98.5", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    # each site 100 % of its 450.00 share: 900.00 in all, exactly the fee
    assert [site["credit_amount"] for site in data["sites"]] == ["450.00", "450.00"]
    assert (data["credit_amount"], data["capped"]) == ("900.00", False)


def test_console_script_names_an_unknown_site(cli_env):
    done = sitekeeper(cli_env, "sla", "credit", "--contract", "globex", "--uptime", "https://x.test=99")
    assert done.returncode != 0
    assert "'https://x.test' is not a site of Globex Inc" in done.stderr


def test_instants_are_never_naive():
    # The command turns every instant to UTC; a guard that the helper rejects naive ones outright.
    from sitekeeper.contracts.management.commands.sla import parse_instant

    assert parse_instant("2026-12-24T10:00+01:00", "x") == dt.datetime(2026, 12, 24, 9, tzinfo=dt.UTC)
    with pytest.raises(CommandError):
        parse_instant("2026-12-24T10:00", "x")
