"""E-mail over the configured Django backend (SMTP in production): text, optional HTML alternative."""

from __future__ import annotations

from email.utils import formataddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from sitekeeper.notify.channels import ChannelError
from sitekeeper.notify.message import Message, Recipient

# Django's SMTP backend waits forever by default; a dead relay must cost a worker seconds, not hours.
DEFAULT_TIMEOUT = 30

# Marks the mail as machine-sent (RFC 3834) so out-of-office replies do not come back and open tickets.
DEFAULT_HEADERS = {"Auto-Submitted": "auto-generated"}


def build(recipient: Recipient, message: Message) -> EmailMultiAlternatives:
    subject = " ".join(message.subject.splitlines())  # a line break in a subject is a header injection
    mail = EmailMultiAlternatives(
        subject=subject,
        body=message.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[formataddr((recipient.name, recipient.target))],
        headers={**DEFAULT_HEADERS, **message.headers},
    )
    if message.html:
        mail.attach_alternative(message.html, "text/html")
    for name, content, mime in message.attachments:
        mail.attach(name, content, mime)
    return mail


class EmailChannel:
    def send(self, recipient: Recipient, message: Message, *, delivery_id: str = "") -> None:
        mail = build(recipient, message)
        timeout = getattr(settings, "EMAIL_TIMEOUT", None) or DEFAULT_TIMEOUT
        try:
            mail.connection = get_connection(fail_silently=False, timeout=timeout)
            mail.send()
        # SMTP and socket errors are OSErrors; an address Django cannot encode is a ValueError.
        except (OSError, ValueError) as exc:
            raise ChannelError(f"e-mail to {recipient.label}: {type(exc).__name__}: {exc}") from exc
