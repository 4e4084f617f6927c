"""The second factor (TOTP with single-use recovery codes, django-otp): who needs one, and who is asked.

Who must use one: every agency person (they reach every client's data and the restore buttons); a client
person when their client's product owner turned `Client.require_second_factor` on; anyone who set one up of
their own accord. A demo account (`User.is_demo`, set only by `sitekeeper demo` on the accounts it creates)
needs none — but only while the installation is not served over https, so a demo seed run by mistake on a
real, internet-facing installation spares nobody.

Until such a person has verified a code in this session, every page except logging in and out, enrolling
and verifying (and static files and the token-authenticated API) sends them to verify — or to enrol when they
have no authenticator yet.

Recovery codes are django-otp static tokens, but stored as a keyed HMAC (crypto.fingerprint), not in clear:
the person sees them once; a used one is deleted by django-otp. Wrong codes are throttled by django-otp
(exponential back-off per device, kept across sessions) and each one also counts as a failed login for
django-axes, which locks the account and the address like wrong passwords do.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import enum
import re
import secrets
from base64 import b32encode
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import segno
from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.db.models.signals import post_delete
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django_otp import login as otp_login
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from sitekeeper.access import audit, crypto
from sitekeeper.access.models import User

RECOVERY_CODE_COUNT = 10
# No 0/o, 1/l/i: a code copied from paper is read back right. 31^10 ≈ 2^49.5 per code.
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_RECOVERY_LENGTH = 10
AUTHENTICATOR_NAME = "authenticator app"
RECOVERY_NAME = "recovery codes"


# --- Who needs one ------------------------------------------------------------------------------------------


def demo_accounts_honoured() -> bool:
    """Whether the demo mark spares anything here: only on an installation not served over https (the demo's
    own http://127.0.0.1:8000), never on one put on the internet."""
    return not settings.SITEKEEPER_BASE_URL.startswith("https://")


def demo_exempt(user: User) -> bool:
    """A demo account where demo accounts are honoured: it needs no second factor."""
    return bool(user.is_demo) and demo_accounts_honoured()


def required_for(user: User) -> bool:
    """Whether this person may not do without a second factor (they must enrol if they have none)."""
    if demo_exempt(user):
        return False
    if user.is_agency:
        return True
    return user.client is not None and user.client.require_second_factor


def authenticator(user: User) -> TOTPDevice | None:
    """The person's confirmed authenticator app, if they set one up."""
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).order_by("-pk").first()


def recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def must_verify(user: User) -> bool:
    """Whether this person is asked for a code after the password: required, or set up of their own accord."""
    if demo_exempt(user):
        return False
    return required_for(user) or authenticator(user) is not None


def is_verified(request: HttpRequest) -> bool:
    """Whether this session has passed a second factor (django-otp's OTPMiddleware decides)."""
    check = getattr(request.user, "is_verified", None)
    return bool(check and check())


# --- Enrolment ----------------------------------------------------------------------------------------------


def pending_authenticator(user: User) -> TOTPDevice:
    """The not yet confirmed authenticator the enrol page shows; the same one until it is confirmed, so a
    reload does not change the secret under a person who has already scanned it."""
    device = TOTPDevice.objects.devices_for_user(user, confirmed=False).order_by("-pk").first()
    return device or TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)


def secret_for_typing(device: TOTPDevice) -> str:
    """The secret in base32, in groups of four, for apps that cannot scan."""
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def qr_svg(device: TOTPDevice) -> str:
    """The otpauth:// address as an inline SVG QR code (no script, no style attribute: CSP-safe)."""
    code = segno.make(device.config_url, error="m")
    return code.svg_inline(
        scale=5, omitsize=True, title="QR code for your authenticator app", dark="#000", light="#fff"
    )


def retry_at(device: TOTPDevice | StaticDevice) -> dt.datetime | None:
    """When the device looks at a code again after wrong ones (django-otp's back-off), if it is waiting."""
    allowed, details = device.verify_is_allowed()
    return None if allowed else (details or {}).get("locked_until")


def _code_digits(code: str) -> str | None:
    digits = re.sub(r"\s", "", code)
    return digits if re.fullmatch(r"\d{6}", digits) else None


def confirm_authenticator(request: HttpRequest, device: TOTPDevice, code: str) -> list[str] | None:
    """Confirm the pending authenticator with a code from it. On success it replaces any earlier one, this
    session counts as verified, and a fresh set of recovery codes is returned (to be shown once)."""
    digits = _code_digits(code)
    user = request.user
    with _managed():
        # Locked, and still pending: a second tab that confirmed it first leaves nothing to confirm here.
        pending = (
            TOTPDevice.objects.select_for_update().filter(pk=device.pk, user=user, confirmed=False).first()
        )
        if pending is None or digits is None or not pending.verify_token(digits):
            return None
        replaced = TOTPDevice.objects.filter(user=user).exclude(pk=pending.pk)
        had_one = replaced.filter(confirmed=True).exists()
        replaced.delete()
        pending.confirmed = True
        pending.save(update_fields=["confirmed"])
        codes = _new_recovery_codes(user)
        _audit(user, "authenticator replaced" if had_one else "authenticator set up")
    otp_login(request, pending)
    request.session.cycle_key()  # a session that gained a factor gets a new id (no fixation)
    return codes


# --- Recovery codes -----------------------------------------------------------------------------------------


def _normalise_recovery(code: str) -> str:
    return re.sub(r"[^a-z0-9]", "", code.lower())


def _stored_form(code: str) -> str:
    # StaticToken.token holds 16 characters: 64 bits of a keyed HMAC, never the code itself.
    return crypto.fingerprint("recovery-code:" + _normalise_recovery(code))[:16]


