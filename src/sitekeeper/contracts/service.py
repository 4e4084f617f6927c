"""Which contracts and sites are in service now: the one answer every scheduler asks for (agreement 7.3).

A contract under notice is still in service: monitoring, backups, scans, audits, updates and SLA clocks run
until its effective date, inclusive. Draft and terminated contracts are not in service.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from sitekeeper.contracts.models import Contract, Site

LIVE_STATUSES = (Contract.Status.ACTIVE, Contract.Status.CANCELLING)


def contract_in_service(contract: Contract | None, now: dt.datetime | None = None) -> bool:
    """In service today, counted in the contract calendar's zone."""
    if contract is None:
        return False
    return contract.in_service(contract.today(now or timezone.now()))


def contracts_in_service(now: dt.datetime | None = None) -> list[Contract]:
    now = now or timezone.now()
    candidates = Contract.objects.filter(status__in=LIVE_STATUSES).select_related(
        "client", "plan", "calendar"
    )
    return [contract for contract in candidates if contract_in_service(contract, now)]


def site_in_service(site: Site, now: dt.datetime | None = None) -> bool:
    return contract_in_service(site.client.contract, now)


def sites_in_service(now: dt.datetime | None = None) -> list[Site]:
    """Every site of a client whose current contract is in service."""
    clients = {contract.client_id for contract in contracts_in_service(now)}
    return list(Site.objects.filter(client_id__in=clients).select_related("client"))
