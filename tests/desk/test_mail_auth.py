"""E-mail intake does not trust From: (issue 14.6): the MTA's Authentication-Results (trusted authserv-id,
topmost only), our own DKIM check (dkimpy, with the test key served by a dnsfunc — no DNS), unverified
requests (no clocks, no page) and how they become genuine: the confirmation link or staff's acceptance."""

from __future__ import annotations

import base64
import datetime as dt
import os
import re
import subprocess
import sys
from email.utils import make_msgid

import dkim
import pytest
import time_machine
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core import mail as outbox
from django.urls import reverse

from sitekeeper import conf
from sitekeeper.access.models import AuditEntry
from sitekeeper.desk import mail, mailauth, services
from sitekeeper.desk.models import Event, Message, PauseReason, SenderCheck, State, Ticket
from sitekeeper.notify import deliver_pending
from tests.desk.test_escalation import berlin, run_pass
from tests.desk.test_mail import MX, compose

OWNER = "owner@acme.test"
COMPLETE_P1 = (
    "The shop is down.\n\nType: incident\nPriority: P1\nSite: https://acme.test\nEnvironment: prod\n"
    "Steps: open the shop\n"
)


def _key() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


PRIVATE, PUBLIC = _key()
RECORD = b"v=DKIM1; k=rsa; p=" + base64.b64encode(PUBLIC)


def dnsfunc(name: bytes, timeout: int = 5) -> bytes | None:
    """The DNS of the test: the key of selector 'sel' for acme.test and for evil.test."""
    return RECORD if name in {b"sel._domainkey.acme.test.", b"sel._domainkey.evil.test."} else None


def signed(raw: bytes, domain: str = "acme.test") -> bytes:
    signature = dkim.sign(raw, b"sel", domain.encode(), PRIVATE, include_headers=[b"from", b"subject", b"to"])
    return signature + raw


@pytest.fixture(autouse=True)
def desk_settings(settings, tmp_path) -> None:
    settings.HOME = tmp_path / "home"  # the mail kept by one test is not another's
    settings.DEFAULT_FROM_EMAIL = "Agency Desk <desk@agency.test>"
    settings.SITEKEEPER_BASE_URL = "https://desk.agency.test"
    settings.SITEKEEPER_MAIL_AUTHSERV_ID = [MX]
    settings.SITEKEEPER_MAIL_ACCEPT_UNVERIFIED = False


def forged(subject: str = "Shop down", body: str = COMPLETE_P1, **kwargs: object) -> bytes:
    """What anyone can send: the contact's From:, no signature, no verdict of our MTA."""
    return compose(OWNER, subject, body, verified=False, **kwargs)  # type: ignore[arg-type]


def confirmation_link(to: str = OWNER) -> str:
    [message] = [m for m in outbox.outbox if to in " ".join(m.to) and "/confirm/" in m.body]
    found = re.search(r"https://desk\.agency\.test(/portal/requests/confirm/[^/\s]+/)", message.body)
    assert found, message.body
    return found.group(1)


# --- the verdict --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signer", "domain", "expected"),
    [
        ("acme.test", "acme.test", True),
        ("mail.acme.test", "acme.test", True),
        ("acme.test", "support.acme.test", True),
        ("ACME.test.", "acme.test", True),
        ("evil.test", "acme.test", False),
        ("notacme.test", "acme.test", False),
        ("test", "acme.test", False),  # a bare top-level domain never aligns
        ("", "acme.test", False),
    ],
)
def test_dmarc_style_alignment(signer, domain, expected):
    assert mailauth.aligned(signer, domain) is expected


def items(*headers: tuple[str, str]) -> list[tuple[str, str]]:
    return list(headers)


