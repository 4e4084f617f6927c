"""Django settings, read from SITEKEEPER_* environment variables (see README and conf.py)."""

from __future__ import annotations

import datetime as dt
import os
import re
from urllib.parse import SplitResult, urlsplit

from csp.constants import NONCE, NONE, SELF

from sitekeeper import conf

HOME = conf.home_dir()
SECRET_KEY = conf.secret_key(HOME)
DEBUG = conf.env_bool("SITEKEEPER_DEBUG", default=False)
ALLOWED_HOSTS = conf.env_list("SITEKEEPER_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])

# Absolute address of this installation, for links in e-mail (e.g. https://desk.agency.example).
SITEKEEPER_BASE_URL = os.environ.get("SITEKEEPER_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
# Mailbox the IMAP poller reads (`sitekeeper imap_poll`); empty: only `mail-in` on stdin.
SITEKEEPER_IMAP_URL = os.environ.get("SITEKEEPER_IMAP_URL", "")
# E-mail intake: who vouches for a mail's From: (docs/email.md "Is it really from the contact?").
SITEKEEPER_MAIL_AUTHSERV_ID = conf.env_list("SITEKEEPER_MAIL_AUTHSERV_ID", [])
SITEKEEPER_MAIL_DKIM = conf.env_bool("SITEKEEPER_MAIL_DKIM", default=True)
SITEKEEPER_MAIL_ACCEPT_UNVERIFIED = conf.env_bool("SITEKEEPER_MAIL_ACCEPT_UNVERIFIED", default=False)
SITEKEEPER_MAIL_CONFIRM_HOURS = conf.env_int("SITEKEEPER_MAIL_CONFIRM_HOURS", 72, minimum=1)
# The staff home's "due soon" horizon in wall-clock hours (web/ops.py); a bad value stops the start.
SITEKEEPER_OPS_SOON_HOURS = conf.env_int("SITEKEEPER_OPS_SOON_HOURS", 4, minimum=1)

# Raw check results are kept this many days, then only hourly/daily rollups remain.
SITEKEEPER_RAW_RESULT_DAYS = conf.env_int("SITEKEEPER_RAW_RESULT_DAYS", 14, minimum=1)
# Where restore tests load database dumps: a server of the agency's, never the client's production database.
SITEKEEPER_SCRATCH_MARIADB_URL = os.environ.get(
    "SITEKEEPER_SCRATCH_MARIADB_URL", "mysql://root@127.0.0.1:3306/"
)
SITEKEEPER_SCRATCH_POSTGRES_URL = os.environ.get(
    "SITEKEEPER_SCRATCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)
# Security scans: a full re-hash of every file this often (between, unchanged size/mtime/inode = unchanged);
# WordPress core checksum files (api.wordpress.org/core/checksums format) looked up here first; an extra
# allow-list of known-good file SHA-256s; where quarantined files go (never inside a site's folder).
SITEKEEPER_INTEGRITY_FULL_REHASH_DAYS = conf.env_int("SITEKEEPER_INTEGRITY_FULL_REHASH_DAYS", 7, minimum=1)
SITEKEEPER_WORDPRESS_CHECKSUMS_DIR = os.environ.get("SITEKEEPER_WORDPRESS_CHECKSUMS_DIR", "")
SITEKEEPER_MALWARE_ALLOWLIST = os.environ.get("SITEKEEPER_MALWARE_ALLOWLIST", "")
SITEKEEPER_QUARANTINE_DIR = os.environ.get("SITEKEEPER_QUARANTINE_DIR", "")
# Client downloads of snapshots (tar/zip), kept this many days.
SITEKEEPER_EXPORT_DAYS = conf.env_int("SITEKEEPER_EXPORT_DAYS", 7, minimum=1)
# Performance audits: the Lighthouse program (default: node_modules/.bin/lighthouse of this checkout,
# installed by `make bootstrap`), the browser it drives, and how long each result's full JSON report is kept.
SITEKEEPER_LIGHTHOUSE = os.environ.get("SITEKEEPER_LIGHTHOUSE", "")
SITEKEEPER_CHROME = os.environ.get("SITEKEEPER_CHROME", "/usr/bin/chromium")
SITEKEEPER_LIGHTHOUSE_REPORT_DAYS = conf.env_int("SITEKEEPER_LIGHTHOUSE_REPORT_DAYS", 400, minimum=1)
# Update packages (zips of plugins, themes, core) the pipeline applies: stored here.
SITEKEEPER_PACKAGES_DIR = os.environ.get("SITEKEEPER_PACKAGES_DIR", "")
# Seconds between applying an update and its smoke checks: PHP's OPcache notices a changed file only after
# opcache.revalidate_freq (2 s by default), so checking at once would test the old code.
SITEKEEPER_UPDATE_SETTLE_SECONDS = conf.env_int("SITEKEEPER_UPDATE_SETTLE_SECONDS", 3)

DATABASES = {"default": conf.database(os.environ.get("SITEKEEPER_DATABASE_URL"), HOME)}
HUEY = conf.queue(os.environ.get("SITEKEEPER_QUEUE_URL"), HOME)

_email = conf.email(os.environ.get("SITEKEEPER_EMAIL_URL"), HOME)
EMAIL_BACKEND = _email.backend
EMAIL_HOST = _email.host
EMAIL_PORT = _email.port
EMAIL_HOST_USER = _email.user
EMAIL_HOST_PASSWORD = _email.password
EMAIL_USE_TLS = _email.use_tls
EMAIL_USE_SSL = _email.use_ssl
EMAIL_FILE_PATH = _email.file_path
DEFAULT_FROM_EMAIL = _email.from_email

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # The third-party apps under readable admin names (access/admin_apps.py); labels unchanged.
    "sitekeeper.access.admin_apps.LoginLockoutsConfig",  # login lockout (access/lockout.py)
    "django_otp",  # the second factor (access/twofactor.py)
    "sitekeeper.access.admin_apps.AuthenticatorAppsConfig",
    "sitekeeper.access.admin_apps.BackupCodesConfig",  # single-use recovery codes
    "csp",
    "ninja",  # serves Swagger UI's assets itself instead of from a CDN
    "huey.contrib.djhuey",
    "sitekeeper.access",
    "sitekeeper.contracts",
    "sitekeeper.notify",
    "sitekeeper.desk",
    "sitekeeper.monitoring",
    "sitekeeper.backups",
    "sitekeeper.security",
    "sitekeeper.health",
    "sitekeeper.releases",
    "sitekeeper.web",
    "sitekeeper.api",
    "sitekeeper.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before anything reads the body: a declared Content-Length over SITEKEEPER_MAX_REQUEST_MB is a 413.
    "sitekeeper.web.middleware.RequestBodyLimitMiddleware",
    "sitekeeper.web.middleware.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): a second factor in this session
    "sitekeeper.access.twofactor.RequireSecondFactorMiddleware",  # staff: no client data before it
    "sitekeeper.access.middleware.AuditActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last: it answers a locked-out login after the view ran (axes' documented place).
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # First: counts failures and refuses a locked-out account or address before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "sitekeeper.urls"
WSGI_APPLICATION = "sitekeeper.wsgi.application"
AUTH_USER_MODEL = "access.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"  # stored instants are UTC; each contract's calendar zone is applied when reasoning
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = HOME / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns on every request when it is missing
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # serve straight from the apps' static folders without collectstatic
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads it to send X-CSRFToken
X_FRAME_OPTIONS = "DENY"

# --- Deployment: TLS, headers (docs/security.md "Deployment") ---------------------------------------------
# Served over https (SITEKEEPER_BASE_URL says so): cookies only over TLS, HSTS, and the proxy's header trusted
# to say the original request was https. sitekeeper never terminates TLS itself: a proxy in front does, and
# must set (overwrite, never pass on) the header named by SITEKEEPER_PROXY_SSL_HEADER.
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]+$")


def _base_url(raw: str) -> SplitResult:
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise conf.ConfigError(f"SITEKEEPER_BASE_URL: expected http://host or https://host, got {raw!r}")
    return parts


def _proxy_ssl_header(raw: str) -> tuple[str, str] | None:
    """'X-Forwarded-Proto' (value https) or 'Name: value' (e.g. 'X-Forwarded-Ssl: on') → Django's META key
    and the value that means https; '' → None (no proxy header trusted)."""
    name, _, value = (part.strip() for part in raw.partition(":"))
    if not name:
        return None
    if not _HEADER_NAME.match(name):
        message = f"{name!r} is not a header name (letters, digits, -)"
        raise conf.ConfigError(f"SITEKEEPER_PROXY_SSL_HEADER: {message}")
    return "HTTP_" + name.upper().replace("-", "_"), value or "https"


_BASE = _base_url(SITEKEEPER_BASE_URL)
HTTPS = _BASE.scheme == "https"
# The base URL's host is always served; SITEKEEPER_ALLOWED_HOSTS adds others (or replaces the local default).
if _BASE.hostname not in ALLOWED_HOSTS:
    ALLOWED_HOSTS = [*ALLOWED_HOSTS, _BASE.hostname]
SESSION_COOKIE_SECURE = HTTPS  # the messages cookie follows it (Django's CookieStorage)
CSRF_COOKIE_SECURE = HTTPS
# Read even over http, so a typo fails at start-up rather than on the day https is switched on.
_hsts_seconds = conf.env_int("SITEKEEPER_HSTS_SECONDS", 31_536_000)
SECURE_HSTS_SECONDS = _hsts_seconds if HTTPS else 0  # sent by SecurityMiddleware on https requests only
SECURE_HSTS_INCLUDE_SUBDOMAINS = conf.env_bool("SITEKEEPER_HSTS_SUBDOMAINS", default=False)
_proxy_header = _proxy_ssl_header(os.environ.get("SITEKEEPER_PROXY_SSL_HEADER", "X-Forwarded-Proto"))
# Over plain http nothing may claim https: a forged header would only make cookies and redirects lie.
SECURE_PROXY_SSL_HEADER = _proxy_header if HTTPS else None
# The proxy's address as `sitekeeper serve` sees it: only from there are X-Forwarded-Proto and
# X-Forwarded-For believed (the client's address then feeds the per-address lockout); from anyone else
# waitress removes them. "" trusts no proxy.
SITEKEEPER_TRUSTED_PROXY = conf.env_proxy("SITEKEEPER_TRUSTED_PROXY", "127.0.0.1")
# Only the origin (scheme, host, port): a base URL with a path would never match a browser's Origin header.
CSRF_TRUSTED_ORIGINS = [f"{_BASE.scheme}://{_BASE.netloc}"] if HTTPS else []
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Every page, fragment and the admin run with scripts and styles from this server only: no inline <script>,
# event handler, <style> or style="" (templates link static files instead). NONCE is there for a rare
# <style nonce="{{ request.csp_nonce }}">: django-csp adds the nonce to the header only on responses that
# used it. The admin and the API docs page (django-ninja's Swagger UI, its assets served from here) need no
# exception: tests/browser/test_csp.py loads them under this policy.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],  # pico's form icons are data: SVGs in its stylesheet
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# Permissions-Policy (web/middleware.py): browser features no page of sitekeeper uses, off for every origin
# (WebAuthn's publickey-credentials-* are left to their default, same-origin, for a second factor).
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "fullscreen",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
}

# --- Logins: lockout (access/lockout.py) and the second factor (access/twofactor.py) ---------------------
AXES_FAILURE_LIMIT = conf.env_int("SITEKEEPER_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = dt.timedelta(minutes=conf.env_int("SITEKEEPER_LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each alone: one account, or one address
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False  # one log line per lockout (access/lockout.py), not axes' per-attempt chatter
# Each limit counted on its own (access/lockout.py): an address may fail more often than one account, so one
# office behind one address is not locked by a person's typos; a dictionary run over usernames still is.
SITEKEEPER_LOGIN_ADDRESS_FAILURE_LIMIT = conf.env_int("SITEKEEPER_LOGIN_ADDRESS_FAILURE_LIMIT", 20, minimum=1)
SITEKEEPER_API_TOKEN_FAILURE_LIMIT = conf.env_int("SITEKEEPER_API_TOKEN_FAILURE_LIMIT", 20, minimum=1)
AXES_HANDLER = "sitekeeper.access.lockout.SitekeeperAxesHandler"
# REMOTE_ADDR (waitress set it from the trusted proxy's header), an IPv6 address counted per /64.
AXES_CLIENT_IP_CALLABLE = "sitekeeper.access.lockout.client_address"
AXES_LOCKOUT_CALLABLE = "sitekeeper.access.lockout.lockout_response"  # 429 page with its end, Retry-After
# Attempts while locked are refused, not counted: a lock ends at a known time, it cannot be prolonged forever.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_ENABLE_ADMIN = False  # access/admin.py registers the records read-only; unlocking there is audited
# Password reset (web/views_password.py): how long a link works; requests per hour per account and address.
PASSWORD_RESET_TIMEOUT = 3600 * conf.env_int("SITEKEEPER_PASSWORD_RESET_HOURS", 2, minimum=1)
SITEKEEPER_PASSWORD_RESET_ACCOUNT_LIMIT = conf.env_int(
    "SITEKEEPER_PASSWORD_RESET_ACCOUNT_LIMIT", 5, minimum=1
)
SITEKEEPER_PASSWORD_RESET_ADDRESS_LIMIT = conf.env_int(
    "SITEKEEPER_PASSWORD_RESET_ADDRESS_LIMIT", 10, minimum=1
)
OTP_TOTP_ISSUER = os.environ.get("SITEKEEPER_OTP_ISSUER", "sitekeeper")
# Django admin may delete a person's authenticator (a lost phone) but never show its secret or QR code.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# --- Request size (item 7): bodies over this are refused while streaming, uploads spill to disk ----------
# The server (`sitekeeper serve`, waitress) refuses a larger body with 413 as it arrives; web/middleware.py
# refuses a declared Content-Length over it before Django reads a byte, under any other server too.
SITEKEEPER_MAX_REQUEST_MB = conf.env_int("SITEKEEPER_MAX_REQUEST_MB", 12, minimum=1)
SITEKEEPER_MAX_REQUEST_BYTES = SITEKEEPER_MAX_REQUEST_MB * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440  # non-file form fields held in memory at most (Django's default)
FILE_UPLOAD_MAX_MEMORY_SIZE = 262_144  # larger uploads go to a temporary file, not memory
# Those temporary files: in the data folder (owner-only), not a shared /tmp, and on the same file system as
# the attachments they become.
FILE_UPLOAD_TEMP_DIR = str(HOME / "uploads")
os.makedirs(FILE_UPLOAD_TEMP_DIR, mode=0o700, exist_ok=True)
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700

# --- Logging ---------------------------------------------------------------------------------------------
# A refused request (403) is one line — method, path, user id, reason — not Django's traceback of the
# PermissionDenied (web/logfilters.py). On django.request itself, where Django logs it, so every handler
# (and pytest's caplog) sees the short line; on the console handler too, for django.security's 403s (CSRF).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"forbidden_one_line": {"()": "sitekeeper.web.logfilters.ForbiddenOneLine"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["forbidden_one_line"]}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "sitekeeper": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # Django's default handlers here (a DEBUG-only console printing tracebacks, mail to ADMINS) replaced:
        # its records go up to the root's console like everything else.
        "django": {"handlers": [], "level": "WARNING", "propagate": True},
        "django.request": {"filters": ["forbidden_one_line"]},
        # axes: a masked line per failed login; access/lockout.py logs each lockout once instead.
        "axes": {"level": "ERROR"},
    },
}
