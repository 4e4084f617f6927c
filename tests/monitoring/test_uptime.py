"""Monthly uptime and credit against a hand-computed table (a DST month included).

The contract: acme, Business plan (SLA 99.9 %, 20 % of the fee per started 0.1 % below it), 900.00 EUR a
month, calendar Europe/Berlin. March 2026 in Berlin: clocks go forward on Sunday 29 March, so the month is
31 × 24 − 1 = 743 h = 44,580 min = 2,674,800 s long (January: 744 h = 44,640 min).

Uptime % = 100 × (1 − counted downtime / month length); shortfall = 99.9 − uptime; steps = ceil(shortfall /
0.1); credit = min(20 % × steps, 100 %) × 900.00.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest

from sitekeeper.monitoring.uptime import daily_bar, month_figures
from tests.monitoring.conftest import outage, utc, watch

MARCH = (utc(2026, 2, 28, 23), utc(2026, 3, 31, 22))  # 1 Mar 00:00 CET → 1 Apr 00:00 CEST, in UTC
AFTER_MARCH = utc(2026, 4, 15)


def minutes(n: float) -> dt.timedelta:
    return dt.timedelta(minutes=n)


# (downtime placed on Thursday 12 March 10:00 UTC — no maintenance window near —, uptime, credit %, EUR)
# fmt: off
TABLE = [
    # no downtime: 100 %, no credit
    (minutes(0), Fraction(100), "0", "0.00"),
    # 44.58 min = exactly 0.1 % of 44,580 min → uptime 99.9 → shortfall 0 → no credit
    (dt.timedelta(seconds=2674.8), Fraction("99.9"), "0", "0.00"),
    # 44 min 36 s = 2,676 s: 2,676 / 2,674,800 = 0.100045 % → uptime 99.899955 → 1 started step → 20 %
    # → 180.00 (the same outage in 744-h January is 0.099910 % → 99.900090 → no credit, see below)
    (dt.timedelta(seconds=2676), 100 * (1 - Fraction(2676, 2674800)), "20", "180.00"),
    # 45 min: 45 / 44,580 = 0.100942 % → uptime 99.899058 → shortfall 0.000942 → 1 step → 20 % → 180.00
    (minutes(45), 100 * (1 - Fraction(45, 44580)), "20", "180.00"),
    # 90 min: 0.201884 % → 99.798116 → shortfall 0.101884 → ceil(1.01884) = 2 steps → 40 % → 360.00
    (minutes(90), 100 * (1 - Fraction(90, 44580)), "40", "360.00"),
    # 600 min: 1.345895 % → 98.654105 → shortfall 1.245895 → 13 steps → 260 %, capped at 100 % → 900.00
    (minutes(600), 100 * (1 - Fraction(600, 44580)), "100", "900.00"),
]
# fmt: on


@pytest.mark.parametrize(("down", "uptime", "percent", "amount"), TABLE)
def test_march_2026_business_plan_table(monitor, down, uptime, percent, amount):
    watch(*MARCH)
    if down:
        start = utc(2026, 3, 12, 10)
        outage(monitor, start, start + down)
    figures = month_figures(monitor.site, 2026, 3, now=AFTER_MARCH)
    assert figures.length == dt.timedelta(hours=743)
    assert figures.uptime == uptime
    assert figures.counted == down
    assert figures.unknown == dt.timedelta(0)
    assert figures.credit.credit_percent == Decimal(percent)
    assert figures.credit.credit_amount == Decimal(amount)
    assert figures.credit.capped is (percent == "100")


def test_the_same_outage_earns_nothing_in_a_744_hour_month(monitor):
    # January 2026: 744 h = 2,678,400 s; 2,676 / 2,678,400 = 0.099910 % → uptime 99.900090 ≥ 99.9 → 0.
    watch(utc(2025, 12, 31, 23), utc(2026, 1, 31, 23))
    start = utc(2026, 1, 15, 10)
    outage(monitor, start, start + dt.timedelta(seconds=2676))
    figures = month_figures(monitor.site, 2026, 1, now=AFTER_MARCH)
    assert figures.length == dt.timedelta(hours=744)
    assert figures.uptime == 100 * (1 - Fraction(2676, 2678400))
    assert figures.credit.credit_amount == Decimal("0.00")


def test_an_outage_across_the_dst_change_counts_real_minutes(monitor):
    # Local 01:30 CET → 03:30 CEST on 29 March reads as two wall-clock hours but is 60 real minutes
    # (00:30 → 01:30 UTC): 60 / 44,580 = 0.134590 % → uptime 99.865410 → shortfall 0.034590 → 1 step → 180.00.
    watch(*MARCH)
    outage(monitor, utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 1, 30))
    figures = month_figures(monitor.site, 2026, 3, now=AFTER_MARCH)
    assert figures.counted == minutes(60)
    assert figures.uptime == 100 * (1 - Fraction(60, 44580))
    assert figures.credit.credit_amount == Decimal("180.00")


def test_outages_at_the_month_edges_count_only_inside_the_month(monitor):
    # 28 Feb 22:30 → 23:30 UTC: only the 30 min after 1 March 00:00 Berlin (23:00 UTC) count in March.
    watch(utc(2026, 2, 20), utc(2026, 4, 5))
    outage(monitor, utc(2026, 2, 28, 22, 30), utc(2026, 2, 28, 23, 30))
    figures = month_figures(monitor.site, 2026, 3, now=AFTER_MARCH)
    assert figures.counted == minutes(30)


def test_maintenance_tag_and_probe_gap_do_not_reduce_uptime(monitor, site):
    """Acceptance: an outage inside an announced maintenance window, and one tagged 'third-party
    platform', do not reduce uptime; a probe gap is reported as unknown."""
    from sitekeeper.monitoring import maintenance

    contract = site.client.contract
    # Probes watched all of March except 5 h on 20 March (06:00–11:00 UTC).
    watch(MARCH[0], utc(2026, 3, 20, 6))
    watch(utc(2026, 3, 20, 11), MARCH[1])
    # 1. Announced extended maintenance (72 h ahead, max 120 min), 40 min down inside it.
    maintenance.announce(
        contract,
        kind="scheduled",
        start=utc(2026, 3, 14, 8),
        end=utc(2026, 3, 14, 12),
        max_minutes=120,
        announced_at=utc(2026, 3, 11, 8),
    )
    outage(monitor, utc(2026, 3, 14, 9), utc(2026, 3, 14, 9, 40))
    # 2. A third-party platform outage, tagged by staff: 3 h.
    outage(
        monitor,
        utc(2026, 3, 16, 12),
        utc(2026, 3, 16, 15),
        exclusion="third_party_platform",
        exclusion_reason="Shopify checkout outage (status.shopify.com incident 123)",
    )
    # 3. A monitor reported down when the probes stopped; the outage closed when they came back.
    outage(monitor, utc(2026, 3, 20, 5, 50), utc(2026, 3, 20, 11))
    figures = month_figures(site, 2026, 3, now=AFTER_MARCH)
    # Only the 10 min before the gap were watched downtime and nothing excludes them.
    assert figures.unknown == dt.timedelta(hours=5)
    assert figures.downtime == minutes(40 + 180 + 10)
    assert figures.excluded == minutes(40 + 180)
    assert figures.counted == minutes(10)
    assert figures.uptime == 100 * (1 - Fraction(10, 44580))
    assert figures.credit.credit_amount == Decimal("0.00")  # 0.022 % < 0.1 %: within the SLA

    bar = {day.date: day.state for day in daily_bar(site, days=40, now=AFTER_MARCH)}
    assert bar[dt.date(2026, 3, 14)] == "maintenance"
    assert bar[dt.date(2026, 3, 16)] == "maintenance"  # excluded by a tag: shown as excluded, not down
    assert bar[dt.date(2026, 3, 20)] == "partial"
    assert bar[dt.date(2026, 3, 21)] == "up"


