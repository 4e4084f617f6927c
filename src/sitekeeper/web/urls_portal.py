"""Routes of the portal pages (included from web/urls.py)."""

from django.urls import URLPattern, path

from sitekeeper.web import views_portal

urlpatterns: list[URLPattern] = [
    # Client portal: scoped to the person's own client.
    path("portal/", views_portal.portal_home, name="portal_home"),
    path("portal/sites/<int:pk>/", views_portal.portal_site, name="portal_site"),
]
