"""How the suite runs on several pytest-xdist workers (docs/testing.md); tests/conftest.py's hooks call these.

* Which tests the SQLite pass keeps: those that use the database (`uses_database`).
* Which tests share a worker: a module whose tests use a module- or session-scoped fixture defined in (or
  imported into) it — a WordPress site, sshd, moto, Dovecot — is one unit of work, so the fixture starts
  once (`group_of`). pytest-xdist's own `--dist loadgroup` reads the `xdist_group` mark by appending it to
  the test's node id, which pytest 9.2's structured node ids silently ignore (pytest-xdist issue #1386);
  `GroupScheduling` does the same grouping through a file the workers write instead.
* The order work is handed out: expensive tests (`slow`, `browser`, a group) first, so the last minutes
  are not one long test on one worker while the other waits (`order_for_workers`).
* The database every test starts from: a transactional test (TransactionTestCase) empties the database at
  its end; pytest-django runs those last for that reason, but a worker takes them in any order, so after
  one the rows the migrations made are put back (`restore_initial_data`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from xdist.scheduler.loadscope import LoadScopeScheduling

# Fixtures that give a test the database: with any of them (or the django_db mark) a test uses it.
DATABASE_FIXTURES = frozenset(
    {"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback", "live_server"}
)
UNITS_KEY = "sitekeeper_units"  # in each worker's workerinput: the file that tells the controller the groups


def uses_database(item: pytest.Item) -> bool:
    return item.get_closest_marker("django_db") is not None or bool(
        DATABASE_FIXTURES.intersection(getattr(item, "fixturenames", ()))
    )


def transactional(item: pytest.Item) -> tuple[bool, bool]:
    """(runs in a TransactionTestCase, with serialized_rollback), decided as pytest-django decides it."""
    from pytest_django.fixtures import validate_django_db

    names = getattr(item, "fixturenames", ())
    marker = item.get_closest_marker("django_db")
    transaction = serialized = False
    if marker is not None:
        transaction, reset_sequences, _databases, serialized, _apps = validate_django_db(marker)
        transaction = transaction or reset_sequences
    transaction = transaction or bool(
        {"transactional_db", "live_server", "django_db_reset_sequences"} & set(names)
    )
    return transaction, serialized or "django_db_serialized_rollback" in names


def group_of(item: pytest.Item) -> str | None:
    """The module's name when the test uses a module- or session-scoped fixture defined in (or imported into)
    its module: such a fixture is set up once per module on every worker that runs one of the module's
    tests."""
    info = getattr(item, "_fixtureinfo", None)
    defs = [fixturedef for chain in (info.name2fixturedefs.values() if info else ()) for fixturedef in chain]
    shared = any(
        fixturedef.scope in {"module", "package", "session"} and isinstance(fixturedef.node, pytest.Module)
        for fixturedef in defs
    )
    return item.module.__name__ if shared else None


def _heavy(item: pytest.Item) -> bool:
    return any(item.get_closest_marker(name) for name in ("slow", "browser")) or group_of(item) is not None


def order_for_workers(config: pytest.Config, items: list[pytest.Item], left_out: int) -> None:
    """On an xdist worker: expensive tests first (a stable sort, so each worker has the same order, as
    pytest-xdist requires), then write the groups for `GroupScheduling` and how many tests the SQLite pass
    left out (the controller reports it: it collects nothing itself)."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        return
    items.sort(key=lambda item: not _heavy(item))
    path = workerinput.get(UNITS_KEY)
    if path:
        units = {item.nodeid: group for item in items if (group := group_of(item)) is not None}
        # Every worker collects the same tests and writes the same file: each its own copy, renamed over.
        scratch = Path(f"{path}.{workerinput['workerid']}")
        scratch.write_text(json.dumps({"units": units, "left_out": left_out}))
        os.replace(scratch, path)


class GroupScheduling(LoadScopeScheduling):
    """`--dist loadgroup` with the groups from the file the workers wrote (`order_for_workers`): a group is
    one unit of work, every other test a unit of its own, handed out in collection order."""

    def __init__(self, config: pytest.Config, log: object, units: Path) -> None:
        super().__init__(config, log)
        self.units_file = units
        self.units: dict[str, str] = {}
        # The workers already put the expensive tests first; units sorted by size would undo that.
        config.option.loadscopereorder = False

    def schedule(self) -> None:
        if self.collection is None and self.units_file.exists():
            self.units = json.loads(self.units_file.read_text())["units"]
        super().schedule()

    def _split_scope(self, nodeid: str) -> str:
        return self.units.get(nodeid, nodeid)


def left_out(units: Path) -> int | None:
    """How many tests the workers left out (SITEKEEPER_TEST_DB_ONLY), from the file they wrote."""
    try:
        return json.loads(units.read_text())["left_out"]
    except (OSError, ValueError, KeyError):
        return None


def _is_test_database(connection: object) -> bool:
    """Is the connection on the test database (and not, after the session's teardown, the real one)?"""
    return connection.settings_dict["NAME"] == connection.creation._get_test_db_name()


def restore_initial_data(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """After a transactional test, put back the rows the migrations made (built-in plans, content types,
    permissions), as Django serialised them when it created the test database."""
    was_transactional, serialized = transactional(item)
    if not was_transactional or nextitem is None:  # no next test: the test databases are being dropped
        return
    if serialized and transactional(nextitem)[1]:
        return  # emptied without post_migrate; the next test loads the same rows itself
    from django.core.management import call_command
    from django.db import connections
    from pytest_django.plugin import blocking_manager_key

    with item.config.stash[blocking_manager_key].unblock():
        for connection in connections.all():
            contents = getattr(connection, "_test_serialized_contents", None)
            if contents is None or not _is_test_database(connection):
                continue
            # post_migrate (after a flush of a test without serialized_rollback) made content types and
            # permissions again under new ids: empty the tables first, then load the originals.
            call_command(
                "flush",
                verbosity=0,
                interactive=False,
                database=connection.alias,
                reset_sequences=False,
                inhibit_post_migrate=True,
            )
            connection.creation.deserialize_db_from_string(contents)
