"""The one way scans record what they found: upsert by key, resolve what was not seen again, open an incident
on the service desk for a new finding (through desk.detected, once per episode: `incidents.episode`), with the
priority the caller maps from the severity.

A finding that indicates a security incident (incidents.indicates_incident: malware, an administrator nobody
announced, a changed admin e-mail or site address) also opens the security incident itself at detection —
clause 6.3 counts its 24 hours from when the agency could know, not from when a person looked. Its ticket
keeps the priority the scan gave it (a suspicion is not yet an active breach, agreement 2.1); a person who
confirms it escalates it to P1. Health findings (a Lighthouse regression, pages answering errors) are named
and announced as site health, never as security."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db import transaction

from sitekeeper.contracts.models import Site
from sitekeeper.desk import detected
from sitekeeper.notify import Message
from sitekeeper.security import incidents
from sitekeeper.security.models import HEALTH_KINDS, Finding, FindingKind, FindingStatus, SecurityIncident

# Tickets and notices name what found the problem; security findings are the default.
SUBJECT_PREFIX = {FindingKind.SITE_ERRORS: "Site errors", FindingKind.PERFORMANCE: "Performance"}
SCAN_NAME = {FindingKind.SITE_ERRORS: "broken-link scan", FindingKind.PERFORMANCE: "performance audit"}


def subject_prefix(kind: str) -> str:
    return SUBJECT_PREFIX.get(kind, "Security")


def event_name(kind: str, incident: bool = False) -> str:
    """The notification event: people subscribe to `security.*` or `health.*` (message.event_matches)."""
    if incident:
        return "security.incident"
    return "health.finding" if kind in HEALTH_KINDS else "security.finding"


def record(
    site: Site,
    *,
    kind: str,
    key: str,
    severity: str,
    title: str,
    details: dict[str, Any],
    remediation: str = "",
    priority: str | None = None,
    environment: str = "prod",
    now: dt.datetime | None = None,
) -> tuple[Finding, bool]:
    """Create or refresh a finding; (finding, created). A new (or reappearing) finding with a `priority` files
    an incident for the site's client and notifies the escalation list; one that indicates a security
    incident opens it (the 6.3 clock from `now`)."""
    now = now or dt.datetime.now(dt.UTC)
    with transaction.atomic():
        finding, created = Finding.objects.select_for_update().get_or_create(
            site=site, environment=environment, kind=kind, key=key[:300],
            defaults={"severity": severity, "title": title[:300], "details": details,
                      "remediation": remediation, "first_seen": now, "detected_at": now, "last_seen": now},
        )  # fmt: skip
        reappeared = not created and finding.status == FindingStatus.RESOLVED
        if not created:
            finding.severity, finding.title, finding.details = severity, title[:300], details
            finding.remediation, finding.last_seen = remediation, now
            if reappeared:  # a new episode: detected again now
                finding.status, finding.resolved_at, finding.detected_at = FindingStatus.OPEN, None, now
            finding.save()
        if created or reappeared:
            _new_episode(finding, priority, now)
    return finding, created or reappeared


def _new_episode(finding: Finding, priority: str | None, now: dt.datetime) -> None:
    serious = incidents.indicates_incident(finding)
    if not (priority or serious):
        return
    _open_ticket(finding, priority or "P2", now, serious)
    incident = incidents.open_at_detection(finding) if serious else None
    _announce(finding, incident)


def resolve_missing(site: Site, kind: str, seen: Iterable[str], *, environment: str = "prod",
                    now: dt.datetime | None = None) -> int:  # fmt: skip
    """Mark open findings of `kind` that this complete scan did not see again as resolved."""
    now = now or dt.datetime.now(dt.UTC)
    gone = Finding.objects.filter(site=site, environment=environment, kind=kind, status=FindingStatus.OPEN)
    return gone.exclude(key__in=list(seen)).update(status=FindingStatus.RESOLVED, resolved_at=now)


def _open_ticket(finding: Finding, priority: str, now: dt.datetime, serious: bool) -> None:
    site = finding.site
    prefix = "Security incident" if serious else subject_prefix(finding.kind)
    lines = [
        finding.title,
        "",
        *(f"{k}: {v}" for k, v in finding.details.items() if not isinstance(v, dict | list)),
    ]
    if finding.remediation:
        lines += ["", f"Remediation: {finding.remediation}"]
    if serious:
        due = now + incidents.NOTIFY_WITHIN
        clock = (
            f"Clause 6.3: the client is to be told within 24 hours of detection, by {due:%Y-%m-%d %H:%M} "
            "UTC (or the incident dismissed as a false positive, with the reason)."
        )
        lines += ["", clock]
    ticket, _ = detected.open_incident(
        detected.Detection(
            site=site,
            found_by="health" if finding.kind in HEALTH_KINDS else "security",
            episode=incidents.episode(finding),
            priority=priority,
            subject=f"{prefix}: {finding.title}"[:200],
            description="\n".join(lines)[:5000],
            steps=f"Found by sitekeeper's automated {SCAN_NAME.get(finding.kind, 'security scan')}.",
            detected_at=now,
            environment=finding.environment,
            note=f"Finding #{finding.pk} ({finding.kind}, {finding.severity}).",
        )
    )
    Finding.objects.filter(pk=finding.pk).update(ticket=ticket)
    finding.ticket = ticket


def _announce(finding: Finding, incident: SecurityIncident | None) -> None:
    site, ticket = finding.site, finding.ticket
    if incident is not None:
        due = incidents.deadline(incident).due
        subject = f"[{ticket.priority}] Security incident: {site} — {finding.title}"
        text = (
            f"{finding.title}\n\nTicket {ticket.reference}. Security incident #{incident.pk} was opened at "
            f"detection: tell the client by {due:%Y-%m-%d %H:%M} UTC (clause 6.3), or dismiss it as a false "
            "positive with the reason."
        )
    else:
        subject = f"[{ticket.priority}] {subject_prefix(finding.kind)} finding: {site} — {finding.title}"
        text = f"{finding.title}\n\nTicket {ticket.reference}."
    message = Message(
        subject=subject[:200],
        text=text,
        event=event_name(finding.kind, incident is not None),
        data={
            "site": site.pk,
            "finding": finding.pk,
            "ticket": ticket.reference,
            "severity": finding.severity,
            **({"incident": incident.pk} if incident is not None else {}),
        },
    )
    detected.tell(detected.Notice(message, incidents.episode(finding)))  # the escalation list of its event
