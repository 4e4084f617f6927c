"""E-mail intake (`sitekeeper mail-in`) and outgoing ticket mail, over a real SMTP server on loopback."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError

from sitekeeper import cli
from sitekeeper.contracts.models import Contact
from sitekeeper.desk import mail, services
from sitekeeper.desk.models import Message, PauseReason, Ticket
from sitekeeper.notify import deliver_pending
from tests.conftest import make_user
from tests.serving import free_port

DESK = "desk@agency.test"
MX = "mx.agency.test"  # the receiving MTA's authserv-id these tests trust (see test_mail_auth.py)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(range(256))
ROOT = Path(__file__).resolve().parents[2]


class Inbox:
    """aiosmtpd handler: every message it accepts, parsed."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[attr-defined]
        self.recipients.append(list(envelope.rcpt_tos))  # type: ignore[attr-defined]
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m, rcpts in zip(self.messages, self.recipients, strict=True) if address in rcpts]


@pytest.fixture(autouse=True)
def trusted_mta(settings, tmp_path) -> None:
    """The desk trusts the Authentication-Results of MX; compose() writes a passing one (as our MTA would
    for a contact's signed mail), so these tests are about intake, not sender verification. And each test
    has a data folder of its own, so the mail one test keeps is not another's."""
    settings.SITEKEEPER_MAIL_AUTHSERV_ID = [MX]
    settings.HOME = tmp_path / "home"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


@pytest.fixture
def smtp(settings, smtp_server) -> Inbox:
    """Django's SMTP backend pointed at a real SMTP server on 127.0.0.1."""
    inbox, port = smtp_server
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.DEFAULT_FROM_EMAIL = f"Agency Desk <{DESK}>"
    settings.SITEKEEPER_BASE_URL = "https://desk.agency.test"
    return inbox


def compose(
    sender: str,
    subject: str,
    body: str = "",
    *,
    message_id: str | None = None,
    headers: dict[str, str] | None = None,
    html: str = "",
    files: tuple[tuple[str, bytes], ...] = (),
    verified: bool = True,
) -> bytes:
    msg = EmailMessage()
    if verified:
        domain = sender.rpartition("@")[2].strip(">")
        msg["Authentication-Results"] = f"{MX}; dkim=pass header.d={domain}; dmarc=pass header.from={domain}"
    msg["From"] = sender
    msg["To"] = DESK
    msg["Subject"] = subject
    msg["Date"] = formatdate()
    msg["Message-ID"] = message_id or make_msgid(domain="client.test")
    for name, value in (headers or {}).items():
        msg[name] = value
    if body:
        msg.set_content(body)
    if html:
        if body:
            msg.add_alternative(html, subtype="html")
        else:
            msg.set_content(html, subtype="html")
    for name, content in files:
        msg.add_attachment(content, maintype="application", subtype="octet-stream", filename=name)
    return msg.as_bytes()


