"""The invitation e-mail (access/invitations.py records the invitation; this sends its link).

Through the one seam, like the password-reset mail: to the invited address only, as a one-time message
(the link opens an account, so its text is blanked in the delivery record once sent). Each sending has its
own key, so a re-sent invitation is a new delivery while a repeated call for the same sending sends nothing.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from sitekeeper.access.invitations import INVITATION_DAYS
from sitekeeper.access.models import Invitation, Role
from sitekeeper.notify.message import Message, Recipient
from sitekeeper.notify.seam import notify

EVENT = "account.invitation"


def link(token: str) -> str:
    return settings.SITEKEEPER_BASE_URL + reverse("invitation_accept", args=[token])


def message(invitation: Invitation, token: str) -> Message:
    inviter = invitation.invited_by
    who = (inviter.get_full_name() or inviter.username) if inviter else "The agency"
    if invitation.client is not None:
        what = f"the sitekeeper portal of {invitation.client.name}, as {invitation.get_role_display()}"
        owner = invitation.role == Role.CLIENT_OWNER
        can = "There you see how your sites are doing, make requests to the agency and follow them" + (
            ", and invite your colleagues." if owner else "."
        )
    else:
        what = f"the agency's sitekeeper console, as {invitation.get_role_display()}"
        can = "You will set up a second factor (an authenticator app) when you first log in."
    text = (
        "Hello,\n\n"
        f"{who} invites you to {what}.\n"
        f"{can}\n\n"
        f"To accept, open this link within {INVITATION_DAYS} days, choose a username and a password; "
        "it works once:\n\n"
        f"{link(token)}\n\n"
        "If you did not expect this, ignore this message: nothing is made until the link is used.\n"
    )
    return Message(
        subject="You are invited to sitekeeper",
        text=text,
        event=EVENT,
        data={"invitation": invitation.pk},
        one_time=True,
    )


def send_invitation(invitation: Invitation, token: str) -> None:
    """Record the invitation e-mail for the queue to send (after the caller's transaction commits)."""
    recipient = Recipient(kind="email", target=invitation.email)
    notify([recipient], message(invitation, token), key=f"invitation:{invitation.pk}:{invitation.send_count}")
