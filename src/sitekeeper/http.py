"""The project's one HTTP client: every outgoing request (webhooks, probes, crawlers) is built here.

One place decides the User-Agent, the timeouts and the environment policy:
- `trust_env=False`: HTTP(S)_PROXY, NO_PROXY, .netrc and SSL_CERT_* from the process environment are
  ignored, so a variable set for some other tool never silently reroutes or authenticates our requests;
- timeouts are always finite: a hanging peer costs seconds, not a worker;
- redirects are followed only when the caller asks (a probe may; a webhook POST must not go elsewhere).

Apprise makes its own requests through `requests`; that is its business, not a second client of ours.
"""

from __future__ import annotations

from typing import Any

import httpx

from sitekeeper import __version__

USER_AGENT = f"sitekeeper/{__version__}"
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
DEFAULT_LIMITS = httpx.Limits(max_connections=20, max_keepalive_connections=10)
MAX_REDIRECTS = 5

# Callers catch these without importing httpx themselves.
HTTPError = httpx.HTTPError
TimeoutException = httpx.TimeoutException
InvalidURL = httpx.InvalidURL  # not an HTTPError subclass in httpx


def _options(
    timeout: float | httpx.Timeout | None,
    headers: dict[str, str] | None,
    follow_redirects: bool,
    extra: dict[str, Any],
) -> dict[str, Any]:
    return {
        "timeout": DEFAULT_TIMEOUT if timeout is None else timeout,
        "headers": {"User-Agent": USER_AGENT, **(headers or {})},
        "follow_redirects": follow_redirects,
        "max_redirects": MAX_REDIRECTS,
        "limits": DEFAULT_LIMITS,
        "trust_env": False,
        **extra,
    }


def client(
    *,
    timeout: float | httpx.Timeout | None = None,
    headers: dict[str, str] | None = None,
    follow_redirects: bool = False,
    **extra: Any,
) -> httpx.Client:
    """A synchronous client; use it as a context manager so its connections are closed."""
    return httpx.Client(**_options(timeout, headers, follow_redirects, extra))


def async_client(
    *,
    timeout: float | httpx.Timeout | None = None,
    headers: dict[str, str] | None = None,
    follow_redirects: bool = False,
    **extra: Any,
) -> httpx.AsyncClient:
    """An asyncio client (probes, crawler); use it with `async with`."""
    return httpx.AsyncClient(**_options(timeout, headers, follow_redirects, extra))