@pytest.mark.parametrize(
    ("headers", "result"),
    [
        ([("Authentication-Results", f"{MX}; dmarc=pass header.from=acme.test")], "pass"),
        ([("Authentication-Results", f"{MX}; dkim=pass header.d=acme.test")], "pass"),
        ([("Authentication-Results", f"{MX}; spf=pass smtp.mailfrom=bounce@acme.test")], "pass"),
        ([("Authentication-Results", f"{MX}; dkim=pass header.d=evil.test")], "none"),
        ([("Authentication-Results", f"{MX}; dmarc=fail header.from=acme.test")], "fail"),
        ([("Authentication-Results", f"{MX}; dmarc=pass header.from=evil.test")], "none"),
        ([("Authentication-Results", f"{MX}; none")], "none"),
        # Another server's verdict (an attacker's header, or a filter we do not trust) counts for nothing.
        ([("Authentication-Results", "mx.evil.test; dmarc=pass header.from=acme.test")], "none"),
        # Only the topmost run: below our MTA's own header and its Received line, the trusted id is forged.
        (
            [
                ("Authentication-Results", f"{MX}; dkim=none"),
                ("Received", "from evil by mx.agency.test"),
                ("Authentication-Results", f"{MX}; dmarc=pass header.from=acme.test"),
            ],
            "none",
        ),
        # A Received line added above it on final delivery (Dovecot LMTP) does not hide our MTA's header.
        (
            [
                ("Received", "from mx.agency.test by imap.agency.test with LMTP"),
                ("Authentication-Results", f"{MX}; dmarc=pass header.from=acme.test"),
                ("Received", "from client by mx.agency.test"),
            ],
            "pass",
        ),
        (
            [
                ("Authentication-Results", f"{MX}; dmarc=fail header.from=acme.test"),
                ("Received", "from evil by mx.agency.test"),
                ("Authentication-Results", f"{MX}; dmarc=pass header.from=acme.test"),
            ],
            "fail",
        ),
        # OpenDKIM and OpenDMARC each add one: both count.
        (
            [
                ("Authentication-Results", f"{MX}; dmarc=none header.from=acme.test"),
                ("Authentication-Results", f"{MX};\r\n\tdkim=pass header.d=acme.test header.s=sel"),
                ("Received", "from client by mx.agency.test"),
            ],
            "pass",
        ),
        ([("Authentication-Results", f"{MX}; this is ((( not parseable")], "none"),
    ],
)
def test_the_mta_verdict_counts_only_from_the_trusted_topmost_headers(headers, result):
    verdict = mailauth.from_mta(headers, "acme.test", frozenset({MX}))
    assert verdict.result == result, verdict


def test_without_a_trusted_authserv_id_no_header_is_read(settings):
    settings.SITEKEEPER_MAIL_AUTHSERV_ID = []
    settings.SITEKEEPER_MAIL_DKIM = False
    headers = items(("Authentication-Results", f"{MX}; dmarc=pass header.from=acme.test"))
    verdict = mailauth.check(b"", headers, "acme.test")
    assert verdict.result == "none"
    assert not verdict.verified


def test_several_trusted_ids_are_comma_separated(settings):
    settings.SITEKEEPER_MAIL_AUTHSERV_ID = ["mx1.agency.test", "MX2.agency.test"]  # conf.env_list's items
    assert mailauth.trusted_authserv_ids() == {"mx1.agency.test", "mx2.agency.test"}


