"""Staff console (/staff/), client portal (/portal/) and the account pages.

Each view carries exactly one access decorator from access/permissions.py; client people reach objects only
through querysets already filtered by their client.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from sitekeeper.access.models import CLIENT_ROLES, ApiToken, AuditEntry, User
from sitekeeper.access.permissions import (
    AUDIT_ROLES,
    agency_required,
    audit_viewer_required,
    client_sites,
    portal_view,
    visible_contracts,
)
from sitekeeper.contracts import coverage
from sitekeeper.contracts.models import Client, Contract, Environment, Plan, Site
from sitekeeper.contracts.presenters import NOT_SET, contract_credit_rule, zone_of
from sitekeeper.monitoring.models import MaintenanceAnnouncement
from sitekeeper.web import presenters
from sitekeeper.web.forms import TokenForm

AUDIT_PAGE_SIZE = 50


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("staff_dashboard" if request.user.is_agency else "portal_home")


def admin_login(request: HttpRequest) -> HttpResponse:
    """Django admin's login, folded into ours: one login page; non-admins are refused, not looped."""
    target = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        target = reverse("admin:index")
    if not request.user.is_authenticated:
        return redirect_to_login(target)
    if not request.user.is_staff:
        raise PermissionDenied("Django admin is for the agency admin only.")
    return redirect(target)


def _contract_context(contract: Contract | None) -> dict[str, Any]:
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


def _announcements(contract: Contract | None, now: dt.datetime, site: Site | None = None) -> list[Any]:
    """Announced maintenance not over yet (for the site, or for all the contract's sites), soonest first."""
    if contract is None:
        return []
    found = MaintenanceAnnouncement.objects.filter(contract=contract, end__gte=now).prefetch_related("sites")
    if site is not None:
        found = found.filter(Q(sites=None) | Q(sites=site)).distinct()
    return list(found.order_by("start")[:10])


# Staff console ----------------------------------------------------------------------------------------


@agency_required
def staff_dashboard(request: HttpRequest) -> HttpResponse:
    active = Contract.objects.filter(status=Contract.Status.ACTIVE)
    context = {
        "counts": [
            ("Clients", Client.objects.count(), reverse("staff_clients")),
            ("Active contracts", active.count(), reverse("staff_contracts")),
            ("Sites", Site.objects.count(), reverse("staff_sites")),
            ("Environments", Environment.objects.count(), reverse("staff_sites")),
            ("Plans", Plan.objects.count(), reverse("staff_plans")),
            ("Client people", User.objects.filter(role__in=CLIENT_ROLES).count(), None),
        ],
        "revenue": active.values("currency")
        .annotate(total=Sum("monthly_fee"), n=Count("id"))
        .order_by("currency"),
        "by_plan": Plan.objects.annotate(
            n=Count("contracts", filter=Q(contracts__status=Contract.Status.ACTIVE))
        ).order_by("rank"),
        "recent": AuditEntry.objects.all()[:8] if request.user.role in AUDIT_ROLES else None,
        "gaps": coverage.gaps(timezone.now()),
    }
    return render(request, "web/staff/dashboard.html", context)


@agency_required
def staff_clients(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    clients = Client.objects.annotate(
        n_sites=Count("sites", distinct=True), n_contacts=Count("contacts", distinct=True)
    ).order_by("name")
    if query:
        clients = clients.filter(Q(name__icontains=query) | Q(slug__icontains=query))
    rows = [(client, client.contract) for client in clients]
    template = "web/staff/_client_rows.html" if _is_htmx(request) else "web/staff/clients.html"
    return render(request, template, {"rows": rows, "q": query})


@agency_required
def staff_client_detail(request: HttpRequest, slug: str) -> HttpResponse:
    client = get_object_or_404(Client, slug=slug)
    context = {
        "client": client,
        "contacts": client.contacts.all(),
        "people": client.users.order_by("role", "username"),
        "contracts": client.contracts.select_related("plan", "calendar"),
        "sites": client.sites.prefetch_related("environments"),
        "gaps": [gap for site in client.sites.all() for gap in coverage.site_gaps(site, timezone.now())],
        **_contract_context(client.contract),
    }
    return render(request, "web/staff/client_detail.html", context)


@agency_required
def staff_contracts(request: HttpRequest) -> HttpResponse:
    return render(request, "web/staff/contracts.html", {"contracts": visible_contracts(request.user)})


@agency_required
def staff_sites(request: HttpRequest) -> HttpResponse:
    sites = Site.objects.select_related("client").prefetch_related("environments")
    return render(request, "web/staff/sites.html", {"sites": sites})


@agency_required
def staff_site_detail(request: HttpRequest, pk: int) -> HttpResponse:
    site = get_object_or_404(Site.objects.select_related("client").prefetch_related("environments"), pk=pk)
    now, contract = timezone.now(), site.client.contract
    context = {
        "site": site,
        "back": site.client,
        "gaps": coverage.site_gaps(site, now),
        "services": presenters.service_status(site, now, portal=False),
        "announcements": _announcements(contract, now, site),
        **_contract_context(contract),
    }
    return render(request, "web/site_detail.html", context)


@agency_required
def staff_plans(request: HttpRequest) -> HttpResponse:
    # (An annotated query drops Meta.ordering, hence the explicit order: Starter first.)
    plans = list(Plan.objects.annotate(n=Count("contracts")).order_by("rank", "slug"))
    return render(request, "web/staff/plans.html", {"plans": plans, "rows": presenters.plan_table(plans)})


@audit_viewer_required
def staff_audit(request: HttpRequest) -> HttpResponse:
    entries = AuditEntry.objects.select_related("client")
    model = request.GET.get("model", "")
    if model:
        entries = entries.filter(model=model)
    page = Paginator(entries, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    models = AuditEntry.objects.order_by("model").values_list("model", flat=True).distinct()
    return render(request, "web/staff/audit.html", {"page": page, "model": model, "models": models})


# Client portal ----------------------------------------------------------------------------------------


@portal_view(lambda: reverse("staff_dashboard"))
def portal_home(request: HttpRequest) -> HttpResponse:
    client, now = request.user.client, timezone.now()
    sites = client_sites(request.user)
    context = {
        "client": client,
        "sites": sites,
        "services": [(site, presenters.service_status(site, now)) for site in sites],
        "announcements": _announcements(client.contract, now),
        **_contract_context(client.contract),
    }
    return render(request, "web/portal/home.html", context)


@portal_view(lambda pk: reverse("staff_site_detail", args=[pk]))
def portal_site(request: HttpRequest, pk: int) -> HttpResponse:
    site = get_object_or_404(client_sites(request.user), pk=pk)
    now, contract = timezone.now(), request.user.client.contract
    context = {
        "site": site,
        "back": None,
        "services": presenters.service_status(site, now),
        "announcements": _announcements(contract, now, site),
        **_contract_context(contract),
    }
    return render(request, "web/site_detail.html", context)


# Account ----------------------------------------------------------------------------------------------


@login_required
def account_tokens(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        _token, new_key = ApiToken.issue(request.user, form.cleaned_data["name"])
        form = TokenForm()
    tokens = request.user.api_tokens.order_by("-created_at")
    return render(request, "web/account/tokens.html", {"form": form, "tokens": tokens, "new_key": new_key})


@login_required
@require_POST
def account_token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(request.user.api_tokens, pk=pk)
    token.delete()
    if _is_htmx(request):
        return HttpResponse("")  # the row is swapped out in place
    messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("account_tokens")
