"""The operations console's home (/staff/): what needs a person now; and the agency's book (/staff/business/),
where revenue lives — for account managers and the agency admin, not on an engineer's home."""

from __future__ import annotations

from django.db.models import Count, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from sitekeeper.access.models import CLIENT_ROLES, AuditEntry, User
from sitekeeper.access.permissions import AUDIT_ROLES, agency_required, audit_viewer_required
from sitekeeper.contracts.models import Client, Contract, Environment, Plan, Site
from sitekeeper.web import ops


@agency_required
def staff_dashboard(request: HttpRequest) -> HttpResponse:
    sections = ops.console(timezone.now())
    context = {
        "sections": sections,
        "soon_hours": ops.soon_hours(),
        "shown": ops.SHOWN,
        "business": request.user.role in AUDIT_ROLES,
    }
    return render(request, "web/staff/dashboard.html", context)


@audit_viewer_required
def staff_business(request: HttpRequest) -> HttpResponse:
    """The book of contracts: counts, monthly recurring fees per currency, contracts per plan, recent changes
    (the same people who read the audit log: account managers and the agency admin)."""
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
        "recent": AuditEntry.objects.all()[:8],
    }
    return render(request, "web/staff/business.html", context)
