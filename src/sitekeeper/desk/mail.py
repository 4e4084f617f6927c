"""Ticket e-mail: intake of one RFC 822 message (MTA pipe or IMAP), and the ticket mail we send.

Intake (`handle(raw)`), in this order:
0. a message too deeply nested or with too many parts (MAX_MIME_DEPTH, MAX_MIME_PARTS) is refused before the
   parser recurses into it: kept raw as not filed, with the reason (MailError, exit 65);
1. automatic mail (Auto-Submitted, bounces, lists, our own messages) is ignored, so two robots never talk;
2. a Message-ID we already handled with the same content (digest of From/To/Cc/Date/Subject and the body)
   is a redelivery and changes nothing; the same Message-ID with other content is a different mail and is
   handled under an ID derived from its digest (so it, too, is handled once);
3. the sender must be a Contact (e-mail matched case-insensitively); anyone else gets a polite refusal;
   every mail not filed on a request is kept raw under SITEKEEPER_HOME/mail/unfiled/<date>/ with a JSON
   file saying why, and logged — never silently dropped;
3a. From: is not trusted: desk.mailauth gives a verdict (the receiving MTA's Authentication-Results, our own
   DKIM check). A new request from a contact without a pass is filed *unverified* (clocks paused, no page)
   and the contact is mailed a confirmation link; a reply without one is kept on the request, marked,
   and changes nothing;
4. a ticket token in the subject ("[SK-00012 #3f9a1c0b2e]") or in In-Reply-To/References (our Message-IDs
   carry it) makes the mail a reply on that ticket, if the sender is a contact of the ticket's client;
5. anything else is a new request. E-mail carries no type, priority, site or environment, so unless the
   body has field lines ("Priority: P2") it is accepted as incomplete (clocks paused, reason
   incomplete_request) and the acknowledgement says exactly what is missing and how to add it: in the
   portal, or by replying with field lines, which a reply then applies through services.complete_request.

Everything we send goes through the notify seam with text and HTML parts, the ticket tag in the subject,
a Message-ID carrying the ticket token, In-Reply-To/References threading and Reply-To the desk address.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from email import policy
from email.errors import MessageError
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr
from html.parser import HTMLParser
from pathlib import Path

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape, linebreaks, urlize

from sitekeeper import files
from sitekeeper.access.audit import acting_as
from sitekeeper.access.models import User
from sitekeeper.contracts.models import Client, Contact, Environment
from sitekeeper.desk import mailauth, presenters, services
from sitekeeper.desk.attachments import AttachmentError, store
from sitekeeper.desk.models import Channel, Event, Message, RequestType, Ticket
from sitekeeper.notify import Message as Notice
from sitekeeper.notify import Recipient, notify, recipients_for_contact, recipients_for_user, send_now
from sitekeeper.notify.models import Delivery, target_digest

logger = logging.getLogger("sitekeeper.desk.mail")

SUBJECT_TAG = re.compile(r"\[SK-(\d+)\s+#([0-9a-f]{6,16})\]", re.IGNORECASE)
# Our Message-IDs: <….sitekeeper.<ticket pk>.<token>@domain> (tickets) or <….sitekeeper.notice@domain>.
OUR_ID = re.compile(r"\.sitekeeper\.(?:(\d+)\.([0-9a-f]{6,16})|notice)@", re.IGNORECASE)
MESSAGE_ID = re.compile(r"<[^<>\s]+>")
REPLY_MARKER = "Reply above this line"
BOUNCE_SENDERS = {"mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply", "do-not-reply"}
REJECTIONS_PER_HOUR = 3  # to one address; a broken autoresponder must not get an endless conversation
# Confirmation requests to one contact: someone forging a contact's address a hundred times must not make
# us mail them a hundred links (the requests are still filed, unverified, and shown to staff).
CONFIRMATIONS_PER_HOUR = 5
MAX_SUBJECT = 200
# Real mail nests a few levels (a forward of a reply with an attachment: 4-6) and has tens of parts. The
# standard parser recurses once per level, so 1,500 nested multiparts exhaust Python's stack: such input is
# refused before and after parsing (the raw count of containers is checked before the parser sees it).
MAX_MIME_DEPTH = 20
MAX_MIME_PARTS = 200
_CONTAINER = re.compile(rb"(?im)^content-type:\s*(?:multipart/|message/rfc822)")


class MailError(ValueError):
    """The input is not a usable e-mail (no headers, no sender, too complex). Permanent: retrying will not
    help. `reason` is the short word the kept copy is filed under (unreadable, too_complex, empty)."""

    def __init__(self, message: str, reason: str = "unreadable") -> None:
        super().__init__(message)
        self.reason = reason


# --- reading a message ---------------------------------------------------------------------------------


@dataclass
class Incoming:
    raw: bytes
    message_id: str
    sender: str  # lower-cased address
    sender_name: str
    subject: str
    body: str
    references: list[str]  # In-Reply-To first, then References, newest first
    attachments: list[tuple[str, bytes]]
    headers: EmailMessage = field(repr=False)
    digest: str = ""  # content_digest(raw): tells a redelivery from another mail reusing a Message-ID
    original_id: str = ""  # the Message-ID as sent, when message_id had to be derived (a reused one)
    verdict: mailauth.Verdict | None = None  # set once the sender is a contact (desk.mailauth.check)

    @property
    def sender_domain(self) -> str:
        return self.sender.rpartition("@")[2]


def parse(raw: bytes) -> Incoming:
    if not raw.strip():
        raise MailError("empty input: no message", "empty")
    containers = len(_CONTAINER.findall(raw))
    if containers > MAX_MIME_PARTS:
        raise MailError(
            f"too complex: {containers} multipart containers (at most {MAX_MIME_PARTS})", "too_complex"
        )
    try:
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        _check_structure(msg)
        sender_name, sender = parseaddr(_header(msg, "From"))
        if not msg.keys() or "@" not in sender:
            raise MailError("no sender address (From:) in the message")
        return Incoming(
            raw=raw,
            message_id=_message_id(msg, raw),
            sender=sender.strip().lower(),
            sender_name=sender_name,
            subject=" ".join(_header(msg, "Subject").split())[:MAX_SUBJECT],
            body=_body(msg),
            references=_references(msg),
            attachments=list(_attachments(msg)),
            headers=msg,
            digest=content_digest(raw),
        )
    except RecursionError as exc:  # a shape the raw count missed (e.g. a folded Content-Type): same answer
        raise MailError("too complex: MIME parts nested too deeply to read", "too_complex") from exc
    except (MessageError, ValueError, IndexError, TypeError) as exc:
        if isinstance(exc, MailError):
            raise
        raise MailError(f"unreadable message: {exc}") from exc


def _check_structure(msg: EmailMessage) -> None:
    """At most MAX_MIME_DEPTH levels and MAX_MIME_PARTS parts, walked without recursion."""
    stack: list[tuple[EmailMessage, int]] = [(msg, 1)]
    parts = 0
    while stack:
        part, depth = stack.pop()
        parts += 1
        if depth > MAX_MIME_DEPTH:
            raise MailError(
                f"too complex: MIME parts nested deeper than {MAX_MIME_DEPTH} levels", "too_complex"
            )
        if parts > MAX_MIME_PARTS:
            raise MailError(f"too complex: more than {MAX_MIME_PARTS} MIME parts", "too_complex")
        payload = part.get_payload() if part.is_multipart() else None
        if isinstance(payload, list):
            stack.extend((child, depth + 1) for child in payload)


_TRANSPORT_HEADERS = ("from", "to", "cc", "date", "subject")


def content_digest(raw: bytes) -> str:
    """SHA-256 of what the sender wrote: From, To, Cc, Date, Subject and the body as bytes. Headers that
    differ between two deliveries of one mail (Received, Authentication-Results, Delivered-To,
    Return-Path, …) and line-ending or trailing-space changes are left out, so a redelivery matches."""
    text = raw.replace(b"\r\n", b"\n")
    head, _, body = text.partition(b"\n\n")
    unfolded = re.sub(rb"\n[ \t]+", b" ", head)
    kept = sorted(
        line.strip().lower() if line.lower().startswith((b"from:", b"to:", b"cc:")) else line.strip()
        for line in unfolded.split(b"\n")
        if line.split(b":", 1)[0].strip().lower().decode("latin-1") in _TRANSPORT_HEADERS
    )
    lines = b"\n".join(line.rstrip() for line in body.split(b"\n")).strip()
    return hashlib.sha256(b"\n".join(kept) + b"\n\n" + lines).hexdigest()


def _header(msg: EmailMessage, name: str) -> str:
    try:
        value = msg.get(name)
    except (MessageError, ValueError, IndexError, TypeError):  # a malformed header: treat as absent
        return ""
    return str(value) if value is not None else ""


def _message_id(msg: EmailMessage, raw: bytes) -> str:
    found = MESSAGE_ID.findall(_header(msg, "Message-ID"))
    if found:
        return found[0][:300]
    # No Message-ID: the content's digest stands in, so the same bytes delivered twice are still one mail.
    return f"<sha256.{hashlib.sha256(raw).hexdigest()}@sitekeeper.invalid>"


def _references(msg: EmailMessage) -> list[str]:
    ids = MESSAGE_ID.findall(_header(msg, "In-Reply-To"))
    ids += list(reversed(MESSAGE_ID.findall(_header(msg, "References"))))
    return list(dict.fromkeys(ids))


def _part_text(part: EmailMessage) -> str:
    try:
        return str(part.get_content())
    except (LookupError, ValueError, AssertionError):  # an unknown charset or a broken encoding
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else str(payload)


def _body(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    text = _part_text(part)  # type: ignore[arg-type]
    if part.get_content_subtype() == "html":
        text = html_to_text(text)
    return _tidy(text)


def _attachments(msg: EmailMessage) -> Iterable[tuple[str, bytes]]:
    for number, part in enumerate(msg.iter_attachments(), start=1):
        name = part.get_filename() or f"attachment-{number}"
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):  # message/rfc822 and other containers: keep them whole
            payload = part.as_bytes()
        yield name, payload


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


class _TextExtractor(HTMLParser):
    BLOCKS = frozenset(
        {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre"}
    )
    HIDDEN = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HIDDEN:
            self.hidden += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n- " if tag == "li" else "\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in {"p", "div", "blockquote", "pre"} or tag.startswith("h"):
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(re.sub(r"[ \t\r\n]+", " ", data))


def html_to_text(markup: str) -> str:
    extractor = _TextExtractor()
    extractor.feed(markup)
    extractor.close()
    lines = (line.strip() for line in "".join(extractor.parts).split("\n"))
    return _tidy("\n".join(lines))


# --- what a mail says -------------------------------------------------------------------------------------

_QUOTE_HEADERS = (
    re.compile(r"^On .{0,300}wrote:\s*$"),
    re.compile(r"^Am .{0,300}schrieb .{0,300}:\s*$"),
    re.compile(r"^-{3,}\s*(Original Message|Ursprüngliche Nachricht)\s*-{3,}\s*$", re.IGNORECASE),
    re.compile(r"^_{10,}\s*$"),
)
_FIELD_LINE = re.compile(
    r"^\s*(type|priority|site|environment|env|subject|steps)\s*:\s*(.*?)\s*$", re.IGNORECASE
)


def reply_text(body: str) -> str:
    """What the sender wrote in a reply: without the quoted thread and the signature."""
    kept: list[str] = []
    lines = body.split("\n")
    for index, line in enumerate(lines):
        bare = line.lstrip("> ").strip()
        if REPLY_MARKER.lower() in bare.lower() or line.rstrip() == "--":
            break
        if any(pattern.match(line.strip()) for pattern in _QUOTE_HEADERS) or _outlook_header(lines, index):
            break
        if not line.startswith(">"):
            kept.append(line)
    return _tidy("\n".join(kept))


def _outlook_header(lines: list[str], index: int) -> bool:
    """Outlook quotes without '>': a From: line followed closely by Sent:/Date:."""
    if not re.match(r"^\s*(From|Von|De):\s", lines[index]):
        return False
    following = lines[index + 1 : index + 4]
    return any(re.match(r"^\s*(Sent|Date|Gesendet|Datum|Envoyé):\s", line) for line in following)


def extract_fields(text: str) -> tuple[dict[str, str], str]:
    """Field lines ("Priority: P2", "Steps:" with the lines after it up to a blank line) and the rest."""
    fields: dict[str, str] = {}
    rest: list[str] = []
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        found = _FIELD_LINE.match(lines[index])
        index += 1
        if found is None:
            rest.append(lines[index - 1])
            continue
        name = found.group(1).lower()
        name = "environment" if name == "env" else name
        value = found.group(2)
        if name == "steps":
            more = _continuation(lines, index)
            value, index = "\n".join([value, *more]).strip(), index + len(more)
        if value:
            fields[name] = value
    return fields, _tidy("\n".join(rest))


def _continuation(lines: list[str], start: int) -> list[str]:
    """The lines after a "Steps:" line, up to (not including) the next blank line."""
    collected = []
    for line in lines[start:]:
        if not line.strip():
            break
        collected.append(line.strip())
    return collected


_TYPES = {
    "incident": RequestType.INCIDENT,
    "outage": RequestType.INCIDENT,
    "bug": RequestType.BUG,
    "defect": RequestType.BUG,
    "change_request": RequestType.CHANGE,
    "change": RequestType.CHANGE,
    "cr": RequestType.CHANGE,
    "update": RequestType.UPDATE,
    "question": RequestType.QUESTION,
}
_ENVIRONMENTS = {
    "prod": "prod",
    "production": "prod",
    "live": "prod",
    "stage": "stage",
    "staging": "stage",
    "dev": "dev",
    "development": "dev",
}


def resolve_fields(client: Client, raw: dict[str, str]) -> tuple[dict[str, object], list[str]]:
    """Field lines turned into request values for `client`, and a sentence per value we could not use."""
    values: dict[str, object] = {}
    problems: list[str] = []
    for name, value in raw.items():
        try:
            values.update(_resolve(client, name, value))
        except ValueError as exc:
            problems.append(f'"{name.capitalize()}: {value}" — {exc}')
    return values, problems


def _resolve(client: Client, name: str, value: str) -> dict[str, object]:
    if name == "priority":
        found = re.fullmatch(r"p?\s*([1-4])\b.*", value.strip(), re.IGNORECASE)
        if not found:
            raise ValueError("the priority is one of P1, P2, P3, P4")
        return {"priority": f"P{found.group(1)}"}
    if name == "type":
        key = re.sub(r"[\s-]+", "_", value.strip().lower())
        if key not in _TYPES:
            raise ValueError("the type is one of incident, bug, change request, update, question")
        return {"type": str(_TYPES[key])}
    if name == "environment":
        key = value.strip().lower()
        if key not in _ENVIRONMENTS:
            raise ValueError("the environment is one of prod, stage, dev")
        return {"environment": _ENVIRONMENTS[key]}
    if name == "site":
        return _resolve_site(client, value)
    return {name: value[:MAX_SUBJECT] if name == "subject" else value}


def _url_key(url: str) -> str:
    return re.sub(r"^[a-z][a-z0-9+.-]*://", "", url.strip().lower()).rstrip("/")


def _resolve_site(client: Client, value: str) -> dict[str, object]:
    key = _url_key(value)
    for site in client.sites.all():
        if key in {_url_key(site.url), site.name.strip().lower()}:
            return {"site": site}
    environment = (
        Environment.objects.filter(site__client=client).select_related("site").filter(url__icontains=key)
    )
    for env in environment:
        if _url_key(env.url) == key:
            return {"site": env.site, "environment": env.kind}
    names = ", ".join(site.url for site in client.sites.all()) or "none registered"
    raise ValueError(f"not one of your sites ({names})")


# --- intake -----------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What happened to one message; `action` is created, unverified (a request filed unverified),
    replied, rejected, ignored or duplicate."""

    action: str
    detail: str
    ticket: Ticket | None = None
    deliveries: list[Delivery] = field(default_factory=list)


