"""What is sent and to whom: plain frozen dataclasses, no database, so any module can build them cheaply."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.serializers.json import DjangoJSONEncoder

EMAIL = "email"
APPRISE = "apprise"
WEBHOOK = "webhook"
KINDS = (EMAIL, APPRISE, WEBHOOK)

# Shorter pieces of a URL (ports, "api", "v1") are not secrets, and scrubbing them would garble messages.
_MIN_SECRET_PART = 6


@dataclass(frozen=True, repr=False)
class Recipient:
    """One address on one channel. `secret` signs webhook bodies; it never leaves through repr or logs."""

    kind: str
    target: str
    name: str = ""
    secret: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown notification kind {self.kind!r} (use one of {', '.join(KINDS)})")
        if not self.target.strip():
            raise ValueError(f"a {self.kind} recipient needs a target")
        if "\n" in self.target or "\r" in self.target:
            raise ValueError(f"a {self.kind} target cannot contain a line break")

    def __repr__(self) -> str:
        # Apprise and webhook URLs carry tokens in their path, so even the target is shown redacted.
        return f"Recipient(kind={self.kind!r}, target={self.label!r}, name={self.name!r})"

    @property
    def label(self) -> str:
        return redact(self.kind, self.target)

    def secret_parts(self) -> list[str]:
        """Every string that must not appear in an error or a log line about this recipient, longest first."""
        parts = {self.secret} if self.secret else set()
        if self.kind != EMAIL:
            parts |= _url_secrets(self.target, whole_netloc=self.kind == APPRISE)
        return sorted(parts, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for part in self.secret_parts():
            text = text.replace(part, "…")
        return text


def redact(kind: str, target: str) -> str:
    """A label people may see: an e-mail address as is, a URL without the path, query or credentials."""
    if kind == EMAIL:
        return target[:200]
    parts = urlsplit(target)
    if kind == APPRISE:
        # Apprise URLs keep tokens anywhere, even where a host name would be (tgram://BOT_TOKEN/CHAT).
        return f"{parts.scheme}://…"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    tail = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{parts.hostname or '?'}{port}{tail}"[:200]


def _url_secrets(target: str, *, whole_netloc: bool) -> set[str]:
    parts = urlsplit(target)
    pieces = {target, unquote(target), parts.path, parts.query}
    userinfo, _, host = parts.netloc.rpartition("@")
    pieces |= set(userinfo.split(":"))
    if whole_netloc:
        pieces |= {parts.netloc, host, *host.split(":")}
    pieces |= {unquote(segment) for segment in parts.path.split("/")}
    pieces |= {value for _, value in parse_qsl(parts.query)}
    return {piece for piece in pieces if len(piece) >= _MIN_SECRET_PART}


def _json_safe(data: dict[str, Any]) -> dict[str, Any]:
    # Round-trip once so datetimes/Decimals become the strings the webhook will send, and a value that
    # cannot be sent fails here, where the message is built, not later in a worker.
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def _check_headers(headers: dict[str, str]) -> None:
    for name, value in headers.items():
        if any(char in f"{name}{value}" for char in "\r\n"):
            raise ValueError(f"header {name!r} contains a line break")


@dataclass(frozen=True)
class Message:
    """One notification. `data` goes to webhooks; `headers` and `attachments` only to e-mail.

    `one_time`: the text holds something that opens an account (a password reset link). The delivery record
    keeps it only until it is sent — then its subject stays and its text is removed, so the database and the
    admin never hold a working link longer than the sending takes.
    """

    subject: str
    text: str
    html: str = ""
    event: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    attachments: tuple[tuple[str, bytes, str], ...] = ()
    one_time: bool = False

    def __post_init__(self) -> None:
        _check_headers(self.headers)
        object.__setattr__(self, "data", _json_safe(self.data))
        object.__setattr__(self, "headers", {str(k): str(v) for k, v in self.headers.items()})
        object.__setattr__(self, "attachments", tuple(tuple(item) for item in self.attachments))

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "text": self.text,
            "html": self.html,
            "event": self.event,
            "data": self.data,
            "headers": self.headers,
            "attachments": [
                {"name": name, "content": base64.b64encode(content).decode("ascii"), "mime": mime}
                for name, content, mime in self.attachments
            ],
            "one_time": self.one_time,
        }

    def sent_record(self) -> dict[str, Any]:
        """What the delivery record keeps once this message is sent (see `one_time`)."""
        if not self.one_time:
            return self.to_json()
        removed = "(Removed once sent: it held a one-time link.)"
        return replace(self, text=removed, html="", data={}, attachments=()).to_json()

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Message:
        attachments = tuple(
            (item["name"], base64.b64decode(item["content"]), item["mime"]) for item in raw["attachments"]
        )
        return cls(
            subject=raw["subject"],
            text=raw["text"],
            html=raw["html"],
            event=raw["event"],
            data=raw["data"],
            headers=raw["headers"],
            attachments=attachments,
            one_time=raw.get("one_time", False),  # records from before the field have none
        )


def event_matches(event: str, prefixes: list[str]) -> bool:
    """Dotted-prefix match: "ticket" and "ticket." both match "ticket.breach", neither matches "tickets.x"."""
    if not prefixes:
        return True
    for prefix in prefixes:
        stem = prefix.rstrip(".")
        if not stem or event == stem or event.startswith(f"{stem}."):
            return True
    return False
