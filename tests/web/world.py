"""The personas of tests/conftest.py, each with an API token, plus the objects URLs are filled from."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from sitekeeper.access.audit import acting_as
from sitekeeper.access.models import ApiToken, AuditEntry, User
from sitekeeper.contracts.models import Client

PERSONAS = ("anonymous", "owner", "member", "outsider", "engineer", "manager", "admin")
CLIENT_PERSONAS = frozenset({"owner", "member", "outsider"})
AGENCY_PERSONAS = frozenset({"engineer", "manager", "admin"})


@dataclass
class World:
    acme: Client
    globex: Client
    users: dict[str, User]
    keys: dict[str, str]  # persona → API key
    objects: dict[str, object] = field(default_factory=dict)  # URL values, by name


@pytest.fixture
def fast_passwords(settings) -> None:
    # PBKDF2's deliberate slowness would dominate a suite that creates seven people per test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(request, fast_passwords, acme, globex) -> World:
    users: dict[str, User] = {name: request.getfixturevalue(name) for name in PERSONAS if name != "anonymous"}
    owner, admin = users["owner"], users["admin"]
    keys = {name: ApiToken.issue(user, f"{name}'s script")[1] for name, user in users.items()}
    with acting_as(admin):  # one real audit entry, about acme
        acme.address = "Hauptstraße 1, Berlin"
        acme.save()
    contract = acme.contract
    site = acme.sites.get()
    objects: dict[str, object] = {
        "client_slug": acme.slug,
        "plan_slug": contract.plan.slug,
        "contract_id": contract.pk,
        "site_pk": site.pk,
        "owner_pk": owner.pk,
        "owner_token_pk": owner.api_tokens.get().pk,
        # Django admin change/delete/history pages, by "app.model": acme's own objects.
        "access.user": owner.pk,
        "access.apitoken": owner.api_tokens.get().pk,
        "access.auditentry": AuditEntry.objects.filter(client=acme).latest("at").pk,
        "contracts.plan": contract.plan.pk,
        "contracts.calendar": contract.calendar.pk,
        "contracts.client": acme.pk,
        "contracts.contract": contract.pk,
        "contracts.site": site.pk,
    }
    return World(acme=acme, globex=globex, users=users, keys=keys, objects=objects)
