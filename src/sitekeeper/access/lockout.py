"""Login lockout (django-axes) and the API-token failure counter: who is locked, until when, and unlocking.

Failed logins are counted by axes in its AccessAttempt table (the database, so every server process sees the
same count), one row per (username, address, user agent). Two limits apply, each on its own:

- per account: SITEKEEPER_LOGIN_FAILURE_LIMIT failures for one username, from anywhere, lock that username;
- per address: SITEKEEPER_LOGIN_ADDRESS_FAILURE_LIMIT failures from one address, whatever usernames were
  tried, lock that address (higher, so one office behind one address is not locked by one person's typos,
  while a dictionary run over many usernames is still stopped).

A lock always ends: SITEKEEPER_LOGIN_LOCKOUT_MINUTES after the failure that reached the limit (attempts
while locked are refused before any password is checked and do not extend it), or earlier when an agency
admin unlocks it (`unlock`, audited) or the person resets their password by e-mail.

Failed API tokens are counted per address in the same table under the username API_MARK, which no real
username can be (usernames hold no spaces or parentheses), with their own limit
(SITEKEEPER_API_TOKEN_FAILURE_LIMIT) and the same cool-off; they never count towards the login limits, so a
script with a revoked token does not lock its office out of the login page.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_failure_limit
from axes.models import AccessAttempt, AccessFailureLog
from axes.signals import user_locked_out
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import router, transaction
from django.db.models import F, Q, QuerySet
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from sitekeeper.access.audit import acting_as, record

logger = logging.getLogger("sitekeeper.access.lockout")

API_MARK = "(api token)"  # AccessAttempt.username of failed API tokens: never a real username
RESET_MARK = "(password reset)"  # AccessFailureLog.username of password-reset requests, per address
MARKS = (API_MARK, RESET_MARK)

RESET_WINDOW = dt.timedelta(hours=1)
IPV6_PREFIX = 64  # one subscriber's allocation (RFC 6177): counted as one address


def account_limit() -> int:
    return int(settings.AXES_FAILURE_LIMIT)


def address_limit() -> int:
    return int(settings.SITEKEEPER_LOGIN_ADDRESS_FAILURE_LIMIT)


def api_limit() -> int:
    return int(settings.SITEKEEPER_API_TOKEN_FAILURE_LIMIT)


def cool_off() -> dt.timedelta:
    # A lockout without an end would let an attacker lock staff out for good: settings.py always sets one.
    value = settings.AXES_COOLOFF_TIME
    if not isinstance(value, dt.timedelta):
        raise ImproperlyConfigured("AXES_COOLOFF_TIME must be a timedelta: a lockout always ends")
    return value


def client_address(request: HttpRequest) -> str:
    """The address failures are counted under (AXES_CLIENT_IP_CALLABLE, so axes and the API agree).

    REMOTE_ADDR only, never a header the client could write: behind the TLS proxy, `sitekeeper serve`
    (waitress, SITEKEEPER_TRUSTED_PROXY) has already put the client's address there from the proxy's
    X-Forwarded-For and dropped that header from anyone else. An IPv6 address counts as its /64 network: one
    subscriber gets a whole /64 and could otherwise try from a fresh address every time.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    return _counted_as(remote) or "0.0.0.0"  # noqa: S104 — a label for "unknown", nothing binds to it


def _counted_as(raw: str) -> str | None:
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False).network_address)
    return str(address)


# --- Who is locked ------------------------------------------------------------------------------------------


def _recent(now: dt.datetime) -> QuerySet[AccessAttempt]:
    return AccessAttempt.objects.filter(attempt_time__gte=now - cool_off())


def _logins(now: dt.datetime) -> QuerySet[AccessAttempt]:
    return _recent(now).exclude(username__in=MARKS)


def lock_end(rows: Iterable[tuple[dt.datetime, int]], limit: int) -> dt.datetime | None:
    """When a lock made of these (last failure time, failures) rows ends, or None if they do not reach the
    limit. Rows drop out cool-off after their last failure; the lock holds until the newest rows alone fall
    below the limit, i.e. until the row that brought the newest ones to the limit drops out."""
    total = 0
    for at, failures in sorted(rows, key=lambda row: row[0], reverse=True):
        total += failures
        if total >= limit:
            return at + cool_off()
    return None


def _rows(attempts: QuerySet[AccessAttempt]) -> list[tuple[dt.datetime, int]]:
    return list(attempts.values_list("attempt_time", "failures_since_start"))


@dataclass(frozen=True)
class LoginState:
    account_failures: int
    address_failures: int
    account_ends: dt.datetime | None
    address_ends: dt.datetime | None

    @property
    def ends(self) -> dt.datetime | None:
        ends = [end for end in (self.account_ends, self.address_ends) if end is not None]
        return max(ends) if ends else None


