"""Update routes: the staff console of the staged update pipeline (overview, a site, a release with its
actions and live progress, update packages) and the portal's release records. Included from the root URL
conf with `path("", include("sitekeeper.releases.urls"))`."""

from __future__ import annotations

from django.urls import path

from sitekeeper.releases import views

urlpatterns = [
    path("staff/updates/", views.staff_overview, name="staff_updates"),
    path("staff/updates/site/<int:pk>/", views.staff_site, name="staff_updates_site"),
    path("staff/updates/site/<int:pk>/plan/", views.staff_plan, name="staff_updates_plan"),
    path("staff/updates/releases/<int:pk>/", views.staff_release, name="staff_updates_release"),
    path(
        "staff/updates/releases/<int:pk>/live/", views.staff_release_live, name="staff_updates_release_live"
    ),
    path("staff/updates/releases/<int:pk>/approve/", views.staff_approve, name="staff_updates_approve"),
    path("staff/updates/releases/<int:pk>/cancel/", views.staff_cancel, name="staff_updates_cancel"),
    path("staff/updates/releases/<int:pk>/advance/", views.staff_advance, name="staff_updates_advance"),
    path("staff/updates/packages/", views.staff_packages, name="staff_updates_packages"),
    path("staff/updates/packages/fetch/", views.staff_fetch, name="staff_updates_fetch"),
    path("portal/updates/site/<int:pk>/", views.portal_site, name="portal_updates_site"),
    path("portal/updates/releases/<int:pk>/", views.portal_release, name="portal_updates_release"),
]
