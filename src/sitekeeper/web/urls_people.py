"""Routes of the people pages (included from web/urls.py)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
