"""The favicon: every page built on base.html links the SVG mark, and /favicon.ico (asked for by browsers
whatever the page links) answers anyone with a permanent redirect to it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.test import Client as HttpClient

from tests.web.world import World, fast_passwords, world

__all__ = ["fast_passwords", "world"]

# The stored name may carry the manifest's hash (favicon.<hash>.svg) where the manifest storage is in use.
ICON_LINK = re.compile(
    r'<link rel="icon" href="/static/web/favicon(\.[0-9a-f]+)?\.svg" type="image/svg\+xml">'
)


def test_the_svg_mark_is_a_static_file():
    path = finders.find("web/favicon.svg")
    assert path is not None
    text = Path(path).read_text(encoding="utf-8")
    assert text.lstrip().startswith("<svg")
    assert "#1b2433" in text  # the top bar's ink
    assert "#60a5fa" in text  # "keeper" in the wordmark


@pytest.mark.parametrize("persona", ["anonymous", "admin", "manager", "engineer", "owner", "member"])
def test_favicon_ico_redirects_anyone_to_the_svg(world: World, persona: str):
    http = HttpClient()
    if persona != "anonymous":
        http.force_login(world.users[persona])
    response = http.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].startswith("/static/web/favicon")
    assert response["Location"].endswith(".svg")


@pytest.mark.parametrize(
    ("persona", "url"),
    [("anonymous", "/login/"), ("engineer", "/staff/desk/"), ("owner", "/portal/")],
)
def test_pages_link_the_icon(world: World, persona: str, url: str):
    http = HttpClient()
    if persona != "anonymous":
        http.force_login(world.users[persona])
    response = http.get(url)
    assert response.status_code == 200
    assert ICON_LINK.search(response.text)
