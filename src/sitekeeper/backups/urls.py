"""Backups routes: the staff console's catalogue and actions, the portal's read-only catalogue with the
download request, the live status fragments and the recovery runbook (page and Markdown)."""

from __future__ import annotations

from django.urls import path

from sitekeeper.backups import views

urlpatterns = [
    path("staff/backups/", views.staff_overview, name="staff_backups"),
    path("staff/backups/site/<int:pk>/", views.staff_site, name="staff_backups_site"),
    path("staff/backups/site/<int:pk>/live/", views.staff_live, name="staff_backups_live"),
    path("staff/backups/site/<int:pk>/backup/", views.staff_backup_now, name="staff_backups_backup_now"),
    path(
        "staff/backups/site/<int:pk>/restore-test/",
        views.staff_restore_test,
        name="staff_backups_restore_test",
    ),
    path("staff/backups/site/<int:pk>/restore/", views.staff_restore, name="staff_backups_restore"),
    path("staff/backups/site/<int:pk>/runbook/", views.staff_runbook, name="staff_backups_runbook"),
    path("staff/backups/site/<int:pk>/runbook.md", views.staff_runbook_md, name="staff_backups_runbook_md"),
    path(
        "staff/backups/site/<int:pk>/runbook/reviewed/",
        views.staff_runbook_reviewed,
        name="staff_backups_runbook_reviewed",
    ),
    path("staff/backups/exports/<int:pk>/", views.staff_export_download, name="staff_backups_export"),
    path("portal/backups/", views.portal_overview, name="portal_backups"),
    path("portal/backups/site/<int:pk>/", views.portal_site, name="portal_backups_site"),
    path("portal/backups/site/<int:pk>/live/", views.portal_live, name="portal_backups_live"),
    path("portal/backups/site/<int:pk>/export/", views.portal_export, name="portal_backups_export_request"),
    path("portal/backups/site/<int:pk>/runbook/", views.portal_runbook, name="portal_backups_runbook"),
    path(
        "portal/backups/site/<int:pk>/runbook.md", views.portal_runbook_md, name="portal_backups_runbook_md"
    ),
    path("portal/backups/exports/<int:pk>/", views.portal_export_download, name="portal_backups_export"),
]
