"""The personas of tests/conftest.py, each with an API token, plus the objects URLs are filled from."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from sitekeeper.access import invitations
from sitekeeper.access.audit import acting_as
from sitekeeper.access.models import ApiToken, AuditEntry, Role, User
from sitekeeper.contracts.models import Client
from sitekeeper.desk import attachments, services
from sitekeeper.desk.models import Escalation, Ticket
from sitekeeper.notify.message import Message, Recipient
from sitekeeper.notify.models import NotificationPreference
from sitekeeper.notify.seam import notify

PERSONAS = ("anonymous", "owner", "member", "outsider", "engineer", "manager", "admin")
CLIENT_PERSONAS = frozenset({"owner", "member", "outsider"})
AGENCY_PERSONAS = frozenset({"engineer", "manager", "admin"})


@dataclass
class World:
    acme: Client
    globex: Client
    users: dict[str, User]
    keys: dict[str, str]  # persona → API key
    objects: dict[str, object] = field(default_factory=dict)  # URL values, by name


@pytest.fixture
def fast_passwords(settings) -> None:
    # PBKDF2's deliberate slowness would dominate a suite that creates seven people per test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(request, fast_passwords, acme, globex) -> World:
    users: dict[str, User] = {name: request.getfixturevalue(name) for name in PERSONAS if name != "anonymous"}
    owner, admin = users["owner"], users["admin"]
    keys = {name: ApiToken.issue(user, f"{name}'s script")[1] for name, user in users.items()}
    with acting_as(admin):  # one real audit entry, about acme
        acme.address = "Hauptstraße 1, Berlin"
        acme.save()
    contract = acme.contract
    site = acme.sites.get()
    objects: dict[str, object] = {
        "client_slug": acme.slug,
        "plan_slug": contract.plan.slug,
        "contract_id": contract.pk,
        "site_pk": site.pk,
        "owner_pk": owner.pk,
        "owner_token_pk": owner.api_tokens.get().pk,
        "person_pk": users["member"].pk,  # acme's member: a person the people pages manage
        # Django admin change/delete/history pages, by "app.model": acme's own objects.
        "access.user": owner.pk,
        "access.apitoken": owner.api_tokens.get().pk,
        "access.auditentry": AuditEntry.objects.filter(client=acme).latest("at").pk,
        # An open invitation of acme's (people pages and the admin's read-only invitation pages).
        "access.invitation": invitations.invite("invited@acme.test", Role.CLIENT_MEMBER, acme, actor=admin)[
            0
        ].pk,
        "contracts.plan": contract.plan.pk,
        "contracts.calendar": contract.calendar.pk,
        "contracts.client": acme.pk,
        "contracts.contract": contract.pk,
        "contracts.site": site.pk,
    }
    objects.update(desk_objects(acme, globex, users))
    objects.update(notify_objects(users))
    objects.update(monitoring_objects(acme, globex, users))
    objects.update(backup_objects(acme, users))
    objects.update(security_objects(acme, users))
    objects.update(health_objects(acme, users))
    objects.update(login_objects(users))
    return World(acme=acme, globex=globex, users=users, keys=keys, objects=objects)


def desk_objects(acme: Client, globex: Client, users: dict[str, User]) -> dict[str, object]:
    """An acme request with a reply, an internal note, a pause, time and a file; and one of globex (leaks)."""
    owner, engineer = users["owner"], users["engineer"]
    ticket = services.file_request(
        acme,
        channel="portal",
        type="bug",
        priority="P2",
        site=acme.sites.get(),
        environment="prod",
        subject="Acme GmbH contact form does not send",
        description="The contact form on /contact shows success but no e-mail arrives.",
        steps="1. Open /contact\n2. Send the form\n3. No e-mail",
        requester_user=owner,
        allow_incomplete=False,
    )
    reply = services.add_message(ticket, "We are looking into it.", channel="staff", author=engineer)
    services.add_message(
        ticket, "Internal: SMTP relay rejects the sender.", channel="staff", author=engineer, internal=True
    )
    services.set_state(ticket, "waiting_information", actor=engineer, note="Which address did you send from?")
    services.add_message(ticket, "From sales@acme.test.", channel="portal", author=owner)
    attachment = attachments.store(
        ticket, "acme-mail.log", b"Acme GmbH mail log (acme.test): 550 sender rejected\n", uploaded_by=owner
    )
    entry = services.log_time(ticket, user=engineer, minutes=20, note="SMTP logs")
    escalation = Escalation.objects.create(
        ticket=ticket, clock="response", kind="warning", due=ticket.received_at, at=ticket.received_at
    )
    other = services.file_request(
        globex,
        channel="portal",
        type="question",
        priority="P4",
        site=globex.sites.get(),
        environment="prod",
        subject="Globex Inc invoice question",
        description="Which month does the last invoice cover?",
        requester_user=users["outsider"],
        allow_incomplete=False,
    )
    ticket = Ticket.objects.get(pk=ticket.pk)
    received = ticket.received_at
    return {
        "ticket_pk": ticket.pk,
        "ticket_id": ticket.pk,
        "attachment_id": attachment.pk,
        "globex_ticket_pk": other.pk,
        "sla_month": f"{received:%Y-%m}",
        # Django admin pages of the desk's models: acme's rows.
        "desk.ticket": ticket.pk,
        "desk.event": ticket.events.first().pk,
        "desk.pause": ticket.pauses.first().pk,
        "desk.message": reply.pk,
        "desk.attachment": attachment.pk,
        "desk.timeentry": entry.pk,
        "desk.escalation": escalation.pk,
    }


def notify_objects(users: dict[str, User]) -> dict[str, object]:
    """A notification preference of acme's owner and one delivery to them (Django admin's notify pages)."""
    owner = users["owner"]
    preference = NotificationPreference.objects.create(
        user=owner, kind="email", target="owner@acme.test", events=["ticket"]
    )
    (delivery,) = notify(
        [Recipient(kind="email", target="owner@acme.test", name="Acme GmbH Owner")],
        Message(subject="Acme GmbH: your request was answered", text="See the portal.", event="ticket.reply"),
        key="world:acme:reply",
    )
    return {"notify.notificationpreference": preference.pk, "notify.delivery": delivery.pk}


def monitoring_objects(acme: Client, globex: Client, users: dict[str, User]) -> dict[str, object]:
    """acme's monitor with an outage tagged by staff, an announcement, a probe session and a (disabled)
    status page; globex's status page is enabled (the public route is requested with its slug)."""
    import datetime as dt

    from django.utils import timezone

    from sitekeeper.monitoring.models import (
        MaintenanceAnnouncement,
        Monitor,
        Outage,
        ProbeSession,
        StatusPage,
    )

    now = timezone.now()
    site = acme.sites.get()
    monitor = Monitor.objects.create(site=site, url=site.url, name="Acme GmbH home page", state="up")
    ProbeSession.objects.create(
        location="fra", instance="probe:1", started_at=now - dt.timedelta(days=100), last_beat_at=now
    )
    outage = Outage.objects.create(
        monitor=monitor,
        site=site,
        start=now - dt.timedelta(days=2, hours=1),
        end=now - dt.timedelta(days=2),
        cause="HTTP 503",
        exclusion="third_party_platform",
        exclusion_reason="Acme GmbH's payment provider was down",
        tagged_by=users["engineer"],
        tagged_at=now,
    )
    announcement = MaintenanceAnnouncement.objects.create(
        contract=acme.contract,
        kind="scheduled",
        start=now + dt.timedelta(days=3),
        end=now + dt.timedelta(days=3, hours=2),
        max_minutes=60,
        announced_at=now,
        note="Acme GmbH database upgrade",
    )
    acme_page = StatusPage.objects.create(client=acme, slug="acme-status", enabled=False, title="Acme GmbH")
    globex_site = globex.sites.get()
    Monitor.objects.create(site=globex_site, url=globex_site.url, name="Globex home page", state="up")
    globex_page = StatusPage.objects.create(
        client=globex, slug="globex", enabled=True, title="Globex Inc status"
    )
    return {
        "outage_pk": outage.pk,
        "status_slug": globex_page.slug,
        "monitoring.monitor": monitor.pk,
        "monitoring.outage": outage.pk,
        "monitoring.maintenanceannouncement": announcement.pk,
        "monitoring.statuspage": acme_page.pk,
    }