def mail_in(monkeypatch, raw: bytes) -> str:
    """`sitekeeper mail_in` with the message on stdin, as an MTA pipe runs it; returns its output line."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    out = io.StringIO()
    call_command("mail_in", stdout=out)
    return out.getvalue().strip()


def text_and_html(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    markup = message.get_body(preferencelist=("html",))
    assert text is not None, "no text/plain part"
    assert markup is not None, "no text/html part"
    return text.get_content(), markup.get_content()


def thread_reply(to: EmailMessage, sender: str, body: str, *, tag: bool = True) -> bytes:
    """What a mail client sends when the person presses Reply on one of our messages."""
    subject = f"Re: {to['Subject']}" if tag else "Re: your request"
    quoted = "\n".join(f"> {line}" for line in text_and_html(to)[0].splitlines())
    return compose(
        sender,
        subject,
        f"{body}\n\nOn Tue, 3 Mar 2026 at 10:00, Agency Desk wrote:\n{quoted}\n",
        headers={
            "In-Reply-To": to["Message-ID"],
            "References": f"{to['References'] or ''} {to['Message-ID']}",
        },
    )


# --- new requests -----------------------------------------------------------------------------------------


def test_a_contact_mail_becomes_an_incomplete_request_with_an_acknowledgement(monkeypatch, smtp, acme):
    original_id = make_msgid(domain="acme.test")
    raw = compose(
        "Acme Owner <Owner@ACME.test>",
        "Checkout is broken",
        "Customers cannot pay since this morning.",
        message_id=original_id,
    )
    assert mail_in(monkeypatch, raw).startswith("created: created SK-")
    ticket = Ticket.objects.get()
    assert ticket.client == acme
    assert ticket.channel == "email"
    assert ticket.requester == Contact.objects.get(email="owner@acme.test")
    assert ticket.subject == "Checkout is broken"
    assert ticket.description == "Customers cannot pay since this morning."
    assert ticket.incomplete
    assert ticket.missing_fields == ["type", "priority", "site", "environment"]
    assert ticket.pauses.get().reason == PauseReason.INCOMPLETE

    [ack] = smtp.to("owner@acme.test")
    assert ack["Subject"] == f"[{ticket.reference} #{ticket.token}] Checkout is broken"
    assert ticket.token in ack["Message-ID"]
    assert ack["In-Reply-To"] == original_id
    assert original_id in ack["References"]
    assert ack["Reply-To"] == DESK
    assert DESK in ack["From"]
    assert ack["Auto-Submitted"] == "auto-replied"
    text, markup = text_and_html(ack)
    for part in (text, markup):
        assert "type, priority, site, environment" in part
        assert f"https://desk.agency.test/portal/requests/{ticket.pk}/" in part
        assert "Priority: P1 (critical) | P2 (high) | P3 (medium) | P4 (low)" in part
        assert "https://acme.test" in part  # the client's sites, to choose from
    assert "<pre>" in markup
    # The acknowledgement row carries the Message-ID that replies will refer to.
    assert ticket.messages.get(kind=Message.Kind.AUTO).email_message_id == ack["Message-ID"]


def test_field_lines_in_the_first_mail_make_a_complete_request(monkeypatch, smtp, acme):
    body = (
        "Type: change request\nPriority: p2\nSite: https://ACME.test/\nEnvironment: production\n\n"
        "Please add the new opening hours to the footer."
    )
    mail_in(monkeypatch, compose("owner@acme.test", "Opening hours", body))
    ticket = Ticket.objects.get()
    assert not ticket.incomplete
    assert (ticket.type, ticket.priority, ticket.site, ticket.environment) == (
        "change_request",
        "P2",
        acme.sites.get(),
        "prod",
    )
    assert ticket.description == "Please add the new opening hours to the footer."
    assert ticket.response_due is not None
    [ack] = smtp.to("owner@acme.test")
    text, _ = text_and_html(ack)
    assert "missing" not in text
    assert "Priority P2: we respond by" in text
    assert re.search(r"\d{4} \d\d:\d\d CES?T\b", text)  # the zone named


def test_an_environment_address_names_the_site_and_the_environment(monkeypatch, smtp, acme):
    body = "Type: question\nPriority: P4\nSite: https://stage.acme.test\n\nIs stage up to date?"
    mail_in(monkeypatch, compose("owner@acme.test", "Stage", body))
    ticket = Ticket.objects.get()
    assert (ticket.site, ticket.environment, ticket.incomplete) == (acme.sites.get(), "stage", False)


def test_an_html_only_mail_is_read_as_text(monkeypatch, smtp, acme):
    markup = (
        "<html><head><style>p{color:red}</style></head><body><p>Hello,</p>"
        "<p>the <b>menu</b> is gone &amp; the logo too.</p><ul><li>home</li><li>shop</li></ul></body></html>"
    )
    mail_in(monkeypatch, compose("oncall@acme.test", "Menu gone", html=markup))
    description = Ticket.objects.get().description
    assert description == "Hello,\n\nthe menu is gone & the logo too.\n\n- home\n- shop"


def test_attachments_are_kept_and_refused_ones_named(monkeypatch, smtp, acme):
    raw = compose(
        "owner@acme.test",
        "Screenshot",
        "See attached.",
        files=(("screen.png", PNG), ("setup.exe", EXE), ("empty.txt", b"")),
    )
    mail_in(monkeypatch, raw)
    ticket = Ticket.objects.get()
    assert [a.filename for a in ticket.attachments.all()] == ["screen.png"]
    [ack] = smtp.to("owner@acme.test")
    text, markup = text_and_html(ack)
    for part in (text, markup):
        assert "We could not keep these attachments" in part
        assert "setup.exe: only images, PDF, ZIP and text files (logs) are accepted" in part
        assert "empty.txt: the file is empty" in part


def test_the_same_mail_twice_makes_one_request(monkeypatch, smtp, acme):
    raw = compose("owner@acme.test", "Twice", "Once is enough.")
    mail_in(monkeypatch, raw)
    assert mail_in(monkeypatch, raw).startswith("duplicate:")
    assert Ticket.objects.count() == 1
    assert len(smtp.messages) == 1


# --- replies ----------------------------------------------------------------------------------------------


def _incomplete_ticket(monkeypatch, smtp) -> tuple[Ticket, EmailMessage]:
    mail_in(monkeypatch, compose("owner@acme.test", "Contact form", "The contact form sends nothing."))
    [ack] = smtp.to("owner@acme.test")
    return Ticket.objects.get(), ack


def test_a_reply_with_field_lines_completes_the_request(monkeypatch, smtp, acme):
    ticket, ack = _incomplete_ticket(monkeypatch, smtp)
    lines = (
        "Type: bug\nPriority: P2\nSite: acme.test\nEnvironment: prod\n"
        "Steps: open /contact\nsend the form\nnothing arrives\n\nThanks!"
    )
    assert mail_in(monkeypatch, thread_reply(ack, "owner@acme.test", lines)).startswith("replied:")
    ticket.refresh_from_db()
    assert not ticket.incomplete, ticket.missing_fields
    assert (ticket.type, ticket.priority, ticket.environment) == ("bug", "P2", "prod")
    assert ticket.steps == "open /contact\nsend the form\nnothing arrives"
    assert ticket.pauses.get(reason=PauseReason.INCOMPLETE).end is not None
    reply = ticket.messages.get(kind=Message.Kind.REPLY)
    assert reply.channel == "email"
    assert reply.author_contact.email == "owner@acme.test"
    assert "wrote:" not in reply.body  # the quoted thread is not part of the reply
    assert "> " not in reply.body
    notice = smtp.to("owner@acme.test")[-1]
    assert "is complete and its SLA clocks are running" in text_and_html(notice)[0]
    assert notice["In-Reply-To"] == reply.email_message_id
    assert ack["Message-ID"] in notice["References"]


def test_a_partial_reply_says_what_is_still_missing(monkeypatch, smtp, acme):
    ticket, ack = _incomplete_ticket(monkeypatch, smtp)
    mail_in(monkeypatch, thread_reply(ack, "owner@acme.test", "Priority: P9\nPriority: P2\nType: bug"))
    ticket.refresh_from_db()
    assert (ticket.type, ticket.priority) == ("bug", "P2")
    assert ticket.missing_fields == ["site", "environment", "steps"]
    text, markup = text_and_html(smtp.to("owner@acme.test")[-1])
    for part in (text, markup):
        assert "still needs a few details" in part
        assert "Site: the address of the website concerned" in part
        assert "Steps: how to reproduce" in part


def test_a_value_we_cannot_use_is_explained(monkeypatch, smtp, acme):
    ticket, ack = _incomplete_ticket(monkeypatch, smtp)
    mail_in(monkeypatch, thread_reply(ack, "owner@acme.test", "Priority: P9\nSite: https://globex.test"))
    text, markup = text_and_html(smtp.to("owner@acme.test")[-1])
    for part in (text, markup):
        assert "Priority: P9" in part
        assert "the priority is one of P1, P2, P3, P4" in part
        assert "not one of your sites" in part
    ticket.refresh_from_db()
    assert ticket.site is None


def test_a_reply_with_one_field_keeps_the_others_missing(monkeypatch, smtp, acme):
    ticket, ack = _incomplete_ticket(monkeypatch, smtp)
    mail_in(monkeypatch, thread_reply(ack, "owner@acme.test", "Environment: prod"))
    ticket.refresh_from_db()
    assert ticket.missing_fields == ["type", "priority", "site"]


def test_in_reply_to_alone_finds_the_request(monkeypatch, smtp, acme):
    ticket, ack = _incomplete_ticket(monkeypatch, smtp)
    mail_in(monkeypatch, thread_reply(ack, "OWNER@acme.test", "More detail: it started Monday.", tag=False))
    assert Ticket.objects.count() == 1
    assert ticket.messages.filter(kind=Message.Kind.REPLY).get().body == "More detail: it started Monday."


def test_a_reply_to_a_known_message_id_finds_the_request(monkeypatch, smtp, acme):
    first_id = make_msgid(domain="acme.test")
    mail_in(monkeypatch, compose("owner@acme.test", "Fonts", "Fonts look wrong.", message_id=first_id))
    # The person answers their own first mail (no token anywhere): threading by our record of its id.
    mail_in(
        monkeypatch,
        compose("owner@acme.test", "Re: Fonts", "Also on mobile.", headers={"In-Reply-To": first_id}),
    )
    ticket = Ticket.objects.get()
    assert ticket.messages.get(kind=Message.Kind.REPLY).body == "Also on mobile."


def test_a_reply_from_another_clients_contact_is_refused(monkeypatch, smtp, acme, globex, caplog):
    ticket, ack = _incomplete_ticket(monkeypatch, smtp)
    with caplog.at_level(logging.WARNING, logger="sitekeeper.desk.mail"):
        outcome = mail_in(monkeypatch, thread_reply(ack, "owner@globex.test", "Priority: P1"))
    assert outcome == "rejected: not_this_client"
    ticket.refresh_from_db()
    assert ticket.priority != "P1" or ticket.missing_fields  # nothing applied
    assert not ticket.messages.filter(kind=Message.Kind.REPLY).exists()
    assert Ticket.objects.count() == 1
    [refusal] = smtp.to("owner@globex.test")
    assert "not a contact" in text_and_html(refusal)[0]
    assert "owner@globex.test" in caplog.text


def test_a_reply_reopens_a_resolved_request(monkeypatch, smtp, acme, engineer):
    ticket, ack = _incomplete_ticket(monkeypatch, smtp)
    services.resolve(ticket, actor=engineer)
    mail_in(monkeypatch, thread_reply(ack, "owner@acme.test", "It is broken again."))
    ticket.refresh_from_db()
    assert ticket.state == "open"


# --- refusals and loops -----------------------------------------------------------------------------------


def test_an_unknown_sender_is_refused_politely_and_logged(monkeypatch, smtp, acme, caplog):
    raw = compose("Stranger <someone@elsewhere.test>", "Hello", "Can you fix my site?")
    with caplog.at_level(logging.WARNING, logger="sitekeeper.desk.mail"):
        assert mail_in(monkeypatch, raw) == "rejected: unknown_sender"
    assert not Ticket.objects.exists()
    [refusal] = smtp.to("someone@elsewhere.test")
    assert refusal["Subject"] == "Re: Hello"
    assert refusal["Auto-Submitted"] == "auto-replied"
    assert refusal["In-Reply-To"]
    text, markup = text_and_html(refusal)
    assert "is not registered as a contact" in text
    assert "is not registered as a contact" in markup
    assert "someone@elsewhere.test" in caplog.text
    [kept] = list((Path(django_settings.HOME) / "mail" / "unfiled").glob("*/*.eml"))
    assert kept.read_bytes() == raw
    assert json.loads(kept.with_suffix(".json").read_text())["reason"] == "unknown_sender"


def test_refusals_to_one_address_are_limited(monkeypatch, smtp, acme):
    for number in range(mail.REJECTIONS_PER_HOUR + 2):
        mail_in(monkeypatch, compose("robot@elsewhere.test", f"Ping {number}", "ping"))
    assert len(smtp.to("robot@elsewhere.test")) == mail.REJECTIONS_PER_HOUR


def test_a_person_at_several_clients_is_asked_to_use_the_portal(monkeypatch, smtp, acme, globex):
    Contact.objects.create(client=globex, name="Shared", email="shared@agency-partner.test", role="member")
    Contact.objects.create(client=acme, name="Shared", email="shared@agency-partner.test", role="member")
    assert (
        mail_in(monkeypatch, compose("shared@agency-partner.test", "Hi", "Hi")) == "rejected: several_clients"
    )
    assert not Ticket.objects.exists()


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto-Submitted": "auto-replied"},
        {"Auto-Submitted": "auto-generated"},
        {"Precedence": "bulk"},
        {"X-Autoreply": "yes"},
        {"Return-Path": "<>"},
    ],
)
def test_automatic_mail_is_ignored(monkeypatch, smtp, acme, headers):
    outcome = mail_in(
        monkeypatch, compose("owner@acme.test", "Out of office", "Back Monday.", headers=headers)
    )
    assert outcome.startswith("ignored:")
    assert not Ticket.objects.exists()
    assert smtp.messages == []


def test_bounces_are_ignored(monkeypatch, smtp, acme):
    bounce = compose("MAILER-DAEMON@mx.acme.test", "Undelivered Mail Returned to Sender", "550 no such user")
    assert mail_in(monkeypatch, bounce).startswith("ignored:")
    report = EmailMessage()
    report["From"] = "owner@acme.test"
    report["Subject"] = "Delivery Status Notification (Failure)"
    report.set_content("failed")
    report.make_mixed()
    report.replace_header("Content-Type", 'multipart/report; report-type=delivery-status; boundary="b"')
    assert mail_in(monkeypatch, report.as_bytes()).startswith("ignored:")
    assert not Ticket.objects.exists()
    assert smtp.messages == []


def test_our_own_mail_coming_back_is_never_answered(monkeypatch, smtp, acme):
    _, ack = _incomplete_ticket(monkeypatch, smtp)
    del ack["Auto-Submitted"]  # even stripped of the header, our own Message-ID gives it away
    assert mail_in(monkeypatch, ack.as_bytes()).startswith("ignored:")
    from_desk = compose(DESK, "Loop?", "hello")
    assert mail_in(monkeypatch, from_desk).startswith("ignored:")
    assert len(smtp.messages) == 1


# --- the command as an MTA runs it ------------------------------------------------------------------------


def test_unreadable_input_exits_65_and_database_trouble_75(monkeypatch, acme):
    with pytest.raises(CommandError) as empty:
        mail_in(monkeypatch, b"")
    assert empty.value.returncode == 65
    with pytest.raises(CommandError) as garbage:
        mail_in(monkeypatch, b"this is not an e-mail at all\n")
    assert garbage.value.returncode == 65

    def database_down(raw: bytes) -> mail.Outcome:
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(mail, "handle", database_down)
    with pytest.raises(CommandError) as down:
        mail_in(monkeypatch, compose("owner@acme.test", "x", "y"))
    assert down.value.returncode == 75


def test_the_mail_in_alias():
    assert cli._resolve_alias(["mail-in"]) == ["mail_in"]
    assert cli._resolve_alias(["mail-in", "--file", "x.eml"]) == ["mail_in", "--file", "x.eml"]
    assert cli._resolve_alias(["help", "mail-in"]) == ["help", "mail_in"]
    assert cli._resolve_alias(["migrate"]) == ["migrate"]


def test_the_mail_in_file_option(tmp_path, smtp, acme):
    path = tmp_path / "one.eml"
    path.write_bytes(compose("owner@acme.test", "From a file", "Body"))
    out = io.StringIO()
    call_command("mail_in", file=path, stdout=out)
    assert Ticket.objects.get().subject == "From a file"


def test_sitekeeper_mail_in_as_an_mta_pipe(tmp_path, smtp_server):
    """The installed console script in its own process, as Postfix would run it: stdin in, status out."""
    inbox, port = smtp_server
    home = tmp_path / "home"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SITEKEEPER_", "DJANGO_", "PYTEST"))
    }
    env |= {"SITEKEEPER_HOME": str(home), "SITEKEEPER_EMAIL_URL": f"smtp://127.0.0.1:{port}?from={DESK}"}
    script = str(ROOT / ".venv" / "bin" / "sitekeeper")
    subprocess.run([script, "migrate", "-v0"], env=env, check=True, timeout=120)

    def pipe(raw: bytes) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [script, "mail-in"], input=raw, env=env, capture_output=True, timeout=60, check=False
        )

    refused = pipe(compose("nobody@elsewhere.test", "Hello", "Anyone there?"))
    assert refused.returncode == 0, refused.stderr
    assert b"rejected" in refused.stdout
    assert [m["Subject"] for m in inbox.to("nobody@elsewhere.test")] == ["Re: Hello"]
    empty = pipe(b"")
    assert empty.returncode == 65
    assert b"no message" in empty.stderr


# --- outgoing ticket mail ---------------------------------------------------------------------------------


def test_a_staff_reply_is_mailed_with_both_parts_and_threading(monkeypatch, smtp, acme, engineer):
    ticket, ack = _incomplete_ticket(monkeypatch, smtp)
    client_mail = thread_reply(ack, "owner@acme.test", "Any news?")
    mail_in(monkeypatch, client_mail)
    client_id = message_from_bytes(client_mail, policy=policy.default)["Message-ID"]
    message = services.add_message(
        ticket, "Fixed <script>x</script> & tested.", channel="staff", author=engineer
    )
    mail.send_reply(message)
    deliver_pending()
    sent = smtp.to("owner@acme.test")[-1]
    assert sent["Subject"] == f"[{ticket.reference} #{ticket.token}] {ticket.subject}"
    assert ticket.token in sent["Message-ID"]
    assert sent["In-Reply-To"] == client_id
    assert ack["Message-ID"] in sent["References"]
    assert client_id in sent["References"]
    assert sent["Reply-To"] == DESK
    text, markup = text_and_html(sent)
    assert "Fixed <script>x</script> & tested." in text
    assert "Fixed &lt;script&gt;x&lt;/script&gt; &amp; tested." in markup
    assert "<script>" not in markup
    assert mail.REPLY_MARKER in text
    # The person answers that mail: it threads back onto the same request.
    mail_in(monkeypatch, thread_reply(sent, "owner@acme.test", "Works now, thanks!", tag=False))
    assert ticket.messages.filter(kind=Message.Kind.REPLY, from_agency=False).count() == 2


def test_state_notices_reach_the_requester(monkeypatch, smtp, acme, engineer):
    ticket, _ = _incomplete_ticket(monkeypatch, smtp)
    services.set_state(ticket, "waiting_access", actor=engineer, note="Please send an SFTP login.")
    mail.send_state_notice(ticket, "Please send an SFTP login.")
    services.resolve(ticket, actor=engineer)
    mail.send_state_notice(ticket)
    deliver_pending()
    texts = [text_and_html(m)[0] for m in smtp.to("owner@acme.test")[1:]]
    assert "waiting for access from you" in texts[0]
    assert "Please send an SFTP login." in texts[0]
    assert "Resolved: if it is not, reply to this e-mail and it reopens" in texts[1]


def test_an_api_request_is_acknowledged_to_its_client_requester(smtp, acme):
    user = make_user("sam", "client_member", acme)
    ticket = services.file_request(
        acme,
        channel="api",
        subject="API ticket",
        type="question",
        priority="P3",
        site=acme.sites.get(),
        environment="prod",
        description="?",
        requester_user=user,
        allow_incomplete=False,
    )
    mail.send_acknowledgement(ticket)
    deliver_pending()
    [ack] = smtp.to("sam@people.test")
    assert ack["Subject"].startswith(f"[{ticket.reference} #{ticket.token}]")
    assert "missing" not in text_and_html(ack)[0]


# --- parsing helpers --------------------------------------------------------------------------------------


def test_reply_text_strips_quotes_and_signatures():
    body = "Thanks, works.\n\n-- \nJane\n"
    assert mail.reply_text(body) == "Thanks, works."
    outlook = (
        "New info.\n\nFrom: Agency Desk <desk@agency.test>\nSent: Tuesday\n"
        "Subject: [SK-00001 #ab] x\n\nPriority: P1"
    )
    assert mail.reply_text(outlook) == "New info."
    german = "Danke.\n\nAm Di., 3. März 2026 um 10:00 schrieb Agency Desk <desk@agency.test>:\n> alt"
    assert mail.reply_text(german) == "Danke."


def test_extract_fields():
    fields, rest = mail.extract_fields("Hello\nPriority: P1\nenv: Stage\nSteps: one\ntwo\n\nBye")
    assert fields == {"priority": "P1", "environment": "Stage", "steps": "one\ntwo"}
    assert rest == "Hello\n\nBye"
    fields, rest = mail.extract_fields("Type: bug\nNot a field: x\nSubject:\n")
    assert fields == {"type": "bug"}
    assert rest == "Not a field: x"
