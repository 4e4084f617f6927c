"""Security routes: the staff console (overview, a site's findings with actions, incidents) and the portal's
read-only site summary and published incident reports."""

from __future__ import annotations

from django.urls import path

from sitekeeper.security import views

urlpatterns = [
    path("staff/security/", views.staff_overview, name="staff_security"),
    path("staff/security/site/<int:pk>/", views.staff_site, name="staff_security_site"),
    path("staff/security/findings/<int:pk>/accept/", views.staff_accept, name="staff_security_accept"),
    path("staff/security/findings/<int:pk>/approve/", views.staff_approve, name="staff_security_approve"),
    path(
        "staff/security/findings/<int:pk>/quarantine/",
        views.staff_quarantine,
        name="staff_security_quarantine",
    ),
    path("staff/security/findings/<int:pk>/escalate/", views.staff_escalate, name="staff_security_escalate"),
    path("staff/security/incidents/<int:pk>/", views.staff_incident, name="staff_security_incident"),
    path(
        "staff/security/incidents/<int:pk>/checklist/",
        views.staff_incident_tick,
        name="staff_security_incident_tick",
    ),
    path(
        "staff/security/incidents/<int:pk>/notified/",
        views.staff_incident_notified,
        name="staff_security_incident_notified",
    ),
    path(
        "staff/security/incidents/<int:pk>/dismiss/",
        views.staff_incident_dismiss,
        name="staff_security_incident_dismiss",
    ),
    path(
        "staff/security/incidents/<int:pk>/report/",
        views.staff_incident_report,
        name="staff_security_incident_report",
    ),
    path(
        "staff/security/incidents/<int:pk>/report.md",
        views.staff_incident_md,
        name="staff_security_incident_md",
    ),
    path("portal/security/site/<int:pk>/", views.portal_site, name="portal_security_site"),
    path("portal/security/incidents/<int:pk>/", views.portal_incident, name="portal_security_incident"),
    path(
        "portal/security/incidents/<int:pk>/report.md",
        views.portal_incident_md,
        name="portal_security_incident_md",
    ),
]
