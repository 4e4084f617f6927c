"""Agency-side monitoring gaps: a site in service without an enabled production monitor is watched by
nobody. Its uptime reads "not measured" to the client (never 100 %); to the agency it is a problem to fix,
listed on the staff monitoring page.

The reading and the notices are contracts.coverage's (the one place service gaps are decided; its hourly task
tells the escalation list once per gap episode) — this module only lists the monitoring ones for the page.
"In service" is contracts.service's one answer (active, or under notice up to the effective date — 7.3).
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from sitekeeper.contracts import coverage
from sitekeeper.contracts.models import Site
from sitekeeper.contracts.service import sites_in_service


def unmonitored_sites(now: dt.datetime | None = None) -> list[Site]:
    """Sites whose contract is in service and that have no enabled production monitor."""
    sites = sorted(sites_in_service(now or timezone.now()), key=lambda s: (s.client.name, s.url))
    return [site for site in sites if coverage.monitor_gap(site) is not None]
