"""Generic webhook: a JSON POST, signed with HMAC-SHA256 when the recipient has a secret.

What the receiver gets:

    POST <url>
    Content-Type: application/json
    User-Agent: sitekeeper/<version>
    X-Sitekeeper-Event: ticket.breach
    X-Sitekeeper-Delivery: 42            (same on every retry of one delivery: drop duplicates by it)
    X-Sitekeeper-Timestamp: 1767225600   (Unix seconds when this attempt was sent)
    X-Sitekeeper-Signature: sha256=<hex> (only when a secret is set)

    {"event": "...", "subject": "...", "text": "...", "data": {...}, "delivery": "42"}

How to verify: compute HMAC-SHA256 with the shared secret over the bytes `<timestamp>.` followed by the raw
request body exactly as received (do not re-serialise the JSON), compare it with the hex after `sha256=` in
constant time, and reject a timestamp more than five minutes from your clock so a captured request cannot be
replayed later. `verify_signature()` below does exactly that and can be copied.

Delivery is at least once: a retry after a timeout may reach a receiver that already got the first attempt.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from sitekeeper import http
from sitekeeper.notify.channels import ChannelError, secrets_kept_out_of_logs
from sitekeeper.notify.message import Message, Recipient

SIGNATURE_HEADER = "X-Sitekeeper-Signature"
TIMESTAMP_HEADER = "X-Sitekeeper-Timestamp"
EVENT_HEADER = "X-Sitekeeper-Event"
DELIVERY_HEADER = "X-Sitekeeper-Delivery"
TOLERANCE_SECONDS = 300


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Sitekeeper-Signature value for `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> bool:
    """Receiver side: True when `signature` is ours for this body and the timestamp is recent."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - sent) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def body_for(message: Message, delivery_id: str) -> bytes:
    payload = {
        "event": message.event,
        "subject": message.subject,
        "text": message.text,
        "data": message.data,
        "delivery": delivery_id,
    }
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def headers_for(recipient: Recipient, message: Message, body: bytes, delivery_id: str) -> dict[str, str]:
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        EVENT_HEADER: message.event,
        DELIVERY_HEADER: delivery_id,
        TIMESTAMP_HEADER: timestamp,
    }
    if recipient.secret:
        headers[SIGNATURE_HEADER] = sign(recipient.secret, timestamp, body)
    return headers


class WebhookChannel:
    def send(self, recipient: Recipient, message: Message, *, delivery_id: str = "") -> None:
        body = body_for(message, delivery_id)
        headers = headers_for(recipient, message, body, delivery_id)
        try:
            with secrets_kept_out_of_logs(recipient), http.client() as client:
                response = client.post(recipient.target, content=body, headers=headers)
        except (http.HTTPError, http.InvalidURL) as exc:
            # httpx messages may quote the URL, whose path often is the token: scrub before it is stored.
            reason = recipient.scrub(f"{type(exc).__name__}: {exc}")
            raise ChannelError(f"webhook {recipient.label}: {reason}") from None
        if not response.is_success:
            raise ChannelError(f"webhook {recipient.label}: HTTP {response.status_code}")
