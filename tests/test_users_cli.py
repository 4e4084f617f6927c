"""The first agency login: `createsuperuser` makes an agency admin; `sitekeeper user add` any login."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client as HttpClient

from sitekeeper.access.models import AuditEntry, Role, User

SITEKEEPER = Path(sys.executable).with_name("sitekeeper")
GOOD_PASSWORD = "a-long-and-unusual-passphrase"
CONTRACT_FILE = """\
calendars:
  hq:
    timezone: Europe/Berlin
    hours: {mon: ["09:00-17:00"], tue: ["09:00-17:00"], wed: ["09:00-17:00"]}
clients:
  - slug: acme
    name: Acme
    contacts:
      - {name: Ann Owner, email: ann@acme.example, role: product_owner}
    contract: {plan: starter, start: 2026-01-01, monthly_fee: "99.00", currency: EUR, calendar: hq}
    sites:
      - {url: "https://acme.example", platform: wordpress}
"""


def add(*args: str, password: str = GOOD_PASSWORD) -> str:
    out = StringIO()
    stdin = sys.stdin
    sys.stdin = StringIO(password + "\n")
    try:
        call_command("user", "add", *args, "--password-stdin", stdout=out)
    finally:
        sys.stdin = stdin
    return out.getvalue()


@pytest.mark.django_db
def test_createsuperuser_makes_an_agency_admin(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", GOOD_PASSWORD)
    call_command("createsuperuser", "--noinput", "--username", "boss", "--email", "boss@agency.example")
    boss = User.objects.get(username="boss")
    assert (boss.role, boss.client, boss.is_agency) == (Role.AGENCY_ADMIN, None, True)
    assert (boss.is_superuser, boss.is_staff) == (True, True)
    assert boss.check_password(GOOD_PASSWORD)


@pytest.mark.django_db
def test_user_add_agency_and_client_roles(acme):
    assert add("eve", "--role", "engineer", "--email", "eve@agency.example", "--name", "Eve Engineer") == (
        "created eve: Engineer\n"
    )
    out = add("carl", "--role", "client_member", "--client", "acme")
    assert out == f"created carl: Client member at {acme.name}\n"
    eve, carl = User.objects.get(username="eve"), User.objects.get(username="carl")
    assert (eve.role, eve.client, eve.get_full_name()) == (Role.ENGINEER, None, "Eve Engineer")
    assert (carl.role, carl.client) == (Role.CLIENT_MEMBER, acme)
    assert carl.check_password(GOOD_PASSWORD)
    created = AuditEntry.objects.filter(model="access.User", action="create")
    assert sorted(created.values_list("object_repr", flat=True)) == ["carl", "eve"]
    assert all(entry.actor_label.startswith("cli:") for entry in created)
    assert "password" not in created.first().after


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("x", "--role", "wizard"), "--role 'wizard': unknown role"),
        (("x", "--role", "engineer", "--client", "acme"), "an agency role belongs to no client"),
        (("x", "--role", "client_owner"), "a client role needs --client SLUG"),
        (("x", "--role", "client_owner", "--client", "nobody"), "--client 'nobody': no client has that slug"),
        (("x", "--role", "engineer", "--email", "not-an-address"), "not an e-mail address"),
        (("admin", "--role", "engineer"), "username 'admin' is taken"),
    ],
)
def test_user_add_refuses_what_does_not_fit(acme, admin, args, message):
    with pytest.raises(CommandError, match=message):
        add(*args)
    assert not User.objects.filter(username="x").exists()


@pytest.mark.django_db
def test_user_add_refuses_a_weak_password_and_writes_nothing():
    with pytest.raises(CommandError, match="password refused"):
        add("weak", "--role", "engineer", password="123")
    assert not User.objects.filter(username="weak").exists()
    assert not AuditEntry.objects.filter(model="access.User").exists()


def test_readme_production_path_on_a_fresh_database(tmp_path):
    """migrate → apply → createsuperuser → user add, as the README says, on a fresh SQLite home."""
    env = {
        **os.environ,
        "SITEKEEPER_HOME": str(tmp_path / "home"),
        "DJANGO_SUPERUSER_PASSWORD": GOOD_PASSWORD,
    }
    env.pop("SITEKEEPER_DATABASE_URL", None)
    contract = tmp_path / "agency.yaml"
    contract.write_text(CONTRACT_FILE)

    def run(*args: str, stdin: str = "") -> str:
        done = subprocess.run(
            [str(SITEKEEPER), *args],
            check=False,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    run("migrate", "--no-input")
    run("apply", str(contract))
    run("createsuperuser", "--noinput", "--username", "boss", "--email", "boss@agency.example")
    run(
        "user",
        "add",
        "ann",
        "--role",
        "client_owner",
        "--client",
        "acme",
        "--password-stdin",
        stdin=GOOD_PASSWORD,
    )
    listing = run("user", "list").splitlines()
    assert [line.split() for line in listing] == [
        ["boss", "agency_admin", "agency"],
        ["ann", "client_owner", "acme"],
    ]


def run_user(*args: str) -> str:
    out = StringIO()
    call_command("user", *args, stdout=out)
    return out.getvalue()


def fail_logins(username: str, times: int, address: str = "203.0.113.7") -> None:
    client = HttpClient()
    for _ in range(times):
        client.post("/login/", {"username": username, "password": "wrong-password-42"}, REMOTE_ADDR=address)


@pytest.mark.django_db
def test_user_locked_and_unlock_an_account_audited(engineer, settings):
    settings.AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
    assert run_user("locked") == "nobody is locked out\n"
    fail_logins("engineer", 5)
    listing = run_user("locked").split()
    assert listing[:4] == ["account", "engineer", "5", "failures"]
    assert listing[-1] == "UTC"
    assert run_user("unlock", "engineer") == "unlocked account engineer (5 failures cleared)\n"
    assert run_user("locked") == "nobody is locked out\n"
    entry = AuditEntry.objects.get(model="access.User", object_repr="engineer")
    assert entry.actor_label.startswith("cli:")
    assert entry.after == {"locked": None, "failures": 0}


@pytest.mark.django_db
def test_user_unlock_an_address(settings):
    settings.AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
    for n in range(3):
        fail_logins(f"guess{n}", 1, address="198.51.100.3")
    assert (
        run_user("unlock", "--address", "198.51.100.3")
        == "unlocked address 198.51.100.3 (3 failures cleared)\n"
    )
    assert AuditEntry.objects.filter(model="axes.AccessAttempt", action="delete").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give a username or --address IP"),
        (("alice", "--address", "198.51.100.3"), "give a username or --address IP"),
        (("--address", "not-an-ip"), "'not-an-ip' is not an IP address"),
        (("nobody",), "no failed logins recorded for username 'nobody'; nothing to unlock"),
    ],
)
def test_user_unlock_refuses_what_does_not_fit(args, message):
    with pytest.raises(CommandError, match=message):
        run_user("unlock", *args)
    assert not AuditEntry.objects.exists()


# --- user invite / deactivate / reactivate (issue 15.4) -----------------------------------------------------


def run(*args: str) -> str:
    out = StringIO()
    call_command("user", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_user_invite_mails_a_link_that_makes_the_login(acme, settings):
    from django.core import mail

    from sitekeeper.access.models import Invitation
    from sitekeeper.notify import deliver_pending

    settings.SITEKEEPER_BASE_URL = "https://desk.agency.test"
    said = run("invite", "pia@acme.test", "--role", "client_owner", "--client", "acme")
    assert said.startswith("invited pia@acme.test: Client product owner at Acme GmbH; the link is mailed")
    invitation = Invitation.objects.get()
    assert (invitation.role, invitation.client, invitation.invited_by) == ("client_owner", acme, None)
    assert invitation.invited_by_label.startswith("cli:")
    entry = AuditEntry.objects.get(model="access.Invitation")
    assert entry.actor_label.startswith("cli:")
    assert entry.after["email"] == "pia@acme.test"
    assert deliver_pending() == 1
    (message,) = mail.outbox
    path = message.body.split("https://desk.agency.test", 1)[1].split()[0]
    form = {"username": "pia", "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD}
    answer = HttpClient().post(path, form)
    assert answer.status_code == 302
    assert User.objects.get(username="pia").role == Role.CLIENT_OWNER


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("x@agency.test", "--role", "boss"), "--role 'boss': unknown role"),
        (("x@agency.test", "--role", "engineer", "--client", "acme"), "an agency role belongs to no client"),
        (("x@acme.test", "--role", "client_member"), "a client role needs --client SLUG"),
        (("x@acme.test", "--role", "client_member", "--client", "nope"), "no client has that slug"),
        (("not-an-address", "--role", "engineer"), "is not an e-mail address"),
        (("engineer@people.test", "--role", "engineer"), "already has a login here"),
    ],
)
def test_user_invite_refuses_what_does_not_fit(acme, engineer, args, message):
    from sitekeeper.access.models import Invitation

    with pytest.raises(CommandError, match=message):
        run("invite", *args)
    assert not Invitation.objects.exists()


@pytest.mark.django_db
def test_user_deactivate_and_reactivate_audited_and_the_last_admin_stays(admin, engineer):
    assert run("deactivate", "engineer") == "deactivated engineer (0 sessions ended)\n"
    engineer.refresh_from_db()
    assert not engineer.is_active
    assert run("reactivate", "engineer") == "reactivated engineer\n"
    engineer.refresh_from_db()
    assert engineer.is_active
    entries = AuditEntry.objects.filter(model="access.User", object_pk=str(engineer.pk)).order_by("id")
    assert [entry.after for entry in entries] == [
        {"is_active": False, "sessions_ended": 0},
        {"is_active": True},
    ]
    assert all(entry.actor_label.startswith("cli:") for entry in entries)
    with pytest.raises(CommandError, match="the last active agency admin"):
        run("deactivate", "admin")
    with pytest.raises(CommandError, match="no login is called 'nobody'"):
        run("deactivate", "nobody")
