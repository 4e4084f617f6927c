"""/staff/lockouts/: the agency admin sees every login and API lockout in force and can end one (audited)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from sitekeeper.access import lockout
from sitekeeper.access.permissions import admin_required

# Unlocking hands an attacker's target back to whoever holds the password: the agency admin decides that.


@admin_required
def staff_lockouts(request: HttpRequest) -> HttpResponse:
    context = {
        "lockouts": lockout.current_lockouts(),
        "account_limit": lockout.account_limit(),
        "address_limit": lockout.address_limit(),
        "api_limit": lockout.api_limit(),
        "minutes": round(lockout.cool_off().total_seconds() / 60),
    }
    return render(request, "web/lockouts.html", context)


@admin_required
@require_POST
def staff_lockout_unlock(request: HttpRequest) -> HttpResponse:
    kind, value = request.POST.get("kind", ""), request.POST.get("value", "").strip()
    if kind not in {"account", "address"} or not value:
        messages.error(request, "Choose an account or an address to unlock.")
        return redirect("staff_lockouts")
    try:
        if kind == "account":
            lockout.unlock(username=value, actor=request.user)
        else:
            lockout.unlock(address=value, actor=request.user)
    except lockout.UnlockError as exc:
        messages.error(request, f"Not unlocked: {exc}.")
        return redirect("staff_lockouts")
    what = f"the account {value}" if kind == "account" else f"the address {value}"
    messages.success(request, f"Unlocked {what}; it can log in again now.")
    return redirect("staff_lockouts")
