"""API token guessing (issue 14.1): failed Bearer tokens counted per address, 429 with Retry-After past it."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
import time_machine
from axes.models import AccessAttempt
from django.test import Client as HttpClient

from sitekeeper.access import lockout
from sitekeeper.access.models import AuditEntry
from tests.web.test_lockout import LOCKOUT_SETTINGS, T0
from tests.web.world import World

ADDRESS = "203.0.113.80"


@pytest.fixture(autouse=True)
def lockout_settings(settings) -> None:
    for name, value in LOCKOUT_SETTINGS.items():
        setattr(settings, name, value)


def call(token: str, address: str = ADDRESS):
    return HttpClient().get(
        "/api/v1/plans", headers={"authorization": f"Bearer {token}"}, REMOTE_ADDR=address
    )


def test_twenty_wrong_tokens_lock_the_address_even_for_a_good_token(world: World, caplog):
    good = world.keys["engineer"]
    with time_machine.travel(T0, tick=False) as traveller, caplog.at_level(logging.INFO):
        answers = [call(f"sk_guess{n}").status_code for n in range(19)] + [call("not-even-sk").status_code]
        assert answers == [401] * 19 + [429], "the twentieth wrong token locks the address"
        locked = call(good)
        assert locked.status_code == 429, "a valid token from a locked address waits too"
        assert locked["Content-Type"] == "application/json; charset=utf-8"
        assert locked.json() == {
            "detail": "Too many requests with a wrong API token from this address; try again in 15 min.",
            "errors": [],
        }
        assert locked["Retry-After"] == "900"
        assert call(good, address="198.51.100.1").status_code == 200, "other addresses are not affected"

        traveller.shift(dt.timedelta(minutes=10))
        assert call(good)["Retry-After"] == "300"
        traveller.shift(dt.timedelta(minutes=5, seconds=1))
        assert call(good).status_code == 200, "the cool-off over, the good token works again"
    lines = [record.getMessage() for record in caplog.records if record.name == "sitekeeper.access.lockout"]
    assert lines == [f"API locked: address {ADDRESS} after 20 failed tokens, for 15 min"]
    everything = "\n".join(record.getMessage() for record in caplog.records)
    assert "sk_guess" not in everything
    assert good not in everything


def test_token_failures_are_stored_in_the_database_without_the_token(world: World):
    for n in range(3):
        call(f"sk_secret-guess-{n}")
    row = AccessAttempt.objects.get(username=lockout.API_MARK, ip_address=ADDRESS)
    assert row.failures_since_start == 3
    assert "secret-guess" not in f"{row.get_data}{row.post_data}{row.path_info}"


def test_token_failures_do_not_lock_the_login_page(world: World):
    for n in range(20):
        call(f"sk_guess{n}")
    login = HttpClient().post(
        "/login/", {"username": "engineer", "password": "correct-horse-battery-staple"}, REMOTE_ADDR=ADDRESS
    )
    assert login.status_code == 302, (
        "a script with a revoked token must not lock its office out of logging in"
    )


def test_an_agency_admin_unlocks_an_api_address(world: World):
    for n in range(20):
        call(f"sk_guess{n}")
    assert call(world.keys["member"]).status_code == 429
    console = HttpClient()
    console.force_login(world.users["admin"])
    assert "Address (API tokens)" in console.get("/staff/lockouts/").content.decode()
    console.post("/staff/lockouts/unlock/", {"kind": "address", "value": ADDRESS})
    assert call(world.keys["member"]).status_code == 200
    assert AuditEntry.objects.filter(model="axes.AccessAttempt", actor=world.users["admin"]).count() == 1
