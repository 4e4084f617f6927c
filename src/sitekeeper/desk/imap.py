"""Poll an IMAP mailbox for desk mail: every UNSEEN message goes through the same intake as `mail-in`.

A message is flagged \\Seen only after it was handled and committed, so a crash (or a database outage) in
between leaves it unseen and the next pass reads it again; the intake ignores a Message-ID it already
handled, so reading a message twice never makes two tickets. Messages are fetched with BODY.PEEK[], which
does not set \\Seen by itself.

The mailbox is one URL: imaps://user:password@host:993/INBOX (imap://…?starttls=1 for STARTTLS on 143;
plain imap:// only makes sense on loopback). The password never appears in logs or errors.
"""

from __future__ import annotations

import imaplib
import ipaddress
import logging
import os
import ssl
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

from django.conf import settings
from django.db import InterfaceError, OperationalError

from sitekeeper.desk import mail

logger = logging.getLogger("sitekeeper.desk.imap")

DEFAULT_TIMEOUT = 30.0
_TRUE = {"1", "true", "yes", "on"}


class ImapError(Exception):
    """The mailbox could not be read (connection, login, mailbox); the message holds no password."""


@dataclass(frozen=True, repr=False)
class Mailbox:
    host: str
    port: int
    user: str
    password: str
    mailbox: str = "INBOX"
    tls: bool = True  # imaps://
    starttls: bool = False

    def __repr__(self) -> str:
        return f"Mailbox({self.masked})"

    @property
    def masked(self) -> str:
        scheme = "imaps" if self.tls else "imap"
        return f"{scheme}://{self.user}:***@{self.host}:{self.port}/{self.mailbox}"

    def scrub(self, text: str) -> str:
        return text.replace(self.password, "***") if self.password else text


def configured_url() -> str:
    return getattr(settings, "SITEKEEPER_IMAP_URL", "") or os.environ.get("SITEKEEPER_IMAP_URL", "")


def parse_url(url: str) -> Mailbox:
    parts = urlsplit(url)
    if parts.scheme not in {"imap", "imaps"}:
        raise ImapError(f"the mailbox URL must start with imaps:// or imap://, not {parts.scheme or '?'}://")
    if not parts.hostname or not parts.username:
        raise ImapError("the mailbox URL needs a user and a host: imaps://user:password@host/INBOX")
    try:
        port = parts.port or (993 if parts.scheme == "imaps" else 143)
    except ValueError as exc:
        raise ImapError("the mailbox URL has a bad port") from exc
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    return Mailbox(
        host=parts.hostname,
        port=port,
        user=unquote(parts.username),
        password=unquote(parts.password or ""),
        mailbox=unquote(parts.path.lstrip("/")) or "INBOX",
        tls=parts.scheme == "imaps",
        starttls=query.get("starttls", "0").lower() in _TRUE,
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def connect(box: Mailbox, timeout: float = DEFAULT_TIMEOUT) -> imaplib.IMAP4:
    try:
        conn = _open(box, timeout)
        conn.login(box.user, box.password)
        status, detail = conn.select(_quoted(box.mailbox))
    except (imaplib.IMAP4.error, OSError) as exc:
        raise ImapError(box.scrub(f"{box.masked}: {type(exc).__name__}: {exc}")) from exc
    if status != "OK":
        conn.logout()
        raise ImapError(f"{box.masked}: cannot open the mailbox: {detail!r}")
    return conn


def _open(box: Mailbox, timeout: float) -> imaplib.IMAP4:
    context = ssl.create_default_context()
    if box.tls:
        return imaplib.IMAP4_SSL(box.host, box.port, ssl_context=context, timeout=timeout)
    conn = imaplib.IMAP4(box.host, box.port, timeout=timeout)
    if box.starttls:
        conn.starttls(ssl_context=context)
    elif not _is_loopback(box.host):
        logger.warning("%s: reading mail without TLS; the password crosses the network in clear", box.masked)
    return conn


def _quoted(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class PassResult:
    """What one pass did: outcome action → count; `left` are messages left unseen for the next pass."""

    counts: Counter[str] = field(default_factory=Counter)
    left: int = 0

    def summary(self) -> str:
        done = ", ".join(f"{count} {action}" for action, count in sorted(self.counts.items()))
        left = f"; {self.left} left for the next pass" if self.left else ""
        return f"{sum(self.counts.values())} handled ({done or 'nothing new'}){left}"


class TemporaryError(Exception):
    """The desk cannot store mail right now (database down): stop the pass, keep the rest unseen."""


Handler = Callable[[bytes], mail.Outcome]


def poll_once(box: Mailbox, handler: Handler = mail.intake, timeout: float = DEFAULT_TIMEOUT) -> PassResult:
    conn = connect(box, timeout)
    try:
        return _pass(conn, box, handler)
    except (imaplib.IMAP4.error, OSError) as exc:
        raise ImapError(box.scrub(f"{box.masked}: {type(exc).__name__}: {exc}")) from exc
    finally:
        _logout(conn)


def _logout(conn: imaplib.IMAP4) -> None:
    try:
        conn.logout()
    except (imaplib.IMAP4.error, OSError):
        logger.debug("logout failed; the connection is gone anyway")


def _pass(conn: imaplib.IMAP4, box: Mailbox, handler: Handler) -> PassResult:
    result = PassResult()
    status, data = conn.uid("SEARCH", "UNSEEN")
    if status != "OK":
        raise ImapError(f"{box.masked}: SEARCH UNSEEN failed: {data!r}")
    uids = data[0].split() if data and data[0] else []
    for index, uid in enumerate(uids):
        try:
            action = _one(conn, box, uid, handler)
        except TemporaryError:
            result.left += len(uids) - index
            break
        if action is None:
            result.left += 1
        else:
            result.counts[action] += 1
    return result


def _fetch(conn: imaplib.IMAP4, uid: bytes) -> bytes | None:
    status, data = conn.uid("FETCH", uid, "(BODY.PEEK[])")
    if status != "OK":
        return None
    for item in data:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
            return item[1]
    return None


def _mark(conn: imaplib.IMAP4, uid: bytes, flags: str) -> None:
    conn.uid("STORE", uid, "+FLAGS", f"({flags})")


def _one(conn: imaplib.IMAP4, box: Mailbox, uid: bytes, handler: Handler) -> str | None:
    """Handle one message; the action, or None when it stays unseen for the next pass."""
    raw = _fetch(conn, uid)
    if raw is None:
        logger.warning("%s: message uid %s vanished before it was read", box.masked, uid.decode())
        return None
    try:
        outcome = handler(raw)
    except mail.MailError as exc:
        # Unreadable for good (kept under mail/unfiled/ by the intake): flagged for a person to look at,
        # seen so it is not re-read forever.
        logger.warning("%s: uid %s is not a usable e-mail (%s); flagged", box.masked, uid.decode(), exc)
        _mark(conn, uid, "\\Seen \\Flagged")
        return "unreadable"
    except (OperationalError, InterfaceError) as exc:
        logger.warning("%s: database unavailable, stopping this pass: %s", box.masked, exc)
        raise TemporaryError(str(exc)) from exc
    # One broken message must not stop the mailbox: it stays unseen (and kept under mail/unfiled/ by the
    # intake, once however often it is retried), is logged, and the rest goes on.
    except Exception:
        logger.exception("%s: uid %s failed; left unseen for the next pass", box.masked, uid.decode())
        return None
    _mark(conn, uid, "\\Seen")
    mail.send_answers(outcome)
    return outcome.action
