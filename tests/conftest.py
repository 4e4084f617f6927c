"""Shared fixtures: one demo-like agency with two clients and the named personas.

Personas (healthchecks' habit): `admin`, `engineer`, `manager` (agency); `owner` and `member` of the client
`acme`; `outsider`, the product owner of another client (`globex`). Every permission test uses these.

And the hooks that let the suite run on every core (docs/testing.md): each pytest-xdist worker gets a
SITEKEEPER_HOME of its own (its secret key, huey's queue file, exports), the SQLite pass keeps only the tests
that use the database (SITEKEEPER_TEST_DB_ONLY=1, set by scripts/test.sh), a module whose tests share a
module- or session-scoped fixture (a WordPress site, sshd, Dovecot) runs on one worker, so it is set up once,
and every test finds the rows the migrations made, whatever ran before it (tests/parallel.py).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.test import Client as TestClient
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import hotp
from django_otp.plugins.otp_totp.models import TOTPDevice

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
from tests import parallel
from tests.serving import die_with_parent, ready_seconds

WEEKDAY_HOURS = {day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
PASSWORD = "correct-horse-battery-staple"

DB_ONLY = "SITEKEEPER_TEST_DB_ONLY"
# Marks a test whose force_login must leave the second factor unverified (the two-factor tests themselves).
WITHOUT_SECOND_FACTOR = "without_second_factor"


def pytest_configure(config: pytest.Config) -> None:
    # Scripts that start daemons (scripts/test-servers.sh) stop them once this process is gone, even killed.
    os.environ["SITEKEEPER_TEST_OWNER_PID"] = str(os.getpid())
    if os.environ.get("PYTEST_XDIST_WORKER"):
        die_with_parent()  # a worker whose pytest was killed ends too, and with it what it started
    # aiosmtpd's Controller.start() gives its server thread 5 s by default: too short on a loaded machine.
    os.environ.setdefault("AIOSMTPD_CONTROLLER_TIMEOUT", str(ready_seconds()))
    # In this process only, a cheap password hash (Django's advice for tests): PBKDF2 with its 1,000,000
    # iterations costs 0.4-0.9 s per persona created or logged in, paid by hundreds of tests that test
    # something else. The CLI tests run `sitekeeper` in processes of their own, with the real hasher.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    config.addinivalue_line(
        "markers",
        f"{WITHOUT_SECOND_FACTOR}: client.force_login() logs in without a verified second factor, as a "
        "password alone would (access/twofactor.py)",
    )


def _units_file(config: pytest.Config) -> Path:
    return Path(config._tmp_path_factory.getbasetemp()) / "xdist-units.json"  # pytest-xdist reads it too


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_setupnodes(config: pytest.Config, specs: list) -> None:
    """Before the workers start: each its own SITEKEEPER_HOME. It must be in their environment before Django's
    settings are read (pytest-django reads them before any conftest is imported), and settings.py creates
    the secret key and huey's SQLite queue there — shared by two workers, they would race and mix."""
    basetemp = _units_file(config).parent
    for number, spec in enumerate(specs):
        spec.env["SITEKEEPER_HOME"] = str(basetemp / f"home-{spec.id or f'gw{number}'}")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: object) -> None:
    node.workerinput[parallel.UNITS_KEY] = str(_units_file(node.config))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    if config.getvalue("dist") != "loadgroup":
        return None
    return parallel.GroupScheduling(config, log, _units_file(config))


@pytest.hookimpl(trylast=True)  # after pytest-django's ordering
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    once = []
    if os.environ.get(DB_ONLY) == "1":
        # The SQLite pass: a test that does not touch the database gives the same answer on both; it runs
        # once, in the PostgreSQL pass.
        once = [item for item in items if not parallel.uses_database(item)]
        if once:
            config.hook.pytest_deselected(items=once)
            items[:] = [item for item in items if parallel.uses_database(item)]
    parallel.order_for_workers(config, items, left_out=len(once))


def pytest_terminal_summary(terminalreporter: object, config: pytest.Config) -> None:
    # Under xdist the workers deselect and the controller's summary does not count them: say it here.
    if os.environ.get(DB_ONLY) == "1" and config.getvalue("dist") not in (None, "no"):
        count = parallel.left_out(_units_file(config))
        if count is not None:
            terminalreporter.write_line(
                f"{DB_ONLY}=1: {count} tests that use no database left out; they run once, on PostgreSQL"
            )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> object:
    result = yield
    parallel.restore_initial_data(item, nextitem)
    return result


TEST_AUTHENTICATOR = "test authenticator"
_force_login = TestClient.force_login
_login = TestClient.login


def authenticator_for(user: User) -> TOTPDevice:
    """The person's confirmed authenticator app (made for the test if they have none)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-pk").first()
    return device or TOTPDevice.objects.create(user=user, name=TEST_AUTHENTICATOR, confirmed=True)


def force_login_with_second_factor(self: TestClient, user: User, backend: str | None = None) -> None:
    """Client.force_login, then the session verified as django_otp.login() leaves it after a right code:
    staff pages need a second factor (access/twofactor.py), and ~2,000 tests open them to test something
    else. A test of the second factor itself opts out with @pytest.mark.without_second_factor (which keeps
    Client.login and force_login as Django has them)."""
    _force_login(self, user, backend)
    session = self.session
    session[DEVICE_ID_SESSION_KEY] = authenticator_for(user).persistent_id
    session.save()


def fresh_totp_code(device: TOTPDevice) -> str:
    """A code the device will accept now, as the person's app would show it: the current step's, or — when
    that step was already used (a second login within 30 s) — the next step's, which the device's tolerance
    of one step accepts. Waits for the clock only if even that one is used."""
    while True:
        device.refresh_from_db()
        now = (int(time.time()) - device.t0) // device.step + device.drift
        step = max(now, device.last_t + 1)
        if step <= now + device.tolerance:
            return f"{hotp(device.bin_key, step, digits=device.digits):0{device.digits}d}"
        time.sleep(1)


def login_with_second_factor(self: TestClient, **credentials: object) -> bool:
    """Client.login (the password checked), then the session verified like force_login's above."""
    if not _login(self, **credentials):
        return False
    session = self.session
    user = User.objects.get(pk=session[SESSION_KEY])
    session[DEVICE_ID_SESSION_KEY] = authenticator_for(user).persistent_id
    session.save()
    return True


@pytest.fixture(autouse=True)
def _test_logins_verify_second_factor(request: pytest.FixtureRequest, monkeypatch) -> None:
    if request.node.get_closest_marker(WITHOUT_SECOND_FACTOR) is None:
        monkeypatch.setattr(TestClient, "force_login", force_login_with_second_factor)
        monkeypatch.setattr(TestClient, "login", login_with_second_factor)


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
