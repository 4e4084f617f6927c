"""Suspicious activity: the PHP-serialized reader (data only), the comparison of two snapshots, and the scan
against the real WordPress test site (a new administrator inserted with SQL, a changed admin e-mail, a new
cron hook) — findings once, the first scan a silent baseline, no duplicates on the next scan."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pymysql
import pytest

from sitekeeper.backups.models import Source
from sitekeeper.desk.models import Ticket
from sitekeeper.security import suspicious
from sitekeeper.security.models import ActivitySnapshot, Finding
from sitekeeper.security.phpserial import php_unserialize
from tests.monitoring.test_wordpress import WordPress, wordpress  # noqa: F401


def test_capabilities_and_cron_hooks():
    assert suspicious._capabilities('a:1:{s:13:"administrator";b:1;}') == {"administrator"}
    assert suspicious._capabilities("not serialized administrator") == set()
    cron = (
        'a:3:{i:1700000000;a:1:{s:16:"wp_version_check";a:0:{}}'
        'i:1700000100;a:2:{s:9:"evil_hook";a:0:{}s:16:"wp_version_check";a:0:{}}'
        's:7:"version";i:2;}'
    )
    assert suspicious._cron_hooks(cron) == ["evil_hook", "wp_version_check"]


BASE = {
    "admins": {"admin": {"id": 1, "email": "admin@acme.test", "registered": "2026-01-01 00:00:00"}},
    "options": {"siteurl": "https://acme.test", "home": "https://acme.test", "admin_email": "admin@acme.test",
                "users_can_register": "0", "default_role": "subscriber"},
    "cron_hooks": ["wp_version_check", "akismet_scheduled_delete"],
}  # fmt: skip


def test_compare_names_each_kind_of_change(acme):
    after = {
        "admins": {**BASE["admins"], "backup": {"id": 7, "email": "x@evil.test", "registered": None}},
        "options": {**BASE["options"], "admin_email": "x@evil.test", "users_can_register": "1",
                    "default_role": "administrator"},
        "cron_hooks": [*BASE["cron_hooks"], "wp_update_user_counts", "xmr_miner_tick"],
    }  # fmt: skip
    alerts = {a.key: a for a in suspicious.compare(BASE, after, acme.sites.get())}
    assert set(alerts) == {
        "admin:backup",
        "option:admin_email:x@evil.test",
        "option:users_can_register:1",
        "option:default_role:administrator",
        "cron:xmr_miner_tick",  # wp_update_user_counts is WordPress core's own
    }
    assert alerts["admin:backup"].priority == "P2"
    assert alerts["cron:xmr_miner_tick"].priority == "P3"
    assert alerts["option:admin_email:x@evil.test"].details == {
        "option": "admin_email", "from": "admin@acme.test", "to": "x@evil.test"}  # fmt: skip
    assert suspicious.compare(BASE, BASE, acme.sites.get()) == []
    changed = {"admins": {"admin": {**BASE["admins"]["admin"], "email": "new@acme.test"}}}
    (alert,) = suspicious.compare(BASE, {**BASE, **changed}, acme.sites.get())
    assert alert.key == "admin-email:admin:new@acme.test"


@pytest.mark.django_db
def test_a_site_without_database_source_is_named(acme):
    with pytest.raises(suspicious.ActivityError, match="no reachable database"):
        suspicious.scan(acme.sites.get())


# The real WordPress test site -------------------------------------------------------------------------------


@contextlib.contextmanager
def connection(wp: WordPress) -> Iterator[pymysql.connections.Connection]:
    port = int(wp.env["SITEKEEPER_WP_DB_PORT"])
    conn = pymysql.connect(host="127.0.0.1", port=port, user="wordpress", password="wordpress-test-password",
                           database="wordpress", autocommit=True)  # fmt: skip
    try:
        yield conn
    finally:
        conn.close()


def php_serialize(value: object) -> str:
    """What WordPress would write (enough of PHP's serialize() for the cron option)."""
    if value is None:
        return "N;"
    if isinstance(value, bool):
        return f"b:{int(value)};"
    if isinstance(value, int):
        return f"i:{value};"
    if isinstance(value, str):
        return f's:{len(value.encode())}:"{value}";'
    assert isinstance(value, dict)
    return f"a:{len(value)}:{{" + "".join(php_serialize(k) + php_serialize(v) for k, v in value.items()) + "}"


def sql(wp: WordPress, statement: str, *args: object) -> None:
    with connection(wp) as conn, conn.cursor() as cursor:
        cursor.execute(statement, args)


def option(wp: WordPress, name: str) -> str:
    with connection(wp) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT option_value FROM wp_options WHERE option_name = %s", (name,))
        return cursor.fetchone()[0]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_scan_of_the_real_wordpress_site(acme, wordpress: WordPress):  # noqa: F811
    site = acme.sites.get()
    url = f"mysql://wordpress:wordpress-test-password@127.0.0.1:{wordpress.env['SITEKEEPER_WP_DB_PORT']}/wordpress"
    Source.objects.create(site=site, name="wp-db", layer="data", kind="mariadb", db_url=url)
    old_email, old_cron = option(wordpress, "admin_email"), option(wordpress, "cron")
    try:
        assert suspicious.scan(site) == []  # the baseline
        first = ActivitySnapshot.objects.get(site=site).data
        assert list(first["admins"]) == ["admin"]
        assert "wp_version_check" in first["cron_hooks"]
        assert first["options"]["users_can_register"] == "0"

        sql(
            wordpress,
            "INSERT INTO wp_users (user_login, user_pass, user_nicename, user_email, user_registered, "
            "display_name) VALUES ('wpsupport', 'x', 'wpsupport', 'support@evil.test', NOW(), 'S')",
        )
        sql(
            wordpress,
            "INSERT INTO wp_usermeta (user_id, meta_key, meta_value) SELECT ID, 'wp_capabilities', %s "
            "FROM wp_users WHERE user_login = 'wpsupport'",
            'a:1:{s:13:"administrator";b:1;}',
        )
        sql(
            wordpress,
            "UPDATE wp_options SET option_value = 'owner@evil.test' WHERE option_name = 'admin_email'",
        )
        cron = php_unserialize(old_cron, objects=True)
        cron[1999999999] = {"evil_tick1": {"0" * 32: {"schedule": False, "args": {}}}}
        evil_cron = php_serialize(cron)
        sql(wordpress, "UPDATE wp_options SET option_value = %s WHERE option_name = 'cron'", evil_cron)

        found = {f.key: f for f in suspicious.scan(site)}
        assert set(found) == {"admin:wpsupport", "option:admin_email:owner@evil.test", "cron:evil_tick1"}
        admin = found["admin:wpsupport"]
        assert (admin.kind, admin.severity, admin.details["email"]) == (
            "suspicious",
            "high",
            "support@evil.test",
        )
        assert admin.ticket.priority == "P2"
        assert found["cron:evil_tick1"].ticket.priority == "P3"
        assert found["option:admin_email:owner@evil.test"].details["from"] == old_email

        # The next scan sees the same state: nothing new, no more tickets.
        tickets = Ticket.objects.count()
        assert suspicious.scan(site) == []
        assert Finding.objects.filter(site=site, kind="suspicious").count() == 3
        assert Ticket.objects.count() == tickets
        assert ActivitySnapshot.objects.filter(site=site).count() == 3
    finally:
        sql(wordpress, "DELETE FROM wp_usermeta WHERE user_id IN "
                       "(SELECT ID FROM wp_users WHERE user_login = 'wpsupport')")  # fmt: skip
        sql(wordpress, "DELETE FROM wp_users WHERE user_login = 'wpsupport'")
        sql(wordpress, "UPDATE wp_options SET option_value = %s WHERE option_name = 'admin_email'", old_email)
        sql(wordpress, "UPDATE wp_options SET option_value = %s WHERE option_name = 'cron'", old_cron)