def intake(raw: bytes, dnsfunc: mailauth.DnsFunc | None = None) -> Outcome:
    """`handle`, for the MTA pipe and the IMAP poller: a message that cannot be filed for good (unreadable,
    too complex) or that fails on a bug is kept raw under mail/unfiled/ with the reason before the error
    goes on; a database outage is not kept (the MTA or the mailbox keeps the message and it comes again)."""
    try:
        return handle(raw, dnsfunc=dnsfunc)
    except MailError as exc:
        if exc.reason != "empty":
            keep_unfiled(raw, exc.reason, str(exc))
        raise
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        keep_unfiled(raw, "internal_error", f"{type(exc).__name__} while filing (see the log)")
        raise


def handle(raw: bytes, *, dnsfunc: mailauth.DnsFunc | None = None) -> Outcome:
    """Handle one RFC 822 message. Raises MailError for unreadable input; database errors propagate (the
    caller makes them a temporary failure, so the MTA or the IMAP poller tries again). `dnsfunc` replaces
    the DNS lookup of DKIM keys (tests)."""
    mail = parse(raw)
    reason = automatic_reason(mail)
    if reason:
        kept = keep_unfiled(raw, "automatic", reason, mail)
        logger.info("ignored %s from %s: %s; kept as %s", mail.message_id, mail.sender, reason, kept)
        return Outcome("ignored", reason)
    if not _claim_message_id(mail):
        logger.info("duplicate %s from %s: already handled", mail.message_id, mail.sender)
        return Outcome("duplicate", f"{mail.message_id} was already handled")
    with acting_as(None, label=f"email:{mail.sender}"[:150]), transaction.atomic():
        return _route(mail, dnsfunc)


