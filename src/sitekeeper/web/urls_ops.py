"""Routes of the ops pages (included from web/urls.py)."""

from django.urls import URLPattern, path

from sitekeeper.web import views_ops

urlpatterns: list[URLPattern] = [
    path("staff/", views_ops.staff_dashboard, name="staff_dashboard"),
    path("staff/business/", views_ops.staff_business, name="staff_business"),
]
