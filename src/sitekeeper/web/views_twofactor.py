"""/account/two-factor/…: set up an authenticator app, verify a code after the password, recovery codes, and
the client product owner's choice to require a second factor for their whole organisation.

The rules (who must, what counts, throttling) live in access/twofactor.py; these views only ask and show.
Recovery codes are shown in the response to the POST that made them and stored nowhere in clear, so they can
be seen exactly once.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sitekeeper.access import twofactor
from sitekeeper.access.models import Role
from sitekeeper.access.twofactor import Outcome

CODE_MISMATCH = (
    "That code did not match. Type the six digits your app shows now; if it keeps failing, check that the "
    "clock on your phone is set automatically."
)
VERIFY_MISMATCH = (
    "That code did not match: type the six digits your authenticator app shows now, or one of your recovery "
    "codes."
)


def _next(request: HttpRequest) -> str:
    """Where to go after a code: the page the person was sent away from, if it is on this site."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("home")


def _to(url_name: str, target: str) -> str:
    return f"{reverse(url_name)}?{urlencode({'next': target})}"


def _codes_page(request: HttpRequest, codes: list[str], *, first_time: bool) -> HttpResponse:
    response = render(
        request,
        "registration/twofactor_codes.html",
        {"codes": codes, "first_time": first_time, "next": _next(request)},
    )
    response["Cache-Control"] = "no-store"  # shown once: not kept by the browser or a proxy
    return response


@login_required
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    """The person's second factor: set up or not, recovery codes left, and what they may change."""
    user = request.user
    device = twofactor.authenticator(user)
    context: dict[str, Any] = {
        "device": device,
        "codes_left": twofactor.recovery_codes_left(user),
        "required": twofactor.required_for(user),
        "demo_exempt": twofactor.demo_exempt(user),
        "client_requires": bool(user.client and user.client.require_second_factor),
        "is_owner": user.role == Role.CLIENT_OWNER,
    }
    return render(request, "registration/twofactor_overview.html", context)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def enrol(request: HttpRequest) -> HttpResponse:
    """Scan the QR code (or type the secret), confirm with a code; then the recovery codes, once."""
    user = request.user
    if twofactor.authenticator(user) is not None and not twofactor.is_verified(request):
        # Replacing an authenticator takes the current one first: a password alone must not swap it.
        return redirect(_to("two_factor_verify", reverse("two_factor_enrol")))
    device = twofactor.pending_authenticator(user)
    error = ""
    if request.method == "POST":
        wait_until = twofactor.retry_at(device)
        if wait_until is not None:
            error = _wait_message(wait_until)
        else:
            codes = twofactor.confirm_authenticator(request, device, request.POST.get("code", ""))
            if codes is not None:
                return _codes_page(request, codes, first_time=True)
            error = CODE_MISMATCH
    context = {
        "qr": twofactor.qr_svg(device),
        "secret": twofactor.secret_for_typing(device),
        "issuer": settings.OTP_TOTP_ISSUER,
        "error": error,
        "next": _next(request),
        "replacing": twofactor.authenticator(user) is not None,
        "required": twofactor.required_for(user),
    }
    return render(request, "registration/twofactor_enrol.html", context, status=400 if error else 200)


def _wait_message(retry_at: Any) -> str:
    if retry_at is None:
        return "Too many wrong codes: wait a moment before you try again."
    seconds = max(1, int((retry_at - timezone.now()).total_seconds()) + 1)
    return f"Too many wrong codes: try again in {seconds} seconds (at {retry_at:%H:%M:%S} UTC)."


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """After the password: a code from the authenticator app or a recovery code."""
    user = request.user
    target = _next(request)
    if twofactor.is_verified(request):
        return redirect(target)
    if twofactor.authenticator(user) is None and twofactor.recovery_codes_left(user) == 0:
        if twofactor.must_verify(user):
            return redirect(_to("two_factor_enrol", target))
        return redirect(target)
    error, status = "", 200
    if request.method == "POST":
        result = twofactor.verify(request, request.POST.get("code", ""))
        if result.outcome is Outcome.VERIFIED:
            if result.used_recovery_code:
                left = twofactor.recovery_codes_left(user)
                messages.warning(
                    request,
                    f"You used a recovery code; {left} left. Make new ones on the two-factor page if you "
                    "are running low.",
                )
            return redirect(target)
        if result.outcome is Outcome.LOCKED:
            # django-axes answers this request with its lockout page (its middleware sees the lockout).
            return redirect("login")
        error = VERIFY_MISMATCH if result.outcome is Outcome.WRONG else _wait_message(result.retry_at)
        status = 400 if result.outcome is Outcome.WRONG else 429
    context = {"error": error, "next": target}
    return render(request, "registration/twofactor_verify.html", context, status=status)


@never_cache
@login_required
@require_POST
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """A new set of recovery codes (the old ones stop working); needs this session verified."""
    if twofactor.authenticator(request.user) is None:
        messages.error(request, "Set up an authenticator app first; recovery codes come with it.")
        return redirect("two_factor_enrol")
    if not twofactor.is_verified(request):
        return redirect(_to("two_factor_verify", reverse("two_factor")))
    return _codes_page(request, twofactor.regenerate_recovery_codes(request.user), first_time=False)


@login_required
@require_POST
def remove(request: HttpRequest) -> HttpResponse:
    """Stop using a second factor — only for a person who is not required to use one."""
    user = request.user
    if twofactor.required_for(user):
        raise PermissionDenied("A second factor is required for your account; it cannot be removed.")
    if twofactor.authenticator(user) is not None and not twofactor.is_verified(request):
        return redirect(_to("two_factor_verify", reverse("two_factor")))
    twofactor.remove_second_factor(user)
    messages.success(request, "Your second factor is removed: you sign in with your password only.")
    return redirect("two_factor")


@login_required
@require_http_methods(["GET", "POST"])
def organisation(request: HttpRequest) -> HttpResponse:
    """The client product owner's choice: everyone at their organisation must use a second factor."""
    user = request.user
    if user.role != Role.CLIENT_OWNER:
        raise PermissionDenied("Only your organisation's product owner can change this.")
    client = user.client
    verified = twofactor.is_verified(request)
    if request.method == "POST":
        if not verified:
            messages.error(
                request, "Set up your own second factor first, then you can require it for everyone."
            )
            return redirect("two_factor_organisation")
        wanted = request.POST.get("require_second_factor") == "on"
        if wanted != client.require_second_factor:
            client.require_second_factor = wanted  # audited: Client is, and the request names the person
            client.save(update_fields=["require_second_factor"])
            messages.success(
                request,
                "Everyone at your organisation now needs a second factor to sign in."
                if wanted
                else "A second factor is now optional for your organisation.",
            )
        return redirect("two_factor_organisation")
    people = [
        {"person": person, "has_factor": twofactor.authenticator(person) is not None}
        for person in client.users.filter(is_active=True).order_by("username")
    ]
    context = {"client": client, "people": people, "verified": verified}
    return render(request, "registration/twofactor_organisation.html", context)
