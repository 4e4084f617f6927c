"""The operations console's home (/staff/): what needs a person now."""

from __future__ import annotations

from django.db.models import Count, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from sitekeeper.access.models import CLIENT_ROLES, AuditEntry, User
from sitekeeper.access.permissions import AUDIT_ROLES, agency_required
from sitekeeper.contracts import coverage
from sitekeeper.contracts.models import Client, Contract, Environment, Plan, Site


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
