"""Properties of the contract arithmetic, checked on generated inputs (Hypothesis).

Instants are drawn uniformly over 2025-2028 and, half the time, within three days of a DST switch in
Berlin or New York; calendars include lunch breaks, holidays, whole-day and night-time Sunday hours that
span the switch hour, and an opening inside the spring gap.
"""

from __future__ import annotations

import datetime as dt
import os
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from sitekeeper.core.calendar import BusinessCalendar
from sitekeeper.core.credits import (
    CreditRule,
    compute_credit,
    contract_credit,
    credit_percent,
    minor_unit,
)
from sitekeeper.core.sla import Pause, counted_so_far, due_instant
from sitekeeper.core.targets import counted_length, parse_target
from sitekeeper.core.uptime import monthly_uptime
from tests.core.support import (
    BERLIN,
    WORKDAYS,
    all_sunday,
    lunch,
    night_sunday,
    ny_office,
    office,
    utc,
)

# SITEKEEPER_PROPERTY_EXAMPLES=5000 for a longer hunt; 200 keeps the suite fast.
PROPERTY = settings(
    max_examples=int(os.environ.get("SITEKEEPER_PROPERTY_EXAMPLES", "200")), deadline=None, database=None
)
MICRO = dt.timedelta(microseconds=1)

# Built once: each calendar caches its days, which keeps the properties fast.
CALENDARS = {
    "berlin office": office(),
    "berlin lunch": lunch(),
    "new york office": ny_office(),
    "new york lunch": BusinessCalendar.from_spec(
        "America/New_York",
        dict.fromkeys(WORKDAYS, ("08:30-12:00", "12:45-17:15")),
        holidays={"country": "US", "subdivision": "NY"},
    ),
    "berlin sundays": all_sunday("Europe/Berlin"),
    "berlin sunday nights": night_sunday("Europe/Berlin"),
    "new york sunday nights": night_sunday("America/New_York"),
    # Boundaries inside the spring gap (02:00-03:00 local), so DST Sundays lose or move them.
    "berlin gap boundaries": BusinessCalendar.from_spec(
        "Europe/Berlin",
        {"sun": ["00:00-02:45", "03:00-10:00"], "mon": ["02:30-10:00"], "fri": ["22:00-24:00"]},
    ),
    "new york gap boundaries": BusinessCalendar.from_spec(
        "America/New_York", {"sun": ["01:00-02:15", "02:45-06:00", "12:00-13:00"], "wed": ["09:00-17:00"]}
    ),
}
calendars = st.sampled_from(sorted(CALENDARS))  # names, so a failing example reads well

_SWITCHES = [
    utc(2025, 3, 30, 1), utc(2025, 10, 26, 1), utc(2026, 3, 29, 1),  # Berlin
    utc(2026, 10, 25, 1), utc(2027, 3, 28, 1), utc(2027, 10, 31, 1),
    utc(2025, 3, 9, 7), utc(2025, 11, 2, 6), utc(2026, 3, 8, 7),  # New York
    utc(2026, 11, 1, 6), utc(2027, 3, 14, 7), utc(2027, 11, 7, 6),
]  # fmt: skip
_HOUR_US = 3600 * 10**6
instants = st.one_of(
    st.integers(0, 4 * 365 * 24 * _HOUR_US).map(lambda us: utc(2025, 1, 1) + us * MICRO),
    st.builds(
        lambda switch, us: switch + us * MICRO,
        st.sampled_from(_SWITCHES),
        st.integers(-72 * _HOUR_US, 72 * _HOUR_US) | st.integers(-6 * _HOUR_US, 6 * _HOUR_US),
    ),
)
durations = st.integers(0, 200 * 3600 * 10**6).map(lambda us: us * MICRO)  # up to 200 h, to the µs


@st.composite
def pause_lists(draw, received: dt.datetime, allow_open: bool = False) -> list[Pause]:
    """0-3 pauses from a day before receipt to ten days after, one minute to three days long."""
    pauses = []
    for _ in range(draw(st.integers(0, 3))):
        start = received + dt.timedelta(seconds=draw(st.integers(-86_400, 864_000)))
        if allow_open and draw(st.integers(0, 9)) == 0:
            pauses.append(Pause(start))
        else:
            pauses.append(Pause(start, start + dt.timedelta(seconds=draw(st.integers(60, 3 * 86_400)))))
    return pauses


amount_targets = st.one_of(
    st.tuples(st.just("m"), st.integers(1, 3000)),
    st.tuples(st.just("h"), st.integers(1, 200)),
    st.tuples(st.just("bh"), st.integers(1, 200)),
    st.tuples(st.just("bd"), st.integers(1, 25)),
)
all_targets = st.one_of(
    amount_targets.map(lambda pair: f"{pair[1]}{pair[0]}"),
    st.sampled_from(["same_bd", "next_bd", "next_cycle"]),
)


