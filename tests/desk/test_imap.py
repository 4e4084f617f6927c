"""`sitekeeper imap_poll` against a real Dovecot on loopback (scripts/dovecot-test.sh)."""

from __future__ import annotations

import imaplib
import io
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core import mail as outbox
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError

from sitekeeper.desk import imap, mail
from sitekeeper.desk.models import Message, Ticket
from tests.desk.test_mail import compose, trusted_mta  # noqa: F401 - the fixture: compose()'s mail is trusted
from tests.desk.test_mail_unfiled import nested
from tests.serving import free_port, ready_seconds

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "dovecot-test.sh"
USER = "desk"
PASSWORD = "s3cret-Imap-pass"  # distinctive, so a leak into output is easy to spot
pytestmark = pytest.mark.usefixtures("trusted_mta")


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory) -> Iterator[int]:
    """A private Dovecot for this module, on a port of this worker's own; yields the port on 127.0.0.1."""
    folder = tmp_path_factory.mktemp("dovecot")
    env = {**os.environ, "DOVECOT_TEST_USER": USER, "DOVECOT_TEST_PASSWORD": PASSWORD}
    started = subprocess.run(
        [str(SCRIPT), "start", str(folder), str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=ready_seconds() + 60,
        check=False,
    )
    if started.returncode == 3:
        reason = "Dovecot is not installed: install the Debian package dovecot-imapd"
        if os.environ.get("SITEKEEPER_REQUIRE_ALL") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    assert started.returncode == 0, started.stderr
    try:
        yield int(started.stdout.strip())
    finally:
        subprocess.run([str(SCRIPT), "stop", str(folder)], timeout=30, check=False)


def connect(port: int) -> imaplib.IMAP4:
    conn = imaplib.IMAP4("127.0.0.1", port)
    conn.login(USER, PASSWORD)
    conn.select("INBOX")
    return conn


@pytest.fixture
def inbox(dovecot) -> Iterator[imaplib.IMAP4]:
    """The test user's INBOX, emptied before each test."""
    conn = connect(dovecot)
    conn.uid("STORE", "1:*", "+FLAGS", "(\\Deleted)")
    conn.expunge()
    try:
        yield conn
    finally:
        conn.logout()


@pytest.fixture
def url(dovecot) -> str:
    return f"imap://{USER}:{PASSWORD}@127.0.0.1:{dovecot}/INBOX"


def deliver(conn: imaplib.IMAP4, raw: bytes, flags: str = "") -> None:
    status, detail = conn.append("INBOX", flags or None, None, raw)
    assert status == "OK", detail


def flags(conn: imaplib.IMAP4) -> list[str]:
    """Each message's flags, in order."""
    conn.select("INBOX")
    status, data = conn.uid("FETCH", "1:*", "(FLAGS)")
    assert status == "OK"
    return [item.decode() for item in data if item]


def unseen(conn: imaplib.IMAP4) -> int:
    conn.select("INBOX")
    return len(conn.uid("SEARCH", "UNSEEN")[1][0].split())


def poll(url: str) -> str:
    out = io.StringIO()
    call_command("imap_poll", url=url, once=True, stdout=out)
    return out.getvalue()


def test_unseen_mail_becomes_requests_and_is_marked_seen(inbox, url, acme):
    deliver(inbox, compose("owner@acme.test", "Already read", "old"), flags="(\\Seen)")
    deliver(inbox, compose("owner@acme.test", "Slow pages", "The shop is slow."))
    deliver(inbox, compose("stranger@elsewhere.test", "Hi", "Who are you?"))
    output = poll(url)
    assert "2 handled (1 created, 1 rejected)" in output
    assert PASSWORD not in output
    assert f"imap://{USER}:***@127.0.0.1" in output
    assert [t.subject for t in Ticket.objects.all()] == ["Slow pages"]
    assert unseen(inbox) == 0
    # The answers went out: the acknowledgement and the polite refusal.
    assert sorted(m.to[0] for m in outbox.outbox) == [
        "Acme GmbH Owner <owner@acme.test>",
        "stranger@elsewhere.test",
    ]
    assert "nothing new" in poll(url)


def test_a_message_read_twice_makes_one_request(inbox, url, acme):
    raw = compose("owner@acme.test", "Twice", "Only once please.")
    deliver(inbox, raw)
    poll(url)
    # As if the poller died after filing the request but before flagging the message \\Seen.
    inbox.uid("STORE", "1:*", "-FLAGS", "(\\Seen)")
    assert "1 duplicate" in poll(url)
    # And the same message delivered a second time (a retrying MTA) is also one request.
    deliver(inbox, raw)
    poll(url)
    assert Ticket.objects.count() == 1
    assert unseen(inbox) == 0


def test_a_crash_leaves_the_message_unseen_and_the_next_pass_reads_it(inbox, url, acme, monkeypatch):
    deliver(inbox, compose("owner@acme.test", "First", "one"))
    deliver(inbox, compose("owner@acme.test", "Second", "two"))
    real = mail.handle

    def crash_on_second(raw: bytes) -> mail.Outcome:
        if b"Subject: Second" in raw:
            raise RuntimeError("worker crashed")
        return real(raw)

    box = imap.parse_url(url)
    result = imap.poll_once(box, handler=crash_on_second)
    assert (result.counts["created"], result.left) == (1, 1)
    assert ["\\Seen" in f for f in flags(inbox)] == [True, False]
    assert "1 created" in poll(url)
    assert sorted(Ticket.objects.values_list("subject", flat=True)) == ["First", "Second"]


def test_a_database_outage_stops_the_pass_and_keeps_the_rest(inbox, url, acme):
    for number in range(3):
        deliver(inbox, compose("owner@acme.test", f"Mail {number}", "x"))

    def database_down(raw: bytes) -> mail.Outcome:
        raise OperationalError("database is locked")

    result = imap.poll_once(imap.parse_url(url), handler=database_down)
    assert result.left == 3
    assert unseen(inbox) == 3
    poll(url)
    assert Ticket.objects.count() == 3


def test_unreadable_mail_is_flagged_for_a_person(inbox, url, acme):
    deliver(inbox, b"X-Nothing: here\r\n\r\nno sender at all\r\n")
    assert "1 unreadable" in poll(url)
    [only] = flags(inbox)
    assert "\\Flagged" in only
    assert "\\Seen" in only
    assert not Ticket.objects.exists()


def test_a_mime_bomb_is_flagged_and_kept_with_its_reason(inbox, url, acme):
    """The 1,500-level nested multipart that crashed the intake: flagged for a person, kept under
    mail/unfiled/ with the reason, and the pass goes on to the next message."""
    deliver(inbox, nested(1500))
    deliver(inbox, compose("owner@acme.test", "After the bomb", "Still read."))
    assert "1 created, 1 unreadable" in poll(url)
    assert ["\\Flagged" in f for f in flags(inbox)] == [True, False]
    assert list(Ticket.objects.values_list("subject", flat=True)) == ["After the bomb"]
    [note] = list((Path(django_settings.HOME) / "mail" / "unfiled").glob("*/*.json"))
    assert json.loads(note.read_text())["reason"] == "too_complex"


def test_a_crash_is_kept_once_however_often_the_pass_retries_it(inbox, url, acme, monkeypatch):
    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("a bug")

    monkeypatch.setattr(mail, "new_request", broken)
    deliver(inbox, compose("owner@acme.test", "Crashes", "x"))
    for _ in range(2):
        assert "1 left for the next pass" in poll(url)
    [note] = list((Path(django_settings.HOME) / "mail" / "unfiled").glob("*/*.json"))
    assert json.loads(note.read_text())["reason"] == "internal_error"
    assert unseen(inbox) == 1


def test_a_reply_by_imap_threads_onto_the_request(inbox, url, acme):
    deliver(inbox, compose("owner@acme.test", "Logo", "Logo is blurry."))
    poll(url)
    ticket = Ticket.objects.get()
    tagged = f"Re: [{ticket.reference} #{ticket.token}] Logo"
    deliver(inbox, compose("owner@acme.test", tagged, "Type: bug\nPriority: P3\nSite: https://acme.test"))
    poll(url)
    ticket.refresh_from_db()
    assert (ticket.type, ticket.priority, ticket.site_id) == ("bug", "P3", acme.sites.get().pk)
    assert ticket.messages.filter(kind=Message.Kind.REPLY, channel="email").count() == 1


def test_the_url_can_come_from_the_environment(inbox, url, acme, monkeypatch):
    deliver(inbox, compose("owner@acme.test", "From env", "x"))
    monkeypatch.setenv("SITEKEEPER_IMAP_URL", url)
    out = io.StringIO()
    call_command("imap_poll", once=True, stdout=out)
    assert "1 created" in out.getvalue()


def test_a_wrong_password_is_reported_without_the_password(dovecot):
    with pytest.raises(CommandError) as failed:
        poll(f"imap://{USER}:wrong-{PASSWORD}@127.0.0.1:{dovecot}/INBOX")
    assert PASSWORD not in str(failed.value)
    assert "***" in str(failed.value)
    assert "AUTHENTICATIONFAILED" in str(failed.value) or "Authentication failed" in str(failed.value)


def test_parse_url():
    box = imap.parse_url("imaps://desk%40agency.test:p%40ss@mail.agency.test/Desk%20Mail")
    assert (box.user, box.password, box.host, box.port, box.mailbox, box.tls) == (
        "desk@agency.test",
        "p@ss",
        "mail.agency.test",
        993,
        "Desk Mail",
        True,
    )
    assert "p@ss" not in repr(box)
    assert box.masked == "imaps://desk@agency.test:***@mail.agency.test:993/Desk Mail"
    plain = imap.parse_url("imap://u:p@127.0.0.1?starttls=1")
    assert (plain.port, plain.mailbox, plain.tls, plain.starttls) == (143, "INBOX", False, True)
    for bad in ("pop3://u:p@host/", "imaps://host/INBOX", "imaps://u:p@host:99999/"):
        with pytest.raises(imap.ImapError):
            imap.parse_url(bad)


def test_no_url_is_a_clear_error(monkeypatch, settings):
    monkeypatch.delenv("SITEKEEPER_IMAP_URL", raising=False)
    with pytest.raises(CommandError, match="SITEKEEPER_IMAP_URL"):
        call_command("imap_poll", once=True)