def send_answers(outcome: Outcome) -> None:
    """Send the answers to a mail at once (the worker would too, a moment later; a failure stays queued
    and is retried by the worker's loop). Called by the intake commands after the mail is committed."""
    for delivery in outcome.deliveries:
        send_now(delivery.pk)


def automatic_reason(mail: Incoming) -> str:
    """Why this message must not be answered (RFC 3834 and the usual bounce signs), or ''."""
    headers = mail.headers
    auto = _header(headers, "Auto-Submitted").strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    precedence = _header(headers, "Precedence").strip().lower()
    if precedence in {"bulk", "junk", "auto_reply"}:
        return f"Precedence: {precedence}"
    if _header(headers, "X-Autoreply") or _header(headers, "X-Autorespond"):
        return "autoresponder headers"
    if headers.get_content_type() == "multipart/report" or _header(headers, "Return-Path").strip() == "<>":
        return "delivery status notification (bounce)"
    if mail.sender.split("@")[0] in BOUNCE_SENDERS:
        return f"sent by {mail.sender.split('@')[0]}"
    return _our_own(mail)


def _our_own(mail: Incoming) -> str:
    if mail.sender == desk_address().lower():
        return "sent from the desk address"
    if OUR_ID.search(mail.message_id) or _header(mail.headers, "X-Sitekeeper-Ticket"):
        return "a message sitekeeper sent"
    return ""


