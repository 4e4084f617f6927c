"""Django test clients acting as a person: logged in to the pages, or holding an API token of theirs."""

from __future__ import annotations

from typing import Any

from django.test import Client as HttpClient

from sitekeeper.access.models import ApiToken


def browser(user: Any) -> HttpClient:
    """The web pages as `user` (logged in, no password needed)."""
    http = HttpClient()
    http.force_login(user)
    return http


def api(user: Any) -> HttpClient:
    """The REST API as `user`, with a fresh token of theirs."""
    _token, key = ApiToken.issue(user, "test")
    return HttpClient(headers={"Authorization": f"Bearer {key}"})
