"""Attachments: size-limited, content type checked by their bytes, stored under the data folder.

Files live at SITEKEEPER_HOME/attachments/<client id>/<ticket id>/<random name>; the original file name is
only metadata, so no upload can choose where it lands. Serving always goes through a view that scopes the
ticket to the requesting person's client.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from sitekeeper.access.models import User
from sitekeeper.desk.models import Attachment, Event, Message, Ticket

MAX_BYTES = 10 * 1024 * 1024
# Sniffed from the first bytes: what a browser or mail client says is not trusted.
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
)
ALLOWED = {
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "application/zip",
    "text/plain",
}


class AttachmentError(ValueError):
    """An upload we refuse, with the reason the person sees."""


def root() -> Path:
    return Path(settings.HOME) / "attachments"


def sniff(content: bytes) -> str | None:
    for magic, mime in _SIGNATURES:
        if content.startswith(magic):
            return mime
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    try:
        content[:65536].decode("utf-8")
    except UnicodeDecodeError:
        return None
    return "text/plain"  # logs, text, CSV, JSON: served as plain text, never rendered


def store(
    ticket: Ticket,
    filename: str,
    content: bytes,
    *,
    uploaded_by: User | None = None,
    message: Message | None = None,
) -> Attachment:
    if len(content) > MAX_BYTES:
        raise AttachmentError(
            f"{filename}: {len(content)} bytes is over the {MAX_BYTES // (1024 * 1024)} MB limit"
        )
    if not content:
        raise AttachmentError(f"{filename}: the file is empty")
    mime = sniff(content)
    if mime not in ALLOWED:
        raise AttachmentError(f"{filename}: only images, PDF, ZIP and text files (logs) are accepted")
    relative = Path(str(ticket.client_id)) / str(ticket.pk) / secrets.token_hex(16)
    target = root() / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    now = timezone.now()
    attachment = Attachment.objects.create(
        ticket=ticket,
        message=message,
        filename=Path(filename).name[:255] or "attachment",
        content_type=mime,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        path=str(relative),
        uploaded_by=uploaded_by,
        at=now,
    )
    Event.objects.create(
        ticket=ticket,
        kind=Event.Kind.ATTACHMENT,
        at=now,
        actor=uploaded_by,
        actor_label=uploaded_by.username if uploaded_by else "",
        data={"attachment": attachment.pk, "filename": attachment.filename, "size": attachment.size},
        # A file on an internal note is as internal as the note.
        public=not (message is not None and message.kind == Message.Kind.NOTE),
    )
    return attachment


def read(attachment: Attachment) -> bytes:
    return (root() / attachment.path).read_bytes()
