"""A person's changes to a site's monitors: add, edit, pause and resume — each all-or-nothing and audited
(Monitor and MonitorPause are audited models; the web middleware names the person).

A paused monitor is not probed (the probe claims enabled monitors only) and its paused time is not watched
time: coverage drops, the site's uptime never counts it as up (monitoring/uptime.py). Resuming runs the
monitor's whole validation again — the contract's alert time may have changed while it was paused.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from sitekeeper.access.models import User
from sitekeeper.monitoring.models import Monitor, MonitorPause

# Written by the probes, never by a person's form: a save from the console leaves them alone.
PROBE_FIELDS = frozenset(
    {
        "next_check_at",
        "claimed_by",
        "claimed_until",
        "state",
        "last_checked_at",
        "cert_expires_at",
        "cert_issuer",
    }
)


class MonitorError(Exception):
    """A pause or resume that cannot be done, with the reason a person can act on."""


def errors_text(exc: ValidationError) -> str:
    """A ValidationError as one readable line, each message after the field it is about."""
    if hasattr(exc, "error_dict"):
        parts = []
        for name, errors in exc.message_dict.items():
            label = "" if name == "__all__" else f"{Monitor._meta.get_field(name).verbose_name}: "
            parts.extend(label[:1].upper() + label[1:] + e for e in errors)
        return " ".join(parts)
    return " ".join(exc.messages)


def save_monitor(monitor: Monitor, fields: list[str]) -> Monitor:
    """Save a validated monitor from a person's form: a new one whole, an existing one only in `fields`
    (so a probe's concurrent state update is never overwritten with what the form read)."""
    with transaction.atomic():
        if monitor.pk is None:
            monitor.save()
        else:
            monitor.save(update_fields=[f for f in fields if f not in PROBE_FIELDS])
    return monitor


def pause(monitor: Monitor, by: User, reason: str = "", now: dt.datetime | None = None) -> MonitorPause:
    now = now or timezone.now()
    with transaction.atomic():
        locked = Monitor.objects.select_for_update().get(pk=monitor.pk)
        current = MonitorPause.objects.filter(monitor=locked, end__isnull=True).first()
        if current is not None:
            raise MonitorError(
                f"“{locked}” is already paused (since {timezone.localtime(current.start):%d %b %Y %H:%M %Z})."
            )
        if not locked.enabled:
            raise MonitorError(f"“{locked}” is switched off, not running: resume it instead.")
        item = MonitorPause.objects.create(monitor=locked, start=now, reason=reason.strip(), paused_by=by)
        locked.enabled = False
        locked.save(update_fields=["enabled"])
    monitor.enabled = False
    return item


def resume(monitor: Monitor, by: User, now: dt.datetime | None = None) -> Monitor:
    """Switch a paused (or switched-off) monitor back on. Refused, with the reason, when it would not pass
    validation now (e.g. it can no longer alert within the contract's time)."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Monitor.objects.select_for_update().get(pk=monitor.pk)
        if locked.enabled:
            raise MonitorError(f"“{locked}” is not paused.")
        locked.enabled = True
        try:
            locked.full_clean()
        except ValidationError as exc:
            raise MonitorError(f"“{locked}” was not resumed: {errors_text(exc)}") from exc
        locked.next_check_at = now  # checked at once
        locked.claimed_by, locked.claimed_until = "", None
        locked.save(update_fields=["enabled", "next_check_at", "claimed_by", "claimed_until"])
        for item in MonitorPause.objects.filter(monitor=locked, end__isnull=True):
            item.end, item.resumed_by = now, by
            item.save(update_fields=["end", "resumed_by"])
    monitor.enabled = True
    return locked
