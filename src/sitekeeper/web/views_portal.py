"""The client portal's home, site pages and area pages: each client person sees their own client's sites.

The home is "my sites, now" — one card per site (web/portal_cards.py) then the contract. The area pages
(/portal/uptime/, /portal/security/, /portal/health/, /portal/updates/) list the client's sites with the
area's state in one line and lead to each site's page in the app that owns it; a client with a single site
goes straight to that page (health has two pages per site, links and speed, so it always lists).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from sitekeeper.access.permissions import client_sites, portal_view
from sitekeeper.web import portal_cards, presenters
from sitekeeper.web.context import announcements, contract_context


@portal_view(lambda: reverse("staff_dashboard"))
def portal_home(request: HttpRequest) -> HttpResponse:
    client, now = request.user.client, timezone.now()
    sites = list(client_sites(request.user).select_related("client"))
    context = {
        "client": client,
        "cards": portal_cards.site_cards(sites, now),
        "requests": portal_cards.requests_part(client, now),
        "announcements": announcements(client.contract, now),
        **contract_context(client.contract),
    }
    return render(request, "web/portal/home.html", context)


@portal_view(lambda pk: reverse("staff_site_detail", args=[pk]))
def portal_site(request: HttpRequest, pk: int) -> HttpResponse:
    site = get_object_or_404(client_sites(request.user).select_related("client"), pk=pk)
    now, contract = timezone.now(), request.user.client.contract
    context = {
        "site": site,
        "card": portal_cards.site_card(site, now),
        "services": presenters.service_status(site, now),
        "announcements": announcements(contract, now, site),
        **contract_context(contract),
    }
    return render(request, "web/portal/site.html", context)


# Area pages ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Area:
    key: str
    title: str
    intro: str
    part: Callable[..., Any]  # portal_cards' function for the area's part of the card
    site_url: str  # the app's per-site portal page
    single_redirect: bool = True


AREAS = {
    "uptime": Area(
        "uptime",
        "Uptime",
        "How available each of your sites was this month, against the uptime we agreed.",
        portal_cards.uptime_part,
        "portal_site_uptime",
    ),
    "security": Area(
        "security",
        "Security",
        "What our daily security scans found on each of your sites, and what we are doing about it.",
        portal_cards.security_part,
        "portal_security_site",
    ),
    "health": Area(
        "health",
        "Site health",
        "Broken links and speed: our monthly link scan and Lighthouse measurement of each site.",
        portal_cards.health_part,
        "portal_links_site",
        single_redirect=False,
    ),
    "updates": Area(
        "updates",
        "Updates",
        "Updates of each site's software: what is waiting, when it goes live, and how the last one went.",
        portal_cards.updates_part,
        "portal_updates_site",
    ),
}


def _area_page(request: HttpRequest, area: Area) -> HttpResponse:
    sites = list(client_sites(request.user).select_related("client").order_by("name", "url"))
    if area.single_redirect and len(sites) == 1:
        return redirect(reverse(area.site_url, args=[sites[0].pk]))
    now = timezone.now()
    rows = [(site, area.part(site, now)) for site in sites]
    context = {"client": request.user.client, "area": area, "rows": rows}
    return render(request, "web/portal/area.html", context)


@portal_view(lambda: reverse("staff_monitoring"))
def portal_uptime(request: HttpRequest) -> HttpResponse:
    return _area_page(request, AREAS["uptime"])


@portal_view(lambda: reverse("staff_security"))
def portal_security(request: HttpRequest) -> HttpResponse:
    return _area_page(request, AREAS["security"])


@portal_view(lambda: reverse("staff_health"))
def portal_health(request: HttpRequest) -> HttpResponse:
    return _area_page(request, AREAS["health"])


@portal_view(lambda: reverse("staff_updates"))
def portal_updates(request: HttpRequest) -> HttpResponse:
    return _area_page(request, AREAS["updates"])
