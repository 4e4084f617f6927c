"""`sitekeeper user add|invite|list|locked|unlock|deactivate|reactivate`: logins from the command line (the
first agency admin, client people), invitations and lockouts.

    sitekeeper user add alice --role agency_admin --email alice@agency.example
    sitekeeper user invite carol@agency.example --role engineer
    sitekeeper user invite dan@acme.example --role client_member --client acme
    sitekeeper user deactivate bob | sitekeeper user reactivate bob
    sitekeeper user add bob --role client_owner --client acme --email bob@acme.example --password-stdin
    sitekeeper user list [--client acme]
    sitekeeper user locked
    sitekeeper user unlock alice | sitekeeper user unlock --address 203.0.113.7

Agency roles (agency_admin, engineer, account_manager) belong to no client; client roles (client_owner,
client_member) to exactly one. The password is asked for twice on a terminal, or read from stdin with
--password-stdin (never from the command line, where other users of the machine could read it), and checked
with the password validators. The creation is in the audit log, attributed to the operating-system user.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.db import transaction

from sitekeeper.access import invitations, lockout
from sitekeeper.access.audit import acting_as, record, snapshot
from sitekeeper.access.models import AGENCY_ROLES, CLIENT_ROLES, Role, User
from sitekeeper.contracts.models import Client
from sitekeeper.notify.invitations import send_invitation


class Command(BaseCommand):
    help = "Create and list logins (agency staff and client people)."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        actions = parser.add_subparsers(
            dest="action", required=True, metavar="{add,invite,list,locked,unlock,deactivate,reactivate}"
        )
        add = actions.add_parser("add", help="Create a login.")
        add.add_argument("username")
        add.add_argument("--role", required=True, help=", ".join(Role.values))
        add.add_argument("--client", metavar="SLUG", help="The client (client roles only).")
        add.add_argument("--email", default="")
        add.add_argument("--name", default="", help="Full name, e.g. 'Alice Example'.")
        add.add_argument("--password-stdin", action="store_true", help="Read the password from stdin.")
        invite = actions.add_parser("invite", help="Invite a person by e-mail; they choose their password.")
        invite.add_argument("email")
        invite.add_argument("--role", required=True, help=", ".join(Role.values))
        invite.add_argument("--client", metavar="SLUG", help="The client (client roles only).")
        for name, text in (("deactivate", "End a login: sessions and API tokens stop."), ("reactivate", "")):
            sub = actions.add_parser(name, help=text or "Let a deactivated login in again.")
            sub.add_argument("username")
        listing = actions.add_parser("list", help="List logins.")
        listing.add_argument("--client", metavar="SLUG")
        actions.add_parser("locked", help="List the login and API lockouts in force.")
        unlock = actions.add_parser("unlock", help="End the lockout of an account or an address.")
        unlock.add_argument("username", nargs="?", default="")
        unlock.add_argument("--address", default="", metavar="IP", help="Unlock an address instead.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "list":
            self.list_users(options.get("client"))
            return
        if options["action"] == "locked":
            self.list_lockouts()
            return
        if options["action"] == "unlock":
            self.unlock(options["username"].strip(), options["address"].strip())
            return
        if options["action"] == "invite":
            self.invite(options["email"], options["role"], options.get("client"))
            return
        if options["action"] in {"deactivate", "reactivate"}:
            self.set_active(options["username"].strip(), options["action"] == "reactivate")
            return
        user = self.add(options)
        where = f" at {user.client.name}" if user.client else ""
        self.stdout.write(f"created {user.username}: {user.get_role_display()}{where}")

    def add(self, options: dict[str, Any]) -> User:
        username = options["username"].strip()
        role, client = check_role(options["role"], options.get("client"))
        if not username:
            raise CommandError("the username is empty")
        if User.objects.filter(username=username).exists():
            raise CommandError(f"username {username!r} is taken")
        email = options["email"].strip()
        if email:
            try:
                validate_email(email)
            except ValidationError as exc:
                raise CommandError(f"--email {email!r}: not an e-mail address") from exc
        first, _, last = options["name"].strip().partition(" ")
        user = User(
            username=username, role=role, client=client, email=email, first_name=first, last_name=last
        )
        password = read_password(options["password_stdin"])
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise CommandError("password refused: " + " ".join(exc.messages)) from exc
        user.set_password(password)
        with transaction.atomic(), acting_as(label=f"cli:{getpass.getuser()}"):
            user.save()
            record(user, "create", after=snapshot(user))
        return user

    def invite(self, email: str, role: str, slug: str | None) -> None:
        role, client = check_role(role, slug)
        label = f"cli:{getpass.getuser()}"
        try:
            with transaction.atomic():
                invitation, token = invitations.invite(email, role, client, actor=None, label=label)
                send_invitation(invitation, token)
        except invitations.PeopleError as exc:
            raise CommandError(str(exc)) from exc
        where = f" at {client.name}" if client else ""
        expires = f"{invitation.expires_at:%Y-%m-%d %H:%M} UTC"
        self.stdout.write(
            f"invited {invitation.email}: {invitation.get_role_display()}{where}; "
            f"the link is mailed and works once, until {expires}"
        )

    def set_active(self, username: str, active: bool) -> None:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no login is called {username!r}")
        label = f"cli:{getpass.getuser()}"
        try:
            if active:
                invitations.reactivate(user, actor=None, label=label)
                self.stdout.write(f"reactivated {username}")
            else:
                ended = invitations.deactivate(user, actor=None, label=label)
                self.stdout.write(
                    f"deactivated {username} ({ended} session{'s' if ended != 1 else ''} ended)"
                )
        except invitations.PeopleError as exc:
            raise CommandError(str(exc)) from exc

    def list_users(self, slug: str | None) -> None:
        users = User.objects.select_related("client").order_by("client__name", "username")
        if slug:
            users = users.filter(client=find_client(slug))
        for user in users:
            where = user.client.slug if user.client else "agency"
            state = "" if user.is_active else "  (inactive)"
            self.stdout.write(f"{user.username:<24} {user.role:<16} {where}{state}")

    def list_lockouts(self) -> None:
        locks = lockout.current_lockouts()
        if not locks:
            self.stdout.write("nobody is locked out")
            return
        for lock in locks:
            ends = f"{lock.ends_at:%Y-%m-%d %H:%M} UTC"
            self.stdout.write(f"{lock.kind:<8} {lock.value:<40} {lock.failures:>4} failures  until {ends}")

    def unlock(self, username: str, address: str) -> None:
        if bool(username) == bool(address):
            raise CommandError("give a username or --address IP (one of them)")
        try:
            cleared = lockout.unlock(username=username, address=address, label=f"cli:{getpass.getuser()}")
        except lockout.UnlockError as exc:
            raise CommandError(str(exc)) from exc
        what = f"account {username}" if username else f"address {address}"
        self.stdout.write(f"unlocked {what} ({cleared} failures cleared)")


def find_client(slug: str) -> Client:
    client = Client.objects.filter(slug=slug).first()
    if client is None:
        raise CommandError(f"--client {slug!r}: no client has that slug")
    return client


def check_role(role: str, slug: str | None) -> tuple[str, Client | None]:
    """The role must exist and fit the client: agency roles have none, client roles need one."""
    if role not in Role.values:
        raise CommandError(f"--role {role!r}: unknown role (one of {', '.join(Role.values)})")
    if role in AGENCY_ROLES:
        if slug:
            raise CommandError(f"--role {role}: an agency role belongs to no client; leave out --client")
        return role, None
    assert role in CLIENT_ROLES  # noqa: S101 — every role is one or the other
    if not slug:
        raise CommandError(f"--role {role}: a client role needs --client SLUG")
    return role, find_client(slug)


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
        if not password:
            raise CommandError("--password-stdin: nothing was read from stdin")
        return password
    if not sys.stdin.isatty():
        raise CommandError("no terminal to ask for the password: give it on stdin with --password-stdin")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password (again): "):
        raise CommandError("the two passwords differ")
    return first
