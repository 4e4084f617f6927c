"""/account/two-factor/…: a person's second factor, and the client owner's setting for their organisation."""

from __future__ import annotations

from django.urls import URLPattern, path

from sitekeeper.web import views_twofactor as views

urlpatterns: list[URLPattern] = [
    path("", views.overview, name="two_factor"),
    path("enrol/", views.enrol, name="two_factor_enrol"),
    path("verify/", views.verify, name="two_factor_verify"),
    path("recovery-codes/", views.recovery_codes, name="two_factor_recovery_codes"),
    path("remove/", views.remove, name="two_factor_remove"),
    path("organisation/", views.organisation, name="two_factor_organisation"),
]