# --- calendars -----------------------------------------------------------------------------------------


@PROPERTY
@given(cal=calendars, start=instants, amount=durations)
def test_adding_then_measuring_round_trips(cal, start, amount):
    cal = CALENDARS[cal]
    end = cal.add(start, amount)
    assert end >= start
    assert cal.measure(start, end) == amount
    if amount:  # and `end` is the earliest such instant
        assert cal.measure(start, end - MICRO) < amount


@PROPERTY
@given(cal=calendars, a=instants, b=instants, c=instants)
def test_measuring_is_additive(cal, a, b, c):
    cal = CALENDARS[cal]
    a, b, c = sorted((a, b, c))
    assert cal.measure(a, c) == cal.measure(a, b) + cal.measure(b, c)
    assert cal.measure(a, c) <= c - a


@PROPERTY
@given(cal=calendars, start=instants, end=instants)
def test_measuring_then_adding_lands_no_later(cal, start, end):
    cal = CALENDARS[cal]
    start, end = sorted((start, end))
    landed = cal.add(start, cal.measure(start, end))
    assert start <= landed <= end
    assert cal.measure(landed, end) == dt.timedelta()


def _reference_measure(cal: BusinessCalendar, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
    """Business time the plain way: clip every opening interval of every local date in between."""
    total = dt.timedelta()
    day, last = cal.local_date(start) - dt.timedelta(days=1), cal.local_date(end) + dt.timedelta(days=1)
    while day <= last:
        for begin, finish in cal.intervals(day):
            total += max(min(finish, end) - max(begin, start), dt.timedelta())
        day += dt.timedelta(days=1)
    return total


def _reference_add(cal: BusinessCalendar, start: dt.datetime, amount: dt.timedelta) -> dt.datetime:
    """The earliest instant `amount` of business time after `start`, walking interval by interval."""
    if amount <= dt.timedelta():
        return start
    day = cal.local_date(start) - dt.timedelta(days=1)
    while True:
        for begin, finish in cal.intervals(day):
            if finish <= start:
                continue
            available = finish - max(begin, start)
            if available >= amount:
                return max(begin, start) + amount
            amount -= available
        day += dt.timedelta(days=1)


@PROPERTY
@given(cal=calendars, start=instants, end=instants, amount=durations)
def test_measure_and_add_match_a_day_by_day_reference(cal, start, end, amount):
    # The calendar counts on a running total per date; this walks the intervals one by one.
    cal = CALENDARS[cal]
    start, end = sorted((start, end))
    assert cal.measure(start, end) == _reference_measure(cal, start, end)
    assert cal.add(start, amount) == _reference_add(cal, start, amount)


def test_fresh_calendars_agree_with_the_reference_when_shared_between_threads():
    # Many threads grow one calendar's running total forwards and backwards at once.
    starts = [utc(2026, 6, 1) + dt.timedelta(days=37 * n - 700, hours=5 * n) for n in range(40)]
    cal = lunch()
    expected = [
        (
            _reference_measure(cal, s, s + dt.timedelta(days=45)),
            _reference_add(cal, s, dt.timedelta(hours=60)),
        )
        for s in starts
    ]
    fresh = lunch()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            pool.map(
                lambda s: (fresh.measure(s, s + dt.timedelta(days=45)), fresh.add(s, dt.timedelta(hours=60))),
                starts,
            )
        )
    assert results == expected


# --- due instants --------------------------------------------------------------------------------------


@PROPERTY
@given(data=st.data(), cal=calendars, received=instants, target=amount_targets, extra=st.integers(0, 50))
def test_due_instant_is_monotonic_in_the_amount(data, cal, received, target, extra):
    cal = CALENDARS[cal]
    kind, amount = target
    pauses = data.draw(pause_lists(received))
    smaller = due_instant(f"{amount}{kind}", cal, received, pauses)
    larger = due_instant(f"{amount + extra}{kind}", cal, received, pauses)
    assert smaller is not None
    assert larger is not None
    assert smaller <= larger


@PROPERTY
@given(data=st.data(), cal=calendars, received=instants, target=all_targets)
def test_a_pause_never_brings_the_due_instant_earlier(data, cal, received, target):
    cal = CALENDARS[cal]
    unpaused = due_instant(target, cal, received)
    paused = due_instant(target, cal, received, data.draw(pause_lists(received, allow_open=True)))
    assert unpaused is not None
    assert paused is None or paused >= unpaused


