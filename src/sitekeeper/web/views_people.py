"""People and invitations (access/invitations.py decides; these pages ask and show).

/staff/people/ — the agency admin: everyone (agency staff and every client's people, filtered), the invitation
form for any role, the open invitations (re-send, revoke), deactivate and reactivate.
/portal/people/ — a client's product owner: the same for their own organisation only, client roles only.
/invite/<token>/ — public: the invited person chooses a username and password; then they log in (and set up
a second factor where their role or organisation requires one, access/twofactor.py).

Every change is audited by access/invitations.py; every invitation e-mail goes through the notify seam.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import password_validation
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from sitekeeper.access import invitations
from sitekeeper.access.invitations import PeopleError
from sitekeeper.access.models import AGENCY_ROLES, Invitation, Role, User
from sitekeeper.access.permissions import admin_required, client_owner_required
from sitekeeper.contracts.models import Client
from sitekeeper.notify.invitations import send_invitation

ROLE_HELP = {
    Role.AGENCY_ADMIN: "everything, including people, lockouts and Django admin",
    Role.ENGINEER: "the console: requests, sites, backups, security, updates",
    Role.ACCOUNT_MANAGER: "the console, plus the audit log and the contracts' money",
    Role.CLIENT_OWNER: "the portal, makes requests, approves updates and invites colleagues",
    Role.CLIENT_MEMBER: "the portal and makes requests",
}


@dataclass(frozen=True)
class Scope:
    """Whose people a page manages: everyone (agency admin) or one client's (its product owner)."""

    actor: User
    staff: bool
    people: QuerySet[User]
    invitations: QuerySet[Invitation]
    page: str  # the URL name of the people page

    @property
    def client(self) -> Client | None:
        return None if self.staff else self.actor.client


def _scope(request: HttpRequest) -> Scope:
    actor = request.user
    if actor.role == Role.AGENCY_ADMIN:
        return Scope(
            actor,
            True,
            User.objects.select_related("client"),
            Invitation.objects.select_related("client", "invited_by"),
            "staff_people",
        )
    if actor.role != Role.CLIENT_OWNER:
        raise PermissionDenied("Only an agency admin or your organisation's product owner manages people.")
    return Scope(
        actor,
        False,
        User.objects.select_related("client").filter(client_id=actor.client_id),
        Invitation.objects.select_related("client", "invited_by").filter(client_id=actor.client_id),
        "portal_people",
    )


