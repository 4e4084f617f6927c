"""Per-user API tokens: `Authorization: Bearer sk_…`, checked against the stored SHA-256 digest.

Failed tokens are counted per address (access/lockout.py, in the database so every server process shares the
count); past SITEKEEPER_API_TOKEN_FAILURE_LIMIT the address gets 429 with Retry-After for the cool-off, a
valid token included, so guessing cannot go on by mixing in a known token.
"""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from django.utils import timezone
from ninja.errors import HttpError
from ninja.security import HttpBearer

from sitekeeper.access import lockout
from sitekeeper.access.models import ApiToken, User

# Writing last_used_at on every call would turn each read into a write; a minute's precision is plenty.
LAST_USED_PRECISION = dt.timedelta(minutes=1)


class TokenGuessingError(HttpError):
    """429 for an address that sent too many wrong tokens; `retry_after` seconds until it may try again
    (api/errors.py answers it in the API's error shape, with Retry-After)."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        minutes = -(-retry_after // 60)
        super().__init__(
            429, f"Too many requests with a wrong API token from this address; try again in {minutes} min."
        )


class TokenAuth(HttpBearer):
    """Answers with the token's user, or None (ninja then replies 401); raises TokenGuessingError (429)."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        address = lockout.client_address(request)
        wait = lockout.api_retry_after(address)
        if wait is not None:
            raise TokenGuessingError(wait)
        found = ApiToken.find(token) if token.startswith("sk_") else None
        if found is None:
            wait = lockout.record_api_failure(request, address)
            if wait is not None:
                raise TokenGuessingError(wait)
            return None
        now = timezone.now()
        if found.last_used_at is None or now - found.last_used_at >= LAST_USED_PRECISION:
            # A queryset update: bookkeeping, not a person's change, so no audit entry per API call.
            ApiToken.objects.filter(pk=found.pk).update(last_used_at=now)
        return found.user