def handled_digests(message_id: str) -> list[str]:
    """The content digests of the mails we filed under this Message-ID ('' for one filed before digests
    were kept: it counts as the same content)."""
    digests = list(Message.objects.filter(email_message_id=message_id).values_list("email_digest", flat=True))
    for data in Event.objects.filter(kind=Event.Kind.RECEIVED, data__email_message_id=message_id).values_list(
        "data", flat=True
    ):
        digests.append(str((data or {}).get("email_digest", "")))
    return digests


def already_handled(message_id: str) -> bool:
    return bool(handled_digests(message_id))


def _claim_message_id(mail: Incoming) -> bool:
    """False for a redelivery (same Message-ID, same content). The same Message-ID with other content is
    another mail — some mailers reuse IDs, and an ID known to an attacker must not suppress a genuine mail
    — so it is handled under an ID derived from its content, which makes its own redelivery a duplicate."""
    digests = handled_digests(mail.message_id)
    if not digests:
        return True
    if mail.digest in digests or "" in digests:
        return False
    derived = f"<reused.{mail.digest[:40]}@sitekeeper.invalid>"
    if already_handled(derived):
        return False
    logger.warning(
        "%s from %s reuses a Message-ID we filed with other content; handled as %s",
        mail.message_id,
        mail.sender,
        derived,
    )
    mail.original_id, mail.message_id = mail.message_id, derived
    return True


def _route(mail: Incoming, dnsfunc: mailauth.DnsFunc | None = None) -> Outcome:
    contacts = list(Contact.objects.filter(email__iexact=mail.sender).select_related("client"))
    if contacts:  # only then: no DNS lookups for mail we refuse anyway
        mail.verdict = mailauth.check(mail.raw, mail.headers.raw_items(), mail.sender_domain, dnsfunc)
    ticket = find_ticket(mail)
    if ticket is not None:
        own = [contact for contact in contacts if contact.client_id == ticket.client_id]
        if own:
            return reply_on(ticket, mail, own[0])
        if contacts:
            return reject(mail, "not_this_client", ticket=ticket)
    if not contacts:
        return reject(mail, "unknown_sender")
    clients = {contact.client_id for contact in contacts}
    if len(clients) > 1:
        return reject(mail, "several_clients")
    return new_request(mail, _preferred(contacts))


def trusted(mail: Incoming) -> bool:
    """The From: address is the contact's: a pass, or no verdict at all where the agency chose to accept
    that (SITEKEEPER_MAIL_ACCEPT_UNVERIFIED; never an explicit failure)."""
    verdict = mail.verdict
    if verdict is None:
        return False
    if verdict.verified:
        return True
    return verdict.result == mailauth.NONE and mailauth.accept_without_verdict()


def _preferred(contacts: Sequence[Contact]) -> Contact:
    """One person, several roles at one client: any row is them; prefer the product owner's."""
    return sorted(contacts, key=lambda c: (c.role != Contact.Role.PRODUCT_OWNER, c.pk))[0]


def find_ticket(mail: Incoming) -> Ticket | None:
    tag = SUBJECT_TAG.search(mail.subject)
    if tag:
        found = Ticket.objects.filter(pk=int(tag.group(1)), token=tag.group(2).lower()).first()
        if found is not None:
            return found
    for reference in mail.references:
        ours = OUR_ID.search(reference)
        if ours and ours.group(1):
            found = Ticket.objects.filter(pk=int(ours.group(1)), token=ours.group(2).lower()).first()
            if found is not None:
                return found
        known = Message.objects.filter(email_message_id=reference).select_related("ticket").first()
        if known is not None:
            return known.ticket
        received = Event.objects.filter(kind=Event.Kind.RECEIVED, data__email_message_id=reference).first()
        if received is not None:
            return received.ticket
    return None


def new_request(mail: Incoming, contact: Contact) -> Outcome:
    raw_fields, description = extract_fields(mail.body)
    values, problems = resolve_fields(contact.client, raw_fields)
    subject = str(values.pop("subject", "") or mail.subject)
    genuine = trusted(mail)
    try:
        ticket = services.file_request(
            contact.client,
            channel=Channel.EMAIL,
            subject=subject,
            description=description,
            requester=contact,
            allow_incomplete=True,
            unverified=not genuine,
            mail_auth=mail.verdict.as_data() if mail.verdict else {},
            **values,  # type: ignore[arg-type]
        )
    except services.DeskError as exc:
        return reject(mail, "no_contract", detail=str(exc))
    _remember_received(ticket, mail.message_id, mail.digest)
    refused = store_attachments(ticket, mail.attachments)
    if not genuine:
        return _unverified_request(ticket, mail, contact)
    deliveries = send_acknowledgement(
        ticket, incoming=mail, refused=refused, problems=problems, to=_sender_recipient(mail, contact)
    )
    logger.info(
        "created %s from %s (%s), incomplete: %s",
        ticket.reference,
        mail.sender,
        mail.message_id,
        ", ".join(ticket.missing_fields) or "no",
    )
    return Outcome("created", f"created {ticket.reference}", ticket, deliveries)