def _random_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def _new_recovery_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()  # the old codes stop working
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [_random_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=_stored_form(code)) for code in codes)
    return codes


def regenerate_recovery_codes(user: User) -> list[str]:
    """A new set of ten; the previous set stops working. Audited."""
    with _managed():
        codes = _new_recovery_codes(user)
        _audit(user, "recovery codes regenerated")
    return codes


def remove_second_factor(user: User) -> None:
    """Remove the authenticator and recovery codes (only where none is required: the view checks)."""
    with _managed():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        _audit(user, "second factor removed")


# --- Verification -------------------------------------------------------------------------------------------


class Outcome(enum.Enum):
    VERIFIED = "verified"
    WRONG = "wrong"
    WAIT = "wait"  # django-otp's back-off after wrong codes: try again later
    LOCKED = "locked"  # django-axes locked the account or address: logged out


@dataclass(frozen=True)
class Verification:
    outcome: Outcome
    retry_at: dt.datetime | None = None  # for WAIT: when the next code is looked at
    used_recovery_code: bool = False


def _device_for(user: User, code: str) -> tuple[TOTPDevice | StaticDevice | None, str]:
    """Six digits are an authenticator code; anything else is tried as a recovery code."""
    digits = _code_digits(code)
    if digits is not None:
        return authenticator(user), digits
    recovery = StaticDevice.objects.devices_for_user(user, confirmed=True).first()
    return recovery, _stored_form(code)


def verify(request: HttpRequest, code: str) -> Verification:
    """Check a code from the authenticator app or a recovery code; on success the session is verified."""
    user = request.user
    credentials = {"username": user.get_username()}
    if not AxesProxyHandler.is_allowed(request, credentials):
        logout(request)
        return Verification(Outcome.LOCKED)
    device, token = _device_for(user, code)
    if device is not None:
        with transaction.atomic():
            device = type(device).objects.select_for_update().get(pk=device.pk)
            wait_until = retry_at(device)
            if wait_until is not None:
                return Verification(Outcome.WAIT, retry_at=wait_until)
            accepted = device.verify_token(token)
        if accepted:
            otp_login(request, device)
            request.session.cycle_key()
            return Verification(Outcome.VERIFIED, used_recovery_code=isinstance(device, StaticDevice))
    # Counted like a wrong password: axes locks the account and the address after the configured number.
    user_login_failed.send(sender=__name__, credentials=credentials, request=request)
    if getattr(request, "axes_locked_out", False):
        logout(request)
        return Verification(Outcome.LOCKED)
    return Verification(Outcome.WRONG)


# Set while this module changes devices itself (it writes its own, more telling, audit entry then).
_managing: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "sitekeeper_twofactor_managing", default=False
)


@contextmanager
def _managed() -> Iterator[None]:
    token = _managing.set(True)
    try:
        with transaction.atomic():
            yield
    finally:
        _managing.reset(token)


def _device_removed(sender: type[Device], instance: Device, **kwargs: Any) -> None:
    """A device deleted elsewhere — the agency admin resetting someone's second factor in Django admin —
    is audited too (by a person only, like every audited change; the secret is never copied)."""
    if _managing.get() or audit.current_actor() is None:
        return
    user = User.objects.filter(pk=instance.user_id).first()
    if user is not None:
        label = "authenticator removed" if isinstance(instance, TOTPDevice) else "recovery codes removed"
        audit.record(user, "update", {"second_factor": None}, {"second_factor": label})


def connect_signals() -> None:
    for model in (TOTPDevice, StaticDevice):
        post_delete.connect(
            _device_removed, sender=model, dispatch_uid=f"sitekeeper_twofactor_{model.__name__}"
        )


connect_signals()  # on import (the middleware imports this module); access's AppConfig.ready may call it too


def _audit(user: User, what: str) -> None:
    """One audit entry on the person (with their client, if any): what happened to their second factor.
    The entry carries no secret — only what changed."""
    # In a request the audit middleware already names the person; elsewhere (a shell, a test) it is them.
    with audit.acting_as(user) if audit.current_actor() is None else nullcontext():
        audit.record(user, "update", {"second_factor": None}, {"second_factor": what})


# --- The middleware -----------------------------------------------------------------------------------------


def _exempt_prefixes() -> tuple[str, ...]:
    """Paths a person who still owes a second factor may reach: the way in and out, and what is not a page
    (static files; the API, which authenticates with tokens, never the session)."""
    return (
        settings.STATIC_URL,
        "/api/",
        reverse("login"),
        reverse("logout"),
        reverse("two_factor_enrol"),
        reverse("two_factor_verify"),
    )


def _send_to(request: HttpRequest, url_name: str) -> HttpResponse:
    url = reverse(url_name)
    if request.method == "GET":
        url += "?" + urlencode({"next": request.get_full_path()})
    if request.headers.get("HX-Request") == "true":
        # An htmx fragment request: a plain redirect would swap the verify page into the fragment.
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return HttpResponseRedirect(url)


class RequireSecondFactorMiddleware:
    """After django-otp's OTPMiddleware: a signed-in person who must use a second factor and has not in this
    session is sent to verify (or to enrol, when they have no authenticator) before any other page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._exempt: tuple[str, ...] | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or is_verified(request):
            return self.get_response(request)
        if self._exempt is None:
            self._exempt = _exempt_prefixes()
        if request.path.startswith(self._exempt) or not must_verify(user):
            return self.get_response(request)
        return _send_to(request, "two_factor_verify" if authenticator(user) else "two_factor_enrol")
