"""Template tags of the second factor.

`demo_logins`: the login page's note on the accounts `sitekeeper demo` made, needing no second factor — only
where that is true (access/twofactor.demo_accounts_honoured: not on https); over https it names no accounts.
`owes_second_factor`: whether the person still has to verify in this session (for the top bar)."""

from __future__ import annotations

from typing import Any

from django import template

from sitekeeper.access.models import User
from sitekeeper.access.twofactor import demo_accounts_honoured, is_verified, must_verify

register = template.Library()


@register.simple_tag
def demo_logins() -> list[User]:
    """The active demo accounts, agency staff first, then each client's; none where they are not honoured."""
    if not demo_accounts_honoured():
        return []
    people = User.objects.filter(is_demo=True, is_active=True).select_related("client")
    return sorted(people, key=lambda p: (p.client is not None, p.client.name if p.client else "", p.username))


@register.simple_tag(takes_context=True)
def owes_second_factor(context: dict[str, Any]) -> bool:
    """True while the signed-in person still has to verify (or set up) a second factor in this session: the
    top bar then offers only logging out, not console links that would all lead back to the verify page."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or is_verified(request):
        return False
    return must_verify(user)
