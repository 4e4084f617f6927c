"""Security incidents: opened by sitekeeper at detection when a finding indicates one, or by a person who
escalates a finding; handled with the guide's procedure.

- which findings indicate an incident (`indicates_incident`): malware (a web shell or any other match), a new
  administrator account nobody announced, a changed administrator e-mail, a changed site address — clause
  6.3 counts 24 hours "of becoming aware", and the agency is aware when its scan saw it, so the incident
  (and its clock) opens at the finding's detection, exactly once per episode of the finding;
- the linked service-desk ticket: opened at detection it keeps the scan's priority (a suspicion is not yet
  "an active security breach", agreement 2.1); a person who escalates it confirms it and raises it to P1;
- the first-measures checklist (passwords, tokens and keys, access, maintenance mode, logs), each item ticked
  by the person who did it, with the time;
- the client notification clock of clause 6.3: 24 hours from detection;
- a person may dismiss it as a false positive, with the reason (audited: who, when, why): the clock stops,
  the finding is accepted, the request is resolved with the reason, and the client reads it in plain words;
- the post-incident report for the client, published to the portal by a person and rendered as Markdown.

Every change by a person goes through here under `acting_as(user)`, so the audit log names the person; what
sitekeeper opens itself is attributed to its service account.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from sitekeeper.access.audit import acting_as
from sitekeeper.access.models import User
from sitekeeper.contracts.presenters import local_time, zone_of
from sitekeeper.desk import detected, services
from sitekeeper.desk.models import Ticket
from sitekeeper.security.models import ChecklistItem, Finding, FindingKind, FindingStatus, SecurityIncident

NOTIFY_WITHIN = dt.timedelta(hours=24)  # agreement clause 6.3
WARN_BEFORE = dt.timedelta(hours=4)
FIRST_MEASURES: tuple[tuple[str, str], ...] = (
    ("passwords", "Change passwords (hosting, SSH, database, CMS administrators)"),
    ("tokens", "Revoke tokens and keys (API tokens, SSH keys, application passwords, salts)"),
    ("access", "Check and cut access (unknown accounts, sessions, FTP/SSH users)"),
    ("maintenance", "Put the site in maintenance mode if it harms visitors"),
    ("logs", "Secure the logs (web server, PHP, database, hosting panel) before they rotate"),
)
REPORT_FIELDS = ("what_happened", "started_at", "actions_taken", "data_affected", "prevention")
# Suspicious-activity findings that indicate an incident, by key (security/suspicious.py names them so): a new
# administrator, an administrator's e-mail changed, the site's admin e-mail or address (siteurl, home)
# changed.
INCIDENT_KEYS = ("admin:", "admin-email:", "option:admin_email:", "option:siteurl:", "option:home:")
# What the client reads about each kind of incident (plain words; the staff pages show the finding itself).
PLAIN_WHAT = (
    ("admin:", "A new administrator account appeared on the site that nobody had announced to us."),
    ("admin-email:", "The e-mail address of an administrator account of the site was changed."),
    ("option:admin_email:", "The site's administration e-mail address was changed."),
    ("option:siteurl:", "The site's address setting was changed."),
    ("option:home:", "The site's home address setting was changed."),
)
PLAIN_KIND = {
    FindingKind.MALWARE: "Our scan found code in one of the site's files that looks like malware.",
    FindingKind.INTEGRITY: "A file of the site was changed outside our maintenance.",
    FindingKind.VULNERABILITY: "A component of the site has a known security vulnerability.",
    FindingKind.SUSPICIOUS: "Our scan noticed a suspicious change in the site's settings or accounts.",
}


class IncidentError(ValueError):
    """A step of the procedure that cannot be taken (named: which incident, what is missing)."""


def _now(at: dt.datetime | None) -> dt.datetime:
    return at or dt.datetime.now(dt.UTC)


def _staff(user: User) -> None:
    if not getattr(user, "is_agency", False):
        raise IncidentError(f"{user}: only agency staff handle security incidents")


def indicates_incident(finding: Finding) -> bool:
    """Does this finding by itself give reasonable grounds to suspect a security incident (clause 6.3)?"""
    if finding.kind == FindingKind.MALWARE:
        return True
    return finding.kind == FindingKind.SUSPICIOUS and finding.key.startswith(INCIDENT_KEYS)


def episode(finding: Finding) -> str:
    """The key of the finding's current episode: its request (desk.detected) and its notice are opened once
    under it, by findings.record or by the incident opened at detection, whichever comes first."""
    return f"finding:{finding.pk}:{finding.episode_start.isoformat()}"


def current(finding: Finding) -> SecurityIncident | None:
    """The security incident of the finding's current episode, if one was opened."""
    return finding.security_incidents.filter(detected_at=finding.episode_start).first()


