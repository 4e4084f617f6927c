"""Who may open which page, and the querysets a person may look into.

Every view is wrapped in exactly one of the decorators below (or `portal_view`); the persona matrix test
(tests/web/test_persona_matrix.py) checks each route against its rule, so a new page cannot slip through
without one. Client people only ever reach objects through `client_*` querysets already filtered by their
client, so a lookup of another client's object is a 404, not a permission question.

This lives in access (not in web) because every app's pages and the API decide the same question with it:
apps import it from here, one floor below the pages and the API that use it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from sitekeeper.access.models import AGENCY_ROLES, CLIENT_ROLES, Role, User
from sitekeeper.contracts.models import Client, Contract, Plan, Site

View = Callable[..., HttpResponse]

# Who reads the audit log in the console (engineers see the work, not the change history of contracts).
AUDIT_ROLES = frozenset({Role.AGENCY_ADMIN, Role.ACCOUNT_MANAGER})


def _roles_required(roles: frozenset[str]) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.user.role not in roles:
                raise PermissionDenied("This page is not available to your role.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


agency_required = _roles_required(AGENCY_ROLES)
audit_viewer_required = _roles_required(AUDIT_ROLES)
admin_required = _roles_required(frozenset({Role.AGENCY_ADMIN}))
client_required = _roles_required(CLIENT_ROLES)
# A client's product owner: their own organisation's settings and people (agency people have the console).
client_owner_required = _roles_required(frozenset({Role.CLIENT_OWNER}))


def portal_view(agency_url: Callable[..., str]) -> Callable[[View], View]:
    """A client portal page; agency people are sent to the console's page for the same thing."""

    def decorator(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.user.role in AGENCY_ROLES:
                return redirect(agency_url(*args, **kwargs))
            if request.user.role not in CLIENT_ROLES:
                raise PermissionDenied("No portal for this role.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def visible_clients(user: User) -> QuerySet[Client]:
    clients = Client.objects.all()
    return clients if user.is_agency else clients.filter(pk=user.client_id)


def client_sites(user: User) -> QuerySet[Site]:
    """The sites a client person may see: their own client's, nothing else."""
    return Site.objects.filter(client_id=user.client_id).prefetch_related("environments")


def visible_sites(user: User) -> QuerySet[Site]:
    if user.is_agency:
        return Site.objects.select_related("client").prefetch_related("environments")
    return client_sites(user).select_related("client")


def visible_contracts(user: User) -> QuerySet[Contract]:
    contracts = Contract.objects.select_related("client", "plan", "calendar")
    return contracts if user.is_agency else contracts.filter(client_id=user.client_id)


def visible_plans(user: User) -> QuerySet[Plan]:
    """Agency: every plan. A client person: the published tiers plus the plan(s) of their own contract.

    A custom plan made for one client is named after that client's deal, so others must not see it.
    """
    if user.is_agency:
        return Plan.objects.all()
    return Plan.objects.filter(Q(builtin=True) | Q(contracts__client_id=user.client_id)).distinct()
