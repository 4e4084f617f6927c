"""People and invitations (issue 15.4): invite by e-mail, accept with one's own password, deactivate."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.core import mail
from django.test import Client as HttpClient
from django.utils import timezone

from sitekeeper.access import invitations
from sitekeeper.access.models import ApiToken, AuditEntry, Invitation, Role, User
from sitekeeper.notify import deliver_pending
from sitekeeper.notify.invitations import EVENT
from sitekeeper.notify.models import Delivery
from tests.conftest import PASSWORD

BASE = "https://desk.agency.test"
LINK = re.compile(r"https://desk\.agency\.test(/invite/[\w-]+/)")
NEW_PASSWORD = "a-brand-new-and-long-passphrase"


@pytest.fixture(autouse=True)
def base_url(settings, fast_passwords) -> None:
    settings.SITEKEEPER_BASE_URL = BASE


def signed_in(user: User) -> HttpClient:
    client = HttpClient()
    client.force_login(user)
    return client


def mailed_link(address: str) -> str:
    """Send what the queue holds; the one invitation mail to `address`, and the path of its link."""
    assert deliver_pending() >= 1
    (message,) = [message for message in mail.outbox if address in message.to[0]]
    mail.outbox.clear()
    (path,) = LINK.findall(message.body)
    return path


def invite(browser: HttpClient, url: str, **data: object):
    return browser.post(url, data)


def accept(path: str, username: str, password: str = NEW_PASSWORD, **extra: str):
    data = {"username": username, "password1": password, "password2": password, **extra}
    return HttpClient().post(path, data)


def test_admin_invites_an_engineer_who_sets_a_password_and_logs_in_with_a_second_factor(admin):
    staff = signed_in(admin)
    answer = invite(staff, "/staff/people/invite/", email="Carol@Agency.Test", role="engineer", client="")
    assert answer.status_code == 302
    assert answer["Location"] == "/staff/people/"
    invitation = Invitation.objects.get()
    assert (invitation.email, invitation.role, invitation.client, invitation.invited_by) == (
        "Carol@agency.test",
        Role.ENGINEER,
        None,
        admin,
    )
    delivery = Delivery.objects.get(event=EVENT)
    assert (delivery.kind, delivery.target) == ("email", "Carol@agency.test")
    assert mail.outbox == [], "the queue sends it, not the request"
    path = mailed_link("Carol@agency.test")
    token = path.split("/")[2]
    assert invitation.digest == invitations.digest(token)
    assert token not in invitation.digest

    page = HttpClient().get(path)
    assert page.status_code == 200
    body = page.content.decode()
    assert "Join the agency on sitekeeper" in body
    assert "Engineer" in body
    assert 'value="carol"' in body, "the address's local part is offered as the username"

    done = accept(path, "carol", first_name="Carol", last_name="Example")
    assert done.status_code == 302
    assert done["Location"] == "/login/"
    carol = User.objects.get(username="carol")
    assert (carol.role, carol.client, carol.email, carol.get_full_name()) == (
        Role.ENGINEER,
        None,
        "Carol@agency.test",
        "Carol Example",
    )
    assert carol.check_password(NEW_PASSWORD)
    assert carol.is_active
    invitation.refresh_from_db()
    assert invitation.accepted_user == carol
    assert invitation.accepted_at is not None

    # Logging in: the password works, and an agency role must set up a second factor before any page.
    browser = HttpClient()
    login = browser.post("/login/", {"username": "carol", "password": NEW_PASSWORD})
    assert login.status_code == 302
    staff_page = browser.get("/staff/")
    assert staff_page.status_code == 302
    assert staff_page["Location"].startswith("/account/two-factor/enrol/")


def test_admin_invites_a_client_member_who_reaches_their_portal(admin, acme):
    staff = signed_in(admin)
    answer = invite(
        staff, "/staff/people/invite/", email="dora@acme.test", role="client_member", client=acme.pk
    )
    assert answer.status_code == 302
    path = mailed_link("dora@acme.test")
    assert "Acme GmbH" in HttpClient().get(path).content.decode()
    assert accept(path, "dora").status_code == 302
    dora = User.objects.get(username="dora")
    assert (dora.role, dora.client) == (Role.CLIENT_MEMBER, acme)
    browser = HttpClient()
    assert browser.post("/login/", {"username": "dora", "password": NEW_PASSWORD}).status_code == 302
    portal = browser.get("/portal/")
    assert portal.status_code == 200
    assert "Acme GmbH" in portal.content.decode()


def test_the_invitation_mail_is_one_time_and_names_what_it_is(admin, acme):
    invite(
        signed_in(admin), "/staff/people/invite/", email="erin@acme.test", role="client_owner", client=acme.pk
    )
    assert deliver_pending() == 1
    (message,) = mail.outbox
    assert message.subject == "You are invited to sitekeeper"
    assert "the sitekeeper portal of Acme GmbH, as Client product owner" in message.body
    assert "within 7 days" in message.body
    delivery = Delivery.objects.get(event=EVENT)
    assert "/invite/" not in str(delivery.message), "a one-time message's text is blanked once sent"


def test_role_and_client_must_fit(admin, acme):
    staff = signed_in(admin)
    answer = invite(staff, "/staff/people/invite/", email="x@agency.test", role="engineer", client=acme.pk)
    assert answer.status_code == 400
    assert "Engineer is an agency role: leave the client empty." in answer.content.decode()
    answer = invite(staff, "/staff/people/invite/", email="x@acme.test", role="client_member", client="")
    assert answer.status_code == 400
    assert "Client member is a client role: choose the client." in answer.content.decode()
    answer = invite(staff, "/staff/people/invite/", email="not-an-address", role="engineer")
    assert answer.status_code == 400
    assert "valid email address" in answer.content.decode()
    assert not Invitation.objects.exists()
    assert not Delivery.objects.exists()


def test_an_address_with_a_login_or_an_open_invitation_is_refused(admin, owner):
    staff = signed_in(admin)
    answer = invite(staff, "/staff/people/invite/", email=owner.email.upper(), role="engineer")
    assert answer.status_code == 400
    assert f"{owner.email.upper().split('@')[0]}" in answer.content.decode()
    assert "already has a login here" in answer.content.decode()
    assert invite(staff, "/staff/people/invite/", email="new@agency.test", role="engineer").status_code == 302
    again = invite(staff, "/staff/people/invite/", email="NEW@agency.test", role="engineer")
    assert again.status_code == 400
    assert "already has an invitation waiting" in again.content.decode()
    assert Invitation.objects.count() == 1


@pytest.mark.parametrize("how", ["expired", "used", "revoked", "unknown"])
def test_an_unusable_link_gives_a_clear_page(admin, how):
    invitation, token = invitations.invite("gone@agency.test", Role.ENGINEER, None, actor=admin)
    path = f"/invite/{token}/"
    expected = {
        "expired": "It expired on",
        "used": "It was already used",
        "revoked": "It was withdrawn",
        "unknown": "It is not a link we sent",
    }[how]
    if how == "expired":
        invitation.expires_at = timezone.now() - dt.timedelta(minutes=1)
        invitation.save()
    elif how == "used":
        assert accept(path, "gone").status_code == 302
    elif how == "revoked":
        invitations.revoke(invitation, actor=admin)
    else:
        path = "/invite/not-a-token-we-sent/"
    for answer in (HttpClient().get(path), accept(path, "someone-else")):
        assert answer.status_code == 410
        assert "This invitation link no longer works" in answer.content.decode()
        assert expected in answer.content.decode()
    assert not User.objects.filter(username="someone-else").exists()


def test_a_link_expires_after_seven_days(admin):
    start = timezone.now()
    _, token = invitations.invite("late@agency.test", Role.ENGINEER, None, actor=admin)
    with time_machine.travel(start + dt.timedelta(days=7, seconds=1)):
        assert HttpClient().get(f"/invite/{token}/").status_code == 410
    with time_machine.travel(start + dt.timedelta(days=6, hours=23)):
        assert HttpClient().get(f"/invite/{token}/").status_code == 200


def test_resend_makes_a_new_link_and_the_old_one_stops(admin):
    staff = signed_in(admin)
    invite(staff, "/staff/people/invite/", email="fay@agency.test", role="account_manager")
    old = mailed_link("fay@agency.test")
    invitation = Invitation.objects.get()
    assert staff.post(f"/staff/people/invitations/{invitation.pk}/resend/").status_code == 302
    new = mailed_link("fay@agency.test")
    assert new != old
    invitation.refresh_from_db()
    assert invitation.send_count == 2
    assert HttpClient().get(old).status_code == 410
    assert accept(new, "fay").status_code == 302
    assert User.objects.get(username="fay").role == Role.ACCOUNT_MANAGER
    again = staff.post(f"/staff/people/invitations/{invitation.pk}/resend/", follow=True)
    assert "was accepted: it cannot be re-sent" in again.content.decode()


def test_revoke_stops_the_link_and_is_audited(admin):
    staff = signed_in(admin)
    invite(staff, "/staff/people/invite/", email="gil@agency.test", role="engineer")
    path = mailed_link("gil@agency.test")
    invitation = Invitation.objects.get()
    page = staff.post(f"/staff/people/invitations/{invitation.pk}/revoke/", follow=True)
    assert "revoked: its link no longer works" in page.content.decode()
    assert HttpClient().get(path).status_code == 410
    entries = AuditEntry.objects.filter(model="access.Invitation", object_pk=str(invitation.pk))
    assert [entry.action for entry in entries.order_by("id")] == ["create", "update"]
    assert entries.order_by("id").last().after["revoked_at"]
    assert all(entry.actor == admin for entry in entries)
    assert "digest" not in (entries.first().after or {}), "the log never keeps the token's digest"


def test_the_accept_form_checks_the_password_and_the_username(admin, engineer):
    _, token = invitations.invite("hal@agency.test", Role.ENGINEER, None, actor=admin)
    path = f"/invite/{token}/"
    short = accept(path, "hal", password="short")
    assert short.status_code == 400
    assert "This password is too short" in short.content.decode()
    differ = HttpClient().post(
        path, {"username": "hal", "password1": NEW_PASSWORD, "password2": "other-one-1"}
    )
    assert differ.status_code == 400
    assert "The two passwords differ." in differ.content.decode()
    taken = accept(path, "Engineer")
    assert taken.status_code == 400
    assert "The username &#x27;Engineer&#x27; is taken" in taken.content.decode()
    bad = accept(path, "hal with spaces")
    assert bad.status_code == 400
    assert "letters, digits and @ . + - _ only" in bad.content.decode()
    assert not User.objects.filter(email="hal@agency.test").exists()
    assert accept(path, "hal").status_code == 302


def test_accepting_is_audited_as_the_new_person(admin):
    _, token = invitations.invite("ida@agency.test", Role.ENGINEER, None, actor=admin)
    accept(f"/invite/{token}/", "ida")
    ida = User.objects.get(username="ida")
    entry = AuditEntry.objects.get(model="access.User", object_pk=str(ida.pk), action="create")
    assert entry.actor == ida
    assert entry.after["role"] == Role.ENGINEER
    assert "password" not in entry.after


def test_a_signed_in_person_is_asked_to_log_out_first(admin, engineer):
    _, token = invitations.invite("jo@agency.test", Role.ENGINEER, None, actor=admin)
    page = signed_in(engineer).get(f"/invite/{token}/")
    assert page.status_code == 200
    assert "You are logged in as engineer" in page.content.decode()
    assert signed_in(engineer).post(f"/invite/{token}/", {"username": "jo"}).status_code == 200
    assert not User.objects.filter(username="jo").exists()


# --- The client's product owner ----------------------------------------------------------------------


def test_a_client_owner_invites_a_colleague_of_their_own_client(owner, acme):
    portal = signed_in(owner)
    page = portal.get("/portal/people/")
    assert page.status_code == 200
    assert "People at Acme GmbH" in page.content.decode()
    assert "Engineer" not in page.content.decode(), "no agency role is offered"
    answer = invite(portal, "/portal/people/invite/", email="kim@acme.test", role="client_member")
    assert answer.status_code == 302
    assert answer["Location"] == "/portal/people/"
    invitation = Invitation.objects.get()
    assert (invitation.client, invitation.role, invitation.invited_by) == (acme, Role.CLIENT_MEMBER, owner)
    path = mailed_link("kim@acme.test")
    assert accept(path, "kim").status_code == 302
    assert User.objects.get(username="kim").client == acme
    assert "kim" in portal.get("/portal/people/").content.decode()


def test_a_client_owner_cannot_invite_for_another_client_or_an_agency_role(owner, globex):
    portal = signed_in(owner)
    other = invite(
        portal, "/portal/people/invite/", email="x@globex.test", role="client_member", client=globex.pk
    )
    assert other.status_code == 403
    slug = invite(
        portal, "/portal/people/invite/", email="x@globex.test", role="client_member", client="globex"
    )
    assert slug.status_code == 403
    agency = invite(portal, "/portal/people/invite/", email="x@agency.test", role="engineer")
    assert agency.status_code == 403
    admin_role = invite(portal, "/portal/people/invite/", email="x@agency.test", role="agency_admin")
    assert admin_role.status_code == 403
    with pytest.raises(invitations.PeopleError, match="You may not invite people as Engineer"):
        invitations.invite("y@agency.test", Role.ENGINEER, None, actor=owner)
    with pytest.raises(invitations.PeopleError, match="your own organisation only"):
        invitations.invite("y@globex.test", Role.CLIENT_MEMBER, globex, actor=owner)
    assert not Invitation.objects.exists()


def test_members_and_agency_staff_do_not_manage_portal_people(member, engineer, admin, owner):
    assert signed_in(member).get("/portal/people/").status_code == 403
    assert signed_in(member).post("/portal/people/invite/", {"email": "z@acme.test"}).status_code == 403
    assert signed_in(engineer).get("/staff/people/").status_code == 403
    assert signed_in(owner).get("/staff/people/").status_code == 403
    assert signed_in(admin).get("/portal/people/").status_code == 403


def test_a_client_owner_deactivates_only_their_own_colleagues(owner, member, outsider, engineer):
    portal = signed_in(owner)
    assert portal.post(f"/portal/people/{outsider.pk}/deactivate/").status_code == 404
    assert portal.post(f"/portal/people/{engineer.pk}/deactivate/").status_code == 404
    self_answer = portal.post(f"/portal/people/{owner.pk}/deactivate/", follow=True)
    assert "You cannot deactivate or reactivate your own login." in self_answer.content.decode()
    assert portal.post(f"/portal/people/{member.pk}/deactivate/").status_code == 302
    member.refresh_from_db()
    owner.refresh_from_db()
    outsider.refresh_from_db()
    assert (member.is_active, owner.is_active, outsider.is_active) == (False, True, True)
    assert portal.post(f"/portal/people/{member.pk}/reactivate/").status_code == 302
    member.refresh_from_db()
    assert member.is_active


def test_a_client_owner_sees_and_revokes_only_their_own_invitations(owner, outsider, globex):
    _, _ = invitations.invite("lee@globex.test", Role.CLIENT_MEMBER, globex, actor=outsider)
    theirs = Invitation.objects.get()
    portal = signed_in(owner)
    assert "lee@globex.test" not in portal.get("/portal/people/").content.decode()
    assert portal.post(f"/portal/people/invitations/{theirs.pk}/revoke/").status_code == 404
    assert portal.post(f"/portal/people/invitations/{theirs.pk}/resend/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
    assert theirs.send_count == 1


# --- Deactivation -------------------------------------------------------------------------------------


def test_deactivation_ends_the_session_and_the_api_token_audited(admin, engineer):
    session = HttpClient()
    session.force_login(engineer)
    assert session.get("/staff/").status_code == 200
    _, key = ApiToken.issue(engineer, "laptop")
    api = HttpClient(headers={"authorization": f"Bearer {key}"})
    assert api.get("/api/v1/plans").status_code == 200

    page = signed_in(admin).post(f"/staff/people/{engineer.pk}/deactivate/", follow=True)
    assert "is deactivated: signed out everywhere" in page.content.decode()
    engineer.refresh_from_db()
    assert not engineer.is_active
    after = session.get("/staff/")
    assert after.status_code == 302
    assert after["Location"].startswith("/login/")
    assert api.get("/api/v1/plans").status_code == 401
    refused = HttpClient().post("/login/", {"username": "engineer", "password": PASSWORD})
    assert refused.status_code == 200
    assert "_auth_user_id" not in refused.client.session
    entry = AuditEntry.objects.filter(model="access.User", object_pk=str(engineer.pk)).latest("id")
    assert (entry.actor, entry.before, entry.after["is_active"]) == (admin, {"is_active": True}, False)
    assert entry.after["sessions_ended"] == 1

    signed_in(admin).post(f"/staff/people/{engineer.pk}/reactivate/")
    engineer.refresh_from_db()
    assert engineer.is_active
    assert api.get("/api/v1/plans").status_code == 200
    entry = AuditEntry.objects.filter(model="access.User", object_pk=str(engineer.pk)).latest("id")
    assert (entry.before, entry.after) == ({"is_active": False}, {"is_active": True})


def test_no_one_deactivates_themselves_nor_the_last_agency_admin(admin):
    page = signed_in(admin).post(f"/staff/people/{admin.pk}/deactivate/", follow=True)
    assert "You cannot deactivate or reactivate your own login." in page.content.decode()
    admin.refresh_from_db()
    assert admin.is_active
    with pytest.raises(invitations.PeopleError, match="the last active agency admin"):
        invitations.deactivate(admin, actor=None, label="cli:test")
    second = User.objects.create(username="admin2", role=Role.AGENCY_ADMIN)
    invitations.deactivate(admin, actor=second)
    admin.refresh_from_db()
    assert not admin.is_active
    with pytest.raises(invitations.PeopleError, match="the last active agency admin"):
        invitations.deactivate(second, actor=None, label="cli:test")


def test_the_staff_page_lists_everyone_with_filters_and_open_invitations(admin, engineer, owner, outsider):
    staff = signed_in(admin)
    invitations.invite("mo@acme.test", Role.CLIENT_MEMBER, owner.client, actor=admin)
    body = staff.get("/staff/people/").content.decode()
    for text in ("engineer", "owner", "outsider", "mo@acme.test", "Acme GmbH", "Globex Inc", "(you)"):
        assert text in body
    agency = staff.get("/staff/people/?who=agency").content.decode()
    assert "engineer@people.test" in agency
    assert "owner@people.test" not in agency
    acme = staff.get("/staff/people/?who=acme").content.decode()
    assert "owner@people.test" in acme
    assert "outsider@people.test" not in acme
    invitations.deactivate(engineer, actor=admin)
    off = staff.get("/staff/people/?state=deactivated").content.decode()
    assert "engineer@people.test" in off
    assert "owner@people.test" not in off
    empty = staff.get("/staff/people/?who=agency&state=deactivated&who=nobody").content.decode()
    assert "Nobody matches these filters." in empty


def test_a_client_that_requires_a_second_factor_sends_the_new_person_to_enrol(admin, acme):
    acme.require_second_factor = True
    acme.save()
    _, token = invitations.invite("nia@acme.test", Role.CLIENT_MEMBER, acme, actor=admin)
    page = HttpClient().get(f"/invite/{token}/")
    assert "set up a second factor" in page.content.decode()
    accept(f"/invite/{token}/", "nia")
    browser = HttpClient()
    assert browser.post("/login/", {"username": "nia", "password": NEW_PASSWORD}).status_code == 302
    portal = browser.get("/portal/")
    assert portal.status_code == 302
    assert portal["Location"].startswith("/account/two-factor/enrol/")


def test_an_expired_invitation_is_not_re_sent_beside_a_newer_one(admin):
    old, _ = invitations.invite("oz@agency.test", Role.ENGINEER, None, actor=admin)
    old.expires_at = timezone.now() - dt.timedelta(days=1)
    old.save()
    invitations.invite("oz@agency.test", Role.ENGINEER, None, actor=admin)
    page = signed_in(admin).post(f"/staff/people/invitations/{old.pk}/resend/", follow=True)
    assert "has a newer invitation waiting: re-send that one." in page.content.decode()
    old.refresh_from_db()
    assert old.send_count == 1