@PROPERTY
@given(data=st.data(), cal=calendars, received=instants, target=all_targets)
def test_due_instant_is_never_before_receipt(data, cal, received, target):
    cal = CALENDARS[cal]
    pauses = data.draw(pause_lists(received, allow_open=True))
    due = due_instant(target, cal, received, pauses)
    # Every target has a positive counted length, so the clock falls due strictly after receipt.
    assert due is None or due > received
    # The 75 % warning comes no later (it may come before an open pause stops the clock for good).
    warning = due_instant(target, cal, received, pauses, fraction=Fraction(3, 4))
    if due is not None:
        assert warning is not None
        assert received < warning <= due


@PROPERTY
@given(data=st.data(), cal=calendars, received=instants, target=all_targets)
def test_at_the_due_instant_the_counted_time_is_the_target(data, cal, received, target):
    cal = CALENDARS[cal]
    # The due instant is the earliest at which counted time (pauses excluded) reaches the counted length:
    # so every pause pushes it by exactly the counted time it covers.
    pauses = data.draw(pause_lists(received))
    length = counted_length(parse_target(target), cal, received)[1]
    due = due_instant(target, cal, received, pauses)
    assert due is not None
    assert counted_so_far(target, cal, received, due, pauses) == length
    assert counted_so_far(target, cal, received, due - MICRO, pauses) < length


# --- credits and uptime --------------------------------------------------------------------------------

RULES = [
    ("99.0", CreditRule.from_data("steps", rate="10", step="1")),
    ("99.5", CreditRule.from_data("steps", rate="15", step="0.5")),
    ("99.9", CreditRule.from_data("steps", rate="20", step="0.1")),
    ("99.9", CreditRule.from_data("steps", rate="20", step="0.1", reading="proportional")),
    ("99.0", CreditRule.from_data("steps", rate="10", step="0.3", reading="proportional")),
    (
        "99.95",
        CreditRule.from_data(
            "table",
            table=[
                {"below": "99.95", "percent": "10"},
                {"below": "99.9", "percent": "25"},
                {"below": "99.5", "percent": "50"},
                {"below": "99.0", "percent": "100"},
            ],
        ),
    ),
]
rules = st.sampled_from(RULES)
uptimes = st.one_of(
    st.integers(0, 100_000).map(lambda n: Fraction(n, 1000)),  # typed: 3 decimals
    st.integers(0, 10**12).map(lambda n: Fraction(n, 10**10)),  # measured: any fraction
    st.integers(98_000, 100_000).map(lambda n: Fraction(n, 1000)),  # near the SLAs
)


@PROPERTY
@given(rule=rules, first=uptimes, second=uptimes)
def test_credit_percent_never_rises_with_uptime(rule, first, second):
    sla, credit_rule = rule
    low, high = sorted((first, second))
    percent_low = credit_percent(credit_rule, Fraction(Decimal(sla)), low)
    percent_high = credit_percent(credit_rule, Fraction(Decimal(sla)), high)
    assert 0 <= percent_high <= percent_low <= 100


@PROPERTY
@given(
    rule=rules,
    uptime=uptimes,
    cents=st.integers(0, 10**10),
    currency=st.sampled_from(["EUR", "USD", "JPY", "KRW"]),
)
def test_credit_amount_never_exceeds_the_fee(rule, uptime, cents, currency):
    sla, credit_rule = rule
    fee = Decimal(cents) if currency in {"JPY", "KRW"} else Decimal(cents) / 100
    credit = compute_credit(credit_rule, sla, uptime, fee, currency)
    assert 0 <= credit.credit_amount <= fee
    assert credit.credit_percent <= 100
    if credit.capped:
        assert credit.credit_percent == 100
        assert credit.credit_amount == fee


# --- a contract's month over several sites (agreement 2.3: the month's total never exceeds the fee) -------
site_uptimes = st.lists(st.one_of(st.none(), uptimes), min_size=1, max_size=5)
currencies = st.sampled_from(["EUR", "USD", "JPY", "KRW"])


def fee_of(cents: int, currency: str) -> Decimal:
    return Decimal(cents) if currency in {"JPY", "KRW"} else Decimal(cents) / 100


def month(rule, figures, fee, currency, basis, *, extra=0):
    sla, credit_rule = rule
    named = {f"https://site{i}.test": uptime for i, uptime in enumerate(figures)}
    covered = len(named) + extra
    return contract_credit(credit_rule, sla, named, fee, currency, basis=basis, covered_sites=covered)


# A contract's month: any rule, several sites (some unmeasured), sites covered but not given, any fee.
contract_months = given(
    rule=rules,
    figures=site_uptimes,
    extra=st.integers(0, 3),
    cents=st.integers(0, 10**10),
    currency=currencies,
    basis=st.sampled_from(["fee_share", "full_fee"]),
)


