"""Suspicious activity in a WordPress database (the guide's security-incident list): new administrator
accounts, changed administrator e-mails, registration opened to everyone or new users made administrators,
changed site addresses, and unknown scheduled tasks.

Each scan takes a snapshot (ActivitySnapshot) and compares it with the previous one; the first scan of a site
is the baseline and reports nothing. The database is the one of the site's backups Source of kind mariadb
(its db_url), read with the `mariadb` client through the backups shell (locally or over SSH) with the password
in a temporary defaults file — never on a command line. PHP-serialized values are parsed by a small reader
that only builds dicts, lists and scalars: nothing is ever executed or instantiated.

Findings are events, not states: they stay open until a person accepts them (they are not resolved when the
next scan no longer sees a difference, because the difference is then part of the new snapshot).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sitekeeper.backups.models import Source
from sitekeeper.backups.shell import Shell
from sitekeeper.backups.sources import SourceError, shell_for
from sitekeeper.backups.sources import mariadb as mariadb_source
from sitekeeper.contracts.models import Site
from sitekeeper.security import findings
from sitekeeper.security.models import ActivitySnapshot, Finding
from sitekeeper.security.phpserial import php_unserialize

KIND = "suspicious"
SENSITIVE_OPTIONS = ("siteurl", "home", "admin_email", "users_can_register", "default_role")
# Hooks WordPress core schedules itself: never "unknown", even on the first scan after a core update adds one.
CORE_CRON_HOOKS = frozenset(
    {
        "wp_version_check",
        "wp_update_plugins",
        "wp_update_themes",
        "wp_scheduled_delete",
        "wp_scheduled_auto_draft_delete",
        "delete_expired_transients",
        "wp_privacy_delete_old_export_files",
        "recovery_mode_clean_expired_keys",
        "wp_site_health_scheduled_check",
        "wp_https_detection",
        "wp_update_user_counts",
        "wp_delete_temp_updater_backups",
        "wp_update_comment_type_batch",
        "wp_batch_split_terms",
        "wp_split_shared_term_batch",
        "upgrader_scheduled_cleanup",
        "importer_scheduled_cleanup",
        "do_pings",
        "publish_future_post",
        "wp_maybe_auto_update",
    }
)
_PREFIX = re.compile(r"^[A-Za-z0-9_]{0,32}$")


class ActivityError(RuntimeError):
    """The site's database could not be read (named: which site, which source, what failed)."""


# Reading the database ----------------------------------------


def _unescape(field: str) -> str | None:
    """`mariadb -B` escapes NUL, tab, newline and backslash in values and prints NULL as NULL."""
    if field == "NULL":
        return None
    swaps = {"\\": "\\", "n": "\n", "t": "\t", "0": "\0"}
    return re.sub(r"\\(.)", lambda m: swaps.get(m.group(1), m.group(0)), field)


@dataclass(frozen=True)
class Database:
    shell: Shell
    options: str
    name: str
    prefix: str

    def rows(self, sql: str) -> list[list[str | None]]:
        try:
            raw = mariadb_source._query(self.shell, self.options, self.name, sql)
        except (SourceError, OSError, RuntimeError) as error:
            raise ActivityError(f"database {self.name!r}: {error}") from error
        return [[_unescape(field) for field in row] for row in raw]

    def table(self, name: str) -> str:
        return f"`{self.prefix}{name}`"


def database_source(site: Site, environment: str = "prod") -> Source | None:
    """The site's MariaDB backup source with a database URL: the one place its database is described."""
    # db_url is encrypted: the database cannot filter on it, so the empty ones are skipped here.
    sources = Source.objects.filter(site=site, environment=environment, kind="mariadb").order_by("name")
    return next((source for source in sources if source.db_url), None)


def connect(source: Source, prefix: str = "wp_") -> Database:
    if not _PREFIX.match(prefix):
        raise ActivityError(f"table prefix {prefix!r}: letters, digits and _ only")
    try:
        db = mariadb_source._db(source)
        shell = shell_for(source)
    except SourceError as error:
        raise ActivityError(str(error)) from error
    return Database(shell, mariadb_source._options(db), db.name, prefix)


def _capabilities(value: str | None) -> set[str]:
    if not value:
        return set()
    try:
        caps = php_unserialize(value, objects=True)
    except ValueError:
        return set()  # a damaged value grants nothing in WordPress either
    return {str(k) for k, v in caps.items() if v} if isinstance(caps, dict) else set()


def _cron_hooks(value: str | None) -> list[str]:
    try:
        cron = php_unserialize(value or "", objects=True)
    except ValueError:
        return []
    hooks: set[str] = set()
    if isinstance(cron, dict):
        for timestamp, events in cron.items():
            if timestamp != "version" and isinstance(events, dict):
                hooks.update(str(hook) for hook in events)
    return sorted(hooks)