def _unverified_request(ticket: Ticket, mail: Incoming, contact: Contact) -> Outcome:
    """Filed, clocks paused, nobody paged: the contact's registered address is asked to confirm it."""
    detail = mail.verdict.detail if mail.verdict else ""
    deliveries = send_confirmation_request(ticket, contact)
    logger.warning(
        "filed %s from %s (%s) as unverified: %s", ticket.reference, mail.sender, mail.message_id, detail
    )
    return Outcome("unverified", f"filed {ticket.reference} unverified ({detail})", ticket, deliveries)


def _remember_received(ticket: Ticket, message_id: str, digest: str = "") -> None:
    # The original mail is the ticket itself (its description), not a Message row: its Message-ID is kept on
    # the "received" event, where duplicate checks and threading find it.
    event = ticket.events.filter(kind=Event.Kind.RECEIVED).first()
    if event is not None:
        event.data = {**event.data, "email_message_id": message_id, "email_digest": digest}
        event.save(update_fields=["data"])


def store_attachments(
    ticket: Ticket, files: Sequence[tuple[str, bytes]], message: Message | None = None
) -> list[str]:
    """Keep what we accept; return one sentence per file we refused (the sender is told, nothing fails)."""
    refused = []
    for name, content in files:
        try:
            store(ticket, name, content, message=message)
        except AttachmentError as exc:
            refused.append(str(exc))
    return refused


def reply_on(ticket: Ticket, mail: Incoming, contact: Contact) -> Outcome:
    text = reply_text(mail.body)
    genuine = trusted(mail)
    message = services.add_message(
        ticket,
        text or "(no text)",
        channel=Channel.EMAIL,
        contact=contact,
        email_message_id=mail.message_id,
        email_digest=mail.digest,
        unverified=not genuine,
    )
    refused = store_attachments(ticket, mail.attachments, message=message)
    if not genuine:
        # Kept and shown (marked) — but it completes nothing, ends no wait, reopens nothing, and nobody
        # is mailed: a forged reply must not move a request, and the genuine contact is not spammed.
        detail = mail.verdict.detail if mail.verdict else ""
        logger.warning(
            "unverified reply on %s from %s (%s): %s", ticket.reference, mail.sender, mail.message_id, detail
        )
        return Outcome("replied", f"added an unverified reply to {ticket.reference}", ticket)
    was_incomplete = ticket.incomplete
    problems = _complete_from(ticket, text) if was_incomplete else []
    deliveries: list[Delivery] = []
    if was_incomplete or refused or problems:
        deliveries = send_completion_notice(
            ticket, incoming=mail, refused=refused, problems=problems, to=_sender_recipient(mail, contact)
        )
    logger.info("reply on %s from %s (%s)", ticket.reference, mail.sender, mail.message_id)
    return Outcome("replied", f"added a reply to {ticket.reference}", ticket, deliveries)


def _complete_from(ticket: Ticket, text: str) -> list[str]:
    """Apply field lines to what is missing (and free text as the description, if that is missing)."""
    raw_fields, rest = extract_fields(text)
    values, problems = resolve_fields(ticket.client, raw_fields)
    if "description" in ticket.missing_fields and rest:
        values["description"] = rest
    # Only what is missing (or still empty: steps become required once the type says bug): a reply line
    # never overrides what the request already says; priority changes go through change_priority.
    empty = {name for name in ("site", "environment", "steps", "description") if not getattr(ticket, name)}
    allowed = set(ticket.missing_fields) | empty
    wanted = {name: value for name, value in values.items() if name in allowed}
    if wanted:
        try:
            services.complete_request(ticket, wanted)
        except services.DeskError as exc:
            problems.append(str(exc))
        ticket.refresh_from_db()
    return problems


REJECTIONS = {
    "unknown_sender": (
        "{sender} is not registered as a contact of any of our clients, so no request was created. "
        "If you work with one of our clients, ask your product owner to add you as a contact, or file the "
        "request in the client portal."
    ),
    "not_this_client": (
        "This e-mail refers to a request of a client {sender} is not a contact of, so it was not added "
        "to that request. Please write from the address registered with us."
    ),
    "several_clients": (
        "{sender} is registered with several of our clients, so we cannot tell which one this request "
        "is for. Please file it in the client portal."
    ),
    "no_contract": (
        "We could not accept the request because there is no current maintenance contract for your "
        "organisation. Please contact your account manager."
    ),
}


def reject(mail: Incoming, why: str, *, ticket: Ticket | None = None, detail: str = "") -> Outcome:
    """A polite refusal to the sender; the mail is kept on disk and the refusal logged."""
    kept = keep_unfiled(mail.raw, why, detail or REJECTIONS[why].format(sender=mail.sender), mail)
    logger.warning(
        "rejected %s from %s (%s)%s%s; kept as %s",
        mail.message_id,
        mail.sender,
        why,
        f" about {ticket.reference}" if ticket else "",
        f": {detail}" if detail else "",
        kept,
    )
    deliveries: list[Delivery] = []
    if _recent_rejections(mail.sender) < REJECTIONS_PER_HOUR:
        deliveries = send_rejection(mail, REJECTIONS[why].format(sender=mail.sender))
    else:
        logger.warning("not answering %s: %d refusals in the last hour", mail.sender, REJECTIONS_PER_HOUR)
    return Outcome("rejected", why, None, deliveries)


