"""Strict readers for SITEKEEPER_* environment variables.

Every reader names the variable and the bad value in its error, so a typo in a deployment fails at start-up
with one clear line instead of a silently wrong default.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from sitekeeper.files import private_dir


class ConfigError(Exception):
    """A SITEKEEPER_* variable holds a value we cannot use."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}: expected one of 1/0/true/false/yes/no/on/off, got {raw!r}")


def env_int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError as exc:
        raise ConfigError(f"{name}: expected a whole number, got {raw!r}") from exc
    if value < minimum:
        raise ConfigError(f"{name}: must be at least {minimum}, got {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    items = [item.strip() for item in raw.split(",")]
    if any(not item for item in items):
        raise ConfigError(f"{name}: expected a comma-separated list without empty items, got {raw!r}")
    return items


def env_proxy(name: str, default: str) -> str:
    """A proxy's IP address, "*" (any peer: only when nothing but the proxy can reach the server) or ""
    (no proxy). A typo must not silently trust nobody: behind an https proxy every request would then look
    like plain http."""
    raw = os.environ.get(name)
    value = default if raw is None else raw.strip()
    if value in {"", "*"}:
        return value
    try:
        ipaddress.ip_address(value)
    except ValueError as exc:
        raise ConfigError(f"{name}: expected the proxy's IP address, '*' or empty, got {value!r}") from exc
    return value


def home_dir() -> Path:
    """The data folder: database, queue, secret key, attachments, backups' local state; owner-only (0700),
    made so here even when it existed, since everything in it is either secret or client data."""
    raw = os.environ.get("SITEKEEPER_HOME", "").strip() or "./var"
    home = Path(raw).expanduser().resolve()
    if home.exists() and not home.is_dir():
        raise ConfigError(f"SITEKEEPER_HOME: {home} exists and is not a folder")
    try:
        return private_dir(home)
    except OSError as exc:
        raise ConfigError(
            f"SITEKEEPER_HOME: cannot make {home} an owner-only folder: {exc.strerror or exc}"
        ) from exc


def secret_key(home: Path) -> str:
    """SITEKEEPER_SECRET_KEY, or a key generated once into the data folder (mode 0600)."""
    raw = os.environ.get("SITEKEEPER_SECRET_KEY")
    if raw is not None:
        if len(raw) < 32:
            raise ConfigError("SITEKEEPER_SECRET_KEY: must be at least 32 characters long")
        return raw
    path = home / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


# The web server, the worker and the probe all write one SQLite file (the demo, a small install). A deferred
# transaction that turns into a write while another process writes fails at once with "database is locked",
# whatever the busy timeout: transactions take the write lock when they begin (IMMEDIATE) and wait up to 20 s
# for it, and WAL lets readers go on while one process writes.
SQLITE_OPTIONS = {"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}


def _sqlite(path: str) -> dict[str, object]:
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": path, "OPTIONS": dict(SQLITE_OPTIONS)}


def database(url: str | None, home: Path) -> dict[str, object]:
    """Django DATABASES['default'] from SITEKEEPER_DATABASE_URL (sqlite:///, postgres://, mysql://)."""
    if not url:
        return _sqlite(str(home / "sitekeeper.sqlite3"))
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        # sqlite:///relative/path or sqlite:////absolute/path
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        if not path:
            raise ConfigError(f"SITEKEEPER_DATABASE_URL: no file path in {url!r}")
        return _sqlite(path)
    engines = {
        "postgres": "django.db.backends.postgresql",
        "postgresql": "django.db.backends.postgresql",
        "mysql": "django.db.backends.mysql",
        "mariadb": "django.db.backends.mysql",
    }
    if scheme not in engines:
        raise ConfigError(
            f"SITEKEEPER_DATABASE_URL: unsupported scheme {scheme!r} in {url!r} "
            "(use sqlite:///, postgres:// or mysql://)"
        )
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise ConfigError(f"SITEKEEPER_DATABASE_URL: no database name in {url!r}")
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"SITEKEEPER_DATABASE_URL: bad port in {url!r}") from exc
    return {
        "ENGINE": engines[scheme],
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(port or ""),
        "CONN_MAX_AGE": 60,
    }


def queue(url: str | None, home: Path) -> dict[str, object]:
    """huey settings from SITEKEEPER_QUEUE_URL: a SQLite file by default, redis://… for several workers."""
    if not url:
        return {
            "huey_class": "huey.SqliteHuey",
            "filename": str(home / "queue.sqlite3"),
            "name": "sitekeeper",
        }
    parts = urlsplit(url)
    if parts.scheme in {"redis", "rediss"}:
        return {"huey_class": "huey.RedisHuey", "url": url, "name": "sitekeeper", "immediate": False}
    if parts.scheme == "sqlite":
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        if not path:
            raise ConfigError(f"SITEKEEPER_QUEUE_URL: no file path in {url!r}")
        return {"huey_class": "huey.SqliteHuey", "filename": path, "name": "sitekeeper", "immediate": False}
    raise ConfigError(
        f"SITEKEEPER_QUEUE_URL: unsupported scheme {parts.scheme!r} (use redis:// or sqlite:///)"
    )


@dataclass(frozen=True)
class EmailSettings:
    backend: str
    host: str = ""
    port: int = 0
    user: str = ""
    password: str = ""
    use_tls: bool = False
    use_ssl: bool = False
    from_email: str = "sitekeeper@localhost"
    file_path: str = ""


def email(url: str | None, home: Path) -> EmailSettings:
    """SITEKEEPER_EMAIL_URL: smtp://user:pass@host:587?tls=1&from=a@b, smtps://…, console://, file://."""
    if not url:
        return EmailSettings(backend="django.core.mail.backends.console.EmailBackend")
    parts = urlsplit(url)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    sender = query.get("from", "sitekeeper@localhost")
    if parts.scheme == "console":
        return EmailSettings(backend="django.core.mail.backends.console.EmailBackend", from_email=sender)
    if parts.scheme == "file":
        folder = unquote(parts.path) or str(home / "mail")
        return EmailSettings(
            backend="django.core.mail.backends.filebased.EmailBackend", file_path=folder, from_email=sender
        )
    if parts.scheme not in {"smtp", "smtps"}:
        raise ConfigError(
            f"SITEKEEPER_EMAIL_URL: unsupported scheme {parts.scheme!r} (use smtp://, smtps://, console://, file://)"
        )
    if not parts.hostname:
        raise ConfigError("SITEKEEPER_EMAIL_URL: no host name")
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 25)
    except ValueError as exc:
        raise ConfigError("SITEKEEPER_EMAIL_URL: bad port") from exc
    tls = query.get("tls", "0").lower() in _TRUE
    return EmailSettings(
        backend="django.core.mail.backends.smtp.EmailBackend",
        host=parts.hostname,
        port=port,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        use_tls=tls,
        use_ssl=parts.scheme == "smtps",
        from_email=sender,
    )
