"""ACCEPTANCE: with snapshots dated across 400 days (restic --time), each plan keeps exactly what its
retention says — in the catalogue and in the restic repository itself.

One SQLite source, one snapshot every 20 days (21 snapshots, each a full jobs.backup run), one shared
repository. The snapshots are dated after the real clock so the retention pass every backup run makes on its
own (counted from the real now) lets none of them go while they are being made; the plans are then applied
from the longest retention to the shortest, each at the same "now" ten days after the newest snapshot (so the
starter plan's 30-day cutoff falls exactly on a snapshot, which must be kept).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from sitekeeper.backups import jobs
from sitekeeper.backups.models import Layer, Repository, RunStatus, SiteBackup, Snapshot, Source
from sitekeeper.backups.restic import Restic
from sitekeeper.contracts.models import Contract, Plan, Site

pytestmark = pytest.mark.slow

STEP_DAYS = 20
COUNT = 21  # day 0 .. day 400
PLANS = [("enterprise", 365), ("business", 90), ("professional", 60), ("starter", 30)]


@pytest.fixture
def dated_site(site: Site, local_repo: Repository, tmp_path: Path) -> tuple[Site, list[dt.datetime]]:
    db = tmp_path / "small.sqlite3"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        conn.execute("INSERT INTO t (v) VALUES ('x')")
    conn.close()
    SiteBackup.objects.create(site=site, repository=local_repo)
    Source.objects.create(site=site, name="db", layer=Layer.DATA, kind="sqlite", path=str(db))
    first = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).replace(microsecond=0)
    times = [first + dt.timedelta(days=STEP_DAYS * i) for i in range(COUNT)]
    for i, at in enumerate(times):
        run = jobs.backup(site, Layer.DATA, slot=f"dated-{i}", at=at)
        assert run is not None
        assert run.status == RunStatus.SUCCEEDED, run.log
    return site, times


def test_each_plan_keeps_exactly_its_retention(dated_site) -> None:
    site, times = dated_site
    # Compared by restic's short ids: a run catalogues the short id, the first retention pass the full one.
    by_time = {s.time: s.restic_id[:8] for s in Snapshot.objects.filter(site=site)}
    assert sorted(by_time) == times  # catalogued with the dates restic was given
    now = times[-1] + dt.timedelta(days=10)  # day 410
    contract = site.client.contract
    assert contract is not None
    for slug, days in PLANS:
        Contract.objects.filter(pk=contract.pk).update(plan=Plan.objects.get(slug=slug))
        site.client.refresh_from_db()
        assert site.client.contract.plan.backup_retention_days == days
        # By hand: a snapshot is kept when it is at most `days` days older than now; the newest always is.
        # The starter plan's cutoff (day 380) falls exactly on a snapshot: it is kept.
        expected = {by_time[t] for t in times if now - t <= dt.timedelta(days=days)}
        expected.add(by_time[times[-1]])
        kept_count = {365: 18, 90: 5, 60: 3, 30: 2}[days]  # e.g. 30 days: day 380 and 400 (now = 410)
        assert len(expected) == kept_count

        with Restic(site.backup.repository) as restic:
            summary = jobs.apply_retention(site, restic, now=now)
            in_restic = {s["id"][:8] for s in restic.snapshots([f"site-{site.pk}"])}
        assert summary["days"] == days
        assert summary["kept"] == kept_count
        kept = Snapshot.objects.filter(site=site, forgotten_at=None).values_list("restic_id", flat=True)
        assert all(len(i) == 64 for i in kept)
        in_catalogue = {i[:8] for i in kept}
        assert in_catalogue == expected, slug
        assert in_restic == expected, slug
        forgotten = Snapshot.objects.filter(site=site).exclude(forgotten_at=None)
        assert set(forgotten.values_list("forgotten_at", flat=True)) <= {now}

    # Backups stopped long ago: the starter plan still keeps the last good copy, however old.
    with Restic(site.backup.repository) as restic:
        jobs.apply_retention(site, restic, now=times[-1] + dt.timedelta(days=500))
        in_restic = [s["id"][:8] for s in restic.snapshots([f"site-{site.pk}"])]
    newest = by_time[times[-1]]
    assert in_restic == [newest]
    remaining = Snapshot.objects.filter(site=site, forgotten_at=None).values_list("restic_id", flat=True)
    assert [i[:8] for i in remaining] == [newest]
