"""REST API /api/v1: read access to plans, clients, contracts and sites, scoped like the portal.

Every operation needs a token (api/auth.py); the OpenAPI document and its docs page are public, they hold
no data. A client person's lists hold only their own client's objects, and another client's object is a
404, exactly as in the portal (the scoping querysets are shared with the web pages).

Every answer under /api/v1 is JSON, errors included, in the one shape of api/errors.py; every operation
documents the errors it can answer with (api/errors.answers), and tests/api/test_openapi_conformance.py
holds the API to its document with schemathesis.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from ninja import NinjaAPI, Router

from sitekeeper.access.models import User
from sitekeeper.access.permissions import visible_clients, visible_contracts, visible_plans, visible_sites
from sitekeeper.api import errors
from sitekeeper.api.auth import TokenAuth
from sitekeeper.api.errors import answers
from sitekeeper.api.params import SiteId, object_id, slug
from sitekeeper.api.schemas import ClientDetailOut, ClientOut, ContractOut, PlanOut, SiteOut
from sitekeeper.contracts.models import Client, Contract, Plan, Site

DESCRIPTION = """Maintenance contracts, plans and sites, the service desk, uptime, backups, security, site
health and releases.

Authenticate with `Authorization: Bearer sk_…` (create a token at /account/tokens/). A client person's token
sees only their own client; another client's object is a 404.

Every error is JSON of one shape: `{"detail": "<one sentence>", "errors": [{"loc": ["query", "limit"],
"msg": "…", "type": "…"}]}` — `errors` names each invalid parameter or field (422) and is empty otherwise.
Instants are RFC 3339 date-times in UTC; money, hours and percentages are exact decimal strings."""

# Headers some shared errors carry, for the document (api/errors.py and ninja's throttling set them).
ERROR_HEADERS: dict[str, dict[str, Any]] = {
    "401": {
        "WWW-Authenticate": {"description": "How to authenticate: `Bearer`", "schema": {"type": "string"}}
    },
    "405": {"Allow": {"description": "The methods this path takes", "schema": {"type": "string"}}},
    "429": {
        "Retry-After": {"description": "Seconds to wait before trying again", "schema": {"type": "integer"}}
    },
}


class SitekeeperAPI(NinjaAPI):
    """NinjaAPI whose OpenAPI document words the shared errors and names the headers they carry."""

    def get_openapi_schema(self, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(**kwargs)
        for methods in schema["paths"].values():
            for operation in methods.values():
                _describe_errors(operation["responses"])
        return schema


def _describe_errors(responses: dict[Any, dict[str, Any]]) -> None:
    for status, response in responses.items():
        code = str(status)
        if int(code) in errors.DESCRIPTIONS:
            response["description"] = errors.DESCRIPTIONS[int(code)]
        if code in ERROR_HEADERS:
            response["headers"] = ERROR_HEADERS[code]


api = SitekeeperAPI(
    title="sitekeeper",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api",
    auth=TokenAuth(),
)
errors.install(api)


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined,no-any-return]


def _contracts(request: HttpRequest) -> QuerySet[Contract]:
    return visible_contracts(_user(request)).prefetch_related("maintenance_windows")


@api.get("/plans", response=answers({200: list[PlanOut]}), tags=["plans"])
def list_plans(request: HttpRequest) -> QuerySet[Plan]:
    return visible_plans(_user(request))


@api.get("/plans/{slug}", response=answers({200: PlanOut}), tags=["plans"])
def get_plan(request: HttpRequest, slug: slug("plan")) -> Plan:  # type: ignore[valid-type]
    return get_object_or_404(visible_plans(_user(request)), slug=slug)


@api.get("/clients", response=answers({200: list[ClientOut]}), tags=["clients"])
def list_clients(request: HttpRequest) -> QuerySet[Client]:
    return visible_clients(_user(request))


@api.get("/clients/{slug}", response=answers({200: ClientDetailOut}), tags=["clients"])
def get_client(request: HttpRequest, slug: slug("client")) -> Client:  # type: ignore[valid-type]
    return get_object_or_404(visible_clients(_user(request)).prefetch_related("contacts"), slug=slug)


@api.get("/contracts", response=answers({200: list[ContractOut]}), tags=["contracts"])
def list_contracts(request: HttpRequest) -> QuerySet[Contract]:
    return _contracts(request)


@api.get("/contracts/{int:contract_id}", response=answers({200: ContractOut}), tags=["contracts"])
def get_contract(request: HttpRequest, contract_id: object_id("contract")) -> Contract:  # type: ignore[valid-type]
    return get_object_or_404(_contracts(request), pk=contract_id)


@api.get("/sites", response=answers({200: list[SiteOut]}), tags=["sites"])
def list_sites(request: HttpRequest) -> QuerySet[Site]:
    return visible_sites(_user(request))


@api.get("/sites/{int:site_id}", response=answers({200: SiteOut}), tags=["sites"])
def get_site(request: HttpRequest, site_id: SiteId) -> Site:
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

# Last: any other path under /api/v1 is a JSON 404 (not Django's HTML page), for every method and without a
# token, like a path that is not there at all. Mounted after every router, so it shadows none of their paths.
fallback = Router(auth=None)
EVERY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]


@fallback.api_operation(EVERY_METHOD, "/{path:rest}", include_in_schema=False)
def no_such_path(request: HttpRequest, rest: str) -> None:
    raise Http404(rest)


api.add_router("", fallback)