def backup_objects(acme: Client, users: dict[str, User]) -> dict[str, object]:
    """acme's site backed up into a local repository: a snapshot, a running backup, a passed restore test,
    a queued download (not ready: its download routes answer 404)."""
    import datetime as dt

    from django.utils import timezone

    from sitekeeper.backups.models import (
        BackupRun,
        Export,
        Repository,
        Restore,
        RestoreTest,
        SiteBackup,
        Snapshot,
        Source,
    )

    now = timezone.now()
    site = acme.sites.get()
    repo = Repository.objects.create(client=acme, name="main", kind="local", location="/var/backups/acme")
    config = SiteBackup.objects.create(site=site, repository=repo)
    source = Source.objects.create(site=site, name="uploads", layer="data", kind="files", path="/srv/acme")
    run = BackupRun.objects.create(
        site=site,
        layer="data",
        trigger="schedule",
        slot="world",
        status="running",
        progress={"phase": "files"},
    )
    snapshot = Snapshot.objects.create(
        repository=repo,
        site=site,
        source=source,
        source_name="uploads",
        source_kind="files",
        layer="data",
        restic_id="ab" * 32,
        time=now - dt.timedelta(hours=3),
        bytes_processed=10_000,
        bytes_added=1_000,
        files=12,
    )
    test = RestoreTest.objects.create(
        site=site, slot="world", status="passed", finished_at=now, check_passed=True, evidence=[]
    )
    export = Export.objects.create(snapshot=snapshot, requested_by=users["owner"])
    restore = Restore.objects.create(
        site=site, snapshot=snapshot, decided_by=users["engineer"], reason="Acme GmbH stage refresh"
    )
    return {
        "export_pk": export.pk,
        "backups.repository": repo.pk,
        "backups.sitebackup": config.pk,
        "backups.source": source.pk,
        "backups.backuprun": run.pk,
        "backups.snapshot": snapshot.pk,
        "backups.restoretest": test.pk,
        "backups.restore": restore.pk,
        "backups.export": export.pk,
    }


