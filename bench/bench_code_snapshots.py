"""Backups: what daily code snapshots of a WordPress site cost in repository space (issue 12, item 8).

Run from the repository root:  .venv/bin/python bench/bench_code_snapshots.py [--source /usr/share/wordpress]
[--days 10]

The agreement promises "daily automated backups, full site + database" (1.2), so sitekeeper backs the code
layer up every day, not weekly. This measures what that costs: the WordPress tree (Debian's
/usr/share/wordpress, copied with its symlinks followed — the same copy scripts/wordpress-test.sh serves) is
the code source of one site, backed up by sitekeeper's own job (`jobs.backup(site, "code")`, real restic,
snapshots dated one day apart) into a fresh local repository, ten times. Between some days the tree changes
a little, as a maintained site does: a theme stylesheet edited, a plugin updated (its files rewritten with a
new version), a template edited. After each snapshot `restic stats --mode raw-data` gives the bytes the
repository holds; the growth per snapshot is the difference to the day before. restic de-duplicates, so an
unchanged day should cost only the snapshot's own metadata.

It uses a data folder of its own (a temporary SITEKEEPER_HOME with a SQLite catalogue) and removes it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchsetup import fresh_client

DAY_ONE = dt.datetime(2026, 11, 1, 1, 0, tzinfo=dt.UTC)


def copy_site(source: Path, target: Path) -> None:
    """The WordPress tree as a standalone site (symlinks followed, as `cp -rL`), with an uploads folder the
    code layer leaves out."""
    shutil.copytree(source, target, symlinks=False, ignore_dangling_symlinks=True)
    (target / "wp-content" / "uploads").mkdir(parents=True, exist_ok=True)


# -- the changes between days ------------------------------------------------------------------------------
def edit_stylesheet(site: Path) -> str:
    themes = sorted((site / "wp-content" / "themes").glob("*/style.css"))
    with themes[0].open("a") as handle:
        handle.write("\n/* agency: header colour adjusted */\n.site-header { background: #1d3557; }\n")
    return f"theme stylesheet edited ({themes[0].parent.name})"


def update_plugin(site: Path) -> str:
    """A plugin update: every PHP file of the plugin rewritten, its version header bumped."""
    plugin = sorted(p for p in (site / "wp-content" / "plugins").iterdir() if p.is_dir())[0]
    files = sorted(plugin.rglob("*.php"))
    for path in files:
        text = path.read_text(errors="replace")
        path.write_text(text.replace("Version: ", "Version: 99.", 1) + "\n// updated by the agency\n")
    return f"plugin updated ({plugin.name}: {len(files)} PHP files rewritten)"


def edit_template(site: Path) -> str:
    templates = sorted((site / "wp-content" / "themes").glob("*/templates/*.html")) or sorted(
        (site / "wp-content" / "themes").glob("*/*.php")
    )
    with templates[-1].open("a") as handle:
        handle.write("\n<!-- agency: opening hours block added -->\n")
    return f"template edited ({templates[-1].name})"


CHANGES: dict[int, Callable[[Path], str]] = {3: edit_stylesheet, 5: update_plugin, 8: edit_template}


# -- the run -------------------------------------------------------------------------------------------------
def raw_data(repo) -> tuple[int, int]:
    from sitekeeper.backups.restic import Restic

    with Restic(repo) as restic:
        stats = restic.stats("raw-data")
    return int(stats["total_size"]), int(stats.get("total_blob_count", 0))


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def run(source: Path, days: int, tmp: Path) -> list[dict[str, object]]:
    from sitekeeper.backups import jobs
    from sitekeeper.backups.models import Layer, Repository, SiteBackup, Source
    from sitekeeper.contracts.models import Client, Site

    site_root = tmp / "site"
    copy_site(source, site_root)
    client = Client.objects.get(slug="bench")
    site = Site.objects.create(client=client, url="https://wp.bench", name="WordPress", platform="wordpress")
    repo = Repository.objects.create(client=client, name="code", kind="local", location=str(tmp / "repo"))
    SiteBackup.objects.create(site=site, repository=repo)
    Source.objects.create(
        site=site, name="code", layer=Layer.CODE, kind="files", path=str(site_root),
        excludes=[str(site_root / "wp-content" / "uploads"), str(site_root / "wp-config.php")],
    )  # fmt: skip
    rows: list[dict[str, object]] = []
    previous = 0
    for day in range(1, days + 1):
        change = CHANGES[day](site_root) if day in CHANGES else "first snapshot" if day == 1 else "unchanged"
        at = DAY_ONE + dt.timedelta(days=day - 1)
        started = time.perf_counter()
        done = jobs.backup(site, Layer.CODE, slot=f"code-{at.date().isoformat()}", trigger="schedule", at=at)
        seconds = time.perf_counter() - started
        if done is None or done.status != "succeeded":
            raise SystemExit(f"day {day}: the code backup failed:\n{done and done.log}")
        repo.refresh_from_db()
        total, blobs = raw_data(repo)
        rows.append({
            "day": day, "change": change, "files": done.files, "read": done.bytes_processed,
            "added": done.bytes_added, "raw": total, "growth": total - previous, "blobs": blobs,
            "folder": folder_size(Path(repo.location)), "seconds": seconds,
        })  # fmt: skip
        previous = total
    return rows


def mib(value: float) -> str:
    return f"{value / 1024 / 1024:8.2f} MiB"


def kib(value: float) -> str:
    return f"{value / 1024:9.1f} KiB"


def report(rows: list[dict[str, object]], source: Path) -> None:
    first = rows[0]
    read = mib(int(first["read"])).strip()
    print(f"code layer of {source}: {first['files']} files, {read} read per snapshot")
    print("raw-data = `restic stats --mode raw-data` total (stored, compressed); growth = its change;")
    print(
        "added = restic's data_added for the snapshot (before compression); folder = the repository folder\n"
    )
    head = ("day", "raw-data total", "growth", "added", "folder growth", "time", "change")
    print("{:>3}  {:>14}  {:>13}  {:>13}  {:>13}  {:>6}  {}".format(*head))
    folder_before = 0
    for row in rows:
        folder = int(row["folder"]) - folder_before
        folder_before = int(row["folder"])
        print(
            f"{row['day']:>3}  {mib(int(row['raw'])):>14}  {kib(int(row['growth'])):>13}  "
            f"{kib(int(row['added'])):>13}  {kib(folder):>13}  {float(row['seconds']):5.1f}s  {row['change']}"
        )
    later = rows[1:]
    unchanged = [int(r["growth"]) for r in later if r["change"] == "unchanged"]
    changed = [int(r["growth"]) for r in later if r["change"] != "unchanged"]
    total = sum(int(r["growth"]) for r in later)
    share = 100 * total / int(first["raw"])
    print(f"\nfirst snapshot: {mib(int(first['raw'])).strip()} (raw data)")
    print(f"the {len(later)} snapshots after it: {kib(total).strip()} together ({share:.2f} % of the first)")
    if unchanged:
        average = kib(sum(unchanged) / len(unchanged)).strip()
        print(f"  unchanged days ({len(unchanged)}): {average} each on average")
    if changed:
        print(f"  days with a change ({len(changed)}): {', '.join(kib(g).strip() for g in changed)}")
    grown = kib(int(rows[-1]["folder"]) - int(first["folder"])).strip()
    start = mib(int(first["folder"])).strip()
    print(f"repository folder: {start} after day 1, +{grown} by day {rows[-1]['day']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--source", type=Path, default=Path("/usr/share/wordpress"))
    parser.add_argument("--days", type=int, default=10)
    args = parser.parse_args()
    if not (args.source / "wp-includes" / "version.php").is_file():
        raise SystemExit(f"{args.source} is not a WordPress tree (Debian package `wordpress`)")
    if shutil.which("restic") is None:
        raise SystemExit("restic is not installed (Debian package `restic`)")
    with tempfile.TemporaryDirectory(prefix="sk-bench-code-") as folder:
        tmp = Path(folder)
        fresh_client(tmp / "home")  # a SQLite catalogue of its own
        report(run(args.source, args.days, tmp), args.source)


if __name__ == "__main__":
    main()
