"""Who the agency's escalation notices go to: the escalation list and the on-call engineer.

Both are read from the environment when a notice is sent (not at start-up), so a rota change takes effect on
the next pass without restarting the worker:
- `SITEKEEPER_ESCALATION_EMAILS`: comma-separated entries; default: every active agency admin;
- `SITEKEEPER_ONCALL`: comma-separated entries for P1 pages at any hour; default: the escalation list.
An entry is an agency username (their own notification settings apply), an e-mail address, or an Apprise
URL such as `ntfy://…` or `pushover://…` for a phone that wakes someone up.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from sitekeeper.access.models import Role, User
from sitekeeper.conf import ConfigError, env_list
from sitekeeper.notify import Recipient, recipients_for_user
from sitekeeper.notify.message import APPRISE, EMAIL

ESCALATION_VAR = "SITEKEEPER_ESCALATION_EMAILS"
ONCALL_VAR = "SITEKEEPER_ONCALL"


def escalation_list(event: str) -> list[Recipient]:
    entries = env_list(ESCALATION_VAR, [])
    if entries:
        return _resolve(ESCALATION_VAR, entries, event)
    admins = User.objects.filter(role=Role.AGENCY_ADMIN, is_active=True).order_by("pk")
    return _unique(r for admin in admins for r in _for_user(admin, event))


def oncall(event: str) -> list[Recipient]:
    entries = env_list(ONCALL_VAR, [])
    if entries:
        return _resolve(ONCALL_VAR, entries, event)
    return escalation_list(event)


def for_user(user: User | None, event: str) -> list[Recipient]:
    return _for_user(user, event) if user is not None and user.is_active else []


def _for_user(user: User, event: str) -> list[Recipient]:
    return list(recipients_for_user(user, event))


def _resolve(variable: str, entries: list[str], event: str) -> list[Recipient]:
    recipients: list[Recipient] = []
    for entry in entries:
        recipients += _entry(variable, entry, event)
    return _unique(recipients)


def _entry(variable: str, entry: str, event: str) -> list[Recipient]:
    if "://" in entry:
        return [Recipient(APPRISE, entry)]
    if "@" in entry:
        try:
            validate_email(entry)
        except ValidationError as exc:
            raise ConfigError(f"{variable}: {entry!r} is not an e-mail address") from exc
        return [Recipient(EMAIL, entry)]
    user = User.objects.filter(username=entry).first()
    if user is None or not user.is_agency:
        raise ConfigError(f"{variable}: {entry!r} is not an agency username, e-mail address or Apprise URL")
    return for_user(user, event)


def _unique(recipients: Iterable[Recipient]) -> list[Recipient]:
    seen: set[tuple[str, str]] = set()
    result = []
    for recipient in recipients:
        key = (recipient.kind, recipient.target.lower())
        if key not in seen:
            seen.add(key)
            result.append(recipient)
    return result
