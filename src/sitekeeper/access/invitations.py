"""Inviting people by e-mail, and deactivating them: who may, and the changes themselves (all audited).

An agency admin invites anyone — agency staff (agency admin, engineer, account manager) and the people of any
client; a client's product owner (client_owner) invites colleagues of their own client only, as client owner
or client member. The invitation holds the SHA-256 of a random token; the link carrying the token is mailed
once (by the caller, through the notify seam: sitekeeper.notify.invitations) and works for INVITATION_DAYS,
once, unless revoked. Re-sending issues a new token and a new expiry: the old link stops working.

The invitee chooses their own username (login is by username here, as for every account) and password;
the account is made with the invitation's role and client. An address that already has an account cannot be
invited (the person already has a login; an admin reactivates it instead), nor one with an invitation still
open (re-send or revoke that one).

Deactivating sets `is_active=False` — the password, the API tokens (ApiToken.find) and the session all stop
working, and the person's sessions are deleted at once. Nobody deactivates themselves, and the last active
agency admin stays (someone must be able to come back in).

The rules return a sentence naming what is wrong (PeopleError); the pages show it, the CLI prints it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from typing import Any

from django.contrib.auth import SESSION_KEY
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from sitekeeper.access.audit import acting_as, record, snapshot
from sitekeeper.access.models import AGENCY_ROLES, CLIENT_ROLES, Invitation, Role, User
from sitekeeper.contracts.models import Client

INVITATION_DAYS = 7
TOKEN_BYTES = 32


class PeopleError(ValueError):
    """A request about people that the rules refuse; the message names what is wrong, for a person."""


class State:
    PENDING = "pending"
    ACCEPTED = "accepted"
    REVOKED = "revoked"
    EXPIRED = "expired"


STATE_LABELS = {
    State.PENDING: "Waiting for the person to accept",
    State.ACCEPTED: "Accepted",
    State.REVOKED: "Revoked",
    State.EXPIRED: "Expired",
}


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def state(invitation: Invitation, now: dt.datetime | None = None) -> str:
    if invitation.accepted_at is not None:
        return State.ACCEPTED
    if invitation.revoked_at is not None:
        return State.REVOKED
    if invitation.expires_at <= (now or timezone.now()):
        return State.EXPIRED
    return State.PENDING


def pending(invitations: Any = None) -> Any:
    """The invitations still open (not accepted, not revoked, not expired), newest first."""
    queryset = Invitation.objects.all() if invitations is None else invitations
    return queryset.filter(accepted_at=None, revoked_at=None, expires_at__gt=timezone.now())


# --- Who may do what -------------------------------------------------------------------------------------


def roles_grantable_by(actor: User | None) -> list[str]:
    """The roles this person may invite to (None: the command line, which may grant every role)."""
    if actor is None or actor.role == Role.AGENCY_ADMIN:
        return list(Role.values)
    if actor.role == Role.CLIENT_OWNER:
        return [Role.CLIENT_OWNER, Role.CLIENT_MEMBER]
    return []


def check_invite(actor: User | None, role: str, client: Client | None) -> None:
    """Refuse a role or client this person may not grant; refuse a role that does not fit the client."""
    if role not in Role.values:
        raise PeopleError(f"Unknown role {role!r}: choose one of {', '.join(Role.labels)}.")
    if role not in roles_grantable_by(actor):
        raise PeopleError(f"You may not invite people as {Role(role).label}.")
    if role in AGENCY_ROLES and client is not None:
        raise PeopleError(f"{Role(role).label} is an agency role: it belongs to no client.")
    if role in CLIENT_ROLES and client is None:
        raise PeopleError(f"{Role(role).label} is a client role: choose the client.")
    if (
        actor is not None
        and actor.role == Role.CLIENT_OWNER
        and (client is None or client.pk != actor.client_id)
    ):
        raise PeopleError("You may invite colleagues of your own organisation only.")


def check_manage(actor: User | None, target: User) -> None:
    """Whether `actor` may deactivate or reactivate `target` (None: the command line)."""
    if actor is not None:
        if actor.pk == target.pk:
            raise PeopleError("You cannot deactivate or reactivate your own login.")
        if actor.role == Role.AGENCY_ADMIN:
            return
        if actor.role != Role.CLIENT_OWNER or target.client_id != actor.client_id or target.is_agency:
            raise PeopleError("You may manage the people of your own organisation only.")


def check_invitation_scope(actor: User | None, invitation: Invitation) -> None:
    """Whether `actor` may see, revoke or re-send this invitation."""
    if actor is None or actor.role == Role.AGENCY_ADMIN:
        return
    if actor.role != Role.CLIENT_OWNER or invitation.client_id != actor.client_id:
        raise PeopleError("You may manage the invitations of your own organisation only.")


# --- Inviting --------------------------------------------------------------------------------------------


def normalise_email(email: str) -> str:
    email = User.objects.normalize_email((email or "").strip())
    try:
        validate_email(email)
    except ValidationError as exc:
        raise PeopleError(f"{email or '(empty)'!r} is not an e-mail address.") from exc
    return email


def _new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def _invitation_fields(invitation: Invitation) -> dict[str, Any]:
    # What the log keeps of an invitation: never the token's digest (it is as good as a key to look for).
    return {
        "email": invitation.email,
        "role": invitation.role,
        "client_id": invitation.client_id,
        "expires_at": invitation.expires_at.isoformat(),
        "send_count": invitation.send_count,
    }


def invite(
    email: str,
    role: str,
    client: Client | None,
    *,
    actor: User | None,
    label: str | None = None,
) -> tuple[Invitation, str]:
    """Record an invitation and return it with the token for its link (to be mailed, never stored)."""
    email = normalise_email(email)
    check_invite(actor, role, client)
    token = _new_token()
    now = timezone.now()
    with transaction.atomic(), acting_as(actor, label=label):
        if User.objects.filter(email__iexact=email).exists():
            raise PeopleError(
                f"{email} already has a login here. Reactivate it, or invite a different address."
            )
        if pending(Invitation.objects.filter(email__iexact=email)).exists():
            raise PeopleError(f"{email} already has an invitation waiting: re-send or revoke that one.")
        invitation = Invitation.objects.create(
            email=email,
            role=role,
            client=client,
            invited_by=actor,
            invited_by_label=(getattr(actor, "username", None) or label or "")[:150],
            digest=digest(token),
            sent_at=now,
            expires_at=now + dt.timedelta(days=INVITATION_DAYS),
        )
        record(invitation, "create", after=_invitation_fields(invitation))
    return invitation, token


def resend(invitation: Invitation, *, actor: User | None, label: str | None = None) -> str:
    """A new token and a new expiry for an invitation not yet accepted or revoked; the old link stops."""
    check_invitation_scope(actor, invitation)
    token = _new_token()
    now = timezone.now()
    with transaction.atomic(), acting_as(actor, label=label):
        locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
        current = state(locked, now)
        if current in {State.ACCEPTED, State.REVOKED}:
            raise PeopleError(f"The invitation to {locked.email} was {current}: it cannot be re-sent.")
        if User.objects.filter(email__iexact=locked.email).exists():
            raise PeopleError(f"{locked.email} has a login here now: there is nothing to re-send.")
        newer = pending(Invitation.objects.filter(email__iexact=locked.email).exclude(pk=locked.pk))
        if newer.exists():
            raise PeopleError(f"{locked.email} has a newer invitation waiting: re-send that one.")
        before = _invitation_fields(locked)
        locked.digest = digest(token)
        locked.sent_at = now
        locked.send_count += 1
        locked.expires_at = now + dt.timedelta(days=INVITATION_DAYS)
        locked.save(update_fields=["digest", "sent_at", "send_count", "expires_at"])
        record(locked, "update", before=before, after=_invitation_fields(locked))
    invitation.refresh_from_db()
    return token


def revoke(invitation: Invitation, *, actor: User | None, label: str | None = None) -> None:
    """The link stops working at once; the invitation stays listed as revoked."""
    check_invitation_scope(actor, invitation)
    with transaction.atomic(), acting_as(actor, label=label):
        locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
        current = state(locked)
        if current in {State.ACCEPTED, State.REVOKED}:
            raise PeopleError(f"The invitation to {locked.email} was already {current}.")
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["revoked_at"])
        record(
            locked, "update", before={"revoked_at": None}, after={"revoked_at": locked.revoked_at.isoformat()}
        )
    invitation.refresh_from_db()


# --- Accepting -------------------------------------------------------------------------------------------


def find(token: str) -> Invitation | None:
    """The invitation a link's token names (whatever its state), or None."""
    if not token or len(token) > 100:
        return None
    return Invitation.objects.select_related("client").filter(digest=digest(token)).first()


