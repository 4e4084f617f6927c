"""Client pages name their own site's broken links as paths (health/templatetags/link_words.py)."""

from __future__ import annotations

from sitekeeper.health.templatetags.link_words import on_site

START = "http://127.0.0.1:8810/shop.trailhead.test/"


def test_a_link_on_the_scanned_site_reads_as_its_path() -> None:
    assert on_site("http://127.0.0.1:8810/shop.trailhead.test/size-guide/", START) == "/size-guide/"
    assert on_site("http://127.0.0.1:8810/shop.trailhead.test", START) == "/"
    assert on_site("https://shop.example/about/?a=1", "https://shop.example") == "/about/?a=1"


def test_other_addresses_stay_whole() -> None:
    assert on_site("https://cdn.example/x.js", START) == "https://cdn.example/x.js"
    # A longer host or path that merely starts with the same letters is another address.
    assert (
        on_site("http://127.0.0.1:8810/shop.trailhead.test2/x", START)
        == "http://127.0.0.1:8810/shop.trailhead.test2/x"
    )
    assert on_site("https://shop.example.net/", "https://shop.example") == "https://shop.example.net/"
    assert on_site("https://shop.example/x", "") == "https://shop.example/x"
