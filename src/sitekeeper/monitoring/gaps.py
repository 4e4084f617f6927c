"""Agency-side monitoring gaps: a site in service without an enabled production monitor is watched by
nobody. Its uptime reads "not measured" to the client (never 100 %); to the agency it is a problem to fix,
listed on the staff monitoring page, and the escalation list is told once per site (notify seam, keyed).

"In service" is contracts.service's one answer (active, or under notice up to the effective date — 7.3).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from sitekeeper.contracts.models import Site
from sitekeeper.contracts.service import sites_in_service
from sitekeeper.desk.oncall import escalation_list
from sitekeeper.monitoring.models import Monitor
from sitekeeper.notify import Message, notify

EVENT = "monitor.missing"


def unmonitored_sites(now: dt.datetime | None = None) -> list[Site]:
    """Sites whose contract is in service and that have no enabled production monitor."""
    watched = set(
        Monitor.objects.filter(environment="prod", enabled=True).values_list("site_id", flat=True).distinct()
    )
    sites = [site for site in sites_in_service(now or timezone.now()) if site.pk not in watched]
    return sorted(sites, key=lambda s: (s.client.name, s.url))


def tell_staff(now: dt.datetime | None = None) -> int:
    """Tell the escalation list once about each unmonitored site (the key makes a second pass send nothing
    more). Returns the number of sites found unmonitored."""
    found = 0
    for site in unmonitored_sites(now):
        message = Message(
            subject=f"No uptime monitor: {site} ({site.client.name})"[:200],
            text=f"{site.url} is under contract but no enabled production monitor watches it, so its uptime "
            f"is not measured and the client's 24/7 monitoring (agreement 1.2) is not being delivered.\n"
            f"Add a monitor: {settings.SITEKEEPER_BASE_URL}{reverse('staff_site_uptime', args=[site.pk])}",
            event=EVENT,
            data={"site": site.pk, "client": site.client.slug},
        )
        recipients = escalation_list(EVENT)
        if recipients:
            notify(recipients, message, key=f"monitor.missing:{site.pk}")
        found += 1
    return found
