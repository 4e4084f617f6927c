"""Routes of the console's edit pages (included from web/urls.py); views in views_console.py."""

from django.urls import URLPattern, path

from sitekeeper.web import views_console

urlpatterns: list[URLPattern] = [
    # Agency admin and account managers: a client's names and contacts, and its contract.
    path("staff/clients/<slug:slug>/edit/", views_console.staff_client_edit, name="staff_client_edit"),
    path(
        "staff/clients/<slug:slug>/contract/edit/",
        views_console.staff_contract_edit,
        name="staff_contract_edit",
    ),
    # Every agency role, engineers included: a site's addresses and environments.
    path("staff/sites/<int:pk>/edit/", views_console.staff_site_edit, name="staff_site_edit"),
]
