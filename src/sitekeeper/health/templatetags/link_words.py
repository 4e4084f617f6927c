"""How a client reads a link of their own site: as a path on it ("/size-guide/"), not the address the crawler
used (which may be a staging host, or the demo's local copy). Staff pages keep the full address."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def on_site(url: str, start_url: str) -> str:
    """{{ defect.url|on_site:scan.start_url }}: the part after the scan's start address, as a path; any other
    address unchanged (an external link, or one on another host)."""
    base = (start_url or "").rstrip("/")
    if base and (url == base or url.startswith(base + "/")):
        return url[len(base) :] or "/"
    return url
