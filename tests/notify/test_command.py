"""`sitekeeper notify_test`: one message straight through a channel, for checking a configuration."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sitekeeper.notify.channels.webhook import verify_signature


def test_notify_test_sends_a_signed_webhook(sink, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", "whsec-1")
    out = io.StringIO()
    call_command(
        "notify_test", "webhook", sink.url("/T0KEN-abcdef123456"), "--secret-env", "HOOK_SECRET", stdout=out
    )
    assert "sent to" in out.getvalue()
    assert "T0KEN" not in out.getvalue()
    [request] = sink.requests
    headers = request.headers
    assert headers["x-sitekeeper-event"] == "notify.test"
    assert verify_signature(
        "whsec-1", headers["x-sitekeeper-timestamp"], request.body, headers["x-sitekeeper-signature"]
    )


def test_notify_test_reports_a_failure_without_the_token(closed_port):
    with pytest.raises(CommandError) as caught:
        call_command("notify_test", "webhook", f"http://127.0.0.1:{closed_port}/T0KEN-abcdef123456")
    assert "ConnectError" in str(caught.value)
    assert "T0KEN" not in str(caught.value)
