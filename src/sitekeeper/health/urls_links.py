"""Site-health routes: the staff overview of every site's links and performance; broken-link scans — the
staff console per site (scans, scan now), one scan with its live progress; the portal's per-site scans and
one finished scan."""

from __future__ import annotations

from django.urls import path

from sitekeeper.health import views_health
from sitekeeper.health import views_links as views

urlpatterns = [
    path("staff/health/", views_health.staff_overview, name="staff_health"),
    path("staff/health/site/<int:pk>/links/", views.staff_site_links, name="staff_links_site"),
    path("staff/health/site/<int:pk>/links/scan/", views.staff_scan_now, name="staff_links_scan_now"),
    path("staff/health/links/<int:pk>/", views.staff_scan, name="staff_links_scan"),
    path("staff/health/links/<int:pk>/live/", views.staff_scan_live, name="staff_links_live"),
    path("portal/health/site/<int:pk>/links/", views.portal_site_links, name="portal_links_site"),
    path("portal/health/links/<int:pk>/", views.portal_scan, name="portal_links_scan"),
]