def open_at_detection(finding: Finding) -> SecurityIncident | None:
    """Open the incident of a finding that indicates one, at its detection, by sitekeeper (findings.record
    calls this for every new episode); None for a finding that does not indicate an incident."""
    if not indicates_incident(finding):
        return None
    return _open(finding, detected.service_user(), at=finding.episode_start, automatic=True)


def escalate(finding: Finding, user: User, *, at: dt.datetime | None = None) -> SecurityIncident:
    """A person opens the security incident of a finding's current episode, or confirms the one sitekeeper
    opened at detection; either way its ticket is raised to P1."""
    _staff(user)
    if not finding.is_security:
        raise IncidentError(f"finding #{finding.pk} is about site health, not security: no security incident")
    return _open(finding, user, at=_now(at), automatic=False)


def _open(finding: Finding, user: User, *, at: dt.datetime, automatic: bool) -> SecurityIncident:
    label = "sitekeeper:security-scan" if automatic else None
    why = f"Escalated to a security incident (finding #{finding.pk})"
    with acting_as(user, label=label), transaction.atomic():
        incident = current(finding)
        if incident is None:
            ticket = finding.ticket or _file_ticket(finding, user, at, automatic)
            incident, created = SecurityIncident.objects.get_or_create(
                finding=finding, detected_at=finding.episode_start,
                defaults={"site": finding.site, "ticket": ticket, "opened_at": at, "opened_by": user,
                          "automatic": automatic},
            )  # fmt: skip
            if created:
                for position, (key, text) in enumerate(FIRST_MEASURES):
                    ChecklistItem.objects.create(incident=incident, key=key, label=text, position=position)
        ticket = incident.ticket
        if ticket is not None and not automatic and ticket.priority != "P1" and ticket.is_open:
            services.change_priority(ticket, "P1", actor=user, why=why, at=at)
        if finding.ticket_id is None and ticket is not None:
            Finding.objects.filter(pk=finding.pk).update(ticket=ticket)
            finding.ticket = ticket
    return incident


def _file_ticket(finding: Finding, user: User, at: dt.datetime, automatic: bool) -> Ticket:
    """A finding recorded without a priority has no ticket yet; the incident needs one. Opened by sitekeeper
    it is the finding episode's detected request (desk.detected, the key findings.record uses); escalated by a
    person it is that person's request."""
    subject = f"Security incident: {finding.title}"[:200]
    if automatic:
        ticket, _ = detected.open_incident(
            detected.Detection(
                site=finding.site,
                found_by="security",
                episode=episode(finding),
                priority="P1",
                subject=subject,
                description=f"{finding.title}\n\nOpened by sitekeeper at detection.",
                steps="See the site's security page.",
                detected_at=at,
                environment=finding.environment,
            )
        )
        return ticket
    return services.file_request(
        finding.site.client,
        channel="staff",
        type="incident",
        priority="P1",
        site=finding.site,
        environment=finding.environment,
        subject=subject,
        description=f"{finding.title}\n\nEscalated from finding #{finding.pk} by {user}.",
        steps="See the site's security page.",
        received_at=at,
        requester_user=user,
    )


