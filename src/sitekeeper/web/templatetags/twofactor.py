"""The login page's note on demo accounts: which accounts `sitekeeper demo` made, and that they need no second
factor. Only where that is true (access/twofactor.demo_accounts_honoured: not on https) — on an installation
reached over https the page names no accounts."""

from __future__ import annotations

from django import template

from sitekeeper.access.models import User
from sitekeeper.access.twofactor import demo_accounts_honoured

register = template.Library()


@register.simple_tag
def demo_logins() -> list[User]:
    """The active demo accounts, agency staff first, then each client's; none where they are not honoured."""
    if not demo_accounts_honoured():
        return []
    people = User.objects.filter(is_demo=True, is_active=True).select_related("client")
    return sorted(people, key=lambda p: (p.client is not None, p.client.name if p.client else "", p.username))
