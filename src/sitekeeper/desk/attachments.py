"""Attachments: size-limited, content type checked by their bytes, stored under the data folder.

Files live at SITEKEEPER_HOME/attachments/<client id>/<ticket id>/<random name>; the original file name is
only metadata, so no upload can choose where it lands. Serving always goes through a view that scopes the
ticket to the requesting person's client.

An upload is checked before it is read: its size (known from the request, or from the bytes of a mail part)
against MAX_BYTES first, then its type from the first 64 KiB; only then is it copied to its place in 1 MiB
pieces, hashed on the way. A 60 MB upload is refused without being held in memory (uploads over
FILE_UPLOAD_MAX_MEMORY_SIZE arrive as temporary files; `sitekeeper serve` refuses bodies over
SITEKEEPER_MAX_REQUEST_MB before Django sees them).
"""

from __future__ import annotations

import codecs
import hashlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.files.base import File
from django.http import FileResponse, Http404
from django.utils import timezone

from sitekeeper.access.models import User
from sitekeeper.desk.models import Attachment, Event, Message, Ticket
from sitekeeper.files import PRIVATE_FILE_MODE, private_dir

MAX_BYTES = 10 * 1024 * 1024
SNIFF_BYTES = 65536  # enough for every signature below and to tell text from binary
CHUNK_BYTES = 1024 * 1024
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
# What an upload may be: the bytes of a mail part, or a file Django received (in memory or a temporary file).
Content = bytes | File


class AttachmentError(ValueError):
    """An upload we refuse, with the reason the person sees."""


def root() -> Path:
    return Path(settings.HOME) / "attachments"


def sniff(content: bytes, *, complete: bool = True) -> str | None:
    """The type of a file from its first bytes. `complete`: `content` is the whole file; when it is only the
    beginning, a character cut in two at its end does not make a text file binary."""
    for magic, mime in _SIGNATURES:
        if content.startswith(magic):
            return mime
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    head = content[:SNIFF_BYTES]
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=complete and len(content) <= SNIFF_BYTES)
    except UnicodeDecodeError:
        return None
    return "text/plain"  # logs, text, CSV, JSON: served as plain text, never rendered


def _size(content: Content) -> int:
    return len(content) if isinstance(content, bytes) else content.size


def _head(content: Content) -> bytes:
    if isinstance(content, bytes):
        return content[:SNIFF_BYTES]
    content.seek(0)
    head = content.read(SNIFF_BYTES)
    content.seek(0)
    return head


def _chunks(content: Content) -> Iterator[bytes]:
    if isinstance(content, bytes):
        for start in range(0, len(content), CHUNK_BYTES):
            yield content[start : start + CHUNK_BYTES]
    else:
        content.seek(0)
        yield from content.chunks(CHUNK_BYTES)


def check(filename: str, content: Content) -> str:
    """The sniffed type of an acceptable upload; AttachmentError (with the reason a person reads) before
    anything beyond its first 64 KiB is read."""
    size = _size(content)
    if size > MAX_BYTES:
        raise AttachmentError(f"{filename}: {size} bytes is over the {MAX_BYTES // (1024 * 1024)} MB limit")
    if not size:
        raise AttachmentError(f"{filename}: the file is empty")
    mime = sniff(_head(content), complete=size <= SNIFF_BYTES)
    if mime not in ALLOWED:
        raise AttachmentError(f"{filename}: only images, PDF, ZIP and text files (logs) are accepted")
    return mime


def _write(target: Path, filename: str, content: Content) -> tuple[int, str]:
    """Copy the upload to `target` (a new 0600 file) piece by piece; its size and SHA-256 as written."""
    private_dir(target.parent)
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE_FILE_MODE)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            return _copy(content, handle, filename)
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def _copy(content: Content, handle: BinaryIO, filename: str) -> tuple[int, str]:
    digest, written = hashlib.sha256(), 0
    for chunk in _chunks(content):
        written += len(chunk)
        if written > MAX_BYTES:  # a file that grew after its size was taken
            raise AttachmentError(f"{filename}: over the {MAX_BYTES // (1024 * 1024)} MB limit")
        digest.update(chunk)
        handle.write(chunk)
    return written, digest.hexdigest()


def store(
    ticket: Ticket,
    filename: str,
    content: Content,
    *,
    uploaded_by: User | None = None,
    message: Message | None = None,
) -> Attachment:
    """Check and keep one file. `content`: the bytes of a mail part, or an uploaded file as Django received
    it (pass the UploadedFile itself, not its .read(): that would hold the whole upload in memory)."""
    mime = check(filename, content)
    relative = Path(str(ticket.client_id)) / str(ticket.pk) / secrets.token_hex(16)
    size, sha256 = _write(root() / relative, filename, content)
    now = timezone.now()
    attachment = Attachment.objects.create(
        ticket=ticket,
        message=message,
        filename=Path(filename).name[:255] or "attachment",
        content_type=mime,
        size=size,
        sha256=sha256,
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


def open_stored(attachment: Attachment) -> BinaryIO:
    """The stored file, open for reading: hand it to a FileResponse, which streams it in pieces."""
    return (root() / attachment.path).open("rb")


def download(attachment: Attachment) -> FileResponse:
    """The one download of an attachment (portal, staff console, API): never rendered in place — the type we
    sniffed, not the uploader's claim, nosniff and a sandbox —, kept out of shared and browser caches, and
    streamed from its file in pieces, never read whole into memory. Http404 when the file is gone."""
    try:
        stored = open_stored(attachment)
    except FileNotFoundError as exc:
        raise Http404("The file is no longer stored.") from exc
    mime = attachment.content_type
    if mime == "text/plain":
        mime = "text/plain; charset=utf-8"
    response = FileResponse(stored, as_attachment=True, filename=attachment.filename, content_type=mime)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
