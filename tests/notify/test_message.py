"""Recipients and messages: validation, redaction, scrubbing, JSON round trips, event prefixes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from sitekeeper.notify import Message, Recipient
from sitekeeper.notify.message import KINDS, event_matches, redact
from sitekeeper.notify.models import Kind

TOKEN = "T0KEN-abcdef123456"


def test_model_kinds_and_message_kinds_agree():
    assert {choice.value for choice in Kind} == set(KINDS)


@pytest.mark.parametrize(
    ("kind", "target"),
    [("sms", "+49 30 1"), ("email", ""), ("webhook", "  "), ("email", "a@b.test\r\nBcc: c@d.test")],
)
def test_a_recipient_needs_a_known_kind_and_a_target(kind, target):
    with pytest.raises(ValueError, match=r"kind|target"):
        Recipient(kind=kind, target=target)


def test_repr_shows_neither_the_secret_nor_the_token_in_the_url():
    recipient = Recipient(
        "webhook", f"https://hooks.example.test/services/{TOKEN}", "Ops", secret="s3cr3t-value"
    )
    text = repr(recipient)
    assert "s3cr3t-value" not in text
    assert TOKEN not in text
    assert "hooks.example.test" in text


@pytest.mark.parametrize(
    ("kind", "target", "label"),
    [
        ("email", "owner@acme.test", "owner@acme.test"),
        (
            "webhook",
            f"https://hooks.example.test:8443/services/{TOKEN}?x=1",
            "https://hooks.example.test:8443/…",
        ),
        ("webhook", "https://hooks.example.test", "https://hooks.example.test"),
        ("webhook", f"https://user:{TOKEN}@hooks.example.test/", "https://hooks.example.test"),
        ("apprise", f"tgram://{TOKEN}/12345", "tgram://…"),
        ("apprise", f"slack://{TOKEN}/B0/C0", "slack://…"),
    ],
)
def test_labels_leave_out_tokens(kind, target, label):
    assert redact(kind, target) == label


@pytest.mark.parametrize(
    ("kind", "target"),
    [
        ("webhook", f"https://hooks.example.test/services/{TOKEN}"),
        ("webhook", f"https://hooks.example.test/in?token={TOKEN}"),
        ("webhook", f"https://bot:{TOKEN}@hooks.example.test/"),
        ("apprise", f"tgram://{TOKEN}/12345678"),
        ("apprise", f"json://127.0.0.1:8080/path/{TOKEN}"),
    ],
)
def test_scrub_removes_the_secret_and_url_tokens(kind, target):
    recipient = Recipient(kind, target, secret="hmac-secret-1")
    text = f"failed for {target} (url={target}) token {TOKEN} with hmac-secret-1"
    scrubbed = recipient.scrub(text)
    assert TOKEN not in scrubbed
    assert "hmac-secret-1" not in scrubbed


def test_a_short_secret_is_scrubbed_too():
    assert "xy" not in Recipient("webhook", "https://h.test/", secret="xy").scrub("value xy here")


def test_message_data_is_made_json_safe_where_it_is_built():
    moment = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    message = Message("s", "t", data={"at": moment, "fee": Decimal("9.50")})
    assert message.data == {"at": "2026-03-01T12:00:00Z", "fee": "9.50"}
    with pytest.raises(TypeError):
        Message("s", "t", data={"bad": object()})


def test_a_header_with_a_line_break_is_refused():
    with pytest.raises(ValueError, match="line break"):
        Message("s", "t", headers={"Reply-To": "a@b.test\r\nBcc: everyone@b.test"})


def test_message_round_trips_through_json_with_attachments():
    message = Message(
        subject="Breach",
        text="plain",
        html="<p>html</p>",
        event="ticket.breach",
        data={"ticket": 42},
        headers={"In-Reply-To": "<1@desk>"},
        attachments=[("report.pdf", b"%PDF-\x00\xff", "application/pdf")],
    )
    assert Message.from_json(message.to_json()) == message


@pytest.mark.parametrize(
    ("event", "prefixes", "wanted"),
    [
        ("ticket.breach", [], True),
        ("ticket.breach", ["ticket"], True),
        ("ticket.breach", ["ticket."], True),
        ("ticket.breach", ["ticket.breach"], True),
        ("ticket.breach", ["ticket.warning"], False),
        ("tickets.x", ["ticket"], False),
        ("monitor.down", ["ticket", "monitor"], True),
        ("", ["ticket"], False),
    ],
)
def test_event_prefixes(event, prefixes, wanted):
    assert event_matches(event, prefixes) is wanted
