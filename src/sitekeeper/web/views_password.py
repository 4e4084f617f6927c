"""Password reset by e-mail: Django's flow, with the link sent through the notify seam and throttled.

The request page answers the same way (a redirect to "check your mail") for a known address, an unknown one
and a throttled one, and does the same work before answering: the e-mail itself is sent later by the queue,
never inside the request, so neither the page nor its timing tells whether an address has an account.

Throttles, both in the database so every server process shares them: per address (access/lockout.py,
SITEKEEPER_PASSWORD_RESET_ADDRESS_LIMIT an hour) and per account (SITEKEEPER_PASSWORD_RESET_ACCOUNT_LIMIT
links an hour, counted from the deliveries already recorded for that account).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm, SetPasswordForm
from django.contrib.auth.tokens import default_token_generator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from sitekeeper.access import lockout
from sitekeeper.access.audit import acting_as, record
from sitekeeper.access.models import User
from sitekeeper.notify import Message, Recipient, notify
from sitekeeper.notify.models import Delivery

EVENT = "account.password_reset"
WINDOW = dt.timedelta(hours=1)


def account_limit() -> int:
    return int(settings.SITEKEEPER_PASSWORD_RESET_ACCOUNT_LIMIT)


def _key_prefix(user_pk: int) -> str:
    return f"password-reset:{user_pk}:"


def _account_allows(user_pk: int) -> bool:
    since = timezone.now() - WINDOW
    sent = Delivery.objects.filter(key__startswith=_key_prefix(user_pk), created_at__gte=since).count()
    return sent < account_limit()


def _link(user: User) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return settings.SITEKEEPER_BASE_URL + reverse("password_reset_confirm", args=[uid, token])


def _message(user: User, link: str) -> Message:
    hours = max(1, round(settings.PASSWORD_RESET_TIMEOUT / 3600))
    name = user.get_full_name() or user.username
    text = (
        f"Hello {name},\n\n"
        f"someone (hopefully you) asked to reset the password of the sitekeeper login {user.username!r}.\n"
        f"To choose a new password, open this link within {hours} hour{'s' if hours != 1 else ''}; "
        "it works once:\n\n"
        f"{link}\n\n"
        "If you did not ask for this, ignore this message: your password stays as it is.\n"
    )
    subject = "Reset your sitekeeper password"
    return Message(subject=subject, text=text, event=EVENT, data={"user": user.pk}, one_time=True)


def send_reset_links(request: HttpRequest, email: str) -> int:
    """Record a reset e-mail for each active account with this address, within the throttles; how many.

    The link goes to the account's own address only, never to its notification preferences: those may name
    a shared channel (a team chat, a webhook) where others would read a link that opens the account.
    """
    address_allows = lockout.note_reset_request(request, lockout.client_address(request))
    users = list(PasswordResetForm().get_users(email)) or [None]
    sent = 0
    for user in users:
        # An unknown address does the same lookups and token work against a stand-in, then sends nothing.
        stand_in = user or User(pk=0, username="")
        allowed = _account_allows(stand_in.pk) and address_allows
        link = _link(stand_in)
        if user is None or not allowed:
            continue
        recipient = Recipient(kind="email", target=user.email, name=user.get_full_name() or user.username)
        notify([recipient], _message(user, link), key=f"{_key_prefix(user.pk)}{uuid.uuid4().hex}")
        sent += 1
    return sent


class ResetRequestView(auth_views.PasswordResetView):
    template_name = "web/password_reset/form.html"
    success_url = reverse_lazy("password_reset_done")

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        send_reset_links(self.request, form.cleaned_data["email"])
        return HttpResponseRedirect(self.get_success_url())


class ResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "web/password_reset/done.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        hours = max(1, round(settings.PASSWORD_RESET_TIMEOUT / 3600))
        return {**super().get_context_data(**kwargs), "hours": hours}


class ResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's confirm view (the token moves from the URL into the session before the form is shown, so
    it does not leak through the Referer header); a successful reset is audited and ends the account's
    lockout."""

    template_name = "web/password_reset/confirm.html"
    success_url = reverse_lazy("password_reset_complete")
    post_reset_login = False  # log in afresh, through the login page and its second factor

    def form_valid(self, form: SetPasswordForm) -> HttpResponse:
        response = super().form_valid(form)
        user = form.user
        cleared = lockout.clear_account(user.username)
        with acting_as(user, label=user.username):
            after: dict[str, Any] = {"password": "changed with an e-mailed reset link"}
            if cleared:
                after["locked"] = None
            record(user, "update", before={"password": "(previous password)"}, after=after)
        return response


class ResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "web/password_reset/complete.html"
