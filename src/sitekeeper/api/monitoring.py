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

import datetime as dt
import re
from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Router
from ninja.errors import HttpError

from sitekeeper.access.permissions import visible_sites
from sitekeeper.api.schemas import ErrorOut
from sitekeeper.contracts.presenters import contract_zone
from sitekeeper.monitoring.uptime import contract_month, month_figures

router = Router(tags=["uptime"])

MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")


@router.get(
    "/{int:site_id}/uptime",
    response={200: dict[str, Any], 404: ErrorOut, 422: ErrorOut},
    operation_id="sitekeeper_monitoring_api_site_uptime",
)
def site_uptime(request: HttpRequest, site_id: int, month: str = "") -> dict[str, Any]:
    """The month's downtime, exclusions, unknown time, coverage, exact uptime and service credit (default:
    this month so far, in the contract's time zone). Minutes are decimal strings; `uptime_exact` is a
    fraction; `uptime` is null when the month was not measured."""
    site = get_object_or_404(visible_sites(request.auth).select_related("client"), pk=site_id)  # type: ignore[attr-defined]
    contract = site.client.contract
    tz = contract_zone(contract)
    if month:
        found = MONTH.match(month)
        try:
            year, number = int(found.group(1)), int(found.group(2))  # type: ignore[union-attr]
            dt.date(year, number, 1)
        except (AttributeError, ValueError) as exc:
            raise HttpError(422, f"month {month!r}: expected YYYY-MM") from exc
    else:
        today = timezone.now().astimezone(tz).date()
        year, number = today.year, today.month
    if contract is None:
        return month_figures(site, year, number).as_json() | {"contract_credit": None}
    combined = contract_month(contract, year, number)
    return combined.figures_for(site).as_json() | {"contract_credit": combined.as_json()}
