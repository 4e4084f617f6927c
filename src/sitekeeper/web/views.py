"""Staff console (/staff/), client portal (/portal/) and the account pages.

Each view carries exactly one access decorator from access/permissions.py; client people reach objects only
through querysets already filtered by their client.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from sitekeeper.access.models import ApiToken, AuditEntry
from sitekeeper.access.permissions import (
    AUDIT_ROLES,
    agency_required,
    audit_viewer_required,
    visible_contracts,
)
from sitekeeper.contracts import coverage
from sitekeeper.contracts.models import Client, Plan, Site
from sitekeeper.web import presenters
from sitekeeper.web.context import announcements, contract_context
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


# Staff console ----------------------------------------------------------------------------------------


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
        # The console's edit pages for the commercial side (views_console.py): admin and account managers.
        "can_edit_book": request.user.role in AUDIT_ROLES,
        **contract_context(client.contract),
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
        "announcements": announcements(contract, now, site),
        **contract_context(contract),
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