def dismiss(
    incident: SecurityIncident, user: User, reason: str, *, at: dt.datetime | None = None
) -> SecurityIncident:
    """A person decides it was no incident (a false positive), with the reason the client will read: the 6.3
    clock stops, the finding is accepted, and the request is answered and resolved with the reason."""
    _staff(user)
    reason = (reason or "").strip()
    if not reason:
        raise IncidentError(f"incident #{incident.pk}: say why it is a false positive (the client reads it)")
    if incident.dismissed:
        raise IncidentError(
            f"incident #{incident.pk} was already dismissed on {incident.dismissed_at:%Y-%m-%d %H:%M} UTC"
        )
    if incident.published:
        raise IncidentError(
            f"incident #{incident.pk}: its report was published; it cannot be a false positive now"
        )
    at = _now(at)
    with acting_as(user), transaction.atomic():
        incident.dismissed_at, incident.dismissed_by, incident.dismissal_reason = at, user, reason
        incident.closed_at = incident.closed_at or at
        incident.save()
        finding = incident.finding
        if finding.status == FindingStatus.OPEN:
            finding.status, finding.decided_by, finding.resolved_at = FindingStatus.ACCEPTED, user, at
            finding.save()
        ticket = incident.ticket
        if ticket is not None and ticket.is_open:
            text = f"We checked this and it is not a security incident (a false positive): {reason}"
            services.add_message(ticket, text, channel="staff", author=user, at=at)
            services.resolve(ticket, actor=user, at=at, note=f"False positive: {reason}")
    return incident


def plain_what(incident: SecurityIncident) -> str:
    """What happened, in words the client reads (no paths, ids or rule names)."""
    finding = incident.finding
    if finding.kind == FindingKind.SUSPICIOUS:
        for prefix, text in PLAIN_WHAT:
            if finding.key.startswith(prefix):
                return text
    return PLAIN_KIND.get(finding.kind, "Our scan found a possible security problem on the site.")


def plain_state(incident: SecurityIncident, now: dt.datetime | None = None) -> str:
    """Where it stands, for the client, in one sentence (times in the site's contract zone, named)."""
    zone = zone_of(incident.site.client.contract)

    def when(value: dt.datetime) -> str:
        return local_time(value, zone)

    if incident.dismissed_at is not None:
        return (f"We checked it on {when(incident.dismissed_at)}: it was not a security incident. "
                f"{incident.dismissal_reason}")  # fmt: skip
    if incident.published:
        return f"Handled; our report was published on {when(incident.report_published_at)}."
    if incident.closed_at is not None:
        return f"Handled on {when(incident.closed_at)}; our report follows."
    clock = deadline(incident, now)
    if incident.client_notified_at is not None:
        return f"We informed you on {when(incident.client_notified_at)} and are handling it."
    if clock.state == "breached":
        return (f"We are checking it. Our notice to you was due by {when(clock.due)} (24 hours from "
                "detection, clause 6.3) and is late.")  # fmt: skip
    return (f"We are checking it now and will inform you by {when(clock.due)} at the latest "
            "(24 hours from detection, clause 6.3).")  # fmt: skip


def tick(
    incident: SecurityIncident, key: str, user: User, *, note: str = "", at: dt.datetime | None = None
) -> ChecklistItem:
    _staff(user)
    item = incident.checklist.filter(key=key).first()
    if item is None:
        raise IncidentError(f"incident #{incident.pk}: no checklist item {key!r}")
    with acting_as(user):
        item.done_at, item.done_by, item.note = _now(at), user, note.strip()
        item.save()
    return item


def mark_client_notified(incident: SecurityIncident, user: User, at: dt.datetime | None = None) -> None:
    _staff(user)
    at = _now(at)
    if at < incident.detected_at:
        raise IncidentError(f"incident #{incident.pk}: the client cannot be notified before detection")
    with acting_as(user):
        incident.client_notified_at, incident.client_notified_by = at, user
        incident.save()


