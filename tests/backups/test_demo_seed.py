"""The demo's backups (src/sitekeeper/demo/backups_seed.py) show the daily schedule the agreement promises:
data and code on each of the last three days, config once, nothing dated after the moment the demo is made
(issue 12, item 8)."""

from __future__ import annotations

import datetime as dt

import pytest

from sitekeeper.backups.models import Snapshot
from sitekeeper.contracts.models import Client, Site
from sitekeeper.demo.backups_seed import seed_backups

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "now", [dt.datetime(2026, 11, 22, 0, 30, tzinfo=dt.UTC)], ids=["just-after-midnight"]
)
def test_demo_bakery_has_daily_code_snapshots_and_none_in_the_future(acme: Client, now: dt.datetime) -> None:
    site = Site.objects.create(
        client=acme, url="https://brot-und-butter.test", name="Bakery", platform="wordpress"
    )

    seeded = seed_backups(now)

    assert seeded.restore_test == "passed"
    kept = Snapshot.objects.filter(site=site, forgotten_at=None)
    days = {layer: sorted({s.time.date() for s in kept.filter(layer=layer)}) for layer in ("data", "code")}
    # 00:30 UTC: today's 01:00 has not come yet, so the three days are the 19th to the 21st.
    expected = [dt.date(2026, 11, 19), dt.date(2026, 11, 20), dt.date(2026, 11, 21)]
    assert days == {"data": expected, "code": expected}
    assert kept.filter(layer="code").count() == 3
    assert kept.filter(layer="config").count() == 1
    assert max(s.time for s in kept) <= now
