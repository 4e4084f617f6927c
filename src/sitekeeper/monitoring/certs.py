"""Certificate expiry warnings: one notice per threshold (30/14/7/1 days by default) per certificate.

The key names the certificate's expiry date, so a renewed certificate starts its warnings afresh and a
warning already sent is never repeated however many probes see it. Chain and hostname errors are failed TLS
checks and go through the outage path as P1 incidents.
"""

from __future__ import annotations

import datetime as dt

from sitekeeper.core.certdays import DAY_SECONDS, DEFAULT_WARN_DAYS, days_left
from sitekeeper.desk.oncall import escalation_list
from sitekeeper.monitoring.models import Monitor
from sitekeeper.notify import Message, notify


def threshold_due(
    expires_at: dt.datetime, now: dt.datetime, warn_days: list[int] | tuple[int, ...]
) -> int | None:
    """The smallest threshold already reached, or None. Only that one is sent: a certificate first seen
    5 days before expiry gets the 7-day warning, not 30, 14 and 7 at once."""
    left = (expires_at - now).total_seconds() / DAY_SECONDS
    reached = [days for days in (warn_days or list(DEFAULT_WARN_DAYS)) if left <= days]
    return min(reached) if reached else None


def record(monitor: Monitor, expires_at: dt.datetime | None, issuer: str, now: dt.datetime) -> int | None:
    """Store what the probe saw and send the warning that is due; returns the threshold warned about."""
    if expires_at is None:
        return None
    if monitor.cert_expires_at != expires_at or monitor.cert_issuer != issuer:
        Monitor.objects.filter(pk=monitor.pk).update(cert_expires_at=expires_at, cert_issuer=issuer)
        monitor.cert_expires_at, monitor.cert_issuer = expires_at, issuer
    days = threshold_due(expires_at, now, monitor.cert_warn_days)
    if days is None:
        return None
    left = max(0, days_left(expires_at, now))
    message = Message(
        subject=f"Certificate of {monitor.site} expires in {left} days ({expires_at:%Y-%m-%d})",
        text=f"{monitor.url}: the certificate issued by {issuer or 'unknown'} expires "
        f"{expires_at:%Y-%m-%d %H:%M} UTC ({left} days left).",
        event="monitor.cert",
        data={"monitor": monitor.pk, "expires_at": expires_at, "threshold_days": days},
    )
    notify(escalation_list("monitor.cert"), message, key=f"cert:{monitor.pk}:{expires_at:%Y%m%d}:{days}")
    return days
