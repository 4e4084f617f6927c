"""Password reset by e-mail (issue 14.3): through the notify seam, throttled, the same answer for everyone."""

from __future__ import annotations

import re

import pytest
from axes.models import AccessAttempt
from django.core import mail
from django.test import Client as HttpClient

from sitekeeper.access.models import AuditEntry, User
from sitekeeper.notify import deliver_pending
from sitekeeper.notify.models import Delivery
from sitekeeper.web.views_password import EVENT
from tests.conftest import PASSWORD
from tests.web.test_lockout import LOCKOUT_SETTINGS

NEW_PASSWORD = "a-brand-new-and-long-passphrase"
LINK = re.compile(r"https?://\S+/account/password-reset/\S+/")
# What differs between two sessions' copies of one page: their CSRF tokens (and a CSP nonce, if any).
PER_SESSION = re.compile(rb'("X-CSRFToken": "|name="csrfmiddlewaretoken" value="|nonce=")[^"]*')


@pytest.fixture(autouse=True)
def lockout_settings(settings, fast_passwords) -> None:
    for name, value in LOCKOUT_SETTINGS.items():
        setattr(settings, name, value)
    settings.SITEKEEPER_BASE_URL = "https://desk.agency.test"
    settings.SITEKEEPER_PASSWORD_RESET_ACCOUNT_LIMIT = 5
    settings.SITEKEEPER_PASSWORD_RESET_ADDRESS_LIMIT = 10


def page(answer) -> bytes:
    return PER_SESSION.sub(rb"\1", answer.content)


def ask(email: str, address: str = "203.0.113.5"):
    return HttpClient().post("/account/password-reset/", {"email": email}, REMOTE_ADDR=address, follow=True)


def the_link() -> str:
    assert deliver_pending() >= 1
    (message,) = mail.outbox
    (link,) = LINK.findall(message.body)
    mail.outbox.clear()
    return link.removeprefix("https://desk.agency.test")


def test_known_and_unknown_addresses_get_the_same_answer(owner: User):
    known, unknown = ask(owner.email), ask("nobody@nowhere.test")
    assert known.redirect_chain == unknown.redirect_chain == [("/account/password-reset/sent/", 302)]
    assert known.status_code == unknown.status_code == 200
    assert page(known) == page(unknown)
    assert "If the address you gave belongs to a login" in known.content.decode()
    assert Delivery.objects.filter(event=EVENT).count() == 1


def test_the_mail_goes_through_the_notify_seam_to_the_accounts_own_address(owner: User):
    ask(owner.email.upper())
    delivery = Delivery.objects.get(event=EVENT)
    assert (delivery.kind, delivery.target) == ("email", owner.email)
    assert mail.outbox == [], "nothing is sent inside the request: the queue sends it"
    assert deliver_pending() == 1
    (message,) = mail.outbox
    assert message.to == [f"owner <{owner.email}>"]
    assert message.subject == "Reset your sitekeeper password"
    assert "'owner'" in message.body
    assert "https://desk.agency.test/account/password-reset/" in message.body


def test_the_link_sets_a_new_password_once_audited_and_ends_a_lockout(owner: User):
    client = HttpClient()
    for _ in range(5):
        client.post(
            "/login/", {"username": "owner", "password": "wrong-password-1"}, REMOTE_ADDR="198.51.100.9"
        )
    assert AccessAttempt.objects.filter(username="owner").exists()
    ask(owner.email)
    link = the_link()

    form = client.get(link, follow=True)
    assert "Choose a new password" in form.content.decode()
    form_url = form.redirect_chain[-1][0]
    assert form_url.endswith("/set-password/"), "the token leaves the address bar before the form is shown"
    weak = client.post(form_url, {"new_password1": "123", "new_password2": "123"})
    assert weak.status_code == 200
    assert "too short" in weak.content.decode()
    done = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}, follow=True)
    assert done.redirect_chain == [("/account/password-reset/done/", 302)]
    assert "Password changed" in done.content.decode()

    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)
    assert not owner.check_password(PASSWORD)
    assert not AccessAttempt.objects.filter(username="owner").exists(), "the lockout ended with the reset"
    entry = AuditEntry.objects.get(model="access.User", object_repr="owner")
    assert (entry.actor, entry.action) == (owner, "update")
    assert entry.after == {"password": "changed with an e-mailed reset link", "locked": None}
    assert NEW_PASSWORD not in str(entry.after)

    again = HttpClient().get(link, follow=True)
    assert "This link no longer works" in again.content.decode()
    login = HttpClient().post(
        "/login/", {"username": "owner", "password": NEW_PASSWORD}, REMOTE_ADDR="198.51.100.9"
    )
    assert login.status_code == 302


def test_requests_are_throttled_per_account_with_the_same_answer(owner: User):
    answers = [ask(owner.email, address=f"198.51.100.{n}") for n in range(7)]
    assert {page(answer) for answer in answers} == {page(answers[0])}
    assert Delivery.objects.filter(event=EVENT).count() == 5, "five links an hour for one account"


def test_requests_are_throttled_per_address_with_the_same_answer(db, acme):
    from tests.conftest import make_user

    people = [make_user(f"person{n}", "client_member", acme) for n in range(12)]
    answers = [ask(person.email) for person in people]
    assert {page(answer) for answer in answers} == {page(answers[0])}
    sent = Delivery.objects.filter(event=EVENT)
    assert sent.count() == 10, "ten requests an hour from one address"
    assert ask(people[11].email, address="198.51.100.77").status_code == 200
    assert sent.count() == 11, "another address is not affected"


def test_a_malformed_address_is_refused_with_the_reason(db):
    answer = HttpClient().post("/account/password-reset/", {"email": "not an address"})
    assert answer.status_code == 200
    assert "Enter a valid email address." in answer.content.decode()
    assert not Delivery.objects.exists()


def test_an_inactive_account_gets_no_mail_and_the_same_answer(owner: User):
    owner.is_active = False
    owner.save()
    answer = ask(owner.email)
    assert answer.redirect_chain == [("/account/password-reset/sent/", 302)]
    assert not Delivery.objects.exists()
