"""What several pages put in their context: the contract's terms and announced maintenance."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q

from sitekeeper.contracts.models import Contract, Site
from sitekeeper.contracts.presenters import NOT_SET, contract_credit_rule, zone_of
from sitekeeper.monitoring.models import MaintenanceAnnouncement
from sitekeeper.web import presenters


def contract_context(contract: Contract | None) -> dict[str, Any]:
    if contract is None:
        return {"contract": None, "zone": zone_of(None)}
    targets = presenters.priority_targets(contract.plan)
    return {
        "contract": contract,
        "minimum_term_end": contract.minimum_term_end,  # core.term: the last day counted in
        "cancellation": contract.cancellation(),
        "windows": list(contract.maintenance_windows.all()),
        "calendar_version": contract.calendar.versions.order_by("-number").first(),
        "zone": zone_of(contract),
        "targets": targets,
        # The agreement fixes response times only; the other clocks are shown once a plan sets them.
        "show_resolution": any(t.resolution != NOT_SET for t in targets),
        "show_recovery": any(t.recovery != NOT_SET for t in targets),
        "credit_rule": contract_credit_rule(contract),
    }


def announcements(contract: Contract | None, now: dt.datetime, site: Site | None = None) -> list[Any]:
    """Announced maintenance not over yet (for the site, or for all the contract's sites), soonest first."""
    if contract is None:
        return []
    found = MaintenanceAnnouncement.objects.filter(contract=contract, end__gte=now).prefetch_related("sites")
    if site is not None:
        found = found.filter(Q(sites=None) | Q(sites=site)).distinct()
    return list(found.order_by("start")[:10])
