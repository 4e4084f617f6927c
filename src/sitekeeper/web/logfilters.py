"""Logging filters (settings.LOGGING).

Django logs a PermissionDenied on `django.request` with the exception attached, so every refused request
printed a traceback — pages of noise for what is an expected answer, and a crawler probing URLs fills the log.
`ForbiddenOneLine` turns each 403 record into one line: method, path, user id and reason. Loaded by
dictConfig before the apps are ready, so it imports nothing of the models.
"""

from __future__ import annotations

import logging
from typing import Any

MAX_REASON = 200  # a reason is a sentence from our own code; cut anything longer rather than flood the log


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_REASON else flat[: MAX_REASON - 1] + "…"


def _user_id(request: Any) -> str:
    """The user's primary key, 'anonymous', or '-' when the request never reached authentication."""
    user = getattr(request, "user", None)
    if user is None:
        return "-"
    try:
        return str(user.pk) if user.is_authenticated else "anonymous"
    except Exception:  # noqa: BLE001 - a lazy user whose session cannot be read: still log the line
        return "-"


def _reason(record: logging.LogRecord) -> str:
    """The PermissionDenied's own message when it has one, else what Django said (e.g. the CSRF reason)."""
    exception = record.exc_info[1] if record.exc_info else None
    if exception is not None and str(exception):
        return _one_line(str(exception))
    return _one_line(record.getMessage())


class ForbiddenOneLine(logging.Filter):
    """Rewrite a 403 record as `403 Forbidden: GET /path user=7 reason="…"`, without its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) != 403 or getattr(record, "forbidden_one_line", False):
            return True
        request = getattr(record, "request", None)
        method = getattr(request, "method", "-") or "-"
        path = (getattr(request, "path", "-") or "-").encode("unicode_escape").decode("ascii")
        reason = _reason(record)  # before msg and args are replaced: it may read the original message
        record.msg = '403 Forbidden: %s %s user=%s reason="%s"'
        record.args = (method, path, _user_id(request), reason)
        record.exc_info = None
        record.exc_text = None
        record.forbidden_one_line = True  # the same record passes this filter again on the handler
        return True
