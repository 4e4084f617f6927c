"""Hostile and absurd contract files (issue 14.5): each is refused within a second with one
`file:line: key: message` line, and nothing in the database changes."""

from __future__ import annotations

import datetime as dt
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from sitekeeper.contracts.apply import ApplyError, apply_file
from sitekeeper.contracts.models import Contract
from sitekeeper.contracts.service import contracts_in_service
from sitekeeper.contracts.yamlio import MAX_BYTES
from sitekeeper.core.term import add_months
from tests.contracts.apply_support import EXAMPLE, state, write

pytestmark = pytest.mark.django_db

# Nine lines that expand to ten million strings: 2 GB of memory before the limits.
BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g,*g]
clients: *h
"""

DEEP = "clients: " + "[" * 5000 + "]" * 5000 + "\n"
# An alias that is 18 levels deep, used 5 levels down: 23 levels once expanded.
DEEP_BY_ALIAS = "x: &x " + "[" * 18 + "]" * 18 + "\nclients: [[[[*x]]]]\n"
RECURSIVE = "clients: &loop [*loop]\n"


def contract_line(extra: str) -> str:
    """EXAMPLE with `extra` added to the contract mapping (line 13)."""
    return EXAMPLE.replace("calendar: hq}", f"calendar: hq, {extra}}}")


@pytest.fixture(autouse=True)
def _warm(tmp_path):
    """The first check in a process imports the holiday tables and compiles the schema (half a second,
    more on a busy machine); the timings below are of refusing a file, so that cost is paid here."""
    apply_file(write(tmp_path, EXAMPLE, "warm.yaml"), dry_run=True)


def refused(path: Path) -> list[str]:
    """Apply `path`, which must fail within a second, and return the error lines. The second is of this
    process's CPU time: the suite shares the machine with other workers, whose load would stretch a wall
    clock without the refusal doing any more work."""
    began = time.process_time()
    with pytest.raises(ApplyError) as raised:
        apply_file(path)
    assert time.process_time() - began < 1.0
    return raised.value.errors


CASES = [
    pytest.param(
        BILLION_LAUGHS,
        "5: e: holds more than 100,000 values once its aliases are expanded; a contract file is far smaller "
        "(an alias bomb?)",
        id="billion-laughs",
    ),
    pytest.param(
        DEEP,
        "1: clients" + "[0]" * 19 + ": nested more than 20 levels deep; a contract file needs 7",
        id="deep-nesting",
    ),
    pytest.param(
        DEEP_BY_ALIAS,
        "2: clients[0][0][0][0]: alias *x nests the file more than 20 levels deep",
        id="deep-by-alias",
    ),
    pytest.param(RECURSIVE, "1: clients[0]: alias *loop is inside the node it names", id="recursive-alias"),
    pytest.param(
        EXAMPLE.replace("start: 2026-01-01", "start: 2026-02-30"),
        "13: clients[0].contract.start: '2026-02-30' is not a date: February 2026 has 28 days",
        id="impossible-date",
    ),
    pytest.param(
        EXAMPLE.replace("start: 2026-01-01", "start: 2026-13-01"),
        "13: clients[0].contract.start: '2026-13-01' is not a date: there is no month 13",
        id="no-such-month",
    ),
    pytest.param(
        EXAMPLE.replace("start: 2026-01-01", "start: 9999-12-01"),
        "13: clients[0].contract.start: '9999-12-01' is outside the dates a contract file accepts "
        "(2000-01-01 to 2100-12-31)",
        id="start-in-9999",
    ),
    pytest.param(
        EXAMPLE.replace("start: 2026-01-01", "start: 1999-12-31"),
        "13: clients[0].contract.start: '1999-12-31' is outside the dates a contract file accepts "
        "(2000-01-01 to 2100-12-31)",
        id="start-before-2000",
    ),
    pytest.param(
        EXAMPLE.replace("closures: [2026-12-31]", "closures: [2026-12-31, 2101-01-01]"),
        "6: calendars.hq.closures[1]: '2101-01-01' is outside the dates a contract file accepts "
        "(2000-01-01 to 2100-12-31)",
        id="closure-after-2100",
    ),
    pytest.param(
        contract_line("status: cancelling, notice_given_on: 20260-05-01"),
        "13: clients[0].contract.notice_given_on: '20260-05-01' is not a date (YYYY-MM-DD)",
        id="five-digit-year",
    ),
    pytest.param(
        contract_line("minimum_term_months: " + "9" * 5000),
        "13: clients[0].contract.minimum_term_months: a number of 5000 digits is far beyond any setting here",
        id="5000-digit-integer",
    ),
    pytest.param(
        contract_line("minimum_term_months: 121"),
        "13: clients[0].contract.minimum_term_months: 121 is greater than the maximum of 120",
        id="term-over-ten-years",
    ),
    pytest.param(
        EXAMPLE.replace('monthly_fee: "900.00"', 'monthly_fee: "99999999999"'),
        "13: clients[0].contract.monthly_fee: '99999999999' is not a decimal with at most 10 digits before "
        'and 2 after the point, quoted, e.g. "900.00"',
        id="fee-too-large",
    ),
    pytest.param(
        contract_line('credit_table: [{below: "99.9", percent: "150"}]').replace("business", "enterprise"),
        "13: clients[0].contract.credit_table[0].percent: 150 is more than 100 "
        "(a percent of the monthly fee)",
        id="credit-percent-over-100",
    ),
    pytest.param(
        EXAMPLE + 'plans:\n  business: {credit_rate: "250", credit_step: "0.1"}\n',
        "17: plans.business.credit_rate: 250 is more than 100 (a percent of the monthly fee per step)",
        id="credit-rate-over-100",
    ),
]


@pytest.mark.parametrize(("text", "message"), CASES)
def test_each_hostile_file_is_refused_quickly_with_its_line_and_key(
    tmp_path, monkeypatch, acme, text, message
):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, text, "bad.yaml")
    before = state()

    errors = refused(Path("bad.yaml"))

    assert errors == [f"bad.yaml:{message}"]
    assert state() == before


def test_a_start_more_than_five_years_ahead_is_refused(tmp_path, monkeypatch, acme):
    monkeypatch.chdir(tmp_path)
    latest = add_months(timezone.localdate(), 60)
    too_late = latest + dt.timedelta(days=1)
    write(tmp_path, EXAMPLE.replace("start: 2026-01-01", f"start: {too_late}"), "bad.yaml")
    before = state()

    assert refused(Path("bad.yaml")) == [
        (
            f"bad.yaml:13: clients[0].contract.start: {too_late} is more than 5 years ahead "
            f"(the latest start is {latest})"
        )
    ]
    assert state() == before


def test_a_file_over_the_size_limit_is_refused_before_it_is_parsed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, EXAMPLE + "#" + "x" * MAX_BYTES + "\n", "big.yaml")

    assert refused(Path("big.yaml")) == [
        "big.yaml: the file is larger than 1,048,576 bytes, the most a contract file may be"
    ]


def test_an_endless_stream_is_read_only_up_to_the_limit():
    assert refused(Path("/dev/zero")) == [
        "/dev/zero: the file is larger than 1,048,576 bytes, the most a contract file may be"
    ]


def test_anchors_and_merge_keys_within_the_limits_still_work(tmp_path):
    text = (
        EXAMPLE.replace("    hours: {mon:", "    hours: &office {mon:")
        + "  - slug: globex\n    name: Globex\n    contacts:\n      - {name: Gil, email: gil@globex.test, "
        "role: product_owner}\n    contract: {<<: *terms, start: 2026-02-01}\n    sites: []\n"
    )
    text = text.replace("    contract: {plan: business", "    contract: &terms {plan: business")

    result = apply_file(write(tmp_path, text))

    assert Contract.objects.get(client__slug="globex").start == dt.date(2026, 2, 1)
    assert Contract.objects.get(client__slug="globex").plan.slug == "business"
    assert result.applied


def test_the_latest_dates_a_file_accepts_keep_the_term_and_the_agreement_working(tmp_path, monkeypatch):
    """The dates the limits let through are ones every page and document can compute with: a start five
    years ahead with a ten-year annual term, and notice on the last accepted day."""
    monkeypatch.chdir(tmp_path)
    start = add_months(timezone.localdate(), 60)
    extra = (
        "minimum_term_months: 120, annual_prepayment: true, notice_days: 365, "
        "cancellation_reading: cycle_after_notice_end, status: cancelling, notice_given_on: 2100-12-31"
    )
    text = contract_line(extra).replace("start: 2026-01-01", f"start: {start}")
    apply_file(write(tmp_path, text))

    contract = Contract.objects.get(client__slug="acme")
    assert contract.minimum_term_end == add_months(start, 120) - dt.timedelta(days=1)
    assert contract.effective_end.year == 2102
    assert contract.in_service(dt.date(2100, 12, 31))
    assert contracts_in_service() == []  # it starts in the future
    out = StringIO()
    call_command("term", "acme", "--json", stdout=out)
    assert '"effective_date": "2102-' in out.getvalue()
    agreement = StringIO()
    call_command("contract", "render", "acme", "--format", "md", stdout=agreement)
    assert "Acme GmbH" in agreement.getvalue()
