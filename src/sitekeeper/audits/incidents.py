"""Security incidents: a finding a person escalated, handled with the guide's procedure.

- the linked service-desk ticket is raised to P1 (a security incident is always the highest priority);
- the first-measures checklist (passwords, tokens and keys, access, maintenance mode, logs), each item ticked
  by the person who did it, with the time;
- the client notification clock of agreement clause 6.3: 24 hours from detection (the finding's first
  sighting, not the escalation — the clause counts from when the agency could know);
- the post-incident report for the client, published to the portal by a person and rendered as Markdown.

Every change goes through here under `acting_as(user)`, so the audit log names the person.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from sitekeeper.access.audit import acting_as
from sitekeeper.access.models import User
from sitekeeper.audits.models import ChecklistItem, Finding, SecurityIncident
from sitekeeper.desk import services
from sitekeeper.desk.models import Ticket

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


class IncidentError(ValueError):
    """A step of the procedure that cannot be taken (named: which incident, what is missing)."""


def _now(at: dt.datetime | None) -> dt.datetime:
    return at or dt.datetime.now(dt.UTC)


def _staff(user: User) -> None:
    if not getattr(user, "is_agency", False):
        raise IncidentError(f"{user}: only agency staff handle security incidents")


def escalate(finding: Finding, user: User, *, at: dt.datetime | None = None) -> SecurityIncident:
    """Open (or return the already open) security incident for a finding."""
    _staff(user)
    at = _now(at)
    existing = SecurityIncident.objects.filter(finding=finding).first()
    if existing is not None:
        return existing
    with acting_as(user), transaction.atomic():
        ticket = finding.ticket or _file_ticket(finding, user, at)
        if ticket.priority != "P1":
            services.change_priority(
                ticket,
                "P1",
                actor=user,
                why=f"Escalated to a security incident (finding #{finding.pk})",
                at=at,
            )
        incident = SecurityIncident.objects.create(
            site=finding.site, finding=finding, ticket=ticket, detected_at=finding.first_seen,
            opened_at=at, opened_by=user,
        )  # fmt: skip
        for position, (key, label) in enumerate(FIRST_MEASURES):
            ChecklistItem.objects.create(incident=incident, key=key, label=label, position=position)
        if finding.ticket_id is None:
            Finding.objects.filter(pk=finding.pk).update(ticket=ticket)
            finding.ticket = ticket
    return incident


def _file_ticket(finding: Finding, user: User, at: dt.datetime) -> Ticket:
    """A finding recorded without a priority has no ticket yet; the incident needs one."""
    return services.file_request(
        finding.site.client,
        channel="staff",
        type="incident",
        priority="P1",
        site=finding.site,
        environment=finding.environment,
        subject=f"Security incident: {finding.title}"[:200],
        description=f"{finding.title}\n\nEscalated from finding #{finding.pk} by {user}.",
        steps="See the site's security page.",
        received_at=at,
        requester_user=user,
    )


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
    state: str  # running | warning | breached | met | late
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
        }[self.state]


def deadline(incident: SecurityIncident, now: dt.datetime | None = None) -> Deadline:
    """The 6.3 clock: due 24 h after detection; warning in the last 4 h; breached once passed unnotified."""
    due = incident.detected_at + NOTIFY_WITHIN
    now = _now(now)
    if incident.client_notified_at is not None:
        state = "met" if incident.client_notified_at <= due else "late"
        return Deadline(due, state, due - incident.client_notified_at)
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

    def when(value: dt.datetime | None) -> str:
        return f"{value:%Y-%m-%d %H:%M} UTC" if value else "unknown"

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
