"""One shape for every error under /api/v1, and the responses every operation documents.

Every error is JSON: `{"detail": "<one sentence>", "errors": [{"loc": [...], "msg": "...", "type": "..."}]}`.
`detail` was always a string for 401/403/404/409 (clients compare it and show it), so it stays one; a bad
parameter or body (422) names each problem in `errors` (where: `["query", "limit"]`, what, and pydantic's
error type), other errors have an empty list. Django's own answers under the API (404 for a path no route
matches, 405 for a method a path does not take, 500) are made JSON here too, so a client never has to parse an
HTML page.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from pydantic import Field

# Django's logger for failed requests: its handlers (e-mail to ADMINS, the console) get the traceback.
request_logger = logging.getLogger("django.request")

# What each shared status means, as the OpenAPI document says it.
DESCRIPTIONS: dict[int, str] = {
    400: "The body is not JSON (or not the JSON object the operation takes)",
    401: "No token, or not a valid one: send `Authorization: Bearer sk_…` (see `WWW-Authenticate`)",
    403: "The token's owner may not do this (e.g. an action for agency staff only)",
    404: "No such object, or not one this token may see (another client's object is a 404, never a 403)",
    422: "A parameter or the body is invalid: `errors` names each problem (`loc`: where, `msg`: what)",
    429: "Too many failed token attempts from this address: wait `Retry-After` seconds",
}


class ErrorItemOut(Schema):
    loc: list[str | int] = Field(description='Where: e.g. ["query", "limit"], ["body", "type"]')
    msg: str = Field(description="What is wrong, in words")
    type: str = Field(description="A stable code for the problem (pydantic's error type, e.g. missing)")


class ErrorOut(Schema):
    """Every error answer of the API."""

    detail: str = Field(description="What went wrong, in one sentence")
    errors: list[ErrorItemOut] = Field(
        default_factory=list, description="Each invalid parameter or field (422); empty for other errors"
    )


def answers(own: Mapping[int, Any]) -> dict[int, Any]:
    """An operation's `response=`: the errors every operation can answer with, plus its own statuses (which
    may add one, e.g. 409, or replace one with a shape that says more, e.g. a 422 naming missing fields)."""
    return {**dict.fromkeys(DESCRIPTIONS, ErrorOut), **own}


def error_body(detail: str, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"detail": detail, "errors": errors or []}


def _item(error: Mapping[str, Any]) -> dict[str, Any]:
    # Only loc, msg and type: pydantic's `input` would echo what was sent, `ctx` is its internals.
    loc = [part if isinstance(part, int) else str(part) for part in error.get("loc", ())]
    return {"loc": loc, "msg": str(error.get("msg", "")), "type": str(error.get("type", "invalid"))}


def _summary(items: list[dict[str, Any]]) -> str:
    parts = [f"{'.'.join(str(p) for p in item['loc']) or 'request'}: {item['msg']}" for item in items[:3]]
    more = f" (and {len(items) - 3} more)" if len(items) > 3 else ""
    return "Invalid request: " + "; ".join(parts) + more


def _validation_error(api: NinjaAPI) -> Callable[[HttpRequest, ValidationError], HttpResponse]:
    def handle(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        items = [_item(error) for error in exc.errors]
        return api.create_response(request, error_body(_summary(items), items), status=422)

    return handle


def _http_error(api: NinjaAPI) -> Callable[[HttpRequest, HttpError], HttpResponse]:
    def handle(request: HttpRequest, exc: HttpError) -> HttpResponse:
        response = api.create_response(request, error_body(str(exc)), status=exc.status_code)
        # A 429 says when to come back (api/auth.py's TokenGuessingError carries it as `retry_after`).
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            response["Retry-After"] = str(int(retry_after))
        return response

    return handle


def _unauthorized(api: NinjaAPI) -> Callable[[HttpRequest, AuthenticationError], HttpResponse]:
    def handle(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        response = api.create_response(request, error_body(str(exc)), status=exc.status_code)
        if exc.status_code == 401:
            response["WWW-Authenticate"] = 'Bearer realm="sitekeeper"'  # RFC 6750: how to authenticate
        return response

    return handle


def _not_found(api: NinjaAPI) -> Callable[[HttpRequest, Exception], HttpResponse]:
    def handle(request: HttpRequest, exc: Exception) -> HttpResponse:
        # Always the same words: get_object_or_404's message would name the model that was looked up.
        return api.create_response(request, error_body("Not Found"), status=404)

    return handle


def _forbidden(api: NinjaAPI) -> Callable[[HttpRequest, Exception], HttpResponse]:
    def handle(request: HttpRequest, exc: Exception) -> HttpResponse:
        return api.create_response(request, error_body(str(exc) or "Forbidden"), status=403)

    return handle


def _server_error(api: NinjaAPI) -> Callable[[HttpRequest, Exception], HttpResponse]:
    def handle(request: HttpRequest, exc: Exception) -> HttpResponse:
        # Logged with its traceback where Django logs a 500; the client gets no internals.
        context = {"status_code": 500, "request": request}
        request_logger.error("Internal Server Error: %s", request.path, exc_info=exc, extra=context)
        response = api.create_response(request, error_body("Internal server error"), status=500)
        response._has_been_logged = True  # type: ignore[attr-defined]  # Django's log_response: once is enough
        return response

    return handle


def install(api: NinjaAPI) -> None:
    """Give the API its JSON error answers (ninja looks handlers up by the exception's class hierarchy)."""
    api.add_exception_handler(Exception, _server_error(api))
    api.add_exception_handler(HttpError, _http_error(api))
    api.add_exception_handler(AuthenticationError, _unauthorized(api))
    api.add_exception_handler(ValidationError, _validation_error(api))
    api.add_exception_handler(Http404, _not_found(api))
    api.add_exception_handler(PermissionDenied, _forbidden(api))


def json_answers(view: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap one of the API's URL views so that what Django would answer with an HTML or text body is JSON:
    ninja's 405 for a method a path does not take (Django's HttpResponseNotAllowed), and the 404 of the
    API's root /api/v1/ (ninja raises Http404 there to let Django answer)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        try:
            response = view(request, *args, **kwargs)
        except Http404:
            detail = "Not Found: see /api/v1/docs (or /api/v1/openapi.json) for the operations"
            return _json_response(error_body(detail), 404)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = response["Allow"]
            detail = f"Method {request.method} is not allowed here; allowed: {allowed}"
            response = _json_response(error_body(detail), 405)
            response["Allow"] = allowed
        return response

    return wrapper


def _json_response(data: dict[str, Any], status: int) -> HttpResponse:
    return HttpResponse(json.dumps(data), status=status, content_type="application/json; charset=utf-8")
