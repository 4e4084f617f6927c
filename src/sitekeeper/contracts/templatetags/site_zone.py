"""`{% load site_zone %}` then `{% timezone site|site_zone %}`: a site's page shows its times in the zone of
the site's contract calendar (UTC without a contract), like every other page with a contract zone."""

from __future__ import annotations

from django import template

from sitekeeper.contracts.models import Site
from sitekeeper.contracts.presenters import zone_of

register = template.Library()


@register.filter
def site_zone(site: Site) -> str:
    """The zone name of the site's current contract calendar ("Europe/Berlin"), "UTC" without a contract."""
    return zone_of(site.client.contract)
