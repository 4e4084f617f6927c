"""Uptime shortfall and service credits, computed exactly (fractions inside, decimals out).

Readings (DESIGN.md): shortfall = SLA − uptime; credit % = rate × started steps, where started steps =
ceil(shortfall / step) — or rate × shortfall / step under the `proportional` reading; a custom table
(Enterprise, Schedule A) gives the percent of the lowest threshold the uptime fell below; with no table
agreed there is no remedy and no credit is computed (`NO_REMEDY`), never a made-up one. Over a contract's
month (`contract_credit`) each site earns its percent of a basis — the fee ÷ the covered sites
(`fee_share`) or the whole fee (`full_fee`) — rounded half-up to the currency's minor unit, and the sum over
all sites is capped at the monthly fee (agreement 2.3).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction

HUNDRED = Fraction(100)
_ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "KRW", "CLP", "ISK", "HUF", "VND", "XAF", "XOF"})
PERCENT_PLACES = Decimal("0.0001")
# Enterprise's remedy is "per Schedule A": with no table agreed, no credit is computed (never a made-up one).
NO_REMEDY = "remedy per Schedule A — not agreed in this contract"


class CreditError(ValueError):
    """A credit rule or figure the arithmetic cannot use."""


def to_fraction(value: Decimal | Fraction | int | str, what: str) -> Fraction:
    if isinstance(value, Fraction):
        return value
    try:
        decimal = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise CreditError(f"{what} {value!r}: not a decimal number") from exc
    if not decimal.is_finite():
        raise CreditError(f"{what} {value!r}: not a finite number")
    return Fraction(decimal)


def to_decimal(value: Fraction, places: Decimal | None = None) -> Decimal:
    """Exact when the fraction terminates; otherwise rounded half-up to `places` (default 0.0001)."""
    decimal = Decimal(value.numerator) / Decimal(value.denominator)
    exact = Fraction(decimal) == value
    if places is None and exact:
        return decimal.normalize() if decimal != decimal.to_integral() else decimal.quantize(Decimal(1))
    return decimal.quantize(places or PERCENT_PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class TableRow:
    below: Fraction  # uptime strictly below this …
    percent: Fraction  # … earns this percent of the fee


@dataclass(frozen=True)
class CreditRule:
    kind: str  # "steps" or "table"
    rate: Fraction | None = None  # percent of the fee per step
    step: Fraction | None = None  # percentage points of uptime per step
    table: tuple[TableRow, ...] = ()
    reading: str = "started_steps"  # or "proportional"

    @classmethod
    def from_data(
        cls,
        kind: str,
        rate: Decimal | str | None = None,
        step: Decimal | str | None = None,
        table: Iterable[Mapping[str, object]] | None = None,
        reading: str = "started_steps",
    ) -> CreditRule:
        if reading not in {"started_steps", "proportional"}:
            raise CreditError(f"credit reading {reading!r}: expected started_steps or proportional")
        if kind == "steps":
            if rate is None or step is None:
                raise CreditError("a steps credit rule needs both a rate and a step")
            frate, fstep = to_fraction(rate, "credit rate"), to_fraction(step, "credit step")
            if fstep <= 0 or frate < 0:
                raise CreditError("credit step must be positive and rate not negative")
            return cls(kind=kind, rate=frate, step=fstep, reading=reading)
        if kind == "table":
            rows = tuple(_table_row(row) for row in (table or ()))
            if not rows:
                raise CreditError("a table credit rule needs at least one row (below, percent)")
            return cls(kind=kind, table=rows, reading=reading)
        raise CreditError(f"credit rule kind {kind!r}: expected steps or table")

    def describe(self) -> str:
        if self.kind == "table":
            return "; ".join(
                f"below {to_decimal(r.below)} %: {to_decimal(r.percent)} % of the fee" for r in self.table
            )
        per = "per started" if self.reading == "started_steps" else "pro rata per"
        return f"{to_decimal(self.rate)} % of the monthly fee {per} {to_decimal(self.step)} % below the SLA"  # type: ignore[arg-type]


def _table_row(row: Mapping[str, object]) -> TableRow:
    if not isinstance(row, Mapping) or "below" not in row or "percent" not in row:
        raise CreditError(f"credit table row {row!r}: expected a mapping with 'below' and 'percent'")
    below = to_fraction(row["below"], "credit table 'below'")  # type: ignore[arg-type]
    percent = to_fraction(row["percent"], "credit table 'percent'")  # type: ignore[arg-type]
    if not 0 <= below <= 100 or percent < 0:
        raise CreditError(f"credit table row {row!r}: 'below' must be 0..100 and 'percent' not negative")
    return TableRow(below, percent)


def shortfall(sla: Fraction, uptime: Fraction) -> Fraction:
    return max(sla - uptime, Fraction(0))


def started_steps(short: Fraction, step: Fraction) -> int:
    return math.ceil(short / step)


def uncapped_percent(rule: CreditRule, sla: Fraction, uptime: Fraction) -> Fraction:
    """Percent of the monthly fee the rule earns, before the cap at the fee."""
    short = shortfall(sla, uptime)
    if short == 0:
        return Fraction(0)
    if rule.kind == "table":
        return max((row.percent for row in rule.table if uptime < row.below), default=Fraction(0))
    if rule.reading == "proportional":
        return rule.rate * short / rule.step  # type: ignore[operator]
    return rule.rate * started_steps(short, rule.step)  # type: ignore[operator, arg-type]


def credit_percent(rule: CreditRule, sla: Fraction, uptime: Fraction) -> Fraction:
    """Percent of the monthly fee credited: total credits in a month never exceed the fee."""
    return min(uncapped_percent(rule, sla, uptime), HUNDRED)


def minor_unit(currency: str) -> Decimal:
    return Decimal(1) if currency.upper() in _ZERO_DECIMAL_CURRENCIES else Decimal("0.01")


@dataclass(frozen=True)
class Credit:
    sla: Decimal
    uptime: Decimal
    shortfall: Decimal
    steps: int | None
    credit_percent: Decimal
    credit_amount: Decimal
    currency: str
    capped: bool

    def as_json(self) -> dict[str, object]:
        return {
            "sla": str(self.sla),
            "uptime": str(self.uptime),
            "shortfall": str(self.shortfall),
            "started_steps": self.steps,
            "credit_percent": str(self.credit_percent),
            "credit_amount": str(self.credit_amount),
            "currency": self.currency,
            "capped_at_fee": self.capped,
        }


def compute_credit(
    rule: CreditRule,
    sla: Decimal | str | Fraction,
    uptime: Decimal | str | Fraction,
    monthly_fee: Decimal | str,
    currency: str,
) -> Credit:
    """The month's credit. Uptime measured by monitoring arrives as an exact Fraction; figures typed by a
    person arrive as decimals and come back unchanged."""
    fsla = checked_sla(sla)
    fup = checked_uptime(uptime, "uptime")
    fee, unit = checked_fee(monthly_fee, currency)
    return _credit(rule, fsla, uptime, fup, fee, unit, currency)


def site_credit(
    rule: CreditRule,
    sla: Decimal | str | Fraction,
    uptime: Decimal | str | Fraction,
    monthly_fee: Decimal | str,
    currency: str,
    *,
    basis: str,
    covered_sites: int,
) -> Credit:
    """One site's credit for a month, as a percent of its basis (fee ÷ covered sites, or the full fee) and
    before the contract's monthly cap — the figure `contract_credit` adds up for that site."""
    fsla = checked_sla(sla)
    fup = checked_uptime(uptime, "uptime")
    fee, unit = checked_fee(monthly_fee, currency)
    return _credit(rule, fsla, uptime, fup, basis_amount(fee, max(covered_sites, 1), basis), unit, currency)


