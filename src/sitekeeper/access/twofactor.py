"""The second factor (TOTP with recovery codes, django-otp): who needs one, and the middleware that asks.

Being built in issue 14: this module is owned by the two-factor work; the middleware below is wired in
settings.MIDDLEWARE so that work does not have to touch settings.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class RequireSecondFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)
