"""Demo backups, made with the real restic: the bakery's shop front (a small WordPress-shaped tree, a SQLite
database under SITEKEEPER_HOME/demo-sites) backed up on the last three days — data and code every day (the
agreement's "daily automated backups, full site + database"; the theme changed on the middle day), config
once (it did not change) — into a local repository, flagged "not off-site", as a copy next to prod is; then a
restore test with its evidence. The law firm's site has a backup that failed (its folder is missing), with
its P2 incident. Every other demo site has no backup set up: the portal says so plainly and the staff pages
flag it as the agency's to fix.

Call `seed_backups(now)` after the contracts exist. Safe to call twice: a site with backup settings is left
alone. Without restic installed it says so and seeds nothing (the rest of the demo works).
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from sitekeeper.backups import jobs
from sitekeeper.backups.models import Layer, Repository, SiteBackup, Source
from sitekeeper.contracts.models import Site
from sitekeeper.demo import clock

logger = logging.getLogger(__name__)

POSTS = [
    ("Opening hours over Christmas", "We open at 6:00 on 24 December and close at noon."),
    ("New: spelt sourdough", "Baked every Tuesday and Friday."),
    ("Order your Stollen", "Pre-orders until 15 December."),
]


@dataclass(frozen=True)
class BackupsSeed:
    runs: int
    restore_test: str


def _site(url: str) -> Site | None:
    return Site.objects.filter(url=url).select_related("client").first()


def _make_tree(root: Path, day: int) -> None:
    """A small WordPress-shaped site; `day` changes a little content, as a live site does, and from day 2 the
    theme is a new version (a small code change between daily code snapshots)."""
    uploads = root / "wp-content" / "uploads" / "2026" / "11"
    uploads.mkdir(parents=True, exist_ok=True)
    (root / "wp-content" / "themes" / "bakery").mkdir(parents=True, exist_ok=True)
    (root / "index.php").write_text(
        "<?php define('WP_USE_THEMES', true); require __DIR__ . '/wp-blog-header.php';\n"
    )
    (root / "wp-config.php").write_text("<?php\ndefine('DB_NAME', 'bakery');\ndefine('WP_DEBUG', false);\n")
    version = "1.1" if day >= 2 else "1.0"
    (root / "wp-content" / "themes" / "bakery" / "style.css").write_text(
        f"/* Theme Name: Bakery\nVersion: {version} */\nbody{{}}\n"
    )
    for i in range(day + 3):
        (uploads / f"bread-{i}.jpg").write_bytes(bytes([i % 251]) * (40_000 + 1_000 * i))
    with sqlite3.connect(root / "bakery.sqlite3") as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS posts (id INTEGER PRIMARY KEY, title TEXT, body TEXT)")
        conn.execute("CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, item TEXT, qty INTEGER)")
        title, body = POSTS[day % len(POSTS)]
        conn.execute("INSERT INTO posts (title, body) VALUES (?, ?)", (title, body))
        conn.executemany("INSERT INTO orders (item, qty) VALUES (?, ?)", [("Stollen", day + 1)] * 5)
    conn.close()


def _sources(site: Site, root: Path, environment: str) -> None:
    common = {"site": site, "environment": environment}
    Source.objects.create(**common, name="uploads", layer=Layer.DATA, kind="files",
                          path=str(root / "wp-content" / "uploads"))  # fmt: skip
    Source.objects.create(
        **common, name="database", layer=Layer.DATA, kind="sqlite", path=str(root / "bakery.sqlite3")
    )
    Source.objects.create(**common, name="code", layer=Layer.CODE, kind="files", path=str(root),
                          excludes=[str(root / "wp-content" / "uploads"), str(root / "bakery.sqlite3"),
                                    str(root / "wp-config.php")])  # fmt: skip
    Source.objects.create(**common, name="config", layer=Layer.CONFIG, kind="files", path=str(root),
                          includes=["wp-config.php"])  # fmt: skip


def seed_backups(now: dt.datetime) -> BackupsSeed:
    bakery = _site("https://brot-und-butter.test")
    if bakery is None or SiteBackup.objects.filter(site=bakery).exists():
        return BackupsSeed(0, "")
    if shutil.which("restic") is None:
        logger.warning("demo: restic is not installed (Debian package 'restic'): no demo backups")
        return BackupsSeed(0, "")
    home = Path(settings.HOME)
    prod, stage = home / "demo-sites" / "bakery", home / "demo-sites" / "bakery-stage"
    repo = Repository.objects.create(
        client=bakery.client, name="demo-local", kind="local", location=str(home / "demo-backups" / "bakery")
    )
    SiteBackup.objects.create(site=bakery, repository=repo)
    _sources(bakery, prod, "prod")
    _sources(bakery, stage, "stage")
    stage.mkdir(parents=True, exist_ok=True)
    runs = 0
    # 01:00 UTC on each of the last three days whose 01:00 has passed: nothing dated after `now`.
    last = now if now.hour >= 1 else now - dt.timedelta(days=1)
    for days_ago in (2, 1, 0):
        _make_tree(prod, 3 - days_ago)
        at = (last - dt.timedelta(days=days_ago)).replace(hour=1, minute=0, second=0, microsecond=0)
        layers = [Layer.DATA, Layer.CODE] + ([Layer.CONFIG] if days_ago == 2 else [])
        for layer in layers:
            with clock.at(at):  # the run is stamped at its night, like the snapshot (demo/clock.py)
                run = jobs.backup(
                    bakery, layer, slot=f"{layer}-{at.date().isoformat()}", trigger="schedule", at=at
                )
            runs += run is not None
    verdict = _restore_test(bakery)
    _failing_site(home)
    return BackupsSeed(runs, verdict)


def _restore_test(site: Site) -> str:
    try:
        from sitekeeper.backups import verify
    except ImportError:
        return ""
    test = verify.restore_test(site, slot="demo", trigger="manual")
    return test.status


def _failing_site(home: Path) -> None:
    """The law firm's site: its backup points at a folder that is gone — a failed run and its incident."""
    site = _site("https://keller-partner.test")
    if site is None or SiteBackup.objects.filter(site=site).exists():
        return
    repo = Repository.objects.create(
        client=site.client, name="demo-local", kind="local", location=str(home / "demo-backups" / "lawfirm")
    )
    SiteBackup.objects.create(site=site, repository=repo)
    Source.objects.create(site=site, name="uploads", layer=Layer.DATA, kind="files",
                          path=str(home / "demo-sites" / "lawfirm-moved-away" / "uploads"))  # fmt: skip
    jobs.backup(site, Layer.DATA, slot="data-demo", trigger="schedule")
