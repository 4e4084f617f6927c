"""Bad mail never crashes the intake or vanishes (issue 14.5): MIME bombs are refused before the parser
recurses, every message not filed is kept raw with its reason (owner-only), a reused Message-ID with
other content is still filed, and `mail-in` exits only with its documented statuses (0, 65, 75)."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError

from sitekeeper.desk import mail
from sitekeeper.desk.management.commands import mail_in as mail_in_command
from sitekeeper.desk.models import Message, Ticket
from tests.desk.test_mail import DESK, MX, ROOT, compose, mail_in, trusted_mta  # noqa: F401 - fixture

OWNER = "owner@acme.test"


def nested(depth: int, *, sender: str = OWNER, fold: bool = False) -> bytes:
    """A message of `depth` multiparts, each inside the last (1,500 of them crashed mail-in)."""
    body = "Content-Type: text/plain\n\nhello\n"
    separator = "\n\t" if fold else " "
    for level in range(depth):
        boundary = f"b{level}"
        header = f'Content-Type:{separator}multipart/mixed; boundary="{boundary}"\n\n'
        body = f"{header}--{boundary}\n{body}\n--{boundary}--\n"
    head = (
        f"Authentication-Results: {MX}; dmarc=pass header.from=acme.test\n"
        f"From: {sender}\nTo: {DESK}\nSubject: deep\n"
        f"Message-ID: <deep.{depth}@acme.test>\nMIME-Version: 1.0\n"
    )
    return (head + body).encode()


def kept(reason: str) -> list[tuple[Path, dict[str, object]]]:
    root = Path(django_settings.HOME) / "mail" / "unfiled"
    found = []
    for note in root.glob("*/*.json"):
        data = json.loads(note.read_text())
        if data["reason"] == reason:
            found.append((note.with_suffix(".eml"), data))
    return found


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.django_db
def test_1500_nested_multiparts_are_refused_and_kept_owner_only(monkeypatch, acme):
    raw = nested(1500)
    started = time.monotonic()
    with pytest.raises(CommandError) as refused:
        mail_in(monkeypatch, raw)
    assert time.monotonic() - started < 5
    assert refused.value.returncode == 65
    assert "too complex" in str(refused.value)
    assert not Ticket.objects.exists()
    [(path, note)] = kept("too_complex")
    assert path.read_bytes() == raw
    assert note["detail"].startswith("too complex: 1500 multipart containers")
    assert (note["size"], note["time_zone"]) == (len(raw), "UTC")
    assert mode(path) == 0o600
    assert mode(path.with_suffix(".json")) == 0o600
    assert mode(path.parent) == 0o700
    assert mode(path.parent.parent) == 0o700  # mail/unfiled
    assert mode(path.parent.parent.parent) == 0o700  # mail


@pytest.mark.django_db
def test_deep_nesting_under_the_container_count_is_refused_too(monkeypatch, acme):
    with pytest.raises(CommandError) as refused:
        mail_in(monkeypatch, nested(mail.MAX_MIME_DEPTH + 5))
    assert refused.value.returncode == 65
    assert "nested deeper than 20 levels" in str(refused.value)
    # A normal depth is fine.
    assert mail_in(monkeypatch, nested(3)).startswith("created:")


@pytest.mark.django_db
def test_the_parser_running_out_of_stack_is_the_same_refusal(monkeypatch, acme):
    """Were the raw count ever fooled, the parser's RecursionError is caught and answered the same way."""
    monkeypatch.setattr(mail, "MAX_MIME_PARTS", 10**6)
    with pytest.raises(mail.MailError) as refused:
        mail.parse(nested(1500, fold=True))
    assert refused.value.reason == "too_complex"


@pytest.mark.django_db
def test_the_same_message_id_with_other_content_is_still_filed(monkeypatch, acme):
    first = compose(OWNER, "Logo", "The logo is blurry.", message_id="<same@acme.test>")
    second = compose(OWNER, "Invoice", "Please resend the invoice.", message_id="<same@acme.test>")
    assert mail_in(monkeypatch, first).startswith("created:")
    assert mail_in(monkeypatch, second).startswith("created:")
    assert sorted(Ticket.objects.values_list("subject", flat=True)) == ["Invoice", "Logo"]
    # Redeliveries of either — even with more transport headers on top — are duplicates.
    assert mail_in(monkeypatch, second).startswith("duplicate:")
    redelivered = (
        b"Received: from relay.acme.test by mx.agency.test; Mon, 7 Dec 2026 10:00:00 +0000\r\n" + first
    )
    assert mail_in(monkeypatch, redelivered).startswith("duplicate:")
    assert Ticket.objects.count() == 2


@pytest.mark.django_db
def test_a_reused_message_id_on_a_reply_is_still_added(monkeypatch, acme):
    mail_in(monkeypatch, compose(OWNER, "Logo", "Blurry.", message_id="<a@acme.test>"))
    ticket = Ticket.objects.get()
    tag = f"Re: [{ticket.reference} #{ticket.token}] Logo"
    mail_in(monkeypatch, compose(OWNER, tag, "First reply.", message_id="<r@acme.test>"))
    mail_in(monkeypatch, compose(OWNER, tag, "Second reply, same ID.", message_id="<r@acme.test>"))
    bodies = list(ticket.messages.filter(kind=Message.Kind.REPLY).values_list("body", flat=True))
    assert bodies == ["First reply.", "Second reply, same ID."]


