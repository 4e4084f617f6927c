"""Issue 14.8: a refused request (403) is logged as one line — method, path, user id, reason — not as the
traceback of its PermissionDenied (settings.LOGGING, sitekeeper.web.logfilters)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from django.test import Client as HttpClient

from sitekeeper.web.logfilters import ForbiddenOneLine

pytestmark = pytest.mark.django_db


@pytest.fixture
def console() -> Iterator[io.StringIO]:
    """What the configured console handler (the one `sitekeeper serve` writes to stderr) prints."""
    handlers = [
        handler
        for handler in logging.getLogger().handlers
        if any(isinstance(f, ForbiddenOneLine) for f in handler.filters)
    ]
    assert len(handlers) == 1, "settings.LOGGING: the root's console handler carries ForbiddenOneLine"
    handler = handlers[0]
    output = io.StringIO()
    previous = handler.setStream(output)
    try:
        yield output
    finally:
        handler.setStream(previous)


def forbidden_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if getattr(record, "status_code", None) == 403]


def test_permission_denied_is_one_line_with_method_path_user_and_reason(caplog, console, owner):
    http = HttpClient()
    http.force_login(owner)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = http.get("/staff/")
    assert response.status_code == 403
    (record,) = forbidden_records(caplog)
    assert record.name == "django.request"
    assert record.exc_info is None
    assert record.exc_text is None
    assert record.getMessage() == (
        f'403 Forbidden: GET /staff/ user={owner.pk} reason="This page is not available to your role."'
    )
    assert "Traceback" not in caplog.text
    printed = console.getvalue()
    assert printed.splitlines() == [record.getMessage()]


def test_a_csrf_refusal_is_one_line_too(caplog, console):
    """django.security.csrf logs its 403 on a child logger: the console handler's filter shortens it."""
    http = HttpClient(enforce_csrf_checks=True)
    with caplog.at_level(logging.WARNING):
        response = http.post("/login/", {"username": "someone", "password": "x"})
    assert response.status_code == 403
    (record,) = forbidden_records(caplog)
    assert record.name == "django.security.csrf"
    assert console.getvalue().splitlines() == [
        '403 Forbidden: POST /login/ user=anonymous reason="Forbidden (CSRF cookie not set.): /login/"'
    ]


def test_other_answers_keep_djangos_message(caplog, console, engineer):
    http = HttpClient()
    http.force_login(engineer)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert http.get("/staff/no-such-page/").status_code == 404
    (record,) = [r for r in caplog.records if r.name == "django.request"]
    assert record.getMessage() == "Not Found: /staff/no-such-page/"
    assert console.getvalue().splitlines() == ["Not Found: /staff/no-such-page/"]


def test_a_long_or_multiline_reason_stays_one_short_line():
    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "Forbidden: %s", ("/x",), None)
    record.status_code = 403
    record.request = None
    error = PermissionError("first line\nsecond line " + "x" * 500)
    record.exc_info = (PermissionError, error, None)
    assert ForbiddenOneLine().filter(record)
    message = record.getMessage()
    assert "\n" not in message
    assert message.startswith('403 Forbidden: - - user=- reason="first line second line xxx')
    assert len(message) < 300
    assert record.exc_info is None
