"""The client portal's home and site pages: each client person sees their own client's sites."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone

from sitekeeper.access.permissions import client_sites, portal_view
from sitekeeper.web import presenters
from sitekeeper.web.context import announcements, contract_context


@portal_view(lambda: reverse("staff_dashboard"))
def portal_home(request: HttpRequest) -> HttpResponse:
    client, now = request.user.client, timezone.now()
    sites = client_sites(request.user)
    context = {
        "client": client,
        "sites": sites,
        "services": [(site, presenters.service_status(site, now)) for site in sites],
        "announcements": announcements(client.contract, now),
        **contract_context(client.contract),
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
        "announcements": announcements(contract, now, site),
        **contract_context(contract),
    }
    return render(request, "web/site_detail.html", context)