def take_snapshot(db: Database) -> dict[str, Any]:
    """Administrators (login → e-mail, id, registered), sensitive options and cron hook names."""
    # The prefix is checked against _PREFIX and the meta key is built from it: no outside input in the SQL.
    users, meta = db.table("users"), db.table("usermeta")
    cap_key = f"{db.prefix}capabilities"
    admins: dict[str, dict[str, Any]] = {}
    rows = db.rows(
        f"SELECT u.ID, u.user_login, u.user_email, u.user_registered, m.meta_value FROM {users} u "  # noqa: S608
        f"JOIN {meta} m ON m.user_id = u.ID AND m.meta_key = '{cap_key}' "
        "WHERE m.meta_value LIKE '%administrator%' ORDER BY u.ID"
    )
    for user_id, login, email, registered, caps in rows:
        if "administrator" in _capabilities(caps):
            admins[str(login)] = {"id": int(user_id or 0), "email": email or "", "registered": registered}
    names = ", ".join(f"'{name}'" for name in (*SENSITIVE_OPTIONS, "cron"))
    options = dict(db.rows(f"SELECT option_name, option_value FROM {db.table('options')} "  # noqa: S608
                           f"WHERE option_name IN ({names})"))  # fmt: skip
    cron = options.pop("cron", None)
    return {
        "admins": admins,
        "options": {name: options.get(name) for name in SENSITIVE_OPTIONS},
        "cron_hooks": _cron_hooks(cron),
    }


# Comparing ----------------------------------------


@dataclass(frozen=True)
class Alert:
    key: str
    severity: str
    priority: str
    title: str
    details: dict[str, Any]
    remediation: str


def compare(before: dict[str, Any], after: dict[str, Any], site: Site) -> list[Alert]:
    alerts: list[Alert] = []
    old_admins, new_admins = before.get("admins", {}), after.get("admins", {})
    for login, info in new_admins.items():
        if login not in old_admins:
            alerts.append(Alert(
                f"admin:{login}", "high", "P2", f"New administrator account '{login}' on {site}",
                {"login": login, "email": info.get("email", ""), "registered": info.get("registered"),
                 "user_id": info.get("id")},
                "Confirm with the client that this administrator is expected; otherwise remove it, change "
                "all passwords and escalate to a security incident.",
            ))  # fmt: skip
        elif old_admins[login].get("email") != info.get("email"):
            alerts.append(Alert(
                f"admin-email:{login}:{info.get('email', '')}", "high", "P2",
                f"E-mail of administrator '{login}' changed on {site}",
                {"login": login, "from": old_admins[login].get("email"), "to": info.get("email")},
                "A changed administrator e-mail lets its owner reset the password: confirm the change "
                "with the administrator.",
            ))  # fmt: skip
    old_opts, new_opts = before.get("options", {}), after.get("options", {})
    for name, title in (("admin_email", "Site administration e-mail"), ("siteurl", "Site address (siteurl)"),
                        ("home", "Home address")):  # fmt: skip
        if old_opts.get(name) != new_opts.get(name):
            alerts.append(Alert(
                f"option:{name}:{new_opts.get(name)}", "high", "P2", f"{title} changed on {site}",
                {"option": name, "from": old_opts.get(name), "to": new_opts.get(name)},
                f"Confirm the change of '{name}' with the client; restore the previous value if unexpected.",
            ))  # fmt: skip
    if str(new_opts.get("users_can_register")) == "1" and str(old_opts.get("users_can_register")) != "1":
        alerts.append(Alert(
            "option:users_can_register:1", "high", "P2", f"Anyone can now register on {site}",
            {"option": "users_can_register", "from": old_opts.get("users_can_register"), "to": "1"},
            "Turn off 'Anyone can register' unless the client wants open registration.",
        ))  # fmt: skip
    if new_opts.get("default_role") == "administrator" and old_opts.get("default_role") != "administrator":
        alerts.append(Alert(
            "option:default_role:administrator", "critical", "P2",
            f"New users become administrators on {site}",
            {"option": "default_role", "from": old_opts.get("default_role"), "to": "administrator"},
            "Set the default role back to 'subscriber' and review every account created since.",
        ))  # fmt: skip
    known = set(before.get("cron_hooks", [])) | CORE_CRON_HOOKS
    for hook in after.get("cron_hooks", []):
        if hook not in known:
            alerts.append(Alert(
                f"cron:{hook}", "medium", "P3", f"New scheduled task '{hook}' on {site}",
                {"hook": hook},
                "Find the plugin that schedules this hook; unknown tasks are a common persistence trick.",
            ))  # fmt: skip
    return alerts


def scan(
    site: Site,
    *,
    environment: str = "prod",
    source: Source | None = None,
    prefix: str = "wp_",
    now: dt.datetime | None = None,
) -> list[Finding]:
    """Snapshot the site's database and report what changed since the previous scan; the first scan is the
    baseline. Returns the findings that are new (or reappeared) in this scan."""
    now = now or dt.datetime.now(dt.UTC)
    source = source or database_source(site, environment)
    if source is None:
        raise ActivityError(
            f"{site} [{environment}]: no reachable database — add a backups Source of kind mariadb with a "
            "database URL"
        )
    data = take_snapshot(connect(source, prefix))
    previous = (
        ActivitySnapshot.objects.filter(site=site, environment=environment).order_by("-taken_at").first()
    )
    ActivitySnapshot.objects.create(site=site, environment=environment, taken_at=now, data=data)
    if previous is None:
        return []
    new: list[Finding] = []
    for alert in compare(previous.data, data, site):
        finding, created = findings.record(
            site, kind=KIND, key=alert.key, severity=alert.severity, title=alert.title,
            details=alert.details, remediation=alert.remediation, priority=alert.priority,
            environment=environment, now=now,
        )  # fmt: skip
        if created:
            new.append(finding)
    return new
