"""Settings from the environment: strict parsing, clear errors naming the variable and the value."""

import stat

import pytest

from sitekeeper import conf


@pytest.mark.parametrize(
    ("raw", "expected"), [("1", True), ("yes", True), ("On", True), ("0", False), ("off", False)]
)
def test_env_bool_accepts_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("SITEKEEPER_DEBUG", raw)
    assert conf.env_bool("SITEKEEPER_DEBUG") is expected


def test_env_bool_rejects_anything_else_naming_variable_and_value(monkeypatch):
    monkeypatch.setenv("SITEKEEPER_DEBUG", "maybe")
    with pytest.raises(conf.ConfigError, match=r"SITEKEEPER_DEBUG: .*'maybe'"):
        conf.env_bool("SITEKEEPER_DEBUG")


def test_debug_is_off_by_default(monkeypatch):
    monkeypatch.delenv("SITEKEEPER_DEBUG", raising=False)
    assert conf.env_bool("SITEKEEPER_DEBUG") is False


def test_allowed_hosts_list_rejects_empty_items(monkeypatch):
    monkeypatch.setenv("SITEKEEPER_ALLOWED_HOSTS", "a.example,,b.example")
    with pytest.raises(conf.ConfigError, match="SITEKEEPER_ALLOWED_HOSTS"):
        conf.env_list("SITEKEEPER_ALLOWED_HOSTS", [])
    monkeypatch.setenv("SITEKEEPER_ALLOWED_HOSTS", "a.example, b.example")
    assert conf.env_list("SITEKEEPER_ALLOWED_HOSTS", []) == ["a.example", "b.example"]


def test_database_defaults_to_sqlite_in_the_data_folder(tmp_path):
    db = conf.database(None, tmp_path)
    assert db == {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(tmp_path / "sitekeeper.sqlite3"),
        "OPTIONS": conf.SQLITE_OPTIONS,
    }


# Two processes each read a counter and write it back inside a transaction, as the worker and the probe do.
# With SQLite's default (deferred) transactions one of them soon fails with "database is locked"; with
# conf.SQLITE_OPTIONS they take turns.
WRITER = """
import sys
import django
from django.conf import settings
from sitekeeper import conf
settings.configure(DATABASES={"default": conf.database("sqlite:///" + sys.argv[1], None)})
django.setup()
from django.db import connection, transaction
import time
for _ in range(300):
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT n FROM counter")
            (n,) = cursor.fetchone()
            time.sleep(0.001)  # work between the read and the write, as a real job does
            cursor.execute("UPDATE counter SET n = %s", [n + 1])
"""


def test_sqlite_writers_in_two_processes_take_turns(tmp_path):
    import sqlite3
    import subprocess
    import sys

    path = tmp_path / "shared.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE counter (n INTEGER)")
        db.execute("INSERT INTO counter VALUES (0)")
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    errors = [writer.communicate(timeout=120)[1] for writer in writers]
    assert [writer.returncode for writer in writers] == [0, 0], errors
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT n FROM counter").fetchone() == (600,)  # no update lost


def test_database_url_for_postgres_is_split_into_parts(tmp_path):
    db = conf.database("postgres://sk:p%40ss@db.internal:5433/sitekeeper", tmp_path)
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "sitekeeper",
        "sk",
        "p@ss",
        "db.internal",
        "5433",
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("oracle://x/y", "unsupported scheme 'oracle'"),
        ("postgres://host/", "no database name"),
        ("sqlite://", "no file"),
    ],
)
def test_bad_database_urls_are_named(tmp_path, url, message):
    with pytest.raises(conf.ConfigError, match=message):
        conf.database(url, tmp_path)