def unfiled_root() -> Path:
    return Path(settings.HOME) / "mail" / "unfiled"


def keep_unfiled(raw: bytes, reason: str, detail: str, mail: Incoming | None = None) -> Path:
    """Keep a message that is not filed on a request: mail/unfiled/<UTC date>/<name>.eml (0600, folders
    0700) and <name>.json beside it with the reason for staff. The name comes from the bytes' digest, so
    the same message kept twice (a retry after a failure) is one file."""
    now = timezone.now()
    folder = unfiled_root() / f"{now.astimezone(dt.UTC):%Y-%m-%d}"
    sha = hashlib.sha256(raw).hexdigest()
    path = folder / f"{sha[:32]}.eml"
    files.write_private(path, raw)  # 0600, its folders 0700: mail is personal data
    head = _raw_headers(raw) if mail is None else {}
    note = {
        "reason": reason,
        "detail": detail,
        "sender": mail.sender if mail else parseaddr(head.get("from", ""))[1].lower(),
        "message_id": (mail.original_id or mail.message_id) if mail else head.get("message-id", "")[:300],
        "subject": mail.subject if mail else head.get("subject", "")[:MAX_SUBJECT],
        "kept_at": now.astimezone(dt.UTC).isoformat(timespec="seconds"),
        "time_zone": "UTC",
        "size": len(raw),
        "sha256": sha,
    }
    files.write_private(path.with_suffix(".json"), json.dumps(note, indent=2, ensure_ascii=False).encode())
    return path


def _raw_headers(raw: bytes) -> dict[str, str]:
    """From, Subject and Message-ID of a message we could not parse, read from its first header block
    only (no MIME parsing: this is for mail the parser refused), for the note staff read."""
    head = raw[:65536].replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    found: dict[str, str] = {}
    for line in re.sub(rb"\n[ \t]+", b" ", head).split(b"\n"):
        name, _, value = line.partition(b":")
        key = name.strip().lower().decode("latin-1")
        if key in {"from", "subject", "message-id"} and key not in found:
            found[key] = " ".join(value.decode("utf-8", "replace").split())
    return found


def unfiled(day: dt.date | None = None) -> list[dict[str, object]]:
    """The notes of the kept, unfiled messages (of one UTC day, or all), newest first, with their file."""
    root = unfiled_root()
    pattern = f"{day:%Y-%m-%d}/*.json" if day else "*/*.json"
    notes = []
    for path in root.glob(pattern):
        try:
            note = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # a note being written right now, or damaged: the .eml is still there
        notes.append({**note, "file": str(path.with_suffix(".eml"))})
    return sorted(notes, key=lambda note: str(note.get("kept_at", "")), reverse=True)


def _recent_rejections(sender: str) -> int:
    since = timezone.now() - dt.timedelta(hours=1)
    return Delivery.objects.filter(
        key__startswith="mail:reject:", target_digest=target_digest("email", sender), created_at__gte=since
    ).count()


# --- outgoing -------------------------------------------------------------------------------------------

Block = str | tuple[str, Sequence[str]]  # a paragraph, or ("list" | "pre", lines)


def desk_address() -> str:
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or "sitekeeper@localhost"


def _desk_domain() -> str:
    return desk_address().rpartition("@")[2] or "localhost"


def _make_id(tail: str) -> str:
    # Short enough that no mailer folds the header: <random.sitekeeper.tail@desk domain>.
    return f"<{secrets.token_hex(8)}.sitekeeper.{tail}@{_desk_domain()}>"


def ticket_message_id(ticket: Ticket) -> str:
    return _make_id(f"{ticket.pk}.{ticket.token}")


def ticket_subject(ticket: Ticket) -> str:
    return f"[{ticket.reference} #{ticket.token}] {ticket.subject}"


def portal_url(ticket: Ticket) -> str:
    return f"{settings.SITEKEEPER_BASE_URL}/portal/requests/{ticket.pk}/"


def thread_ids(ticket: Ticket) -> list[str]:
    """Every Message-ID of the conversation we know, oldest first (internal notes never mailed)."""
    received = ticket.events.filter(kind=Event.Kind.RECEIVED).first()
    ids = [received.data.get("email_message_id", "")] if received else []
    ids += list(
        ticket.messages.exclude(kind=Message.Kind.NOTE)
        .exclude(email_message_id="")
        .order_by("at", "id")
        .values_list("email_message_id", flat=True)
    )
    return list(dict.fromkeys(i for i in ids if i))


def _threading(ticket: Ticket, answering: str = "") -> dict[str, str]:
    ids = thread_ids(ticket)
    if answering and answering not in ids:
        ids.append(answering)
    if not ids:
        return {}
    return {"In-Reply-To": answering or ids[-1], "References": " ".join(ids[-10:])}


def render_text(blocks: Sequence[Block]) -> str:
    parts = []
    for block in blocks:
        if isinstance(block, str):
            parts.append(block)
        elif block[0] == "list":
            parts.append("\n".join(f"  - {line}" for line in block[1]))
        else:
            parts.append("\n".join(f"    {line}" for line in block[1]))
    return "\n\n".join(parts) + "\n"


def render_html(blocks: Sequence[Block]) -> str:
    parts = []
    for block in blocks:
        if isinstance(block, str):
            parts.append(urlize(linebreaks(block, autoescape=True)))
        elif block[0] == "list":
            items = "".join(f"<li>{urlize(escape(line))}</li>" for line in block[1])
            parts.append(f"<ul>{items}</ul>")
        else:
            parts.append(f"<pre>{escape(chr(10).join(block[1]))}</pre>")
    body = "\n".join(parts)
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
        f'<body style="font-family: sans-serif; line-height: 1.4">{body}</body></html>'
    )