def login_state(username: str | None, address: str | None, now: dt.datetime | None = None) -> LoginState:
    """Recent failures for this username and this address, and when each one's lock (if any) ends."""
    now = now or timezone.now()
    logins = _logins(now)
    account = _rows(logins.filter(username=username)) if username else []
    by_address = _rows(logins.filter(ip_address=address)) if address else []
    return LoginState(
        account_failures=sum(failures for _, failures in account),
        address_failures=sum(failures for _, failures in by_address),
        account_ends=lock_end(account, account_limit()),
        address_ends=lock_end(by_address, address_limit()),
    )


@dataclass(frozen=True)
class Lockout:
    """One current lock, for the admin page and `sitekeeper user locked`."""

    kind: str  # "account", "address" (logins) or "api" (API tokens from an address)
    value: str  # the username or the address
    failures: int
    ends_at: dt.datetime

    @property
    def label(self) -> str:
        return {"account": "Account", "address": "Address (logins)", "api": "Address (API tokens)"}[self.kind]


def current_lockouts(now: dt.datetime | None = None) -> list[Lockout]:
    """Every lock in force now, soonest to end last; an empty list when nobody is locked."""
    now = now or timezone.now()
    found: list[Lockout] = []
    groups = (
        ("account", "username", _logins(now), account_limit()),
        ("address", "ip_address", _logins(now), address_limit()),
        ("api", "ip_address", _recent(now).filter(username=API_MARK), api_limit()),
    )
    for kind, column, attempts, limit in groups:
        by_value: dict[str, list[tuple[dt.datetime, int]]] = {}
        for value, at, failures in attempts.values_list(column, "attempt_time", "failures_since_start"):
            if value:
                by_value.setdefault(value, []).append((at, failures))
        for value, rows in by_value.items():
            ends = lock_end(rows, limit)
            if ends is not None and ends > now:
                found.append(Lockout(kind, value, sum(f for _, f in rows), ends))
    return sorted(found, key=lambda lock: (lock.ends_at, lock.kind, lock.value), reverse=True)


# --- axes: the handler named by AXES_HANDLER ----------------------------------------------------------------


class SitekeeperAxesHandler(AxesDatabaseHandler):
    """axes' database handler with a limit per account and another per address.

    axes compares one number, get_failures(), with AXES_FAILURE_LIMIT (the account limit). This answers the
    account's failures while neither lock holds, and the limit itself once either does.
    """

    def get_failures(self, request: HttpRequest, credentials: dict | None = None) -> int:
        username = get_client_username(request, credentials)
        state = login_state(username, request.axes_ip_address, request.axes_attempt_time)  # type: ignore[attr-defined]
        limit = get_failure_limit(request, credentials)
        if state.ends is not None:
            return limit
        return min(state.account_failures, limit - 1)

    def reset_user_attempts(self, request: HttpRequest, credentials: dict | None = None) -> int:
        """A successful login clears that account's failures, not its address's: otherwise an attacker with
        any working login could clear their address's count between guesses at other accounts."""
        username = get_client_username(request, credentials)
        if not username:
            return 0
        count, _ = AccessAttempt.objects.filter(username=username).delete()
        return count


