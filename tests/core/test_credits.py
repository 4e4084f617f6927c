"""Service credits: each built-in plan's rule at its exact boundaries, the proportional reading, the cap at
the monthly fee, rounding to the currency's minor unit, and refusals of bad input."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from sitekeeper.core.credits import (
    CreditError,
    CreditRule,
    compute_credit,
    contract_credit,
    credit_percent,
    shortfall,
    site_credit,
    started_steps,
    to_decimal,
    to_fraction,
    uncapped_percent,
)

# The agreement's table 2.3 and the default Schedule A (contracts/plans.py).
STARTER = CreditRule.from_data("steps", rate="10", step="1")  # SLA 99.0
PROFESSIONAL = CreditRule.from_data("steps", rate="15", step="0.5")  # SLA 99.5
BUSINESS = CreditRule.from_data("steps", rate="20", step="0.1")  # SLA 99.9
ENTERPRISE_TABLE = [
    {"below": "99.95", "percent": "10"},
    {"below": "99.9", "percent": "25"},
    {"below": "99.5", "percent": "50"},
    {"below": "99.0", "percent": "100"},
]
ENTERPRISE = CreditRule.from_data("table", table=ENTERPRISE_TABLE)  # SLA 99.95
FEE = "900.00"


@pytest.mark.parametrize(
    ("uptime", "shortfall_text", "steps", "percent", "amount", "capped"),
    [
        ("100", "0", 0, "0", "0.00", False),
        ("99.5", "0", 0, "0", "0.00", False),  # above the SLA
        ("99.0", "0", 0, "0", "0.00", False),  # exactly the SLA
        ("98.99", "0.01", 1, "10", "90.00", False),  # 0.01 below: one started step
        ("98.0", "1", 1, "10", "90.00", False),  # exactly one step
        ("97.99", "1.01", 2, "20", "180.00", False),  # a second step started
        ("90.0", "9", 9, "90", "810.00", False),
        ("89.5", "9.5", 10, "100", "900.00", False),  # exactly the fee: not capped
        ("85", "14", 14, "100", "900.00", True),  # 140 % capped at the fee
        ("0", "99", 99, "100", "900.00", True),
    ],
)
def test_starter(uptime, shortfall_text, steps, percent, amount, capped):  # noqa: PLR0917 - one table row
    credit = compute_credit(STARTER, "99.0", uptime, FEE, "EUR")
    assert credit.shortfall == Decimal(shortfall_text)
    assert str(credit.shortfall) == shortfall_text
    assert credit.steps == steps
    assert str(credit.credit_percent) == percent
    assert str(credit.credit_amount) == amount
    assert credit.capped is capped


@pytest.mark.parametrize(
    ("uptime", "steps", "percent", "amount", "capped"),
    [
        ("99.5", 0, "0", "0.00", False),
        ("99.49", 1, "15", "135.00", False),
        ("99.0", 1, "15", "135.00", False),  # 0.5 exactly: one step
        ("98.99", 2, "30", "270.00", False),  # 0.51: two started steps
        ("97.0", 5, "75", "675.00", False),  # 2.5 / 0.5 = 5
        ("96.0", 7, "100", "900.00", True),  # 105 % capped
    ],
)
def test_professional(uptime, steps, percent, amount, capped):
    credit = compute_credit(PROFESSIONAL, "99.5", uptime, FEE, "EUR")
    assert (credit.steps, str(credit.credit_percent), str(credit.credit_amount), credit.capped) == (
        steps,
        percent,
        amount,
        capped,
    )


@pytest.mark.parametrize(
    ("uptime", "steps", "percent", "amount", "capped"),
    [
        ("99.95", 0, "0", "0.00", False),
        ("99.9", 0, "0", "0.00", False),  # uptime == SLA
        ("99.89", 1, "20", "180.00", False),  # 0.01 below: one started step
        # Exactly 0.1 below: one step. In floats 99.9 - 99.8 = 0.10000000000000853, which would be two.
        ("99.8", 1, "20", "180.00", False),
        ("99.79", 2, "40", "360.00", False),
        ("99.5", 4, "80", "720.00", False),
        ("99.4", 5, "100", "900.00", False),
        ("99.39", 6, "100", "900.00", True),  # 120 % capped
    ],
)
def test_business(uptime, steps, percent, amount, capped):
    credit = compute_credit(BUSINESS, "99.9", uptime, FEE, "EUR")
    assert (credit.steps, str(credit.credit_percent), str(credit.credit_amount), credit.capped) == (
        steps,
        percent,
        amount,
        capped,
    )


def test_business_with_decimal_inputs():
    credit = compute_credit(BUSINESS, Decimal("99.9"), Decimal("99.8"), Decimal("900.00"), "EUR")
    assert credit.steps == 1
    assert credit.credit_amount == Decimal("180.00")


@pytest.mark.parametrize(
    ("uptime", "percent", "amount"),
    [
        ("100", "0", "0.00"),
        ("99.95", "0", "0.00"),  # the SLA itself: not below 99.95
        ("99.94", "10", "90.00"),
        ("99.9", "10", "90.00"),  # not below 99.9: still the first row
        ("99.89", "25", "225.00"),
        ("99.5", "25", "225.00"),
        ("99.49", "50", "450.00"),
        ("99.0", "50", "450.00"),
        ("98.99", "100", "900.00"),
        ("0", "100", "900.00"),
    ],
)
def test_enterprise_table(uptime, percent, amount):
    credit = compute_credit(ENTERPRISE, "99.95", uptime, FEE, "EUR")
    assert (str(credit.credit_percent), str(credit.credit_amount)) == (percent, amount)
    assert credit.steps is None
    assert credit.capped is False


def test_table_order_does_not_matter():
    shuffled = CreditRule.from_data("table", table=list(reversed(ENTERPRISE_TABLE)))
    for uptime in ("99.94", "99.89", "99.49", "98.99"):
        assert compute_credit(shuffled, "99.95", uptime, FEE, "EUR") == compute_credit(
            ENTERPRISE, "99.95", uptime, FEE, "EUR"
        )


def test_table_with_the_sla_below_its_top_row():
    # A contract whose SLA (99.9) is below the table's top row pays nothing while the SLA is met.
    assert compute_credit(ENTERPRISE, "99.9", "99.92", FEE, "EUR").credit_percent == 0
    assert str(compute_credit(ENTERPRISE, "99.9", "99.89", FEE, "EUR").credit_percent) == "25"


@pytest.mark.parametrize(
    ("rule", "sla", "uptime", "percent", "amount", "capped"),
    [
        # Business pro rata: 20 % × shortfall / 0.1.
        (("20", "0.1"), "99.9", "99.85", "10", "100.00", False),  # 0.05 → 10 %
        (("20", "0.1"), "99.9", "99.89", "2", "20.00", False),  # 0.01 → 2 %
        (("20", "0.1"), "99.9", "99.9", "0", "0.00", False),
        (("20", "0.1"), "99.9", "99.3", "100", "1000.00", True),  # 0.6 → 120 % capped
        # Starter pro rata: 0.5 below → 5 %.
        (("10", "1"), "99.0", "98.5", "5", "50.00", False),
        # A step that does not divide: 10 % per 0.3, 0.1 below → 10/3 % = 3.3333 %, 33.33.
        (("10", "0.3"), "99.0", "98.9", "3.3333", "33.33", False),
    ],
)
def test_proportional(rule, sla, uptime, percent, amount, capped):  # noqa: PLR0917 - one table row
    rate, step = rule
    proportional = CreditRule.from_data("steps", rate=rate, step=step, reading="proportional")
    credit = compute_credit(proportional, sla, uptime, "1000.00", "EUR")
    assert (str(credit.credit_percent), str(credit.credit_amount), credit.capped) == (percent, amount, capped)
    assert credit.steps is None


def test_proportional_amount_comes_from_the_exact_percent():
    # 10/3 % of 200.00 = 6.666… → 6.67 (from the rounded 3.3333 % it would be 6.6666 → 6.67 too, but of
    # 10 000 000.00 it is 333 333.33, not 333 330.00).
    rule = CreditRule.from_data("steps", rate="10", step="0.3", reading="proportional")
    assert compute_credit(rule, "99.0", "98.9", "200.00", "EUR").credit_amount == Decimal("6.67")
    assert compute_credit(rule, "99.0", "98.9", "10000000.00", "EUR").credit_amount == Decimal("333333.33")
    # The same rule counted in started steps: ceil(0.1 / 0.3) = 1 step → 10 %.
    started = CreditRule.from_data("steps", rate="10", step="0.3")
    assert compute_credit(started, "99.0", "98.9", "200.00", "EUR").credit_amount == Decimal("20.00")


@pytest.mark.parametrize(
    ("rule", "sla", "uptime", "fee", "currency", "amount"),
    [
        # 15 % of 12.30 = 1.845 → 1.85 (half up; banker's rounding would give 1.84).
        (PROFESSIONAL, "99.5", "99.4", "12.30", "EUR", "1.85"),
        # 20 % of 0.05 = 0.01.
        (BUSINESS, "99.9", "99.85", "0.05", "USD", "0.01"),
        # 15 % of 12 345 JPY = 1851.75 → 1852 (no minor unit).
        (PROFESSIONAL, "99.5", "99.4", "12345", "JPY", "1852"),
        # 50 % of 1001 JPY = 500.5 → 501.
        (ENTERPRISE, "99.95", "99.4", "1001", "jpy", "501"),
        # A JPY fee written with zero decimals is still whole yen: 10 % of 5000 = 500.
        (STARTER, "99.0", "98.5", "5000.00", "JPY", "500"),
        (STARTER, "99.0", "98.5", "123457", "KRW", "12346"),  # 12 345.7 → 12 346
    ],
)
def test_rounding_to_the_minor_unit(rule, sla, uptime, fee, currency, amount):  # noqa: PLR0917
    credit = compute_credit(rule, sla, uptime, fee, currency)
    assert str(credit.credit_amount) == amount
    assert credit.currency == currency.upper()


def test_capped_amount_equals_the_fee():
    credit = compute_credit(STARTER, "99.0", "50", "1234.56", "EUR")
    assert credit.capped
    assert credit.credit_amount == Decimal("1234.56")
    assert compute_credit(STARTER, "99.0", "50", "0", "EUR").credit_amount == Decimal("0.00")


def test_measured_uptime_as_an_exact_fraction():
    # 45 minutes down in a 30-day month: 100 × (1 − 2700 / 2 592 000) = 99.8958333… %; 0.0041666… below
    # 99.9 is one started step of 0.1 → 20 %. Shown rounded to 4 places; counted exactly.
    uptime = 100 * (1 - Fraction(45 * 60, 30 * 24 * 3600))
    credit = compute_credit(BUSINESS, "99.9", uptime, FEE, "EUR")
    assert credit.uptime == Decimal("99.8958")
    assert credit.shortfall == Decimal("0.0042")
    assert credit.steps == 1
    assert credit.credit_amount == Decimal("180.00")
    # A measured uptime exactly at the SLA earns nothing.
    assert compute_credit(BUSINESS, "99.9", Fraction(999, 10), FEE, "EUR").credit_amount == Decimal("0.00")


def test_as_json():
    credit = compute_credit(BUSINESS, "99.9", "99.79", FEE, "eur")
    assert credit.as_json() == {
        "sla": "99.9",
        "uptime": "99.79",
        "shortfall": "0.11",
        "started_steps": 2,
        "credit_percent": "40",
        "credit_amount": "360.00",
        "currency": "EUR",
        "capped_at_fee": False,
    }


def test_helpers():
    assert shortfall(Fraction(999, 10), Fraction(998, 10)) == Fraction(1, 10)
    assert shortfall(Fraction(999, 10), Fraction(100)) == 0
    assert started_steps(Fraction(1, 10), Fraction(1, 10)) == 1
    assert started_steps(Fraction(11, 100), Fraction(1, 10)) == 2
    assert uncapped_percent(STARTER, Fraction(99), Fraction(85)) == 140
    assert credit_percent(STARTER, Fraction(99), Fraction(85)) == 100
    assert to_fraction(" 99.95 ", "x") == Fraction(1999, 20)
    assert to_fraction(Fraction(1, 3), "x") == Fraction(1, 3)


@pytest.mark.parametrize(
    ("value", "places", "text"),
    [
        (Fraction(5, 2), None, "2.5"),
        (Fraction(100), None, "100"),
        (Fraction(0), None, "0"),
        (Fraction(1, 3), None, "0.3333"),
        (Fraction(2, 3), None, "0.6667"),
        (Fraction(1, 8), Decimal("0.01"), "0.13"),  # half up
        (Fraction(3, 2), Decimal(1), "2"),
    ],
)
def test_to_decimal(value, places, text):
    assert str(to_decimal(value, places)) == text


def test_describe():
    assert BUSINESS.describe() == "20 % of the monthly fee per started 0.1 % below the SLA"
    proportional = CreditRule.from_data("steps", rate="15", step="0.5", reading="proportional")
    assert proportional.describe() == "15 % of the monthly fee pro rata per 0.5 % below the SLA"
    assert ENTERPRISE.describe() == (
        "below 99.95 %: 10 % of the fee; below 99.9 %: 25 % of the fee; "
        "below 99.5 %: 50 % of the fee; below 99 %: 100 % of the fee"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "percent", "rate": "10", "step": "1"}, "kind"),
        ({"kind": "steps", "rate": "10", "step": "1", "reading": "rounded"}, "reading"),
        ({"kind": "steps", "rate": "10"}, "both a rate and a step"),
        ({"kind": "steps", "step": "1"}, "both a rate and a step"),
        ({"kind": "steps", "rate": "10", "step": "0"}, "positive"),
        ({"kind": "steps", "rate": "10", "step": "-1"}, "positive"),
        ({"kind": "steps", "rate": "-10", "step": "1"}, "not negative"),
        ({"kind": "steps", "rate": "ten", "step": "1"}, "not a decimal"),
        ({"kind": "steps", "rate": "10", "step": "NaN"}, "finite"),
        ({"kind": "steps", "rate": "Infinity", "step": "1"}, "finite"),
        ({"kind": "table", "table": []}, "at least one row"),
        ({"kind": "table"}, "at least one row"),
        ({"kind": "table", "table": [{"below": "99.9"}]}, "'below' and 'percent'"),
        ({"kind": "table", "table": [{"percent": "10"}]}, "'below' and 'percent'"),
        ({"kind": "table", "table": ["99.9"]}, "'below' and 'percent'"),
        ({"kind": "table", "table": [{"below": "x", "percent": "10"}]}, "not a decimal"),
        ({"kind": "table", "table": [{"below": "99.9", "percent": "-10"}]}, "not negative"),
        ({"kind": "table", "table": [{"below": "101", "percent": "10"}]}, "0..100"),
    ],
)
def test_bad_rules(kwargs, message):
    with pytest.raises(CreditError, match=message):
        CreditRule.from_data(**kwargs)


@pytest.mark.parametrize(
    ("sla", "uptime", "fee", "currency", "message"),
    [
        ("99.9", "abc", "900.00", "EUR", "not a decimal"),
        ("99.9", "", "900.00", "EUR", "not a decimal"),
        ("99.9", "100.01", "900.00", "EUR", "between 0 and 100"),
        ("99.9", "-1", "900.00", "EUR", "between 0 and 100"),
        ("99.9", "NaN", "900.00", "EUR", "finite"),
        ("101", "99", "900.00", "EUR", "SLA"),
        ("-1", "99", "900.00", "EUR", "SLA"),
        ("x", "99", "900.00", "EUR", "not a decimal"),
        ("99.9", "99", "-1.00", "EUR", "not be negative"),
        ("99.9", "99", "lots", "EUR", "not a decimal"),
        ("99.9", "99", "900.005", "EUR", "minor unit"),  # a fee finer than a cent
        ("99.9", "99", "1000.5", "JPY", "minor unit"),  # a fee finer than a yen
        ("99.9", "99", "900.00", "", "three-letter"),
        ("99.9", "99", "900.00", "EURO", "three-letter"),
        ("99.9", "99", "900.00", "€", "three-letter"),
    ],
)
def test_bad_figures(sla, uptime, fee, currency, message):
    with pytest.raises(CreditError, match=message):
        compute_credit(BUSINESS, sla, uptime, fee, currency)


# --- a contract's month: per-site credits against a basis, the total capped at the fee (issue 12, item 3) ---
TWO_SITES = {"https://shop.test": "99.0", "https://blog.test": "99.0"}  # Business: 9 steps = 180 % each


def test_two_sites_never_earn_more_than_the_fee_in_a_month():
    # Before: each site was capped alone, so two sites earned 2 × 900.00 on a 900.00 fee.
    full = contract_credit(BUSINESS, "99.9", TWO_SITES, FEE, "EUR", basis="full_fee")
    assert [site.credit_amount for site in full.sites] == [Decimal("900.00"), Decimal("900.00")]
    assert (full.uncapped_amount, full.credit_amount, full.capped) == (
        Decimal("1800.00"),
        Decimal("900.00"),
        True,
    )


def test_fee_share_splits_the_fee_between_the_covered_sites():
    result = contract_credit(BUSINESS, "99.9", {"https://shop.test": "99.75"}, FEE, "EUR", covered_sites=3)
    assert result.basis == "fee_share"
    assert result.basis_amount == Decimal("300.00")  # 900.00 ÷ 3 sites
    (site,) = result.sites
    assert (site.uptime, site.credit_percent, site.credit_amount) == (
        Decimal("99.75"),
        Decimal("40"),
        Decimal("120.00"),
    )
    assert (result.credit_amount, result.capped) == (Decimal("120.00"), False)


def test_rounding_up_each_share_never_lifts_the_total_above_the_fee():
    # 200.00 ÷ 3 = 66.666…: each full share rounds half-up to 66.67, three of them to 200.01.
    down = dict.fromkeys(("https://a.test", "https://b.test", "https://c.test"), "0")
    result = contract_credit(STARTER, "99.0", down, "200.00", "EUR")
    assert result.uncapped_amount == Decimal("200.01")
    assert (result.credit_amount, result.capped) == (Decimal("200.00"), True)


def test_an_unmeasured_site_earns_nothing_and_keeps_its_share():
    uptimes = {"https://shop.test": "98.9", "https://blog.test": None}
    result = contract_credit(BUSINESS, "99.9", uptimes, FEE, "EUR")
    shop, blog = result.sites
    assert shop.credit_amount == Decimal("450.00")  # 100 % of the 450.00 share
    assert (blog.uptime, blog.credit_percent, blog.credit_amount) == (None, None, None)
    assert blog.as_json() == {
        "site": "https://blog.test",
        "uptime": None,
        "credit_percent": None,
        "credit_amount": None,
    }
    assert result.credit_amount == Decimal("450.00")


def test_no_remedy_agreed_computes_nothing():
    result = contract_credit(None, "99.95", {"https://museum.test": "98.0"}, FEE, "EUR")
    assert (result.credit_amount, result.uncapped_amount, result.capped) == (None, None, False)
    (site,) = result.sites
    assert (site.uptime, site.credit_percent, site.credit_amount) == (Decimal("98.0"), None, None)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"monthly_fee": "900.005"}, "minor unit"),  # else a 100 % credit rounds above the fee
        ({"monthly_fee": "-1.00"}, "not be negative"),
        ({"sla": "101"}, "SLA"),
        ({"currency": "EURO"}, "three-letter"),
        ({"uptimes": {"https://a.test": "100.5"}}, "uptime of https://a.test 100.5"),
        ({"basis": "per_site"}, "credit basis"),
        ({"covered_sites": 1}, "2 sites given but only 1 covered"),
    ],
)
def test_contract_credit_refuses_bad_figures(kwargs, message):
    args = {"sla": "99.9", "uptimes": TWO_SITES, "monthly_fee": FEE, "currency": "EUR", **kwargs}
    with pytest.raises(CreditError, match=message):
        contract_credit(BUSINESS, **args)


def test_contract_credit_refuses_bad_uptime_even_without_a_remedy():
    with pytest.raises(CreditError, match="must be between 0 and 100"):
        contract_credit(None, "99.95", {"https://a.test": "-3"}, FEE, "EUR")


@pytest.mark.parametrize("basis", ["fee_share", "full_fee"])
@pytest.mark.parametrize("uptime", ["99.95", "99.2", "97.31", "0"])
def test_one_sites_credit_is_its_row_of_the_contracts_month(basis, uptime):
    """site_credit (the uptime page's figure) and contract_credit (the month's total) agree for each site."""
    rule = CreditRule.from_data("steps", rate="20", step="0.1")
    alone = site_credit(rule, "99.9", uptime, "1000.00", "EUR", basis=basis, covered_sites=3)
    month = contract_credit(
        rule, "99.9", {"a": uptime, "b": "99.9"}, "1000.00", "EUR", basis=basis, covered_sites=3
    )
    row = month.sites[0]
    assert (alone.credit_percent, alone.credit_amount) == (row.credit_percent, row.credit_amount)
    assert alone.uptime == row.uptime