def test_the_settings_default_to_the_safe_side():
    """What settings.py reads from an environment without any SITEKEEPER_MAIL_ variable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SITEKEEPER_MAIL_")}
    code = (
        "from sitekeeper import settings as s; print(s.SITEKEEPER_MAIL_AUTHSERV_ID, s.SITEKEEPER_MAIL_DKIM,"
        " s.SITEKEEPER_MAIL_ACCEPT_UNVERIFIED, s.SITEKEEPER_MAIL_CONFIRM_HOURS)"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["[]", "True", "False", "72"]


def test_a_bad_confirmation_lifetime_stops_the_start(monkeypatch):
    monkeypatch.setenv("SITEKEEPER_MAIL_CONFIRM_HOURS", "three days")
    with pytest.raises(conf.ConfigError, match="SITEKEEPER_MAIL_CONFIRM_HOURS: expected a whole number"):
        conf.env_int("SITEKEEPER_MAIL_CONFIRM_HOURS", 72, minimum=1)


def test_our_own_dkim_check():
    raw = compose(OWNER, "Signed", "Hello", verified=False)
    assert mailauth.own_dkim(signed(raw), "acme.test", dnsfunc).result == "pass"
    # A valid signature of another domain says nothing about acme.test.
    other = mailauth.own_dkim(signed(raw, "evil.test"), "acme.test", dnsfunc)
    assert (other.result, other.detail) == ("none", "DKIM: evil.test=pass (none valid for acme.test)")
    # Changed after signing: a failure.
    tampered = signed(raw).replace(b"Hello", b"Send the invoice to IBAN DE00 666")
    assert mailauth.own_dkim(tampered, "acme.test", dnsfunc).result == "fail"
    # No key in DNS: a failure, not a pass.
    assert mailauth.own_dkim(signed(raw), "acme.test", lambda name, timeout=5: None).result == "fail"
    assert mailauth.own_dkim(raw, "acme.test", dnsfunc).result == "none"


# --- intake ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_signed_mail_from_a_contact_is_filed_with_its_clocks_running(acme, settings):
    settings.SITEKEEPER_MAIL_AUTHSERV_ID = []  # only our own DKIM check
    outcome = mail.handle(signed(compose(OWNER, "Shop down", COMPLETE_P1, verified=False)), dnsfunc=dnsfunc)
    assert outcome.action == "created"
    ticket = Ticket.objects.get()
    assert (ticket.sender_check, ticket.priority, ticket.incomplete) == ("", "P1", False)
    assert ticket.response_due is not None
    assert ticket.mail_auth["result"] == "pass"


@pytest.mark.django_db
def test_a_forged_p1_after_hours_is_kept_unverified_and_pages_nobody(acme):
    received = berlin(2026, 11, 23, 22, 40)  # Monday night; acme's Business plan pages P1 after hours
    with time_machine.travel(received, tick=False):
        outcome = mail.handle(forged())
        mail.send_answers(outcome)
    assert outcome.action == "unverified"
    ticket = Ticket.objects.get()
    assert ticket.unverified
    assert (ticket.priority, ticket.incomplete) == ("P1", False)  # what the mail said is kept
    assert (ticket.after_hours_p1_at, ticket.response_due, ticket.next_check_at) == (None, None, None)
    assert ticket.pauses.get().reason == PauseReason.UNVERIFIED
    assert ticket.mail_auth["result"] == "none"
    assert run_pass(received + dt.timedelta(minutes=1)).sent == 0
    assert run_pass(received + dt.timedelta(hours=5)).sent == 0  # no warning, no breach either
    # The contact's registered address is asked to confirm — the acknowledgement waits for that.
    [asked] = outbox.outbox
    assert asked.to == [f"Acme GmbH Owner <{OWNER}>"]
    assert "could not verify that it really came from you" in asked.body
    assert "/portal/requests/confirm/" in asked.body
    assert "we respond by" not in asked.body


@pytest.mark.django_db
def test_the_confirmation_link_starts_the_clocks_once(acme, client):
    received = berlin(2026, 11, 23, 22, 40)
    with time_machine.travel(received, tick=False):
        mail.send_answers(mail.handle(forged()))
    link = confirmation_link()
    ticket = Ticket.objects.get()
    confirmed_at = received + dt.timedelta(minutes=20)
    with time_machine.travel(confirmed_at, tick=False):
        asked = client.get(link)  # anonymous: no login needed
        assert asked.status_code == 200
        page = asked.content.decode()
        # Only confirms: nothing of the request is shown to whoever holds the link.
        assert "Did you send us this request?" in page
        for secret in (ticket.subject, "The shop is down", ticket.reference, ticket.token, "Acme"):
            assert secret not in page
        assert "Mon 23 Nov 2026 22:40 CET" in page
        assert Ticket.objects.get().unverified  # opening the link (a mail scanner does) confirms nothing
        done = client.post(link)
    assert done.status_code == 200
    assert "your request is confirmed" in done.content.decode()
    ticket.refresh_from_db()
    assert ticket.sender_check == SenderCheck.CONFIRMED
    # The clocks run from the confirmation: P1 on Business is 4 h round the clock for the response.
    assert ticket.response_due == confirmed_at + dt.timedelta(hours=4)
    assert ticket.after_hours_p1_at == confirmed_at  # and on-call is paged from now
    assert run_pass(confirmed_at + dt.timedelta(minutes=1)).pages == 1
    resumed = ticket.events.get(kind=Event.Kind.RESUME)
    assert (resumed.data["how"], resumed.actor_label) == ("confirmed", "Acme GmbH Owner")
    audit = AuditEntry.objects.get(model="desk.Ticket", action="update")
    assert audit.actor_label == f"confirmation link of {OWNER}"
    assert audit.after["sender_check"] == "confirmed"
    # The acknowledgement they would have had on arrival follows.
    with time_machine.travel(confirmed_at, tick=False):
        deliver_pending()
    assert any("We received your request" in m.body and "we respond by" in m.body for m in outbox.outbox)
    # Single use: the link now only says so, and changes nothing.
    with time_machine.travel(confirmed_at + dt.timedelta(hours=1), tick=False):
        again = client.post(link)
    assert again.status_code == 200
    assert "already confirmed" in again.content.decode()
    assert ticket.events.filter(kind=Event.Kind.RESUME).count() == 1


@pytest.mark.django_db
def test_a_forged_or_expired_link_confirms_nothing(acme, client, settings):
    mail.send_answers(mail.handle(forged()))
    link = confirmation_link()
    ticket = Ticket.objects.get()
    token = link.rstrip("/").rpartition("/")[2]
    bad = client.post(reverse("portal_request_confirm", args=[token[:-2] + "xx"]))
    assert bad.status_code == 404
    assert "This link does not work" in bad.content.decode()
    other = mailauth.confirmation_token(ticket.pk, "0000000000")  # signed, but not this request's secret
    assert client.post(reverse("portal_request_confirm", args=[other])).status_code == 404
    settings.SITEKEEPER_MAIL_CONFIRM_HOURS = 1
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(hours=2), tick=False):
        late = client.post(link)
    assert late.status_code == 410
    assert "This link has expired" in late.content.decode()
    assert Ticket.objects.get().unverified
    assert client.put(link).status_code == 405


@pytest.mark.django_db
def test_staff_see_unverified_requests_and_accept_them(acme, client, engineer):
    mail.handle(forged())
    ticket = Ticket.objects.get()
    client.force_login(engineer)
    queue = client.get(reverse("staff_desk")).content.decode()
    assert "Sender not verified" in queue
    assert "1 e-mail request in this view comes from an unverified sender and waits" in queue
    only = client.get(reverse("staff_desk"), {"sender": "unverified", "show": "all"}).content.decode()
    assert ticket.subject in only
    page = client.get(reverse("staff_ticket", args=[ticket.pk])).content.decode()
    assert "Accept as genuine" in page
    assert "could not be shown to come from owner@acme.test" in page
    assert client.get(reverse("staff_ticket_accept_sender", args=[ticket.pk])).status_code == 405
    accepted = client.post(reverse("staff_ticket_accept_sender", args=[ticket.pk]))
    assert accepted.status_code == 302
    ticket.refresh_from_db()
    assert ticket.sender_check == SenderCheck.ACCEPTED
    assert ticket.response_due is not None
    resumed = ticket.events.get(kind=Event.Kind.RESUME)
    assert (resumed.actor, resumed.data["how"]) == (engineer, "accepted")
    audit = AuditEntry.objects.get(model="desk.Ticket", action="update", actor=engineer)
    assert audit.after["sender_check"] == "accepted"
    assert "Accept as genuine" not in client.get(reverse("staff_ticket", args=[ticket.pk])).content.decode()
    empty = client.get(reverse("staff_desk"), {"sender": "unverified"}).content.decode()
    assert "No e-mail request waits for its sender to be verified" in empty
    # Twice: refused with the reason, nothing changes.
    client.post(reverse("staff_ticket_accept_sender", args=[ticket.pk]))
    assert ticket.events.filter(kind=Event.Kind.RESUME).count() == 1


@pytest.mark.django_db
def test_only_agency_staff_accept(acme, client, owner):
    mail.handle(forged())
    ticket = Ticket.objects.get()
    client.force_login(owner)
    refused = client.post(reverse("staff_ticket_accept_sender", args=[ticket.pk]))
    assert refused.status_code in {302, 403, 404}
    assert Ticket.objects.get().unverified
    with pytest.raises(services.DeskError, match="only agency staff"):
        services.verify_sender(ticket, SenderCheck.ACCEPTED, actor=owner)


@pytest.mark.django_db
def test_an_unverified_reply_is_kept_but_changes_nothing(acme, engineer):
    mail.handle(compose(OWNER, "Checkout", "The checkout fails.", verified=True))
    ticket = Ticket.objects.get()
    services.set_state(ticket, State.WAITING_INFO, actor=engineer, note="Which browser?")
    tag = f"Re: [{ticket.reference} #{ticket.token}] Checkout"
    outcome = mail.handle(
        compose(OWNER, tag, "Type: bug\nPriority: P1\n\nIgnore that, send the keys.", verified=False)
    )
    assert outcome.action == "replied"
    ticket.refresh_from_db()
    assert (ticket.state, ticket.priority) == (State.WAITING_INFO, "P3")
    assert "type" in ticket.missing_fields
    reply = ticket.messages.get(kind=Message.Kind.REPLY)
    assert reply.unverified
    # A verified reply does what replies do.
    mail.handle(compose(OWNER, tag, "Firefox.", verified=True))
    ticket.refresh_from_db()
    assert ticket.state == State.OPEN


@pytest.mark.django_db
def test_the_agency_may_accept_mail_without_any_verdict_but_never_a_failure(acme, settings):
    settings.SITEKEEPER_MAIL_ACCEPT_UNVERIFIED = True
    assert mail.handle(forged("No verdict")).action == "created"
    failed = compose(
        OWNER,
        "Failed",
        COMPLETE_P1,
        verified=False,
        headers={"Authentication-Results": f"{MX}; dmarc=fail header.from=acme.test"},
    )
    assert mail.handle(failed).action == "unverified"
    assert Ticket.objects.get(subject="Failed").unverified


@pytest.mark.django_db
def test_a_forged_unknown_sender_costs_no_dns_lookup(acme):
    def no_dns(name: bytes, timeout: int = 5) -> None:
        raise AssertionError("looked up DNS for a sender we refuse anyway")

    raw = signed(
        compose("stranger@evil.test", "Hi", "Hi", verified=False, message_id=make_msgid()), "evil.test"
    )
    assert mail.handle(raw, dnsfunc=no_dns).action == "rejected"


@pytest.mark.django_db
def test_a_flood_of_forgeries_does_not_flood_the_contact(acme, caplog):
    for number in range(mail.CONFIRMATIONS_PER_HOUR + 2):
        mail.send_answers(mail.handle(forged(f"Forged {number}")))
    assert (
        Ticket.objects.filter(sender_check=SenderCheck.UNVERIFIED).count() == mail.CONFIRMATIONS_PER_HOUR + 2
    )
    asked = [m for m in outbox.outbox if "/confirm/" in m.body]
    assert len(asked) == mail.CONFIRMATIONS_PER_HOUR
    assert "confirmation requests in the last hour; staff can accept it" in caplog.text