_USERNAME_CHARS = re.compile(r"[^\w.@+-]")


def suggested_username(email: str) -> str:
    """The address's local part, in the characters a username allows, if no one has it yet."""
    base = _USERNAME_CHARS.sub("", email.partition("@")[0].lower())[:150]
    if not base:
        return ""
    candidate, number = base, 2
    while User.objects.filter(username__iexact=candidate).exists():
        candidate, number = f"{base[:140]}{number}", number + 1
    return candidate


def check_username(username: str) -> str:
    username = (username or "").strip()
    if not username:
        raise PeopleError("Choose a username.")
    if len(username) > 150:
        raise PeopleError("A username is at most 150 characters.")
    try:
        UnicodeUsernameValidator()(username)
    except ValidationError as exc:
        raise PeopleError("A username has letters, digits and @ . + - _ only.") from exc
    if User.objects.filter(username__iexact=username).exists():
        raise PeopleError(f"The username {username!r} is taken: choose another.")
    return username


def accept(token: str, *, username: str, password: str, first_name: str = "", last_name: str = "") -> User:
    """Make the invited person's account (the password already checked by the password validators) and
    close the invitation, all at once. Audited as the new person's own change."""
    with transaction.atomic():
        found = find(token)
        invitation = Invitation.objects.select_for_update().get(pk=found.pk) if found else None
        if invitation is None or state(invitation) != State.PENDING:
            raise PeopleError("This invitation link no longer works.")
        if User.objects.filter(email__iexact=invitation.email).exists():
            raise PeopleError(f"{invitation.email} already has a login here: log in with it instead.")
        username = check_username(username)
        user = User(
            username=username,
            email=invitation.email,
            role=invitation.role,
            client=invitation.client,
            first_name=first_name.strip()[:150],
            last_name=last_name.strip()[:150],
        )
        user.set_password(password)
        user.save()
        invitation.accepted_at = timezone.now()
        invitation.accepted_user = user
        invitation.save(update_fields=["accepted_at", "accepted_user"])
        with acting_as(user):
            record(user, "create", after={**snapshot(user), "invitation": invitation.pk})
            record(
                invitation,
                "update",
                before={"accepted_at": None},
                after={"accepted_at": invitation.accepted_at.isoformat(), "accepted_user_id": user.pk},
            )
    return user


