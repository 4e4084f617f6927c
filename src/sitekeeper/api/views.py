"""REST API /api/v1: read access to plans, clients, contracts and sites, scoped like the portal.

Every operation needs a token (api/auth.py); the OpenAPI document and its docs page are public, they hold
no data. A client person's lists hold only their own client's objects, and another client's object is a
404, exactly as in the portal (the scoping querysets are shared with the web pages).
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import NinjaAPI

from sitekeeper.access.models import User
from sitekeeper.access.permissions import visible_clients, visible_contracts, visible_plans, visible_sites
from sitekeeper.api.auth import TokenAuth
from sitekeeper.api.schemas import ClientDetailOut, ClientOut, ContractOut, ErrorOut, PlanOut, SiteOut
from sitekeeper.contracts.models import Client, Contract, Plan, Site

api = NinjaAPI(
    title="sitekeeper",
    version="1",
    description="Maintenance contracts, plans and sites. Authenticate with `Authorization: Bearer sk_…` "
    "(create a token at /account/tokens/).",
    urls_namespace="api",
    auth=TokenAuth(),
)

NOT_FOUND = {404: ErrorOut}


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined,no-any-return]


def _contracts(request: HttpRequest) -> QuerySet[Contract]:
    return visible_contracts(_user(request)).prefetch_related("maintenance_windows")


@api.get("/plans", response=list[PlanOut], tags=["plans"])
def list_plans(request: HttpRequest) -> QuerySet[Plan]:
    return visible_plans(_user(request))


@api.get("/plans/{slug}", response={200: PlanOut, **NOT_FOUND}, tags=["plans"])
def get_plan(request: HttpRequest, slug: str) -> Plan:
    return get_object_or_404(visible_plans(_user(request)), slug=slug)


@api.get("/clients", response=list[ClientOut], tags=["clients"])
def list_clients(request: HttpRequest) -> QuerySet[Client]:
    return visible_clients(_user(request))


@api.get("/clients/{slug}", response={200: ClientDetailOut, **NOT_FOUND}, tags=["clients"])
def get_client(request: HttpRequest, slug: str) -> Client:
    return get_object_or_404(visible_clients(_user(request)).prefetch_related("contacts"), slug=slug)


@api.get("/contracts", response=list[ContractOut], tags=["contracts"])
def list_contracts(request: HttpRequest) -> QuerySet[Contract]:
    return _contracts(request)


@api.get("/contracts/{int:contract_id}", response={200: ContractOut, **NOT_FOUND}, tags=["contracts"])
def get_contract(request: HttpRequest, contract_id: int) -> Contract:
    return get_object_or_404(_contracts(request), pk=contract_id)


@api.get("/sites", response=list[SiteOut], tags=["sites"])
def list_sites(request: HttpRequest) -> QuerySet[Site]:
    return visible_sites(_user(request))


@api.get("/sites/{int:site_id}", response={200: SiteOut, **NOT_FOUND}, tags=["sites"])
def get_site(request: HttpRequest, site_id: int) -> Site:
    return get_object_or_404(visible_sites(_user(request)), pk=site_id)


# The service desk: /api/v1/tickets… (api/desk.py). Imported here, at the end, so `api` exists first.
from sitekeeper.api.desk import router as desk_router  # noqa: E402

api.add_router("/tickets", desk_router)

# Uptime and credits per site and month: /api/v1/sites/{site_id}/uptime (api/monitoring.py).
from sitekeeper.api.monitoring import router as uptime_router  # noqa: E402

api.add_router("/sites", uptime_router)

# Backups per site: catalogue, runs, restore tests; staff start jobs: /api/v1/backups/… (api/backups.py).
from sitekeeper.api.backups import router as backups_router  # noqa: E402

api.add_router("/backups", backups_router)

# Security per site: findings, incidents; staff accept findings: /api/v1/security/… (api/security.py).
from sitekeeper.api.security import router as security_router  # noqa: E402

api.add_router("/security", security_router)

# Broken-link scans per site and one scan with its defects: /api/v1/links/… (api/links.py).
from sitekeeper.api.links import router as links_router  # noqa: E402

api.add_router("/links", links_router)

# Lighthouse results per site and one audit: /api/v1/performance/… (api/performance.py).
from sitekeeper.api.performance import router as performance_router  # noqa: E402

api.add_router("/performance", performance_router)

# Release records of the staged update pipeline; staff approve: /api/v1/releases/… (api/releases.py).
from sitekeeper.api.releases import router as releases_router  # noqa: E402

api.add_router("/releases", releases_router)
