"""Known vulnerabilities: the inventory matched offline against every imported feed.

Each (advisory, component) match is one finding keyed `ident:ecosystem:slug`, so the nightly match refreshes
it instead of filing it again; a match that is gone (the component was updated past the affected ranges or
removed) is resolved. Priority of the incident a new match opens: P1 for a critical one with a known
exploit, P2 critical/high, P3 medium, P4 low; informational entries record a finding without an incident.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from sitekeeper.contracts.models import Site
from sitekeeper.core.versions import Interval, VersionError, affected, is_valid, key
from sitekeeper.security import findings
from sitekeeper.security.models import Component, FindingKind, Vulnerability

log = logging.getLogger(__name__)


def priority_for(severity: str, has_exploit: bool) -> str | None:
    if severity == "critical":
        return "P1" if has_exploit else "P2"
    return {"high": "P2", "medium": "P3", "low": "P4"}.get(severity)


def remediation_for(vuln: Vulnerability, installed: str) -> str:
    """The lowest patched version above what is installed; several fixed branches are all listed."""
    later = sorted((v for v in vuln.patched if is_valid(v) and key(v) > key(installed)), key=key)
    if later:
        return f"update to {later[0]}" + (f" (fixed in {', '.join(later)})" if len(later) > 1 else "")
    if vuln.patched:
        return f"update to {', '.join(vuln.patched)}"
    return f"no patched version known: remove or replace {vuln.package}, or mitigate (WAF rule)"


@dataclass
class Match:
    vuln: Vulnerability
    component: Component
    installed: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


def matches(site: Site, environment: str) -> dict[str, Match]:
    components = list(Component.objects.filter(site=site, environment=environment, removed_at=None))
    by_package: dict[tuple[str, str], list[Component]] = {}
    for component in components:
        if not component.version or not is_valid(component.version):
            continue  # "dev-main", an empty header: no version to compare, so no claim either way
        by_package.setdefault((component.ecosystem, component.slug.lower()), []).append(component)
    found: dict[str, Match] = {}
    if not by_package:
        return found
    candidates = Vulnerability.objects.filter(
        ecosystem__in={e for e, _ in by_package}, package__in={p for _, p in by_package}
    ).select_related("feed")
    for vuln in candidates:
        for component in by_package.get((vuln.ecosystem, vuln.package.lower()), []):
            try:
                hit = affected(component.version, [Interval.from_dict(r) for r in vuln.ranges])
            except VersionError as exc:  # a stored range that no longer parses: say so, keep matching
                log.warning("vulnerability %s: unreadable range: %s", vuln.ident, exc)
                continue
            if hit:
                k = f"{vuln.ident}:{component.ecosystem}:{component.slug}"
                match = found.setdefault(k, Match(vuln, component))
                match.installed.append(component.version)
                match.paths.append(component.path)
    return found


def match_site(site: Site, now: dt.datetime | None = None) -> dict[str, int]:
    """Record every current match as a finding and resolve those no longer matching, per environment."""
    now = now or dt.datetime.now(dt.UTC)
    figures = {"matches": 0, "new": 0, "resolved": 0}
    environments = set(Component.objects.filter(site=site).values_list("environment", flat=True))
    for environment in sorted(environments):
        current = matches(site, environment)
        for k, match in current.items():
            vuln, component = match.vuln, match.component
            installed = min(match.installed, key=key)
            details: dict[str, Any] = {
                "component": f"{component.get_ecosystem_display()} {component.slug}",
                "installed": ", ".join(sorted(set(match.installed), key=key)),
                "where": ", ".join(match.paths),
                "affected": "; ".join(Interval.from_dict(r).describe() for r in vuln.ranges),
                "cvss": str(vuln.cvss_score) if vuln.cvss_score is not None else "",
                "exploit known": "yes" if vuln.has_exploit else "no",
                "advisory": vuln.ident,
                "feed": vuln.feed.name,
                "references": vuln.references[:10],
            }
            _, new = findings.record(
                site,
                kind=FindingKind.VULNERABILITY,
                key=k,
                severity=vuln.severity,
                title=f"{component.name or component.slug} {installed}: {vuln.title}",
                details=details,
                remediation=remediation_for(vuln, installed),
                priority=priority_for(vuln.severity, vuln.has_exploit),
                environment=environment,
                now=now,
            )
            figures["matches"] += 1
            figures["new"] += new
        figures["resolved"] += findings.resolve_missing(
            site, FindingKind.VULNERABILITY, current.keys(), environment=environment, now=now
        )
    return figures


def refresh_site(site: Site, environment: str = "prod", *, now: dt.datetime | None = None) -> dict[str, int]:
    """Inventory then match: the daily job, and what the update pipeline calls after it changed a site (so
    an update that fixes a vulnerability resolves its finding at once)."""
    from sitekeeper.security.inventory import scan_inventory

    now = now or dt.datetime.now(dt.UTC)
    scan_inventory(site, environment, now=now)
    return match_site(site, now=now)