# --- Deactivating ----------------------------------------------------------------------------------------


def end_sessions(user: User) -> int:
    """Delete every session signed in as this person; how many. (The database session store: each one is
    decoded, which is fine for the few thousand live sessions an agency has.)"""
    ended = [
        session.pk
        for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator()
        if str(session.get_decoded().get(SESSION_KEY)) == str(user.pk)
    ]
    Session.objects.filter(pk__in=ended).delete()
    return len(ended)


def deactivate(target: User, *, actor: User | None, label: str | None = None) -> int:
    """The person can no longer log in, their sessions end and their API tokens stop; how many sessions."""
    check_manage(actor, target)
    with transaction.atomic(), acting_as(actor, label=label):
        if target.role == Role.AGENCY_ADMIN:
            # Two admins deactivating each other at once: both lock every admin row in one order, so the
            # second waits for the first and then sees it was the last one (no deadlock, no admin-less site).
            admins = User.objects.select_for_update().filter(role=Role.AGENCY_ADMIN).order_by("pk")
            list(admins.values_list("pk", flat=True))
        locked = User.objects.select_for_update().get(pk=target.pk)
        if not locked.is_active:
            raise PeopleError(f"{locked.username} is already deactivated.")
        if locked.role == Role.AGENCY_ADMIN:
            others = User.objects.filter(role=Role.AGENCY_ADMIN, is_active=True)
            if not others.exclude(pk=locked.pk).exists():
                raise PeopleError(f"{locked.username} is the last active agency admin: they stay active.")
        locked.is_active = False
        locked.save(update_fields=["is_active"])
        ended = end_sessions(locked)
        record(
            locked, "update", before={"is_active": True}, after={"is_active": False, "sessions_ended": ended}
        )
    target.refresh_from_db()
    return ended


def reactivate(target: User, *, actor: User | None, label: str | None = None) -> None:
    check_manage(actor, target)
    with transaction.atomic(), acting_as(actor, label=label):
        locked = User.objects.select_for_update().get(pk=target.pk)
        if locked.is_active:
            raise PeopleError(f"{locked.username} is already active.")
        locked.is_active = True
        locked.save(update_fields=["is_active"])
        record(locked, "update", before={"is_active": False}, after={"is_active": True})
    target.refresh_from_db()
