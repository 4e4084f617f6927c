"""Maintenance exclusions: weekly window, notice for extended maintenance, emergency security, the cap."""

from __future__ import annotations

import datetime as dt

import pytest

from sitekeeper.monitoring import maintenance
from sitekeeper.monitoring.models import MaintenanceLog
from sitekeeper.monitoring.uptime import month_figures
from sitekeeper.notify.models import Delivery
from sitekeeper.releases.models import Release
from tests.monitoring.conftest import outage, utc, watch

APRIL = (utc(2026, 3, 31, 22), utc(2026, 4, 30, 22))
LATER = utc(2026, 5, 10)


def minutes(n: int) -> dt.timedelta:
    return dt.timedelta(minutes=n)


@pytest.fixture
def watched():
    watch(*APRIL)


def announce(site, kind, start, hours, max_minutes, announced_before_h):  # noqa: PLR0917
    return maintenance.announce(
        site.client.contract,
        kind=kind,
        start=start,
        end=start + dt.timedelta(hours=hours),
        max_minutes=max_minutes,
        announced_at=start - dt.timedelta(hours=announced_before_h),
        note="Database server upgrade",
    )


def release(site, start, end, status="deployed"):
    """A pipeline run on the site's production from `start` to `end` (end None: still running)."""
    return Release.objects.create(
        site=site, slot=f"test-{start:%Y%m%d%H%M}", status=status, prod_started_at=start, prod_finished_at=end
    )


def test_weekly_window_excludes_up_to_its_maximum(monitor, site, watched):
    # acme's window: Tuesday 23:00–02:00 Berlin, max 30 min. Tue 14 April 23:00 CEST = 21:00 UTC.
    # (Issue 12 item 4: only because the update pipeline ran in this occurrence — see the tests below.)
    release(site, utc(2026, 4, 14, 21, 5), utc(2026, 4, 14, 21, 40))
    outage(monitor, utc(2026, 4, 14, 21, 10), utc(2026, 4, 14, 22, 0))  # 50 min inside the window
    figures = month_figures(site, 2026, 4, now=LATER)
    assert figures.excluded == minutes(30)
    assert figures.counted == minutes(20)
    [effect] = figures.effects
    assert (effect.downtime, effect.excluded) == (minutes(50), minutes(30))
    assert effect.window.reason.startswith("update release (scheduled batch) applied to production from Tue")
    assert "23:05 CEST" in effect.window.reason  # in the contract's zone, named


def test_weekly_window_past_midnight_and_outside_it(monitor, site, watched, engineer):
    # Wed 15 April 01:50–02:20 CEST (23:50–00:20 UTC): 10 min inside the window's tail, 20 after it ends.
    MaintenanceLog.objects.create(
        site=site, start=utc(2026, 4, 14, 21), end=utc(2026, 4, 15), note="PHP upgrade", logged_by=engineer
    )
    outage(monitor, utc(2026, 4, 14, 23, 50), utc(2026, 4, 15, 0, 20))
    figures = month_figures(site, 2026, 4, now=LATER)
    assert (figures.excluded, figures.counted) == (minutes(10), minutes(20))
    assert figures.effects[0].window.reason.endswith(": PHP upgrade")


def test_a_quiet_weekly_window_excludes_nothing(monitor, site, watched):
    """Issue 12 item 4: downtime in a weekly occurrence in which no maintenance was recorded counts."""
    outage(monitor, utc(2026, 4, 14, 21, 10), utc(2026, 4, 14, 22, 0))
    # A release in another week, and one that failed on stage (prod never touched), record nothing here.
    release(site, utc(2026, 4, 7, 21, 5), utc(2026, 4, 7, 21, 40))
    Release.objects.create(site=site, slot="stage-only", status="stage_failed")
    figures = month_figures(site, 2026, 4, now=LATER)
    assert (figures.excluded, figures.counted) == (minutes(0), minutes(50))
    [effect] = figures.effects
    assert effect.excluded == minutes(0)
    assert not effect.window.excludes
    assert effect.window.reason == "no maintenance was recorded in this occurrence, so downtime in it counts"
    assert figures.as_json()["maintenance"][0]["excludes"] is False