def _ticket_notice(
    ticket: Ticket,
    blocks: list[Block],
    *,
    event: str,
    answering: str = "",
    auto: bool = True,
    with_portal: bool = True,
) -> tuple[Notice, str]:
    message_id = ticket_message_id(ticket)
    marker = f"## {REPLY_MARKER} to add to {ticket.reference} ##"
    headers = {
        "Message-ID": message_id,
        "Reply-To": desk_address(),
        "X-Sitekeeper-Ticket": ticket.reference,
        **_threading(ticket, answering),
    }
    if auto:
        headers["Auto-Submitted"] = "auto-replied"
    footer = f"Reply to this e-mail to add to the request, or open it in the portal: {portal_url(ticket)}"
    footers = [footer] if with_portal else []
    notice = Notice(
        subject=ticket_subject(ticket),
        text=render_text([marker, *blocks, *footers]),
        html=render_html([*blocks, *footers]),
        event=event,
        data={"ticket": ticket.pk, "reference": ticket.reference, "state": ticket.state},
        headers=headers,
    )
    return notice, message_id


def _client_recipients(ticket: Ticket, event: str) -> list[Recipient]:
    if ticket.requester is not None:
        return recipients_for_contact(ticket.requester, event)
    user = ticket.requester_user
    if user is not None and not user.is_agency:
        return recipients_for_user(user, event)
    return []


def _sender_recipient(mail: Incoming, contact: Contact | None = None) -> list[Recipient]:
    name = contact.name if contact is not None else mail.sender_name
    return [Recipient(kind="email", target=mail.sender, name=name)]


def _send(recipients: list[Recipient], notice: Notice, key: str) -> list[Delivery]:
    if not recipients:
        return []
    return notify(recipients, notice, key=key[:200])


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:24]


FIELD_HELP = {
    "type": "Type: incident | bug | change request | update | question",
    "priority": "Priority: P1 (critical) | P2 (high) | P3 (medium) | P4 (low)",
    "site": "Site: the address of the website concerned",
    "environment": "Environment: prod | stage | dev",
    "subject": "Subject: a short summary",
    "description": "(write what you need in the body of your reply)",
    "steps": "Steps: how to reproduce the problem (continue on the next lines, end with a blank line)",
}


def _status_blocks(ticket: Ticket, refused: Sequence[str], problems: Sequence[str]) -> list[Block]:
    blocks: list[Block] = []
    if problems:
        blocks += ["We could not use these lines of your e-mail:", ("list", problems)]
    if ticket.missing_fields:
        blocks += [
            "The request is missing: "
            + ", ".join(ticket.missing_fields)
            + ". Its SLA clocks are paused until it is complete.",
            f"To complete it, open {portal_url(ticket)} or reply to this e-mail with these lines:",
            ("pre", [FIELD_HELP[name] for name in ticket.missing_fields if name in FIELD_HELP]),
        ]
        sites = [site.url for site in ticket.client.sites.all()]
        if "site" in ticket.missing_fields and sites:
            blocks += ["Your sites:", ("list", sites)]
    else:
        blocks.append(
            f"Priority {ticket.priority}: we respond by {presenters.at(ticket, ticket.response_due)}."
            if ticket.response_due
            else f"Priority {ticket.priority}."
        )
    if refused:
        blocks += ["We could not keep these attachments:", ("list", refused)]
    return blocks


def send_acknowledgement(
    ticket: Ticket,
    *,
    incoming: Incoming | None = None,
    refused: Sequence[str] = (),
    problems: Sequence[str] = (),
    to: list[Recipient] | None = None,
) -> list[Delivery]:
    """The automatic acknowledgement of a new request (it does not count as a response)."""
    ticket.refresh_from_db()
    blocks: list[Block] = [
        f"We received your request {ticket.reference}: {ticket.subject}.",
        *_status_blocks(ticket, refused, problems),
    ]
    answering = incoming.message_id if incoming else ""
    notice, message_id = _ticket_notice(ticket, blocks, event="ticket.acknowledged", answering=answering)
    recipients = to if to is not None else _client_recipients(ticket, "ticket.acknowledged")
    # The acknowledgement row file_request wrote is this mail: give it the Message-ID, for threading.
    ticket.messages.filter(kind=Message.Kind.AUTO, email_message_id="").update(email_message_id=message_id)
    return _send(recipients, notice, f"ticket:{ticket.pk}:ack")


def confirm_url(ticket: Ticket) -> str:
    token = mailauth.confirmation_token(ticket.pk, ticket.token)
    return settings.SITEKEEPER_BASE_URL + reverse("portal_request_confirm", args=[token])


def _contact_recipient(contact: Contact) -> list[Recipient]:
    """The contact's registered address — not the From: of a mail we could not verify (the same address,
    compared case-insensitively, but spelled as the agency registered it)."""
    return [Recipient(kind="email", target=contact.email, name=contact.name)]


def send_confirmation_request(ticket: Ticket, contact: Contact) -> list[Delivery]:
    """To the contact of an unverified e-mail request: a link to confirm they sent it. The link only
    confirms; it shows nothing of the request to whoever holds it."""
    ticket.refresh_from_db()
    hours = mailauth.confirm_hours()
    blocks: list[Block] = [
        f'We received a request by e-mail from your address: "{ticket.subject}" ({ticket.reference}).',
        (
            "We could not verify that it really came from you: your mail server's signature was missing or "
            "did not match. So that nobody can file requests in your name, please confirm that you sent it:"
        ),
        confirm_url(ticket),
        (
            f"The link works for {hours} hours. Until the request is confirmed we do not start on it and its "
            "SLA clocks do not run; our staff may also accept it after checking with you."
        ),
        "If you did not send this request, ignore this e-mail or reply to tell us.",
    ]
    if _recent_confirmations(contact.email) >= CONFIRMATIONS_PER_HOUR:
        logger.warning(
            "not asking %s to confirm %s: %d confirmation requests in the last hour; staff can accept it",
            contact.email,
            ticket.reference,
            CONFIRMATIONS_PER_HOUR,
        )
        return []
    notice, message_id = _ticket_notice(ticket, blocks, event="ticket.confirm", with_portal=False)
    ticket.messages.filter(kind=Message.Kind.AUTO, email_message_id="").update(email_message_id=message_id)
    return _send(_contact_recipient(contact), notice, f"ticket:{ticket.pk}:confirm")