@receiver(user_locked_out, dispatch_uid="sitekeeper_lockout_log")
def log_lockout(
    sender: Any, request: HttpRequest, username: str | None, ip_address: str | None, **_: Any
) -> None:
    """One line when a lock starts. axes also sends this signal for each attempt refused while locked; those
    carry no new failure count (axes_failures_since_start stays None) and are not logged again."""
    if getattr(request, "axes_failures_since_start", None) is None:
        return
    state = login_state(username, ip_address, getattr(request, "axes_attempt_time", None))
    what = []
    if state.account_ends is not None:
        what.append(f"account {username!r} ({state.account_failures} failures)")
    if state.address_ends is not None:
        what.append(f"address {ip_address} ({state.address_failures} failures)")
    ends = state.ends
    until = f"until {ends:%Y-%m-%d %H:%M} UTC" if ends else "for the cool-off"
    # Names and counts only: the password typed is never passed here, let alone logged.
    logger.warning("login locked: %s, last from %s, %s", " and ".join(what) or "?", ip_address, until)


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: a page saying the login is locked and for how long (429, Retry-After), instead
    of a login form that would look like one more wrong password."""
    username = get_client_username(request, credentials)
    now = timezone.now()
    ends = login_state(username, getattr(request, "axes_ip_address", None), now).ends or now + cool_off()
    seconds = max(1, math.ceil((ends - now).total_seconds()))
    context = {"minutes": math.ceil(seconds / 60), "ends_at": ends.astimezone(dt.UTC)}
    response = render(request, "registration/locked_out.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response


# --- API tokens ---------------------------------------------------------------------------------------------


def api_retry_after(address: str, now: dt.datetime | None = None) -> int | None:
    """Seconds until this address may use the API again after too many failed tokens; None: not locked."""
    now = now or timezone.now()
    rows = _rows(_recent(now).filter(username=API_MARK, ip_address=address))
    ends = lock_end(rows, api_limit())
    if ends is None or ends <= now:
        return None
    return max(1, math.ceil((ends - now).total_seconds()))


def record_api_failure(request: HttpRequest, address: str) -> int | None:
    """Count one failed token from this address; the Retry-After seconds if that locked it, else None."""
    now = timezone.now()
    agent = request.META.get("HTTP_USER_AGENT", "")[:255]
    with transaction.atomic(using=router.db_for_write(AccessAttempt)):
        # Rows of this kind past the cool-off no longer count; dropping them keeps the count from growing.
        AccessAttempt.objects.filter(username=API_MARK, attempt_time__lt=now - cool_off()).delete()
        attempt, created = AccessAttempt.objects.select_for_update().get_or_create(
            username=API_MARK,
            ip_address=address,
            user_agent=agent,
            defaults={
                "get_data": "",
                "post_data": "",  # the guessed token is never stored
                "http_accept": request.META.get("HTTP_ACCEPT", "")[:1025],
                "path_info": request.path[:255],
                "failures_since_start": 1,
                "attempt_time": now,
            },
        )
        if not created:
            AccessAttempt.objects.filter(pk=attempt.pk).update(
                failures_since_start=F("failures_since_start") + 1,
                attempt_time=now,
                path_info=request.path[:255],
            )
    wait = api_retry_after(address, now)
    if wait is not None:
        # The caller refuses a locked address before counting, so this failure is the one that locked it.
        logger.warning(
            "API locked: address %s after %d failed tokens, for %d min",
            address,
            api_limit(),
            math.ceil(wait / 60),
        )
    return wait


# --- Unlocking ----------------------------------------------------------------------------------------------


class UnlockError(ValueError):
    """Nothing to unlock under that name or address (the message says which)."""


def unlock(*, username: str = "", address: str = "", actor: Any = None, label: str | None = None) -> int:
    """Clear the failures of one username or one address (logins and API tokens) and record who did it.

    Returns how many failures were cleared; UnlockError when there were none (a typo should not look like
    success). The audit entry is on the user when the username is a login, otherwise on a cleared record.
    """
    if bool(username) == bool(address):
        raise UnlockError("give either a username or an address")
    if address:
        counted = _counted_as(address.strip())  # an IPv6 host unlocks the /64 it was counted under
        if counted is None:
            raise UnlockError(f"{address!r} is not an IP address")
        address = counted
    attempts = AccessAttempt.objects.filter(Q(username=username) if username else Q(ip_address=address))
    rows = list(attempts)
    if not rows:
        what = f"username {username!r}" if username else f"address {address}"
        raise UnlockError(f"no failed logins recorded for {what}; nothing to unlock")
    failures = sum(row.failures_since_start for row in rows)
    with transaction.atomic(), acting_as(actor, label):
        attempts.delete()
        _audit_unlock(rows, username, address, failures)
    logger.warning(
        "login unlocked: %s by %s (%d failures cleared)",
        f"account {username!r}" if username else f"address {address}",
        label or getattr(actor, "username", "?"),
        failures,
    )
    return failures


def _audit_unlock(rows: list[AccessAttempt], username: str, address: str, failures: int) -> None:
    from sitekeeper.access.models import User  # models import audit; imported here to keep them apart

    before = {"locked": username or address, "failures": failures}
    after = {"locked": None, "failures": 0}
    user = User.objects.filter(username=username).first() if username else None
    if user is not None:
        record(user, "update", before=before, after=after)
    else:
        record(rows[0], "delete", before=before, after=after)


def clear_account(username: str) -> int:
    """Clear one account's failures without an audit entry of its own: for a password reset, whose own
    entry says so. Returns how many records were removed."""
    count, _ = AccessAttempt.objects.filter(username=username).delete()
    return count


# --- Password-reset requests per address ------------------------------------------------------------------


def reset_address_limit() -> int:
    return int(settings.SITEKEEPER_PASSWORD_RESET_ADDRESS_LIMIT)


def note_reset_request(request: HttpRequest, address: str) -> bool:
    """Count one password-reset request from this address; False when it is over the hourly limit.

    Kept in axes' AccessFailureLog (never cleaned by axes' cool-off, unlike AccessAttempt) under RESET_MARK,
    so every server process shares the count; rows older than the window are dropped here.
    """
    now = timezone.now()
    log = AccessFailureLog.objects.filter(username=RESET_MARK)
    log.filter(attempt_time__lt=now - RESET_WINDOW).delete()
    earlier = log.filter(ip_address=address).count()
    AccessFailureLog.objects.create(
        username=RESET_MARK,
        ip_address=address,
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:255],
        http_accept=request.META.get("HTTP_ACCEPT", "")[:1025],
        path_info=request.path[:255],
        attempt_time=now,
        locked_out=earlier >= reset_address_limit(),
    )
    return earlier < reset_address_limit()
