"""REST API: GET /api/v1/sites/{site_id}/uptime?month=YYYY-MM — a site's month in figures and its credit.

`uptime` is null with `"coverage": "0"` for a month no probe watched the site (not measured — never 100 %);
`coverage` is the watched share of the month in percent (a decimal string); `credit` is this site's credit on
the contract's basis and `contract_credit` the contract's month over all its sites, capped at the fee.

Scoped like the other API routes: a client person's token reaches only their own client's sites (another
client's site is a 404); agency tokens reach every site. Mounted by api/views.py under /sites.

The operation keeps the id it had when it lived in monitoring/api.py: clients generated from the OpenAPI
document name their method after it.
"""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Router, Schema
from pydantic import Field, WithJsonSchema

from sitekeeper.access.permissions import visible_sites
from sitekeeper.api.errors import answers
from sitekeeper.api.params import MONTH_PATTERN, SiteId, month_query
from sitekeeper.contracts.presenters import contract_zone
from sitekeeper.monitoring.uptime import contract_month, month_figures

router = Router(tags=["uptime"])

# The figures arrive as JSON already (monitoring.uptime's as_json, shared with the CLI and the reports):
# these say what their strings are without re-serialising them.
Instant = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
Decimal = Annotated[str, WithJsonSchema({"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"})]
Month = Annotated[str, WithJsonSchema({"type": "string", "pattern": MONTH_PATTERN})]


class OutageOut(Schema):
    id: int
    start: Instant
    end: Instant | None = Field(description="null: still down")
    cause: str
    exclusion: str | None = Field(description="The agreement exclusion staff tagged it with")
    exclusion_label: str | None
    exclusion_reason: str | None
    held_until: Instant | None
    alerted_at: Instant | None
    alert_latency_seconds: int | None


class MaintenanceOut(Schema):
    start: Instant
    end: Instant
    kind: str
    max_minutes: int | None
    downtime_minutes: Decimal
    excluded_minutes: Decimal
    excludes: bool
    reason: str


class SiteCreditOut(Schema):
    sla: Decimal
    uptime: Decimal
    shortfall: Decimal
    started_steps: int | None
    credit_percent: Decimal
    credit_amount: Decimal
    currency: str
    capped_at_fee: bool


class ContractSiteCreditOut(Schema):
    site: str = Field(description="The site's URL")
    uptime: Decimal | None
    credit_percent: Decimal | None
    credit_amount: Decimal | None
    coverage: Decimal


class ContractCreditOut(Schema):
    month: Month
    basis: str
    basis_amount: Decimal
    covered_sites: int
    measured_sites: int
    credit_amount: Decimal | None
    uncapped_amount: Decimal | None
    capped: bool
    currency: str
    credit_rule: str
    sites: list[ContractSiteCreditOut]


class UptimeOut(Schema):
    site: int
    client: str = Field(description="Client slug")
    month: Month
    timezone: str = Field(description="The contract's time zone: the month is its calendar month")
    month_start: Instant
    month_end: Instant
    month_minutes: Decimal
    complete: bool = Field(description="False while the month is still running")
    downtime_minutes: Decimal
    excluded_minutes: Decimal
    counted_minutes: Decimal
    unknown_minutes: Decimal
    watched_minutes: Decimal
    measured: bool
    coverage: Decimal = Field(description="Watched share of the month, percent")
    monitoring_gap: bool
    uptime: Decimal | None = Field(description="Percent; null: not measured (never 100 %)")
    uptime_exact: str | None = Field(description="The exact fraction, e.g. 43157/432")
    credit: SiteCreditOut | None
    credit_rule: str
    outages: list[OutageOut]
    maintenance: list[MaintenanceOut]
    contract_credit: ContractCreditOut | None


@router.get(
    "/{int:site_id}/uptime",
    response=answers({200: UptimeOut}),
    operation_id="sitekeeper_monitoring_api_site_uptime",
)
def site_uptime(
    request: HttpRequest,
    site_id: SiteId,
    month: month_query("YYYY-MM (2000-01 … 2099-12); default: this month so far") = None,  # type: ignore[valid-type]
) -> dict[str, Any]:
    """The month's downtime, exclusions, unknown time, coverage, exact uptime and service credit (default:
    this month so far, in the contract's time zone). Minutes are decimal strings; `uptime_exact` is a
    fraction; `uptime` is null when the month was not measured."""
    site = get_object_or_404(visible_sites(request.auth).select_related("client"), pk=site_id)  # type: ignore[attr-defined]
    contract = site.client.contract
    if month:
        year, number = int(month[:4]), int(month[5:7])  # the pattern has checked it
    else:
        today = timezone.now().astimezone(contract_zone(contract)).date()
        year, number = today.year, today.month
    if contract is None:
        return month_figures(site, year, number).as_json() | {"contract_credit": None}
    combined = contract_month(contract, year, number)
    return combined.figures_for(site).as_json() | {"contract_credit": combined.as_json()}