def test_a_release_still_running_or_announced_work_counts_as_maintenance(monitor, site, watched):
    release(site, utc(2026, 4, 14, 21, 30), None, status="deploying")  # started in it, not finished yet
    outage(monitor, utc(2026, 4, 14, 21, 10), utc(2026, 4, 14, 21, 30))
    # The next week: maintenance announced for the occurrence, only a day ahead — too late to be "extended
    # maintenance" of its own, but it records that maintenance was done in the weekly window.
    announce(site, "scheduled", utc(2026, 4, 21, 21), 1, 60, 24)
    outage(monitor, utc(2026, 4, 21, 21, 10), utc(2026, 4, 21, 21, 30))
    figures = month_figures(site, 2026, 4, now=LATER)
    assert (figures.excluded, figures.counted) == (minutes(40), minutes(0))


@pytest.mark.parametrize(("notice_h", "excluded"), [(48, 60), (49, 60), (47, 0)])
def test_extended_maintenance_needs_48_hours_notice(monitor, site, watched, notice_h, excluded):
    announce(site, "scheduled", utc(2026, 4, 9, 8), 4, 120, notice_h)
    outage(monitor, utc(2026, 4, 9, 9), utc(2026, 4, 9, 10))
    figures = month_figures(site, 2026, 4, now=LATER)
    assert figures.excluded == minutes(excluded)
    assert figures.counted == minutes(60 - excluded)


def test_emergency_security_maintenance_counts_whenever_announced(monitor, site, watched):
    announce(site, "emergency_security", utc(2026, 4, 9, 8), 2, 45, announced_before_h=-0.5)
    outage(monitor, utc(2026, 4, 9, 8, 10), utc(2026, 4, 9, 9, 10))  # 60 min, max 45 excluded
    figures = month_figures(site, 2026, 4, now=LATER)
    assert (figures.excluded, figures.counted) == (minutes(45), minutes(15))


def test_the_cap_spans_several_outages_in_one_window(monitor, site, watched):
    announce(site, "scheduled", utc(2026, 4, 9, 8), 4, 30, 72)
    outage(monitor, utc(2026, 4, 9, 8, 0), utc(2026, 4, 9, 8, 20))
    outage(monitor, utc(2026, 4, 9, 9, 0), utc(2026, 4, 9, 9, 20))
    figures = month_figures(site, 2026, 4, now=LATER)
    assert (figures.excluded, figures.counted) == (minutes(30), minutes(10))


def test_an_announcement_for_another_site_does_not_exclude(monitor, site, globex, watched):
    from sitekeeper.contracts.models import Site

    other = Site.objects.create(client=site.client, url="https://shop.acme.test", name="Acme shop")
    item = announce(site, "scheduled", utc(2026, 4, 9, 8), 4, 120, 72)
    item.sites.set([other])
    outage(monitor, utc(2026, 4, 9, 9), utc(2026, 4, 9, 10))
    assert month_figures(site, 2026, 4, now=LATER).excluded == dt.timedelta(0)
    with pytest.raises(maintenance.MaintenanceError):
        maintenance.announce(
            site.client.contract,
            kind="scheduled",
            start=utc(2026, 4, 9, 8),
            end=utc(2026, 4, 9, 9),
            max_minutes=30,
            announced_at=utc(2026, 4, 1),
            sites=[globex.sites.get()],
        )


def test_announcing_emails_the_clients_contacts_once(site, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        item = announce(site, "emergency_security", utc(2026, 4, 9, 8), 2, 60, 1)
    deliveries = Delivery.objects.filter(key=f"maintenance:{item.pk}")
    assert sorted(d.target for d in deliveries) == ["oncall@acme.test", "owner@acme.test"]
    assert deliveries[0].message["subject"] == "Acme GmbH: emergency security maintenance announced"
    assert "2026-04-09 10:00" in deliveries[0].message["text"]  # 08:00 UTC shown in Berlin time (CEST)
    maintenance.send_announcement(item)  # again: nothing new
    assert Delivery.objects.filter(key=f"maintenance:{item.pk}").count() == 2


def test_weekly_windows_in_the_dst_week(site):
    # Tue 24 March 23:00 CET = 22:00 UTC; Tue 31 March 23:00 CEST = 21:00 UTC.
    windows = maintenance.weekly_windows(site.client.contract, (utc(2026, 3, 23), utc(2026, 4, 2)))
    assert [w.start for w in windows] == [utc(2026, 3, 24, 22), utc(2026, 3, 31, 21)]
    assert all(w.end - w.start == dt.timedelta(hours=3) for w in windows)
