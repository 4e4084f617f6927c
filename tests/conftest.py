"""Shared fixtures: one demo-like agency with two clients and the named personas.

Personas (healthchecks' habit): `admin`, `engineer`, `manager` (agency); `owner` and `member` of the client
`acme`; `outsider`, the product owner of another client (`globex`). Every permission test uses these.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from sitekeeper.access.models import Role, User
from sitekeeper.contracts.models import (
    Calendar,
    CalendarVersion,
    Client,
    Contact,
    Contract,
    Environment,
    MaintenanceWindow,
    Plan,
    Site,
)

WEEKDAY_HOURS = {day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def berlin_calendar(db) -> Calendar:
    calendar = Calendar.objects.create(slug="hq", name="Berlin office")
    CalendarVersion.objects.create(
        calendar=calendar,
        number=1,
        timezone="Europe/Berlin",
        hours=WEEKDAY_HOURS,
        holiday_country="DE",
        closures=["2026-12-31"],
    )
    return calendar


def make_client(slug: str, name: str, plan_slug: str, calendar: Calendar, fee: str = "900.00") -> Client:
    client = Client.objects.create(slug=slug, name=name, legal_name=f"{name} Ltd")
    Contact.objects.create(
        client=client, name=f"{name} Owner", email=f"owner@{slug}.test", role="product_owner"
    )
    Contact.objects.create(
        client=client,
        name=f"{name} Oncall",
        email=f"oncall@{slug}.test",
        role="emergency",
        phone="+49 30 1234567",
    )
    contract = Contract.objects.create(
        client=client,
        plan=Plan.objects.get(slug=plan_slug),
        calendar=calendar,
        start=dt.date(2026, 1, 1),
        monthly_fee=Decimal(fee),
        currency="EUR",
        hourly_rate=Decimal("95.00"),
    )
    MaintenanceWindow.objects.create(contract=contract, weekday=1, start=dt.time(23), end=dt.time(2))
    site = Site.objects.create(
        client=client, url=f"https://{slug}.test", name=f"{name} website", platform="wordpress"
    )
    Environment.objects.create(site=site, kind="prod", url=f"https://{slug}.test")
    Environment.objects.create(site=site, kind="stage", url=f"https://stage.{slug}.test")
    return client


@pytest.fixture
def acme(berlin_calendar) -> Client:
    return make_client("acme", "Acme GmbH", "business", berlin_calendar)


@pytest.fixture
def globex(berlin_calendar) -> Client:
    return make_client("globex", "Globex Inc", "starter", berlin_calendar, fee="250.00")


def make_user(username: str, role: str, client: Client | None = None) -> User:
    user = User(username=username, email=f"{username}@people.test", role=role, client=client)
    user.set_password(PASSWORD)
    user.save()
    return user


@pytest.fixture
def admin(db) -> User:
    return make_user("admin", Role.AGENCY_ADMIN)


@pytest.fixture
def engineer(db) -> User:
    return make_user("engineer", Role.ENGINEER)


@pytest.fixture
def manager(db) -> User:
    return make_user("manager", Role.ACCOUNT_MANAGER)


@pytest.fixture
def owner(acme) -> User:
    return make_user("owner", Role.CLIENT_OWNER, acme)


@pytest.fixture
def member(acme) -> User:
    return make_user("member", Role.CLIENT_MEMBER, acme)


@pytest.fixture
def outsider(globex) -> User:
    return make_user("outsider", Role.CLIENT_OWNER, globex)
