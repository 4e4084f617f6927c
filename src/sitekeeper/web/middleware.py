"""Security headers and request limits Django and django-csp do not provide (settings.MIDDLEWARE).

* `RequestBodyLimitMiddleware`: a request that declares a body over SITEKEEPER_MAX_REQUEST_MB is answered 413
  before anything reads it. `sitekeeper serve` (waitress) already refuses such bodies while they stream in;
  this covers a deployment behind another WSGI server and the test servers.
* `PermissionsPolicyMiddleware`: the `Permissions-Policy` header from settings.PERMISSIONS_POLICY. Django
  has no setting for it; the one kept package (django-permissions-policy) would be a dependency for these few
  lines, so they are ours.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase

Handler = Callable[[HttpRequest], HttpResponseBase]

API_PREFIX = "/api/"


class RequestBodyLimitMiddleware:
    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response
        self.limit = settings.SITEKEEPER_MAX_REQUEST_BYTES

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        declared = _content_length(request)
        if declared is not None and declared > self.limit:
            return _too_large(request, declared, self.limit)
        return self.get_response(request)


def _content_length(request: HttpRequest) -> int | None:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None  # Django treats an unreadable length as no body; nothing to measure here


def _too_large(request: HttpRequest, declared: int, limit: int) -> HttpResponse:
    megabytes = limit // (1024 * 1024)
    text = (
        f"The request is {declared / (1024 * 1024):.1f} MB; at most {megabytes} MB is accepted. "
        "Send fewer or smaller files."
    )
    if request.path.startswith(API_PREFIX):
        body = json.dumps({"detail": text, "errors": []})  # the API's one error shape (api/errors.py)
        response = HttpResponse(body, status=413, content_type="application/json")
    else:
        response = HttpResponse(text, status=413, content_type="text/plain; charset=utf-8")
    # The body was not read: the connection cannot carry another request after this answer.
    response["Connection"] = "close"
    return response


class PermissionsPolicyMiddleware:
    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response
        self.header = permissions_policy(settings.PERMISSIONS_POLICY)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if self.header:
            response.headers.setdefault("Permissions-Policy", self.header)
        return response


def permissions_policy(features: dict[str, list[str]]) -> str:
    """{"camera": [], "fullscreen": ["self"]} → 'camera=(), fullscreen=(self)' (structured-field syntax:
    self as a token, origins quoted)."""
    parts = []
    for feature, allowed in features.items():
        tokens = [origin if origin in {"self", "*"} else f'"{origin}"' for origin in allowed]
        parts.append(f"{feature}=*" if tokens == ["*"] else f"{feature}=({' '.join(tokens)})")
    return ", ".join(parts)
