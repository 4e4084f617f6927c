"""The demo agency: contracts from agency.yaml plus one login per role, so a newcomer can look around."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone

from sitekeeper.access import audit
from sitekeeper.access.audit import acting_as
from sitekeeper.access.models import Role, User
from sitekeeper.contracts.apply import apply_file
from sitekeeper.contracts.models import Client, Contact, Site
from sitekeeper.demo import local_sites
from sitekeeper.demo.backups_seed import seed_backups
from sitekeeper.demo.desk_seed import seed_requests
from sitekeeper.demo.health_seed import seed_health
from sitekeeper.demo.monitoring_seed import seed_monitoring
from sitekeeper.demo.security_seed import seed_security
from sitekeeper.health import performance
from sitekeeper.health.models import HealthConfig, PerformanceAudit

AGENCY_FILE = Path(__file__).with_name("agency.yaml")
# Demo accounts only: printed on the console for the person running `sitekeeper demo`.
DEMO_PASSWORD = "sitekeeper-demo"  # noqa: S105


@dataclass(frozen=True)
class Login:
    username: str
    role: str
    client: str


STAFF = [
    ("admin", Role.AGENCY_ADMIN, "Alex Admin"),
    ("engineer", Role.ENGINEER, "Erin Engineer"),
    ("manager", Role.ACCOUNT_MANAGER, "Morgan Manager"),
]


class RealAccountError(CommandError):
    """A demo login's username belongs to a real account: the demo leaves it alone (`sitekeeper demo` prints
    this as an error, without a traceback)."""


def _ensure_user(username: str, role: str, full_name: str, email: str, client: Client | None) -> User:
    """Create (or refresh) a demo login, marked `is_demo`: such accounts need no second factor while the
    installation is not on https. Only accounts this seed made carry the mark: an existing account of the
    same name is taken over only if its password already is the published demo password (a demo loaded
    before the mark existed); a real account is never touched — its password reset, its factor waived."""
    first, _, last = full_name.partition(" ")
    user, created = User.objects.get_or_create(
        username=username, defaults={"role": role, "client": client, "email": email, "is_demo": True}
    )
    marked = created
    if not created and not user.is_demo:
        if not user.check_password(DEMO_PASSWORD):
            raise RealAccountError(
                f"user {username!r} already exists and is not a demo account: `sitekeeper demo` does not "
                "change real accounts — run the demo with its own SITEKEEPER_HOME (or database)"
            )
        user.is_demo, marked = True, True
    user.role, user.client, user.email = role, client, email
    user.first_name, user.last_name = first, last
    user.set_password(DEMO_PASSWORD)
    user.save()
    if marked:  # the mark waives a second factor: it goes into the audit log (the seed acts as "demo")
        audit.record(user, "create" if created else "update", None, {"is_demo": True, "role": role})
    return user


def _client_logins() -> list[Login]:
    logins = []
    for client in Client.objects.order_by("slug"):
        people = {
            Role.CLIENT_OWNER: client.contacts.filter(role=Contact.Role.PRODUCT_OWNER).first(),
            Role.CLIENT_MEMBER: client.contacts.filter(role=Contact.Role.MEMBER).first()
            or client.contacts.exclude(role=Contact.Role.PRODUCT_OWNER).first(),
        }
        for role, contact in people.items():
            if contact is None:
                continue
            suffix = "owner" if role == Role.CLIENT_OWNER else "member"
            username = f"{client.slug}-{suffix}"
            _ensure_user(username, role, contact.name, contact.email, client)
            logins.append(Login(username, Role(role).label, client.name))
    return logins


@dataclass(frozen=True)
class SeedResult:
    changes: list[str]
    logins: list[Login]
    requests: int  # demo requests created by this run (0 when they already existed)


def seed() -> SeedResult:
    """Apply the demo agency and (re)create the demo logins; safe to run again."""
    local_sites.restore()  # a previous start moved the prod environments onto the local site server
    result = apply_file(AGENCY_FILE, actor_label="demo")
    with transaction.atomic(), acting_as(label="demo"):
        logins = [Login(name, Role(role).label, "agency") for name, role, _ in STAFF]
        for username, role, full_name in STAFF:
            _ensure_user(username, role, full_name, f"{username}@webility.test", None)
        logins += _client_logins()
        requests = seed_requests()
        seed_monitoring(timezone.now())
    # Outside the transaction: real restic runs, whose catalogue rows each job commits as it goes.
    seed_backups(timezone.now())
    with acting_as(label="demo"):
        seed_security(timezone.now())
    # Outside a transaction too: the update pipeline's restore points are real restic runs.
    with acting_as(label="demo"):
        seed_health(timezone.now())
    with transaction.atomic(), acting_as(label="demo"):
        one_lighthouse_run()
    return SeedResult(result.changes, logins, requests)


def one_lighthouse_run() -> None:
    """One Lighthouse run per page (not the median of three) for the demo's sites: their pages are a few
    hundred bytes on this machine, three runs would measure the same, and at the demo's first start the
    worker audits every site for the month (the schedule) — at three runs that keeps both of its threads busy
    for minutes, and a newcomer's "Scan now" or "Back up now" waits behind them. Audited, as "demo"."""
    for site in Site.objects.filter(client__contracts__isnull=False).distinct():
        config = HealthConfig.for_site(site)
        if config.lighthouse_runs != 1:
            config.lighthouse_runs = 1
            config.save()


# A Lighthouse audit of the museum website, queued at each fresh demo: Lighthouse loads the site's prod
# environment, which the demo points at its local site server (demo/local_sites.py), so the audit measures
# that page — or fails, saying why, when Lighthouse is not installed yet (`make demo` installs it in the
# background; `make bootstrap` does too). The staff home lists a failed audit with its reason.
UNREACHABLE_AUDIT_URL = "https://stadtmuseum-nord.test"  # the museum website (name kept for the tests)
AUDIT_DELAY_SECONDS = 60  # after the demo is up: the first pages are not slowed by Chromium


def queue_background_runs() -> PerformanceAudit | None:
    """A Lighthouse audit of the museum's website, asked for by the engineer as the console's "Run
    Lighthouse" does and handed to the demo's worker a minute after the start (it measures the local copy of
    the site, or fails when Lighthouse is missing). Once per demo database; returns the queued audit, or None
    when one exists already."""
    from sitekeeper.health import tasks

    site = Site.objects.filter(url=UNREACHABLE_AUDIT_URL).first()
    engineer = User.objects.filter(username="engineer", is_demo=True).first()
    if site is None or engineer is None or PerformanceAudit.objects.filter(site=site).exists():
        return None
    with transaction.atomic(), acting_as(label="demo"):  # the demo asked, in the engineer's name
        queued = performance.request_audit(site, engineer)
        audit.record(queued, "create", None, {"slot": queued.slot, "runs": queued.runs})
    tasks.performance_run_task.schedule(args=(queued.pk,), delay=AUDIT_DELAY_SECONDS)
    return queued