class InviteForm(forms.Form):
    email = forms.EmailField(label="E-mail address", max_length=254)
    role = forms.ChoiceField(label="Role")
    client = forms.ModelChoiceField(
        queryset=Client.objects.order_by("name"),
        required=False,
        label="Client",
        empty_label="No client (agency staff)",
        help_text="For client roles only.",
    )

    def __init__(self, *args: Any, scope: Scope, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        roles = invitations.roles_grantable_by(scope.actor)
        self.fields["role"].choices = [(role, Role(role).label) for role in roles]
        self.fields["role"].initial = Role.CLIENT_MEMBER if not scope.staff else Role.ENGINEER
        if not scope.staff:
            del self.fields["client"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        role, client = data.get("role"), data.get("client")
        if "client" in self.fields and role:
            if role in AGENCY_ROLES and client is not None:
                self.add_error("client", f"{Role(role).label} is an agency role: leave the client empty.")
            elif role not in AGENCY_ROLES and client is None:
                self.add_error("client", f"{Role(role).label} is a client role: choose the client.")
        return data


def _people_rows(scope: Scope, people: QuerySet[User]) -> list[dict[str, Any]]:
    return [
        {
            "person": person,
            "is_self": person.pk == scope.actor.pk,
        }
        for person in people
    ]


def _invitation_rows(scope: Scope) -> list[dict[str, Any]]:
    open_ones = scope.invitations.filter(accepted_at=None, revoked_at=None).order_by("-sent_at")
    rows = []
    for invitation in open_ones:
        state = invitations.state(invitation)
        rows.append({"invitation": invitation, "expired": state == invitations.State.EXPIRED})
    return rows


def _filtered_people(request: HttpRequest, scope: Scope) -> tuple[QuerySet[User], dict[str, str]]:
    people = scope.people.order_by("client__name", "username")
    who = request.GET.get("who", "") if scope.staff else ""
    status = request.GET.get("state", "")
    if who == "agency":
        people = people.filter(client__isnull=True)
    elif who == "clients":
        people = people.filter(client__isnull=False)
    elif who:
        people = people.filter(client__slug=who)
    if status == "active":
        people = people.filter(is_active=True)
    elif status == "deactivated":
        people = people.filter(is_active=False)
    return people, {"who": who, "state": status}


def _page(
    request: HttpRequest, scope: Scope, form: InviteForm | None = None, status: int = 200
) -> HttpResponse:
    people, filters = _filtered_people(request, scope)
    context = {
        "scope": scope,
        "client": scope.client,
        "form": form or InviteForm(scope=scope),
        "people": _people_rows(scope, people),
        "filtered": any(filters.values()),
        "filters": filters,
        "clients": Client.objects.order_by("name") if scope.staff else [],
        "invitations": _invitation_rows(scope),
        "days": invitations.INVITATION_DAYS,
        "role_help": [
            (Role(role).label, ROLE_HELP[role]) for role in invitations.roles_grantable_by(scope.actor)
        ],
    }
    template = "web/people/staff.html" if scope.staff else "web/people/portal.html"
    return render(request, template, context, status=status)


def _back(scope: Scope) -> HttpResponse:
    return redirect(scope.page)


# --- The people pages --------------------------------------------------------------------------------------


@admin_required
def staff_people(request: HttpRequest) -> HttpResponse:
    return _page(request, _scope(request))


@client_owner_required
def portal_people(request: HttpRequest) -> HttpResponse:
    return _page(request, _scope(request))


def _invite(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    if not scope.staff:
        # The portal's form has no client and only client roles: anything else is not a form a person sent.
        if request.POST.get("client", "") not in {"", str(scope.actor.client_id), scope.actor.client.slug}:
            raise PermissionDenied("You may invite colleagues of your own organisation only.")
        if request.POST.get("role", "") not in invitations.roles_grantable_by(scope.actor):
            raise PermissionDenied("You may invite colleagues as product owner or member only.")
    form = InviteForm(request.POST, scope=scope)
    if not form.is_valid():
        return _page(request, scope, form, status=400)
    client = form.cleaned_data.get("client") if scope.staff else scope.actor.client
    try:
        with transaction.atomic():
            invitation, token = invitations.invite(
                form.cleaned_data["email"], form.cleaned_data["role"], client, actor=scope.actor
            )
            send_invitation(invitation, token)
    except PeopleError as exc:
        form.add_error(None, str(exc))
        return _page(request, scope, form, status=400)
    messages.success(
        request,
        f"Invitation sent to {invitation.email} as {invitation.get_role_display()}. "
        f"The link works once, for {invitations.INVITATION_DAYS} days.",
    )
    return _back(scope)


@admin_required
@require_POST
def staff_invite(request: HttpRequest) -> HttpResponse:
    return _invite(request)


@client_owner_required
@require_POST
def portal_invite(request: HttpRequest) -> HttpResponse:
    return _invite(request)


def _resend(request: HttpRequest, pk: int) -> HttpResponse:
    scope = _scope(request)
    invitation = get_object_or_404(scope.invitations, pk=pk)
    try:
        with transaction.atomic():
            token = invitations.resend(invitation, actor=scope.actor)
            send_invitation(invitation, token)
    except PeopleError as exc:
        messages.error(request, f"Not re-sent: {exc}")
        return _back(scope)
    messages.success(
        request,
        f"Invitation sent again to {invitation.email}; the earlier link no longer works. "
        f"The new one works for {invitations.INVITATION_DAYS} days.",
    )
    return _back(scope)


def _revoke(request: HttpRequest, pk: int) -> HttpResponse:
    scope = _scope(request)
    invitation = get_object_or_404(scope.invitations, pk=pk)
    try:
        invitations.revoke(invitation, actor=scope.actor)
    except PeopleError as exc:
        messages.error(request, f"Not revoked: {exc}")
        return _back(scope)
    messages.success(request, f"Invitation to {invitation.email} revoked: its link no longer works.")
    return _back(scope)


def _set_active(request: HttpRequest, pk: int, active: bool) -> HttpResponse:
    scope = _scope(request)
    person = get_object_or_404(scope.people, pk=pk)
    name = person.get_full_name() or person.username
    try:
        if active:
            invitations.reactivate(person, actor=scope.actor)
            messages.success(request, f"{name} can log in again.")
        else:
            invitations.deactivate(person, actor=scope.actor)
            messages.success(
                request, f"{name} is deactivated: signed out everywhere, and their API tokens no longer work."
            )
    except PeopleError as exc:
        messages.error(request, f"Not changed: {exc}")
    return _back(scope)


@admin_required
@require_POST
def staff_invitation_resend(request: HttpRequest, pk: int) -> HttpResponse:
    return _resend(request, pk)


@admin_required
@require_POST
def staff_invitation_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    return _revoke(request, pk)


@admin_required
@require_POST
def staff_person_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    return _set_active(request, pk, active=False)


@admin_required
@require_POST
def staff_person_reactivate(request: HttpRequest, pk: int) -> HttpResponse:
    return _set_active(request, pk, active=True)


@client_owner_required
@require_POST
def portal_invitation_resend(request: HttpRequest, pk: int) -> HttpResponse:
    return _resend(request, pk)


@client_owner_required
@require_POST
def portal_invitation_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    return _revoke(request, pk)


@client_owner_required
@require_POST
def portal_person_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    return _set_active(request, pk, active=False)


@client_owner_required
@require_POST
def portal_person_reactivate(request: HttpRequest, pk: int) -> HttpResponse:
    return _set_active(request, pk, active=True)


# --- Accepting an invitation (public) ----------------------------------------------------------------------


class AcceptForm(forms.Form):
    username = forms.CharField(
        label="Username",
        max_length=150,
        help_text="What you log in with. Letters, digits and @ . + - _ only.",
    )
    first_name = forms.CharField(label="First name", max_length=150, required=False)
    last_name = forms.CharField(label="Last name", max_length=150, required=False)
    password1 = forms.CharField(label="Password", strip=False, widget=forms.PasswordInput)
    password2 = forms.CharField(label="The same password again", strip=False, widget=forms.PasswordInput)

    def __init__(self, *args: Any, invitation: Invitation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.invitation = invitation

    def clean_username(self) -> str:
        try:
            return invitations.check_username(self.cleaned_data["username"])
        except PeopleError as exc:
            raise ValidationError(str(exc)) from exc

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        first, second = data.get("password1"), data.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords differ.")
        elif first:
            # The validators compare the password with the person's name and address, as for every account.
            person = User(
                username=data.get("username") or "",
                email=self.invitation.email,
                first_name=data.get("first_name") or "",
                last_name=data.get("last_name") or "",
            )
            try:
                password_validation.validate_password(first, person)
            except ValidationError as exc:
                self.add_error("password1", exc)
        return data


def _unusable(request: HttpRequest, invitation: Invitation | None) -> HttpResponse:
    state = invitations.state(invitation) if invitation is not None else "unknown"
    context = {"state": state, "invitation": invitation}
    return render(request, "web/people/unusable.html", context, status=410)


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    invitation = invitations.find(token)
    if invitation is None or invitations.state(invitation) != invitations.State.PENDING:
        return _unusable(request, invitation)
    where = invitation.client.name if invitation.client else "the agency"
    context: dict[str, Any] = {
        "invitation": invitation,
        "where": where,
        "needs_factor": invitation.role in AGENCY_ROLES
        or (invitation.client is not None and invitation.client.require_second_factor),
    }
    if request.user.is_authenticated:
        # Accepting while signed in as someone else would leave two people in one browser session.
        return render(request, "web/people/signed_in.html", context)
    if request.method == "POST":
        form = AcceptForm(request.POST, invitation=invitation)
        if form.is_valid():
            data = form.cleaned_data
            try:
                user = invitations.accept(
                    token,
                    username=data["username"],
                    password=data["password1"],
                    first_name=data["first_name"],
                    last_name=data["last_name"],
                )
            except PeopleError as exc:
                form.add_error(None, str(exc))
            else:
                extra = (
                    " After your password you set up a second factor (an authenticator app)."
                    if context["needs_factor"]
                    else ""
                )
                messages.success(request, f"Your login {user.username} is ready: log in with it.{extra}")
                return redirect(reverse("login"))
    else:
        form = AcceptForm(
            invitation=invitation, initial={"username": invitations.suggested_username(invitation.email)}
        )
    context["form"] = form
    return render(request, "web/people/accept.html", context, status=400 if form.errors else 200)