def _credit(  # noqa: PLR0917 — the checked figures of the two callers above
    rule: CreditRule,
    fsla: Fraction,
    uptime: Decimal | str | Fraction,
    fup: Fraction,
    base: Fraction,
    unit: Decimal,
    currency: str,
) -> Credit:
    short = shortfall(fsla, fup)
    raw = uncapped_percent(rule, fsla, fup)
    percent = min(raw, HUNDRED)
    steps = None
    if rule.kind == "steps" and rule.reading == "started_steps":
        steps = started_steps(short, rule.step)  # type: ignore[arg-type]
    return Credit(
        sla=to_decimal(fsla),
        uptime=shown_uptime(uptime, fup),
        shortfall=shown_uptime(uptime, short),
        steps=steps,
        credit_percent=to_decimal(percent),
        credit_amount=to_decimal(base * percent / HUNDRED, unit),
        currency=currency.upper(),
        capped=raw > HUNDRED,
    )


def checked_sla(sla: Decimal | str | Fraction) -> Fraction:
    fsla = to_fraction(sla, "uptime SLA")
    if not 0 <= fsla <= 100:
        raise CreditError(f"uptime SLA {sla}: must be between 0 and 100")
    return fsla


def checked_uptime(uptime: Decimal | str | Fraction, what: str) -> Fraction:
    fup = to_fraction(uptime, what)
    if not 0 <= fup <= 100:
        raise CreditError(f"{what} {uptime}: must be between 0 and 100")
    return fup