# The ticket the world's security finding opens (escalated to a security incident, so P1).
SECURITY_SUBJECT = "Security: Acme GmbH core file changed: wp-includes/version.php"


def security_objects(acme: Client, users: dict[str, User]) -> dict[str, object]:
    """An integrity finding on acme's site (with a diff and a P2 ticket), escalated to a security incident
    whose report is published (so the portal and a client token see it)."""
    from sitekeeper.security import findings, incidents

    site, engineer = acme.sites.get(), users["engineer"]
    finding, _new = findings.record(
        site,
        kind="integrity",
        key="wp-includes/version.php",
        severity="high",
        title="Acme GmbH core file changed: wp-includes/version.php",
        details={
            "path": "wp-includes/version.php",
            "change": "changed",
            "diff": "-$wp_version = '6.1.9';\n+x",
        },
        remediation="Restore the file from the release or approve the baseline.",
        priority="P2",
    )
    incident = incidents.escalate(finding, engineer)
    incidents.save_report(
        incident,
        engineer,
        what_happened="Acme GmbH: a core file was modified.",
        actions_taken="Restored the file.",
        prevention="Passwords rotated.",
    )
    incidents.publish_report(incident, engineer)
    return {"finding_pk": finding.pk, "incident_pk": incident.pk}


def health_objects(acme: Client, users: dict[str, User]) -> dict[str, object]:
    """acme's site health: a finished link scan with a broken link, a finished Lighthouse audit with one
    result, an update package and a deployed release of it."""
    import datetime as dt
    import gzip

    from django.utils import timezone

    from sitekeeper.health.models import BrokenLink, LighthouseResult, LinkScan, PerformanceAudit
    from sitekeeper.releases.models import Release, ReleaseChange, UpdatePackage

    now, site = timezone.now(), acme.sites.get()
    scan = LinkScan.objects.create(
        site=site, slot="world", status="succeeded", start_url=site.url, pages=3, links=9, broken=1, new=1,
        started_at=now - dt.timedelta(minutes=2), finished_at=now,
    )  # fmt: skip
    BrokenLink.objects.create(
        scan=scan, url=f"{site.url}/gone/", internal=True, problem="http_error", status_code=404,
        pages=[site.url], page_count=1, change="new",
    )  # fmt: skip
    audit = PerformanceAudit.objects.create(site=site, slot="world", status="succeeded", finished_at=now)
    result = LighthouseResult.objects.create(
        audit=audit, site=site, url=site.url, form_factor="mobile", measured_at=now, performance=91,
        report_gz=gzip.compress(b'{"lighthouseVersion": "12.8.2"}'),
    )  # fmt: skip
    package = UpdatePackage.objects.create(
        ecosystem="wordpress-plugin", slug="akismet", version="5.0.3", file="/srv/packages/akismet.zip",
        sha256="0" * 64,
    )  # fmt: skip
    release = Release.objects.create(
        site=site, slot="world", status="deployed", requested_by=users["engineer"],
        outcome="Acme GmbH: akismet updated.",
    )  # fmt: skip
    ReleaseChange.objects.create(
        release=release, package=package, ecosystem="wordpress-plugin", slug="akismet",
        from_version="5.0.2", to_version="5.0.3",
    )  # fmt: skip
    return {
        "link_scan_pk": scan.pk,
        "performance_audit_pk": audit.pk,
        "lighthouse_result_pk": result.pk,
        "release_pk": release.pk,
        "package_pk": package.pk,
    }


def login_objects(users: dict[str, User]) -> dict[str, object]:
    """The account manager's authenticator and recovery codes, and one of each of axes' login records about
    them (not the owner's: the page tests log the owner in with a password alone)."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    from sitekeeper.access import twofactor
    from tests.conftest import authenticator_for

    manager = users["manager"]
    twofactor.regenerate_recovery_codes(manager)
    seen = {
        "username": manager.username,
        "ip_address": "203.0.113.7",
        "user_agent": "test",
        "path_info": "/login/",
    }
    return {
        "otp_totp.totpdevice": authenticator_for(manager).pk,
        "otp_static.staticdevice": manager.staticdevice_set.get().pk,
        "axes.accessattempt": AccessAttempt.objects.create(
            **seen, get_data="", post_data="", failures_since_start=1
        ).pk,
        "axes.accessfailurelog": AccessFailureLog.objects.create(**seen).pk,
        "axes.accesslog": AccessLog.objects.create(**seen).pk,
    }