def test_the_content_digest_ignores_transport_headers_only():
    raw = compose(OWNER, "Logo", "Blurry.", message_id="<x@acme.test>", verified=False)
    assert mail.content_digest(raw) == mail.content_digest(
        b"Received: from a by b\r\nDelivered-To: x\r\n" + raw
    )
    assert mail.content_digest(raw) == mail.content_digest(
        raw.replace(b"\n", b"\r\n").replace(b"\r\r", b"\r")
    )
    assert mail.content_digest(raw) != mail.content_digest(raw.replace(b"Blurry.", b"Sharp."))
    assert mail.content_digest(raw) != mail.content_digest(raw.replace(b"Subject: Logo", b"Subject: Logos"))


@pytest.mark.django_db
def test_unreadable_mail_is_kept_with_the_reason(monkeypatch, acme):
    with pytest.raises(CommandError) as refused:
        mail_in(monkeypatch, b"this is not an e-mail at all\n")
    assert refused.value.returncode == 65
    [(path, note)] = kept("unreadable")
    assert path.read_bytes() == b"this is not an e-mail at all\n"
    assert "no sender address" in str(note["detail"])


@pytest.mark.django_db
def test_automatic_mail_is_kept_not_answered(monkeypatch, acme):
    raw = compose(OWNER, "Out of office", "Back Monday.", headers={"Auto-Submitted": "auto-replied"})
    assert mail_in(monkeypatch, raw).startswith("ignored:")
    [(path, note)] = kept("automatic")
    assert (note["sender"], note["subject"], note["detail"]) == (
        OWNER,
        "Out of office",
        "Auto-Submitted: auto-replied",
    )
    assert path.read_bytes() == raw


@pytest.mark.django_db
def test_an_internal_error_exits_75_and_keeps_the_mail_once(monkeypatch, acme, caplog):
    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("a bug")

    monkeypatch.setattr(mail, "new_request", broken)
    raw = compose(OWNER, "Logo", "Blurry.")
    for _ in range(2):  # the MTA retries: still one kept copy
        with pytest.raises(CommandError) as failed:
            mail_in(monkeypatch, raw)
        assert failed.value.returncode == 75
    [(path, note)] = kept("internal_error")
    assert path.read_bytes() == raw
    assert note["detail"] == "KeyError while filing (see the log)"
    assert "Traceback" in caplog.text  # for us, in the log; not in what the MTA bounces
    assert "Traceback" not in str(failed.value)


@pytest.mark.django_db
def test_a_message_over_the_size_limit_is_kept_cut_short(monkeypatch, acme):
    monkeypatch.setattr(mail_in_command, "MAX_BYTES", 100)
    raw = compose(OWNER, "Big", "x" * 500)
    with pytest.raises(CommandError) as refused:
        mail_in(monkeypatch, raw)
    assert refused.value.returncode == 65
    [(path, _)] = kept("too_large")
    assert path.read_bytes() == raw[:100]


def test_mail_in_as_an_mta_runs_it_answers_65_not_a_traceback(tmp_path):
    """The installed console script, as Postfix runs it, on the 1,500-level bomb: status 65, kept."""
    home = tmp_path / "home"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SITEKEEPER_", "DJANGO_", "PYTEST"))
    }
    env |= {"SITEKEEPER_HOME": str(home), "SITEKEEPER_EMAIL_URL": f"file://{tmp_path / 'outbox'}?from={DESK}"}
    script = str(ROOT / ".venv" / "bin" / "sitekeeper")
    subprocess.run([script, "migrate", "-v0"], env=env, check=True, timeout=120)
    done = subprocess.run(
        [script, "mail-in"], input=nested(1500), env=env, capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 65, done.stderr
    assert b"too complex" in done.stderr
    assert b"RecursionError" not in done.stderr
    [note] = list((home / "mail" / "unfiled").glob("*/*.json"))
    assert json.loads(note.read_text())["reason"] == "too_complex"


@pytest.mark.django_db
def test_staff_list_the_unfiled_mail(monkeypatch, acme):
    out = io.StringIO()
    call_command("mail_unfiled", stdout=out)
    assert "No unfiled mail: mail lands here when it cannot be filed on a request." in out.getvalue()
    mail_in(monkeypatch, compose("stranger@elsewhere.test", "Hello there", "Hi"))
    with pytest.raises(CommandError):
        mail_in(monkeypatch, nested(1500))
    out = io.StringIO()
    call_command("mail_unfiled", day=dt.datetime.now(dt.UTC).date().isoformat(), stdout=out)
    listing = out.getvalue()
    assert "unknown_sender  stranger@elsewhere.test  Hello there" in listing
    assert "too_complex  owner@acme.test  deep" in listing  # read from the raw header block
    assert ".eml" in listing
    with pytest.raises(CommandError, match="--day: '2026-02-30' is not a date like 2026-12-07"):
        call_command("mail_unfiled", day="2026-02-30")