def checked_fee(monthly_fee: Decimal | str, currency: str) -> tuple[Fraction, Decimal]:
    """The fee as an exact fraction and the currency's minor unit; refuses a fee finer than that unit, since
    a 100 % credit of it would round to more than the fee."""
    if not (isinstance(currency, str) and len(currency) == 3 and currency.isascii() and currency.isalpha()):
        raise CreditError(f"currency {currency!r}: expected a three-letter ISO 4217 code")
    unit = minor_unit(currency)
    fee = to_fraction(monthly_fee, "monthly fee")
    if fee < 0:
        raise CreditError("monthly fee must not be negative")
    if (fee / Fraction(unit)).denominator != 1:
        raise CreditError(f"monthly fee {monthly_fee}: finer than the {currency.upper()} minor unit {unit}")
    return fee, unit


def shown_uptime(uptime: Decimal | str | Fraction, value: Fraction) -> Decimal:
    """Measured uptime (a Fraction) to four places; a figure a person typed, unchanged."""
    return to_decimal(value, PERCENT_PLACES if isinstance(uptime, Fraction) else None)


# --- a contract's month: per-site credits against a basis, the total capped at the fee -------------------
BASES = ("fee_share", "full_fee")


@dataclass(frozen=True)
class SiteCredit:
    site: str
    uptime: Decimal | None  # None: the site was not measured that month (no credit can be claimed on it)
    credit_percent: Decimal | None
    credit_amount: Decimal | None  # before the contract's cap

    def as_json(self) -> dict[str, object]:
        return {
            "site": self.site,
            "uptime": None if self.uptime is None else str(self.uptime),
            "credit_percent": None if self.credit_percent is None else str(self.credit_percent),
            "credit_amount": None if self.credit_amount is None else str(self.credit_amount),
        }


@dataclass(frozen=True)
class ContractCredit:
    sites: tuple[SiteCredit, ...]
    basis: str
    basis_amount: Decimal  # what each site's percent is a percent of
    credit_amount: Decimal | None  # the month's total, capped at the fee; None when no remedy is agreed
    uncapped_amount: Decimal | None
    capped: bool
    currency: str


def basis_amount(monthly_fee: Fraction, sites: int, basis: str) -> Fraction:
    """`fee_share`: the fee ÷ the number of covered sites; `full_fee`: the whole fee."""
    if basis not in BASES:
        raise CreditError(f"credit basis {basis!r}: expected {' or '.join(BASES)}")
    if basis == "full_fee" or sites <= 1:
        return monthly_fee
    return monthly_fee / sites


def contract_credit(
    rule: CreditRule | None,
    sla: Decimal | str | Fraction,
    uptimes: Mapping[str, Decimal | str | Fraction | None],
    monthly_fee: Decimal | str,
    currency: str,
    *,
    basis: str = "fee_share",
    covered_sites: int | None = None,
) -> ContractCredit:
    """Credits for one month over all of a contract's sites (agreement 2.3: "Total credits in any month shall
    not exceed the monthly plan fee"). Each site earns its percent of the basis, rounded half-up to the
    minor unit; the sum is capped at the fee. `rule` None: no remedy agreed (Enterprise without Schedule A).
    An unmeasured site (uptime None) earns nothing and says so. `covered_sites`: how many sites share the
    fee (default: the sites given), so a month in which only some sites were measured keeps each site's
    share the same."""
    fsla = checked_sla(sla)
    fee, unit = checked_fee(monthly_fee, currency)
    count = len(uptimes) if covered_sites is None else covered_sites
    if count < len(uptimes):
        raise CreditError(f"{len(uptimes)} sites given but only {count} covered by the contract")
    base = basis_amount(fee, max(count, 1), basis)
    rows = []
    total = Fraction(0)
    for site, uptime in uptimes.items():
        if uptime is None:
            rows.append(SiteCredit(site, None, None, None))
            continue
        fup = checked_uptime(uptime, f"uptime of {site}")
        if rule is None:
            rows.append(SiteCredit(site, shown_uptime(uptime, fup), None, None))
            continue
        percent = credit_percent(rule, fsla, fup)
        amount = to_decimal(base * percent / HUNDRED, unit)
        total += Fraction(amount)
        rows.append(SiteCredit(site, shown_uptime(uptime, fup), to_decimal(percent), amount))
    base_decimal = to_decimal(base, unit)
    if rule is None:
        return ContractCredit(tuple(rows), basis, base_decimal, None, None, False, currency.upper())
    return ContractCredit(
        sites=tuple(rows),
        basis=basis,
        basis_amount=base_decimal,
        credit_amount=to_decimal(min(total, fee), unit),
        uncapped_amount=to_decimal(total, unit),
        capped=total > fee,
        currency=currency.upper(),
    )
