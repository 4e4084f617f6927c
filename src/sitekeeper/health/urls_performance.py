"""Performance routes: the staff console per site (results, trend, run now, key pages), one audit with its
live progress, a result's JSON report; the portal's per-site scores and trends. Included from the root URL
conf with `path("", include("sitekeeper.health.urls_performance"))`."""

from __future__ import annotations

from django.urls import path

from sitekeeper.health import views_performance as views

urlpatterns = [
    path("staff/health/site/<int:pk>/performance/", views.staff_site, name="staff_performance_site"),
    path("staff/health/site/<int:pk>/performance/run/", views.staff_run, name="staff_performance_run"),
    path("staff/health/site/<int:pk>/pages/", views.staff_pages, name="staff_performance_pages"),
    path("staff/health/performance/<int:pk>/", views.staff_audit, name="staff_performance_audit"),
    path("staff/health/performance/<int:pk>/live/", views.staff_audit_live, name="staff_performance_live"),
    path("staff/health/lighthouse/<int:pk>/report.json", views.staff_report, name="staff_performance_report"),
    path("portal/health/site/<int:pk>/performance/", views.portal_site, name="portal_performance_site"),
]