def test_queue_defaults_to_a_sqlite_file_and_takes_redis(tmp_path):
    assert conf.queue(None, tmp_path)["huey_class"] == "huey.SqliteHuey"
    redis = conf.queue("redis://127.0.0.1:6379/3", tmp_path)
    assert redis == {
        "huey_class": "huey.RedisHuey",
        "url": "redis://127.0.0.1:6379/3",
        "name": "sitekeeper",
        "immediate": False,
    }
    with pytest.raises(conf.ConfigError, match="SITEKEEPER_QUEUE_URL"):
        conf.queue("amqp://guest@localhost", tmp_path)


def test_email_url_smtp_with_tls_and_sender(tmp_path):
    mail = conf.email("smtp://user:secret@mail.example:587?tls=1&from=desk@agency.example", tmp_path)
    assert mail.backend.endswith("smtp.EmailBackend")
    assert (mail.host, mail.port, mail.user, mail.password, mail.use_tls, mail.from_email) == (
        "mail.example",
        587,
        "user",
        "secret",
        True,
        "desk@agency.example",
    )
    with pytest.raises(conf.ConfigError, match="SITEKEEPER_EMAIL_URL"):
        conf.email("pigeon://coop", tmp_path)


def test_secret_key_is_generated_once_and_private(monkeypatch, tmp_path):
    monkeypatch.delenv("SITEKEEPER_SECRET_KEY", raising=False)
    first = conf.secret_key(tmp_path)
    assert len(first) >= 50
    assert conf.secret_key(tmp_path) == first
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600


def test_short_secret_key_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("SITEKEEPER_SECRET_KEY", "short")
    with pytest.raises(conf.ConfigError, match="at least 32"):
        conf.secret_key(tmp_path)


def test_home_that_is_a_file_is_refused(monkeypatch, tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    monkeypatch.setenv("SITEKEEPER_HOME", str(target))
    with pytest.raises(conf.ConfigError, match="not a folder"):
        conf.home_dir()


def test_env_int_is_strict(monkeypatch):
    monkeypatch.setenv("SITEKEEPER_RAW_RESULT_DAYS", "fourteen")
    with pytest.raises(
        conf.ConfigError, match=r"SITEKEEPER_RAW_RESULT_DAYS: expected a whole number, got 'fourteen'"
    ):
        conf.env_int("SITEKEEPER_RAW_RESULT_DAYS", 14, minimum=1)
    monkeypatch.setenv("SITEKEEPER_RAW_RESULT_DAYS", "0")
    with pytest.raises(conf.ConfigError, match="at least 1"):
        conf.env_int("SITEKEEPER_RAW_RESULT_DAYS", 14, minimum=1)
    monkeypatch.setenv("SITEKEEPER_RAW_RESULT_DAYS", "30")
    assert conf.env_int("SITEKEEPER_RAW_RESULT_DAYS", 14, minimum=1) == 30


def test_home_is_created_owner_only_with_its_missing_parents(monkeypatch, tmp_path):
    monkeypatch.setenv("SITEKEEPER_HOME", str(tmp_path / "srv" / "sitekeeper"))
    home = conf.home_dir()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE(home.parent.stat().st_mode) == 0o700


def test_an_existing_open_home_is_made_owner_only(monkeypatch, tmp_path):
    home = tmp_path / "var"
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    monkeypatch.setenv("SITEKEEPER_HOME", str(home))
    conf.home_dir()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700


@pytest.mark.parametrize("value", ["127.0.0.1", "::1", "*", ""])
def test_a_trusted_proxy_is_an_address_a_star_or_nothing(monkeypatch, value):
    monkeypatch.setenv("SITEKEEPER_TRUSTED_PROXY", value)
    assert conf.env_proxy("SITEKEEPER_TRUSTED_PROXY", "127.0.0.1") == value


def test_a_mistyped_trusted_proxy_stops_the_start(monkeypatch):
    monkeypatch.setenv("SITEKEEPER_TRUSTED_PROXY", "10.0.0.300")
    with pytest.raises(conf.ConfigError, match="SITEKEEPER_TRUSTED_PROXY: expected the proxy's IP address"):
        conf.env_proxy("SITEKEEPER_TRUSTED_PROXY", "127.0.0.1")