@dataclass(frozen=True)
class Deadline:
    due: dt.datetime
    state: str  # running | warning | breached | met | late | dismissed
    remaining: dt.timedelta  # negative once passed

    @property
    def remaining_label(self) -> str:
        """ "5 h 12 min" (left, or overdue by, once negative)."""
        minutes = int(abs(self.remaining).total_seconds() // 60)
        return f"{minutes // 60} h {minutes % 60:02d} min"

    @property
    def label(self) -> str:
        return {
            "running": "due",
            "warning": "due soon",
            "breached": "deadline passed",
            "met": "client notified in time",
            "late": "client notified late",
            "dismissed": "stopped: dismissed as a false positive",
        }[self.state]


def deadline(incident: SecurityIncident, now: dt.datetime | None = None) -> Deadline:
    """The 6.3 clock: due 24 h after detection; warning in the last 4 h; breached once passed unnotified;
    stopped when a person dismissed the incident as a false positive."""
    due = incident.detected_at + NOTIFY_WITHIN
    now = _now(now)
    if incident.client_notified_at is not None:
        state = "met" if incident.client_notified_at <= due else "late"
        return Deadline(due, state, due - incident.client_notified_at)
    if incident.dismissed_at is not None:  # a false positive: nothing to notify, the clock stopped there
        return Deadline(due, "dismissed", due - incident.dismissed_at)
    remaining = due - now
    state = (
        "breached" if remaining < dt.timedelta(0) else "warning" if remaining <= WARN_BEFORE else "running"
    )
    return Deadline(due, state, remaining)


def save_report(incident: SecurityIncident, user: User, **fields: Any) -> SecurityIncident:
    _staff(user)
    unknown = set(fields) - set(REPORT_FIELDS)
    if unknown:
        raise IncidentError(f"unknown report fields: {', '.join(sorted(unknown))}")
    with acting_as(user):
        for name, value in fields.items():
            setattr(incident, name, value.strip() if isinstance(value, str) else value)
        incident.save()
    return incident


def publish_report(incident: SecurityIncident, user: User, at: dt.datetime | None = None) -> SecurityIncident:
    """Make the report visible to the client; it must say what happened, what was done, what prevents it."""
    _staff(user)
    missing = [
        name for name in ("what_happened", "actions_taken", "prevention") if not getattr(incident, name)
    ]
    if missing:
        raise IncidentError(f"incident #{incident.pk}: the report is missing {', '.join(missing)}")
    with acting_as(user):
        incident.report_published_at, incident.report_published_by = _now(at), user
        incident.save()
    return incident


def close(incident: SecurityIncident, user: User, at: dt.datetime | None = None) -> SecurityIncident:
    _staff(user)
    with acting_as(user):
        incident.closed_at = _now(at)
        incident.save()
    return incident


def report_markdown(incident: SecurityIncident) -> str:
    """The post-incident report for the client, as Markdown (the portal shows the same text)."""
    site = incident.site

    zone = zone_of(site.client.contract)

    def when(value: dt.datetime | None) -> str:
        return local_time(value, zone) if value else "unknown"

    dl = deadline(incident)
    lines = [
        f"# Security incident report — {site}",
        "",
        f"- Client: {site.client.name}",
        f"- Site: {site.url}",
        f"- Detected: {when(incident.detected_at)}",
        f"- Incident began: {when(incident.started_at)}",
        f"- Client notified: {when(incident.client_notified_at)} (due {when(dl.due)}, clause 6.3)",
        f"- Finding: {incident.finding.title}",
        "",
    ]
    if incident.dismissed_at is not None:
        by = f"{when(incident.dismissed_at)} by {incident.dismissed_by}"
        lines += ["## Dismissed as a false positive", "", f"{by}: {incident.dismissal_reason}", ""]
    sections = (
        ("What happened", incident.what_happened),
        ("What was done", incident.actions_taken),
        ("Which data could be affected", incident.data_affected or "No data is known to be affected."),
        ("What prevents a recurrence", incident.prevention),
    )  # fmt: skip
    for title, text in sections:
        lines += [f"## {title}", "", text or "(not yet written)", ""]
    done = [item for item in incident.checklist.all() if item.done_at]
    if done:
        lines += ["## First measures taken", ""]
        lines += [f"- {item.label} — {when(item.done_at)}" for item in done]
        lines.append("")
    return "\n".join(lines)
