"""Routes of the portal pages (included from web/urls.py)."""

from django.urls import URLPattern, path

from sitekeeper.web import views_portal

urlpatterns: list[URLPattern] = [
    # Client portal: scoped to the person's own client.
    path("portal/", views_portal.portal_home, name="portal_home"),
    path("portal/sites/<int:pk>/", views_portal.portal_site, name="portal_site"),
    # Area pages: the client's sites with the area's state in one line, each leading to the site's page.
    path("portal/uptime/", views_portal.portal_uptime, name="portal_uptime"),
    path("portal/security/", views_portal.portal_security, name="portal_security"),
    path("portal/health/", views_portal.portal_health, name="portal_health"),
    path("portal/updates/", views_portal.portal_updates, name="portal_updates"),
]
