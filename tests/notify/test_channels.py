"""Each channel against a real server on 127.0.0.1: SMTP (aiosmtpd), Apprise's json://, a webhook receiver."""

from __future__ import annotations

import json
import time

import pytest

from sitekeeper import __version__
from sitekeeper.notify import ChannelError, Message, Recipient
from sitekeeper.notify.channels import get_channel
from sitekeeper.notify.channels.webhook import sign, verify_signature

MESSAGE = Message(
    subject="[ACME-42] Response target missed\r\nBcc: nobody@evil.test",
    text="The response target for ACME-42 was missed.",
    html="<p>The response target for <b>ACME-42</b> was missed.</p>",
    event="ticket.breach",
    data={"ticket": "ACME-42", "clock": "response"},
    headers={
        "Message-ID": "<ticket-42-breach@desk.agency.test>",
        "In-Reply-To": "<ticket-42@desk.agency.test>",
        "References": "<ticket-42@desk.agency.test>",
        "Reply-To": "desk+42@agency.test",
    },
    attachments=(("summary.txt", b"ticket 42\n", "text/plain"),),
)


def test_email_goes_over_smtp_with_text_html_headers_and_attachment(smtp_inbox):
    get_channel("email").send(Recipient("email", "owner@acme.test", "Ann Owner"), MESSAGE)

    [(sender, rcpts, mail)] = smtp_inbox.messages
    assert sender == "desk@agency.test"
    assert rcpts == ["owner@acme.test"]
    assert mail["To"] == "Ann Owner <owner@acme.test>"
    assert mail["Subject"] == "[ACME-42] Response target missed Bcc: nobody@evil.test"
    assert mail["Bcc"] is None
    assert mail["Message-ID"] == "<ticket-42-breach@desk.agency.test>"
    assert mail["In-Reply-To"] == "<ticket-42@desk.agency.test>"
    assert mail["References"] == "<ticket-42@desk.agency.test>"
    assert mail["Reply-To"] == "desk+42@agency.test"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail.get_content_type() == "multipart/mixed"
    [alternative] = [part for part in mail.iter_parts() if part.get_content_type() == "multipart/alternative"]
    assert [part.get_content_type() for part in alternative.iter_parts()] == ["text/plain", "text/html"]
    assert mail.get_body(preferencelist=("plain",)).get_content().strip() == MESSAGE.text
    assert "<b>ACME-42</b>" in mail.get_body(preferencelist=("html",)).get_content()
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == "summary.txt"
    assert attachment.get_content().splitlines() == ["ticket 42"]


def test_email_without_html_is_a_single_text_part(smtp_inbox):
    get_channel("email").send(Recipient("email", "owner@acme.test"), Message("Hello", "Just text"))
    [(_, _, mail)] = smtp_inbox.messages
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content().strip() == "Just text"


def test_email_to_a_dead_relay_raises_channel_error(settings, closed_port):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", closed_port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    with pytest.raises(ChannelError, match=r"owner@acme\.test"):
        get_channel("email").send(Recipient("email", "owner@acme.test"), MESSAGE)


def test_apprise_posts_title_and_body(sink):
    get_channel("apprise").send(Recipient("apprise", f"json://127.0.0.1:{sink.port}/alerts"), MESSAGE)

    [request] = sink.requests
    assert request.path == "/alerts"
    payload = json.loads(request.body)
    assert payload["title"] == MESSAGE.subject
    assert payload["message"] == MESSAGE.text


def test_apprise_failure_is_a_channel_error_with_apprise_reason(sink):
    sink.status = 500
    target = f"json://127.0.0.1:{sink.port}/alerts/T0KEN-abcdef123456"
    with pytest.raises(ChannelError) as caught:
        get_channel("apprise").send(Recipient("apprise", target), MESSAGE)
    assert "500" in str(caught.value)
    assert "T0KEN-abcdef123456" not in str(caught.value)


def test_an_unusable_apprise_url_is_a_channel_error():
    with pytest.raises(ChannelError, match="not a usable Apprise URL"):
        get_channel("apprise").send(Recipient("apprise", "nosuchscheme://abc"), MESSAGE)


def test_webhook_is_signed_over_timestamp_and_raw_body(sink):
    recipient = Recipient("webhook", sink.url("/in"), secret="whsec-0123456789")
    get_channel("webhook").send(recipient, MESSAGE, delivery_id="17")

    [request] = sink.requests
    headers = request.headers
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == f"sitekeeper/{__version__}"
    assert headers["x-sitekeeper-event"] == "ticket.breach"
    assert headers["x-sitekeeper-delivery"] == "17"
    timestamp = headers["x-sitekeeper-timestamp"]
    assert abs(int(timestamp) - time.time()) < 60
    assert verify_signature("whsec-0123456789", timestamp, request.body, headers["x-sitekeeper-signature"])
    assert json.loads(request.body) == {
        "event": "ticket.breach",
        "subject": MESSAGE.subject,
        "text": MESSAGE.text,
        "data": {"ticket": "ACME-42", "clock": "response"},
        "delivery": "17",
    }


def test_webhook_without_a_secret_is_unsigned(sink):
    get_channel("webhook").send(Recipient("webhook", sink.url()), MESSAGE)
    assert "x-sitekeeper-signature" not in sink.requests[0].headers


def test_webhook_non_2xx_is_a_channel_error(sink):
    sink.status = 500
    with pytest.raises(ChannelError, match="HTTP 500"):
        get_channel("webhook").send(Recipient("webhook", sink.url(), secret="whsec-0123456789"), MESSAGE)


def test_webhook_connection_refused_is_a_channel_error_without_the_token(closed_port):
    target = f"http://127.0.0.1:{closed_port}/hooks/T0KEN-abcdef123456"
    with pytest.raises(ChannelError) as caught:
        get_channel("webhook").send(Recipient("webhook", target, secret="whsec-0123456789"), MESSAGE)
    assert "ConnectError" in str(caught.value)
    assert "T0KEN-abcdef123456" not in str(caught.value)
    assert caught.value.__cause__ is None  # the httpx error, which may quote the URL, is not chained


def test_verify_signature_refuses_tampering_other_secrets_and_old_timestamps():
    body = b'{"event":"x"}'
    now = 1_800_000_000
    good = sign("secret-a", str(now), body)
    assert verify_signature("secret-a", str(now), body, good, now=now)
    assert not verify_signature("secret-a", str(now), body + b" ", good, now=now)
    assert not verify_signature("secret-b", str(now), body, good, now=now)
    assert not verify_signature("secret-a", str(now + 1), body, good, now=now)
    assert not verify_signature("secret-a", str(now), body, good, now=now + 301)
    assert not verify_signature("secret-a", "yesterday", body, good, now=now)
