"""Per-user API tokens: `Authorization: Bearer sk_…`, checked against the stored SHA-256 digest."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer

from sitekeeper.access.models import ApiToken, User

# Writing last_used_at on every call would turn each read into a write; a minute's precision is plenty.
LAST_USED_PRECISION = dt.timedelta(minutes=1)


class TokenAuth(HttpBearer):
    """Answers with the token's user, or None (ninja then replies 401)."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        if not token.startswith("sk_"):
            return None
        found = ApiToken.find(token)
        if found is None:
            return None
        now = timezone.now()
        if found.last_used_at is None or now - found.last_used_at >= LAST_USED_PRECISION:
            # A queryset update: bookkeeping, not a person's change, so no audit entry per API call.
            ApiToken.objects.filter(pk=found.pk).update(last_used_at=now)
        return found.user
