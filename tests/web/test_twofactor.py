"""The second factor (issue 14, item 2): staff cannot reach client data on a password alone; client people may
opt in, or their product owner requires it; demo accounts need none — but only off https.

These tests log in with the password (or force_login without the test suite's verified device: the
`without_second_factor` marker) and then type real TOTP codes computed from the device's key.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.template import Context, Template
from django.test import Client as HttpClient
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from sitekeeper.access import twofactor
from sitekeeper.access.audit import acting_as
from sitekeeper.access.models import AuditEntry, Role, User
from sitekeeper.demo import seed
from tests.conftest import PASSWORD, fresh_totp_code, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.without_second_factor]

ENROL = "/account/two-factor/enrol/"
VERIFY = "/account/two-factor/verify/"
ORGANISATION = "/account/two-factor/organisation/"
SECONDS_5 = dt.timedelta(seconds=5)


def next_code(device: TOTPDevice) -> str:
    return fresh_totp_code(device)


def wrong_code(device: TOTPDevice) -> str:
    return f"{(int(fresh_totp_code(device)) + 1) % 1_000_000:06d}"


def past_the_back_off(user) -> None:
    """django-otp waits 1 s after a wrong code (doubling each time): moved into the past rather than slept."""
    for model in (TOTPDevice, StaticDevice):
        model.objects.filter(user=user).update(throttling_failure_timestamp=timezone.now() - SECONDS_5)


def enrolled(user, *, codes: bool = True) -> tuple[TOTPDevice, list[str]]:
    device = TOTPDevice.objects.create(user=user, name=twofactor.AUTHENTICATOR_NAME, confirmed=True)
    return device, (twofactor.regenerate_recovery_codes(user) if codes else [])


def password_login(username: str) -> tuple[HttpClient, object]:
    http = HttpClient()
    response = http.post("/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.content
    return http, response


def test_staff_without_an_authenticator_are_sent_to_enrol_from_every_page(engineer, acme):
    http, _ = password_login("engineer")
    for page in ("/", "/staff/", f"/staff/clients/{acme.slug}/", "/staff/backups/", "/admin/"):
        response = http.get(page)
        assert response.status_code == 302, page
        assert response.url.startswith(ENROL), (page, response.url)
    assert http.get("/staff/sites/").url == f"{ENROL}?next=%2Fstaff%2Fsites%2F"
    # The way in and out stays open; the API takes tokens, not the session.
    assert http.get(ENROL).status_code == 200
    assert http.get("/api/v1/plans").status_code == 401
    assert http.get("/static/web/sitekeeper.css").status_code == 200
    assert http.post("/logout/").url == "/login/"


def test_an_htmx_request_is_told_to_go_to_the_verify_page_not_given_it_as_a_fragment(engineer):
    enrolled(engineer)
    http, _ = password_login("engineer")
    response = http.get("/staff/clients/?q=a", headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response["HX-Redirect"].startswith(VERIFY)


def test_enrol_shows_a_qr_code_and_the_secret_then_recovery_codes_once(engineer):
    http, _ = password_login("engineer")
    page = http.get(f"{ENROL}?next=/staff/plans/")
    html = page.text
    assert '<svg viewBox="' in html
    assert "QR code for your authenticator app" in html
    device = TOTPDevice.objects.get(user=engineer, confirmed=False)
    secret = re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', html).group(1)
    assert len(secret.replace(" ", "")) == 32  # 20 random bytes in base32
    # Nothing the Content-Security-Policy forbids: no inline style or script on the page.
    assert "style=" not in html
    assert "<script>" not in html
    assert "onclick" not in html
    assert http.get(ENROL).text.count(secret) == 1, "a reload shows the same secret, not a new one"

    wrong = http.post(ENROL, {"code": wrong_code(device)})
    assert wrong.status_code == 400
    assert "That code did not match" in wrong.text
    assert http.get("/staff/").status_code == 302, "still not through"
    too_soon = http.post(ENROL, {"code": next_code(device)})
    assert too_soon.status_code == 400
    assert "Too many wrong codes: try again in" in too_soon.text
    past_the_back_off(engineer)

    done = http.post(ENROL, {"code": next_code(device), "next": "/staff/plans/"})
    assert done.status_code == 200
    assert "no-store" in done["Cache-Control"]
    codes = re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", done.text)
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert 'href="/staff/plans/"' in done.text
    assert http.get("/staff/").status_code == 200, "this session is verified"
    # Stored as a keyed hash: no recovery code is in the database in clear.
    stored = set(StaticToken.objects.filter(device__user=engineer).values_list("token", flat=True))
    assert len(stored) == 10
    assert not stored & {code.replace("-", "") for code in codes}
    assert not stored & set(codes)
    entry = AuditEntry.objects.get(model="access.User", object_pk=str(engineer.pk))
    assert (entry.actor, entry.after) == (engineer, {"second_factor": "authenticator set up"})
    assert secret.replace(" ", "") not in str(entry.before) + str(entry.after)


def test_verify_takes_a_code_once_and_a_wrong_code_is_refused(engineer):
    device, _ = enrolled(engineer)
    http, login = password_login("engineer")
    assert login.url == "/"
    assert http.get("/staff/").url == f"{VERIFY}?next=%2Fstaff%2F"
    page = http.get(f"{VERIFY}?next=/staff/")
    assert "Type the code your authenticator app shows" in page.text
    code = next_code(device)
    wrong = http.post(VERIFY, {"code": wrong_code(device), "next": "/staff/"})
    assert wrong.status_code == 400
    assert "did not match" in wrong.text
    device.refresh_from_db()
    assert device.throttling_failure_count == 1
    past_the_back_off(engineer)
    ok = http.post(VERIFY, {"code": code, "next": "/staff/"})
    assert ok.url == "/staff/"
    assert http.get("/staff/").status_code == 200
    # The same code in another session (an attacker who watched it typed) is refused: each step once.
    other, _ = password_login("engineer")
    assert other.post(VERIFY, {"code": code}).status_code == 400


def test_wrong_codes_are_throttled_by_the_device(engineer):
    device, _ = enrolled(engineer)
    http, _ = password_login("engineer")
    right = next_code(device)
    http.post(VERIFY, {"code": f"{(int(right) + 1) % 1_000_000:06d}"})
    http.post(
        VERIFY, {"code": f"{(int(right) + 2) % 1_000_000:06d}"}
    )  # within the 1 s back-off: not looked at
    waiting = http.post(VERIFY, {"code": right})
    assert waiting.status_code == 429
    assert "Too many wrong codes: try again in" in waiting.text
    assert "UTC" in waiting.text
    assert http.get("/staff/").status_code == 302


def test_wrong_codes_count_toward_the_login_lockout(engineer, settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # only axes counts here
    device, _ = enrolled(engineer)
    http, _ = password_login("engineer")
    wrong = wrong_code(device)
    assert http.post(VERIFY, {"code": wrong}).status_code == 400
    assert http.post(VERIFY, {"code": wrong}).status_code == 400
    locked = http.post(VERIFY, {"code": wrong})
    assert locked.status_code in (403, 429), "django-axes answers with its lockout response"
    assert http.get("/staff/").url.startswith("/login/"), "the half-signed-in session is gone"
    again = HttpClient().post("/login/", {"username": "engineer", "password": PASSWORD})
    assert again.status_code in (403, 429), "and the password alone no longer signs in"


def test_a_recovery_code_works_once(engineer):
    _device, codes = enrolled(engineer)
    http, _ = password_login("engineer")
    used = http.post(VERIFY, {"code": codes[3].upper().replace("-", " "), "next": "/staff/"}, follow=True)
    assert used.redirect_chain[0] == ("/staff/", 302)
    assert "You used a recovery code; 9 left" in used.text
    other, _ = password_login("engineer")
    assert other.post(VERIFY, {"code": codes[3]}).status_code == 400
    assert twofactor.recovery_codes_left(engineer) == 9


def test_new_recovery_codes_replace_the_old_ones_and_are_audited(engineer):
    device, old = enrolled(engineer)
    http, _ = password_login("engineer")
    http.post(VERIFY, {"code": next_code(device)})
    page = http.post("/account/two-factor/recovery-codes/")
    new = re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", page.text)
    assert len(new) == 10
    assert not set(new) & set(old)
    assert "Your earlier codes no longer work" in page.text
    assert AuditEntry.objects.filter(
        object_pk=str(engineer.pk), after={"second_factor": "recovery codes regenerated"}
    ).exists()
    other, _ = password_login("engineer")
    assert other.post(VERIFY, {"code": old[0]}).status_code == 400
    past_the_back_off(engineer)
    assert other.post(VERIFY, {"code": new[0]}).status_code == 302


def test_a_password_alone_cannot_replace_an_existing_authenticator(engineer):
    _device, _ = enrolled(engineer)
    http, _ = password_login("engineer")
    response = http.get(ENROL)
    assert response.url == f"{VERIFY}?next=%2Faccount%2Ftwo-factor%2Fenrol%2F"
    assert http.post(ENROL, {"code": "123456"}).url.startswith(VERIFY)
    assert not TOTPDevice.objects.filter(user=engineer, confirmed=False).exists()


def test_moving_to_a_new_phone_replaces_the_authenticator(engineer):
    old, _ = enrolled(engineer)
    http, _ = password_login("engineer")
    http.post(VERIFY, {"code": next_code(old)})
    http.get(ENROL)
    new = TOTPDevice.objects.get(user=engineer, confirmed=False)
    assert http.post(ENROL, {"code": next_code(new)}).status_code == 200
    assert list(TOTPDevice.objects.filter(user=engineer)) == [new]
    assert AuditEntry.objects.filter(after={"second_factor": "authenticator replaced"}).exists()


def test_staff_cannot_remove_their_second_factor(engineer):
    http = HttpClient()
    http.force_login(engineer)
    enrolled(engineer)
    assert http.post("/account/two-factor/remove/").status_code in (302, 403)
    assert TOTPDevice.objects.filter(user=engineer).exists()


def test_client_people_need_none_unless_they_opt_in(member, owner):
    http, _ = password_login("member")
    assert http.get("/portal/").status_code == 200
    overview = http.get("/account/two-factor/")
    assert "Not set up: you sign in with your password only." in overview.text
    # Opting in: from then on the code is asked at every login.
    device, _ = enrolled(member)
    again, _ = password_login("member")
    assert again.get("/portal/").url.startswith(VERIFY)
    again.post(VERIFY, {"code": next_code(device)})
    assert again.get("/portal/").status_code == 200
    removed = again.post("/account/two-factor/remove/", follow=True)
    assert "Your second factor is removed" in removed.text
    assert not TOTPDevice.objects.filter(user=member).exists()
    assert AuditEntry.objects.filter(
        after={"second_factor": "second factor removed"}, client=member.client
    ).exists()


def test_the_client_owner_requires_a_second_factor_for_their_organisation(owner, member, outsider, engineer):
    member_http, _ = password_login("member")
    assert member_http.get(ORGANISATION).status_code == 403
    http, _ = password_login("owner")
    page = http.get(ORGANISATION)
    assert "Set up your own second factor first" in page.text
    http.post(ORGANISATION, {"require_second_factor": "on"})
    owner.client.refresh_from_db()
    assert owner.client.require_second_factor is False, "not without the owner's own second factor"

    device, _ = enrolled(owner)
    http, _ = password_login("owner")
    http.post(VERIFY, {"code": next_code(device)})
    saved = http.post(ORGANISATION, {"require_second_factor": "on"}, follow=True)
    assert "Everyone at your organisation now needs a second factor" in saved.text
    assert "not set up" in saved.text  # the member, listed without one
    owner.client.refresh_from_db()
    assert owner.client.require_second_factor is True
    entry = AuditEntry.objects.get(model="contracts.Client", actor=owner)
    assert entry.after == {"require_second_factor": True}

    # The member now has to enrol before the portal; another client's people are not affected.
    assert member_http.get("/portal/").url == f"{ENROL}?next=%2Fportal%2F"
    outsider_http, _ = password_login("outsider")
    assert outsider_http.get("/portal/").status_code == 200
    engineer_http = HttpClient()
    engineer_http.force_login(engineer)
    assert engineer_http.get(ORGANISATION).status_code in (302, 403)
    # ...and cannot switch it off for themselves: the page is out of reach before enrolling, then refused.
    assert member_http.post("/account/two-factor/remove/").url.startswith(ENROL)
    member_device, _ = enrolled(member)
    member_http.post(VERIFY, {"code": next_code(member_device)})
    assert member_http.post("/account/two-factor/remove/").status_code == 403


def test_demo_accounts_need_no_second_factor_off_https_only(db, settings):
    demo = make_user("erin", Role.ENGINEER)
    demo.is_demo = True
    demo.save()
    make_user("real", Role.ENGINEER)
    login = HttpClient().get("/login/").text
    assert "This is a demo." in login
    assert "<code>erin</code>" in login
    assert "<code>real</code>" not in login
    http, _ = password_login("erin")
    assert http.get("/staff/").status_code == 200

    settings.SITEKEEPER_BASE_URL = "https://desk.agency.example"
    assert "This is a demo." not in HttpClient().get("/login/").text
    http, _ = password_login("erin")
    assert http.get("/staff/").url.startswith(ENROL), "on https the demo mark spares nothing"


def test_the_demo_mark_is_not_editable_and_the_seed_never_takes_over_a_real_account(db):
    assert User._meta.get_field("is_demo").editable is False
    make_user("admin", Role.AGENCY_ADMIN)
    with acting_as(label="demo"), pytest.raises(seed.RealAccountError, match="'admin' already exists"):
        seed._ensure_user("admin", Role.AGENCY_ADMIN, "Alex Admin", "admin@x.test", None)
    assert User.objects.get(username="admin").is_demo is False
    assert User.objects.get(username="admin").check_password(PASSWORD)

    with acting_as(label="demo"):
        made = seed._ensure_user("engineer", Role.ENGINEER, "Erin Engineer", "e@x.test", None)
    assert made.is_demo is True
    entry = AuditEntry.objects.get(model="access.User", object_pk=str(made.pk))
    assert (entry.actor_label, entry.action, entry.after["is_demo"]) == ("demo", "create", True)

    # A demo loaded before the mark existed: its accounts still have the published password; marked now.
    old = make_user("manager", Role.ACCOUNT_MANAGER)
    old.set_password(seed.DEMO_PASSWORD)
    old.save()
    with acting_as(label="demo"):
        assert seed._ensure_user("manager", Role.ACCOUNT_MANAGER, "Morgan M", "m@x.test", None).is_demo


def test_removing_a_device_in_django_admin_is_audited(engineer, admin):
    device, _ = enrolled(engineer)
    with acting_as(admin):
        device.delete()
    entry = AuditEntry.objects.get(model="access.User", object_pk=str(engineer.pk), actor=admin)
    assert entry.after == {"second_factor": "authenticator removed"}
    assert device.key not in str(entry.after)


def test_the_login_page_links_to_password_reset_when_there_is_one(db):
    try:
        reset = reverse("password_reset")
    except NoReverseMatch:
        reset = None
    page = HttpClient().get("/login/")
    assert page.status_code == 200
    assert ("Forgot your password?" in page.text) == (reset is not None)
    if reset is not None:
        assert f'href="{reset}"' in page.text


def _owes(request) -> str:
    return Template("{% load twofactor %}{% owes_second_factor as owes %}{{ owes }}").render(
        Context({"request": request})
    )


def test_the_top_bar_can_tell_a_person_who_still_owes_a_second_factor(engineer, member):
    http, _ = password_login("engineer")
    assert _owes(http.get(ENROL).wsgi_request) == "True"
    device = TOTPDevice.objects.get(user=engineer, confirmed=False)
    http.post(ENROL, {"code": next_code(device)})
    assert _owes(http.get("/account/two-factor/").wsgi_request) == "False"
    member_http, _ = password_login("member")
    assert _owes(member_http.get("/portal/").wsgi_request) == "False", "optional and not set up: owes nothing"
