"""Routes of the console pages (included from web/urls.py)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
