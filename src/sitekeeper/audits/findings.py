"""The one way scans record what they found: upsert by key, resolve what was not seen again, open an incident
on the service desk for a new finding (once), with the priority the caller maps from the severity."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db import transaction

from sitekeeper.audits.models import Finding, FindingKind, FindingStatus
from sitekeeper.contracts.models import Site
from sitekeeper.desk import services
from sitekeeper.desk.oncall import escalation_list
from sitekeeper.monitoring.outages import service_user
from sitekeeper.notify import Message, notify

# Tickets and notices name what found the problem; security findings are the default.
SUBJECT_PREFIX = {FindingKind.SITE_ERRORS: "Site errors", FindingKind.PERFORMANCE: "Performance"}
SCAN_NAME = {FindingKind.SITE_ERRORS: "broken-link scan", FindingKind.PERFORMANCE: "performance audit"}


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
    an incident for the site's client and notifies the escalation list."""
    now = now or dt.datetime.now(dt.UTC)
    with transaction.atomic():
        finding, created = Finding.objects.select_for_update().get_or_create(
            site=site, environment=environment, kind=kind, key=key[:300],
            defaults={"severity": severity, "title": title[:300], "details": details,
                      "remediation": remediation, "first_seen": now, "last_seen": now},
        )  # fmt: skip
        reappeared = not created and finding.status == FindingStatus.RESOLVED
        if not created:
            finding.severity, finding.title, finding.details = severity, title[:300], details
            finding.remediation, finding.last_seen = remediation, now
            if reappeared:
                finding.status, finding.resolved_at = FindingStatus.OPEN, None
            finding.save()
        if (created or reappeared) and priority:
            _open_incident(finding, priority, now)
    return finding, created or reappeared


def resolve_missing(site: Site, kind: str, seen: Iterable[str], *, environment: str = "prod",
                    now: dt.datetime | None = None) -> int:  # fmt: skip
    """Mark open findings of `kind` that this complete scan did not see again as resolved."""
    now = now or dt.datetime.now(dt.UTC)
    gone = Finding.objects.filter(site=site, environment=environment, kind=kind, status=FindingStatus.OPEN)
    return gone.exclude(key__in=list(seen)).update(status=FindingStatus.RESOLVED, resolved_at=now)


def _open_incident(finding: Finding, priority: str, now: dt.datetime) -> None:
    site = finding.site
    prefix = SUBJECT_PREFIX.get(finding.kind, "Security")
    lines = [
        finding.title,
        "",
        *(f"{k}: {v}" for k, v in finding.details.items() if not isinstance(v, dict | list)),
    ]
    if finding.remediation:
        lines += ["", f"Remediation: {finding.remediation}"]
    ticket = services.file_request(
        site.client,
        channel="monitor",
        type="incident",
        priority=priority,
        site=site,
        environment=finding.environment,
        subject=f"{prefix}: {finding.title}"[:200],
        description="\n".join(lines)[:5000],
        steps=f"Found by sitekeeper's automated {SCAN_NAME.get(finding.kind, 'security scan')}.",
        received_at=now,
    )
    note = f"Finding #{finding.pk} ({finding.kind}, {finding.severity})."
    services.add_message(ticket, note, channel="monitor", author=service_user(), internal=True)
    Finding.objects.filter(pk=finding.pk).update(ticket=ticket)
    finding.ticket = ticket
    message = Message(
        subject=f"[{priority}] {prefix} finding: {site} — {finding.title}"[:200],
        text=f"{finding.title}\n\nTicket {ticket.reference}.",
        event="security.finding",
        data={
            "site": site.pk,
            "finding": finding.pk,
            "ticket": ticket.reference,
            "severity": finding.severity,
        },
    )
    notify(
        escalation_list("security.finding"),
        message,
        key=f"finding:{finding.pk}:{finding.first_seen.isoformat()}",
    )