@PROPERTY
@contract_months
def test_a_contracts_monthly_credit_never_exceeds_the_fee(  # noqa: PLR0917 (Hypothesis passes by name)
    rule, figures, extra, cents, currency, basis
):
    fee = fee_of(cents, currency)
    result = month(rule, figures, fee, currency, basis, extra=extra)
    unit = minor_unit(currency)
    earned = [site.credit_amount for site in result.sites if site.credit_amount is not None]
    assert isinstance(result.credit_amount, Decimal)
    assert 0 <= result.credit_amount <= fee
    assert result.uncapped_amount == sum(earned, Decimal(0))
    assert result.credit_amount == min(result.uncapped_amount, fee)
    assert result.capped == (result.uncapped_amount > fee)
    for amount in (result.credit_amount, result.uncapped_amount, result.basis_amount, *earned):
        assert amount == amount.quantize(unit)  # exact, in the currency's minor unit


@PROPERTY
@contract_months
def test_each_site_earns_at_most_its_basis(  # noqa: PLR0917 (Hypothesis passes by name)
    rule, figures, extra, cents, currency, basis
):
    fee = fee_of(cents, currency)
    result = month(rule, figures, fee, currency, basis, extra=extra)
    sites = len(figures) + extra
    share = Fraction(fee) / sites if basis == "fee_share" else Fraction(fee)
    assert result.basis_amount == _rounded(share, currency)  # fee ÷ n sites, or the whole fee
    for site, uptime in zip(result.sites, figures, strict=True):
        if uptime is None:  # not measured: no credit can be claimed on it, and none is invented
            assert (site.uptime, site.credit_percent, site.credit_amount) == (None, None, None)
            continue
        assert 0 <= site.credit_percent <= 100
        assert 0 <= site.credit_amount <= result.basis_amount
        exact = credit_percent(rule[1], Fraction(Decimal(rule[0])), uptime)  # the shown percent is rounded
        assert site.credit_amount == _rounded(share * exact / 100, currency)


@PROPERTY
@given(rule=rules, uptime=uptimes, cents=st.integers(0, 10**10), currency=currencies)
def test_one_site_or_the_full_fee_is_the_single_site_credit(rule, uptime, cents, currency):
    sla, credit_rule = rule
    fee = fee_of(cents, currency)
    alone = compute_credit(credit_rule, sla, uptime, fee, currency)
    one = month(rule, [uptime], fee, currency, "fee_share")
    assert (one.credit_amount, one.sites[0].credit_percent) == (alone.credit_amount, alone.credit_percent)
    full = month(rule, [uptime, Fraction(0)], fee, currency, "full_fee")
    assert full.sites[0].credit_amount == alone.credit_amount


@PROPERTY
@given(rule=rules, figures=site_uptimes, cents=st.integers(0, 10**10), currency=currencies)
def test_an_unmeasured_site_adds_nothing(rule, figures, cents, currency):
    fee = fee_of(cents, currency)
    measured = month(rule, figures, fee, currency, "fee_share", extra=1)
    with_gap = month(rule, [*figures, None], fee, currency, "fee_share")
    assert with_gap.credit_amount == measured.credit_amount
    assert with_gap.sites[-1].credit_amount is None


@PROPERTY
@given(figures=site_uptimes, cents=st.integers(0, 10**10), currency=currencies)
def test_no_remedy_agreed_computes_no_credit(figures, cents, currency):
    fee = fee_of(cents, currency)
    result = month(("99.95", None), figures, fee, currency, "fee_share")
    assert (result.credit_amount, result.uncapped_amount, result.capped) == (None, None, False)
    assert all(site.credit_percent is None and site.credit_amount is None for site in result.sites)


def _rounded(value: Fraction, currency: str) -> Decimal:
    """Half-up to the minor unit, computed independently of the code under test."""
    unit = minor_unit(currency)
    scaled = value / Fraction(unit)
    whole = scaled.numerator // scaled.denominator
    if scaled - whole >= Fraction(1, 2):
        whole += 1
    return Decimal(whole) * unit


@PROPERTY
@given(
    outages=st.lists(
        st.tuples(st.integers(-5 * 86_400, 35 * 86_400), st.integers(1, 5 * 86_400)), max_size=5
    ),
    extra=st.tuples(st.integers(0, 30 * 86_400), st.integers(1, 86_400)),
)
def test_more_downtime_never_raises_uptime(outages, extra):
    start = utc(2026, 10, 1)  # around Berlin's 745-hour October
    spans = [(start + dt.timedelta(seconds=a), start + dt.timedelta(seconds=a + n)) for a, n in outages]
    more = [*spans, (start + dt.timedelta(seconds=extra[0]), start + dt.timedelta(seconds=sum(extra)))]
    base = monthly_uptime(2026, 10, BERLIN, spans)
    assert 0 <= monthly_uptime(2026, 10, BERLIN, more) <= base <= 100
    # Excluding time can only help.
    assert monthly_uptime(2026, 10, BERLIN, spans, more) == 100
    assert base <= monthly_uptime(2026, 10, BERLIN, spans, spans[:1]) <= 100