def _recent_confirmations(address: str) -> int:
    since = timezone.now() - dt.timedelta(hours=1)
    return Delivery.objects.filter(
        key__startswith="ticket:",
        key__endswith=":confirm",
        target_digest=target_digest("email", address),
        created_at__gte=since,
    ).count()


def confirm_sender(ticket: Ticket, how: str, *, actor: User | None = None) -> list[Delivery]:
    """Confirmed by the contact (the link) or accepted by staff: the clocks start, and the contact gets
    the acknowledgement they would have had on arrival (what is missing, or when we respond)."""
    services.verify_sender(ticket, how, actor=actor)
    ticket.refresh_from_db()
    if ticket.requester is None:
        return []
    return send_acknowledgement(ticket, to=_contact_recipient(ticket.requester))


def send_completion_notice(
    ticket: Ticket,
    *,
    incoming: Incoming,
    refused: Sequence[str],
    problems: Sequence[str],
    to: list[Recipient],
) -> list[Delivery]:
    """After a reply to an incomplete request (or with refused attachments): what is still missing."""
    ticket.refresh_from_db()
    opening = (
        f"Thank you — {ticket.reference} still needs a few details."
        if ticket.missing_fields
        else f"Thank you — {ticket.reference} is complete and its SLA clocks are running."
    )
    blocks: list[Block] = [opening, *_status_blocks(ticket, refused, problems)]
    notice, _ = _ticket_notice(ticket, blocks, event="ticket.completion", answering=incoming.message_id)
    return _send(to, notice, f"ticket:{ticket.pk}:notice:{_digest(incoming.message_id)}")


def send_reply(message: Message) -> list[Delivery]:
    """A staff reply, to the requester (internal notes are never mailed)."""
    if message.kind == Message.Kind.NOTE or not message.from_agency:
        return []
    ticket = message.ticket
    author = "The desk"
    if message.author is not None:
        author = message.author.get_full_name() or message.author.username
    blocks: list[Block] = [f"{author} replied to {ticket.reference}:", message.body]
    answering = _last_client_id(ticket, message)
    notice, message_id = _ticket_notice(ticket, blocks, event="ticket.reply", answering=answering, auto=False)
    Message.objects.filter(pk=message.pk, email_message_id="").update(email_message_id=message_id)
    return _send(_client_recipients(ticket, "ticket.reply"), notice, f"ticket:{ticket.pk}:reply:{message.pk}")


def _last_client_id(ticket: Ticket, before: Message) -> str:
    ids = thread_ids(ticket)
    own = before.email_message_id
    ids = [i for i in ids if i != own]
    return ids[-1] if ids else ""


def send_state_notice(ticket: Ticket, note: str = "") -> list[Delivery]:
    """Tell the requester when their request waits for them, is resolved or closed."""
    ticket.refresh_from_db()
    if ticket.state not in _STATE_SENTENCES:
        return []
    blocks: list[Block] = [_STATE_SENTENCES[ticket.state].format(ref=ticket.reference)]
    if note:
        blocks.append(note)
    notice, _ = _ticket_notice(ticket, blocks, event="ticket.state")
    last = ticket.events.filter(kind=Event.Kind.STATE).order_by("-at", "-id").first()
    key = f"ticket:{ticket.pk}:state:{last.pk if last else ticket.state}"
    return _send(_client_recipients(ticket, "ticket.state"), notice, key)


# What each state asks of the client, after its client label (desk.presenters.STATE_LABELS), e.g.
# "SK-00012 — Waiting for your approval: its SLA clocks are paused until you reply."
_STATE_CONSEQUENCE = {
    "waiting_access": "we are waiting for access from you; its SLA clocks are paused until you reply.",
    "waiting_information": "its SLA clocks are paused until you reply.",
    "waiting_approval": "its SLA clocks are paused until you reply.",
    "resolved": "if it is not, reply to this e-mail and it reopens.",
    "closed": "nothing more is needed from you.",
}
_STATE_SENTENCES = {
    state: f"{{ref}} — {presenters.state_words(state, client=True)}: {consequence}"
    for state, consequence in _STATE_CONSEQUENCE.items()
}


def send_merge_notice(ticket: Ticket) -> list[Delivery]:
    """Tell the client that a request was merged into another one (desk.services.merge), in their words."""
    if ticket.merged_into_id is None:
        return []
    into = ticket.merged_into_reference
    sentence = (
        f"{ticket.reference} — Merged into {into}: you asked us about the same thing in {into}, so we joined "
        f"the two. Everything you wrote is shown on {into} and we continue there; please reply on {into}."
    )
    blocks: list[Block] = [sentence]
    notice, _ = _ticket_notice(ticket, blocks, event="ticket.state")
    return _send(_client_recipients(ticket, "ticket.state"), notice, f"ticket:{ticket.pk}:merged")


def send_rejection(mail: Incoming, sentence: str) -> list[Delivery]:
    subject = mail.subject or "(no subject)"
    subject = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    blocks: list[Block] = [
        "Hello,",
        f'we received your e-mail "{mail.subject or "(no subject)"}".',
        sentence,
        "Your message has been kept and logged. This is an automatic reply.",
    ]
    references = [*reversed(mail.references), mail.message_id]
    notice = Notice(
        subject=subject,
        text=render_text(blocks),
        html=render_html(blocks),
        event="mail.rejected",
        data={"sender": mail.sender},
        headers={
            "Message-ID": _make_id("notice"),
            "In-Reply-To": mail.message_id,
            "References": " ".join(references[-10:]),
            "Reply-To": desk_address(),
            "Auto-Submitted": "auto-replied",
        },
    )
    return _send(_sender_recipient(mail), notice, f"mail:reject:{_digest(mail.message_id)}")
