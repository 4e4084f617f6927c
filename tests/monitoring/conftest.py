"""Monitoring fixtures: acme's production monitor and a probe session watching a whole span."""

from __future__ import annotations

import datetime as dt

import pytest

from sitekeeper.contracts.models import Client, Site
from sitekeeper.monitoring.models import Monitor, Outage, ProbeSession

UTC = dt.UTC


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.fixture
def site(acme: Client) -> Site:
    return acme.sites.get()


# Monitors in these tests exist since before the months they measure (the site is watched from created_at).
SINCE = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def monitor(site: Site) -> Monitor:
    return Monitor.objects.create(site=site, url=site.url, name="Home page", created_at=SINCE)


def watch(start: dt.datetime, end: dt.datetime, location: str = "fra") -> ProbeSession:
    return ProbeSession.objects.create(
        location=location, instance=f"probe-{location}:1", started_at=start, last_beat_at=end, stopped_at=end
    )


def outage(monitor: Monitor, start: dt.datetime, end: dt.datetime | None, **extra: object) -> Outage:
    extra.setdefault("cause", "HTTP 503")
    return Outage.objects.create(monitor=monitor, site=monitor.site, start=start, end=end, **extra)
