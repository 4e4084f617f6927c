"""/account/two-factor/…: enrol, verify, recovery codes (issue 14, being built)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
