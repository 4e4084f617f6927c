"""The project's routes plus the link-scan pages and API as the lead wires them (until they are in
audits/urls.py and api/views.py, the link tests use this URLconf)."""

from __future__ import annotations

from django.urls import include, path
from ninja import NinjaAPI

from sitekeeper.api.auth import TokenAuth
from sitekeeper.api.links import router
from sitekeeper.audits import views_links

api = NinjaAPI(title="links test", version="test", urls_namespace="links-test-api", auth=TokenAuth())
api.add_router("/links", router)

urlpatterns = [
    path("staff/health/site/<int:pk>/links/", views_links.staff_site_links, name="staff_links_site"),
    path("staff/health/site/<int:pk>/links/scan/", views_links.staff_scan_now, name="staff_links_scan_now"),
    path("staff/health/links/<int:pk>/", views_links.staff_scan, name="staff_links_scan"),
    path("staff/health/links/<int:pk>/live/", views_links.staff_scan_live, name="staff_links_live"),
    path("portal/health/site/<int:pk>/links/", views_links.portal_site_links, name="portal_links_site"),
    path("portal/health/links/<int:pk>/", views_links.portal_scan, name="portal_links_scan"),
    path("api/v1/", api.urls),
    path("", include("sitekeeper.urls")),
]
