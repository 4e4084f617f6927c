"""Contract values in words, and the contract's time zone: one wording and one zone for every app.

The pages, the API, the contract document (render.py), the uptime report and the service desk all print a
response target, a credit rule or a time through these functions, so they cannot drift apart. Stored
instants are UTC; the contract calendar's zone is applied wherever a time is shown or a local day counted
(`zone_of` for its name, `contract_zone` for the ZoneInfo), UTC without a contract.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.utils.dateformat import format as django_format

from sitekeeper.contracts.models import Contract, Plan
from sitekeeper.core.credits import NO_REMEDY, CreditError
from sitekeeper.core.targets import TargetError, parse_target

NOT_SET = "—"
NO_CONTRACT_ZONE = "UTC"


def describe_target(text: str | None) -> str:
    """'4h' → '4 hours (24/7)'; an empty target reads as a dash, a malformed one as itself, flagged."""
    if not text:
        return NOT_SET
    try:
        return parse_target(text).describe()
    except TargetError:
        return f"{text} (not a valid target)"


def describe_credit(plan: Plan) -> str:
    """A plan's default rule, for the plans table (a contract's own rule: `contract_credit_rule`)."""
    try:
        rule = plan.credit_rule()
    except CreditError as exc:
        return f"not configured ({exc})"
    return NO_REMEDY if rule is None else rule.describe()


def contract_credit_rule(contract: Contract) -> str:
    """The contract's service-credit rule in words — the one presenter every page, the API and reports use
    (the contract's own Schedule A table, rounding reading and basis, not the plan's defaults)."""
    try:
        rule = contract.credit_rule()
    except CreditError as exc:
        return f"not configured ({exc})"
    if rule is None:
        return NO_REMEDY
    basis = (
        "the full monthly fee per site"
        if contract.credit_basis == Contract.CreditBasis.FULL_FEE
        else "each site's share of the monthly fee"
    )
    return f"{rule.describe()}; counted on {basis}; the month's total over all sites capped at the fee"


def zone_of(contract: Contract | None) -> str:
    """The contract calendar's zone: every time a page shows is in it, and named (UTC without a contract)."""
    return contract.calendar.current.timezone if contract is not None else NO_CONTRACT_ZONE


def contract_zone(contract: Contract | None) -> ZoneInfo:
    """`zone_of` as a ZoneInfo, for counting local days and months in the contract's zone."""
    return ZoneInfo(zone_of(contract))


LOCAL_TIME = "j M Y H:i T"  # the pages' one format (templatetags/sitekeeper_time.py WHEN)


def local_time(instant: dt.datetime | None, zone: str) -> str:
    """'4 May 2026 12:00 CEST' (the zone's abbreviation as it applies at that instant); a dash for no time."""
    if instant is None:
        return NOT_SET
    return django_format(instant.astimezone(ZoneInfo(zone)), LOCAL_TIME)
