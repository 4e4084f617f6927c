"""Monitoring routes: staff console pages, the portal's uptime page, public status pages and /metrics."""

from __future__ import annotations

from django.urls import path

from sitekeeper.monitoring import views

urlpatterns = [
    path("staff/monitoring/", views.staff_overview, name="staff_monitoring"),
    path("staff/monitoring/sites/<int:pk>/", views.staff_site_uptime, name="staff_site_uptime"),
    path(
        "staff/monitoring/sites/<int:pk>/announce/",
        views.announce_maintenance,
        name="staff_announce_maintenance",
    ),
    path("staff/monitoring/sites/<int:pk>/monitors/", views.monitor_add, name="staff_monitor_add"),
    path("staff/monitoring/monitors/<int:pk>/", views.monitor_edit, name="staff_monitor_edit"),
    path("staff/monitoring/monitors/<int:pk>/pause/", views.monitor_pause, name="staff_monitor_pause"),
    path("staff/monitoring/monitors/<int:pk>/resume/", views.monitor_resume, name="staff_monitor_resume"),
    path("staff/monitoring/outages/<int:pk>/tag/", views.tag_outage, name="staff_tag_outage"),
    path("portal/sites/<int:pk>/uptime/", views.portal_site_uptime, name="portal_site_uptime"),
    path("status/<slug:slug>/", views.status_page, name="status_page"),
    path("metrics", views.metrics, name="metrics"),
]