def test_time_without_any_probe_session_is_unknown_not_downtime(monitor, site):
    outage(monitor, utc(2026, 3, 10), None)  # still open, and no probe ever watched
    figures = month_figures(site, 2026, 3, now=AFTER_MARCH)
    assert figures.counted == dt.timedelta(0)
    # Issue 12 item 1: a month nobody watched is "not measured" (this test said 100 % before).
    assert figures.uptime is None
    assert figures.credit is None
    assert figures.unknown == dt.timedelta(hours=743)
    bar = daily_bar(site, days=3, now=utc(2026, 3, 12, 12))
    assert [day.state for day in bar] == ["unknown", "unknown", "unknown"]


def test_open_outage_counts_until_now_in_the_current_month(monitor, site):
    watch(MARCH[0], utc(2026, 3, 12, 12))
    outage(monitor, utc(2026, 3, 12, 11), None)
    figures = month_figures(site, 2026, 3, now=utc(2026, 3, 12, 12))
    assert figures.counted == minutes(60)
    assert figures.until == utc(2026, 3, 12, 12)
    assert figures.as_json()["complete"] is False


def test_a_stage_monitor_outage_is_not_site_downtime(site):
    from sitekeeper.monitoring.models import Monitor

    stage = Monitor.objects.create(site=site, url="https://stage.acme.test", environment="stage")
    watch(*MARCH)
    outage(stage, utc(2026, 3, 5), utc(2026, 3, 5, 5))
    assert month_figures(site, 2026, 3, now=AFTER_MARCH).counted == dt.timedelta(0)


def test_two_monitors_down_together_count_once(monitor, site):
    from sitekeeper.monitoring.models import Monitor

    other = Monitor.objects.create(site=site, url="acme.test:443", kind="tcp")
    watch(*MARCH)
    outage(monitor, utc(2026, 3, 5, 10), utc(2026, 3, 5, 11))
    outage(other, utc(2026, 3, 5, 10, 30), utc(2026, 3, 5, 11, 30))
    assert month_figures(site, 2026, 3, now=AFTER_MARCH).counted == minutes(90)
