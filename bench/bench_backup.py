"""Backups: sitekeeper's overhead over a bare `restic backup`, and the memory of a streamed database dump.

Run from the repository root:  .venv/bin/python bench/bench_backup.py [--tree-mb 300] [--sizes 50,500]

1. Overhead: the same tree of mixed files (large random files, many small text files) backed up into two
   fresh, already initialised local repositories — once by a bare `restic backup` (password file, the same
   flags restic gets from sitekeeper), once by `jobs.backup()` (claim, restic backup, `restic ls` + hashing
   the manifest sample, catalogue rows, id resolution, retention pass). The tree is read once beforehand so
   both runs find it in the page cache. Ratio = sitekeeper wall time / bare wall time (goal ≤ 1.1×).
2. Memory: a PostgreSQL database (pg_dump streamed into `restic backup --stdin`) and a SQLite file (online
   backup API to a temporary file, then streamed) of each size, each backed up by a fresh child process;
   peak RSS of that process (getrusage RUSAGE_SELF) and of its largest child (RUSAGE_CHILDREN: restic or
   pg_dump). Flat across sizes = streaming.

It uses a data folder of its own (a temporary SITEKEEPER_HOME with a SQLite database) and PostgreSQL on
127.0.0.1:5432 as user postgres for the dump sources (throw-away databases, dropped at the end).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchsetup import fresh_client, setup_django

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def make_tree(folder: Path, total_mb: int) -> tuple[int, int]:
    """Mixed files: 80 % of the bytes in 4 MB random files, the rest in 4 KB text files (many of them)."""
    folder.mkdir(parents=True)
    big = int(total_mb * 0.8) // 4
    for i in range(big):
        (folder / "media" / f"{i // 50:02}").mkdir(parents=True, exist_ok=True)
        (folder / "media" / f"{i // 50:02}" / f"file-{i:04}.bin").write_bytes(os.urandom(4 * 1024 * 1024))
    small = int(total_mb * 0.2 * 1024 * 1024) // 4096
    for i in range(small):
        sub = folder / "pages" / f"{i // 500:03}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"page-{i:05}.html").write_text(f"<p>page {i} {secrets.token_hex(16)}</p>\n" * 64)
    return big + small, sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def warm(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                while handle.read(1024 * 1024):
                    pass


def new_site(client, name: str, tmp: Path):
    from sitekeeper.backups.models import Repository, SiteBackup
    from sitekeeper.contracts.models import Site

    site = Site.objects.create(client=client, url=f"https://{name}.bench", name=name, platform="wordpress")
    repo = Repository.objects.create(
        client=client, name=name, kind="local", location=str(tmp / f"repo-{name}")
    )
    SiteBackup.objects.create(site=site, repository=repo)
    return site, repo


def init(repo) -> None:
    import datetime as dt

    from sitekeeper.backups.models import Repository
    from sitekeeper.backups.restic import Restic

    with Restic(repo) as restic:
        restic.init()
    Repository.objects.filter(pk=repo.pk).update(initialized_at=dt.datetime.now(dt.UTC))


def overhead(client, tmp: Path, tree_mb: int) -> dict[str, float]:
    from sitekeeper.backups import jobs
    from sitekeeper.backups.models import Source
    from sitekeeper.backups.restic import HOST, Restic

    tree = tmp / "tree"
    files, size = make_tree(tree, tree_mb)
    warm(tree)

    _, bare_repo = new_site(client, "bare", tmp)
    init(bare_repo)
    with Restic(bare_repo) as restic:  # the same environment (password file, cache) sitekeeper uses
        argv = restic.argv("backup", "--json", "--host", HOST, "--tag", "bench", "--", str(tree))
        started = time.perf_counter()
        subprocess.run(argv, env={**os.environ, **restic.env}, check=True, capture_output=True)  # noqa: S603
        bare = time.perf_counter() - started

    site, repo = new_site(client, "keeper", tmp)
    init(repo)
    Source.objects.create(site=site, name="tree", layer="data", kind="files", path=str(tree))
    # Where the difference goes: each restic command run to completion (all but `backup`, which streams).
    from sitekeeper import proc

    spent: dict[str, float] = {}
    real_run = proc.run

    def timed(args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return real_run(args, **kwargs)
        finally:
            name = " ".join(a for a in args[1:3] if not a.startswith("-"))[:20] or args[0]
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - began

    proc.run = timed
    try:
        started = time.perf_counter()
        run = jobs.backup(site, "data", slot="bench")
        ours = time.perf_counter() - started
    finally:
        proc.run = real_run
    if run is None or run.status != "succeeded":
        raise SystemExit(f"sitekeeper backup failed: {run and run.log}")
    return {
        "files": files, "mb": size / 1e6, "bare": bare, "sitekeeper": ours, "ratio": ours / bare,
        "spent": spent,
    }  # fmt: skip


# -- memory ---------------------------------------------------------------------------------------------
def make_postgres(mb: int) -> str:
    import psycopg

    name = f"sk_bench_{mb}mb_{secrets.token_hex(3)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    rows = mb * 1024 * 1024 // 1000  # ~1 kB of poorly compressible text per row
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}", autocommit=True) as conn:
        conn.execute("CREATE TABLE blob (id bigserial PRIMARY KEY, body text)")
        conn.execute(
            "INSERT INTO blob (body) SELECT string_agg(md5(random()::text), '') "
            "FROM generate_series(1, %s) r, generate_series(1, 31) part GROUP BY r",
            (rows,),
        )
    return name


def drop_postgres(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_sqlite(path: Path, mb: int) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE blob (id INTEGER PRIMARY KEY, body BLOB)")
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
            "INSERT INTO blob (body) SELECT randomblob(1000) FROM n",
            (mb * 1024 * 1024 // 1000,),
        )
    conn.close()


def measure_child(site_pk: int) -> None:
    """In a fresh process: back up the site's data layer, print peak RSS of this process and its children."""
    setup_django()
    from sitekeeper.backups import jobs
    from sitekeeper.contracts.models import Site

    started = time.perf_counter()
    run = jobs.backup(Site.objects.get(pk=site_pk), "data", slot="bench")
    seconds = time.perf_counter() - started
    if run is None or run.status != "succeeded":
        raise SystemExit(f"backup failed: {run and run.log}")
    print(
        "RSS",
        json.dumps({
            "self_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "children_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            "bytes": run.bytes_processed,
            "seconds": seconds,
        }),
    )  # fmt: skip


def memory(client, tmp: Path, sizes: list[int]) -> list[dict[str, float | str]]:
    from sitekeeper.backups.models import Source

    rows: list[dict[str, float | str]] = []
    for kind in ("postgres", "sqlite"):
        for mb in sizes:
            site, repo = new_site(client, f"{kind}-{mb}", tmp)
            init(repo)
            dropped = ""
            if kind == "postgres":
                dropped = make_postgres(mb)
                url = f"postgres://postgres@127.0.0.1:5432/{dropped}"
                Source.objects.create(site=site, name="db", layer="data", kind=kind, db_url=url)
            else:
                path = tmp / f"bench-{mb}.sqlite3"
                make_sqlite(path, mb)
                Source.objects.create(site=site, name="db", layer="data", kind=kind, path=str(path))
            try:
                done = subprocess.run(  # noqa: S603 - this script, by its path
                    [sys.executable, __file__, "--child", str(site.pk)],
                    env=os.environ.copy(), capture_output=True, text=True, check=False,
                )  # fmt: skip
            finally:
                if dropped:
                    drop_postgres(dropped)
            line = next((x for x in done.stdout.splitlines() if x.startswith("RSS ")), None)
            if line is None:
                raise SystemExit(f"{kind} {mb} MB: the child failed:\n{done.stdout}\n{done.stderr}")
            rows.append({"kind": kind, "mb": mb, **json.loads(line[4:])})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tree-mb", type=int, default=300)
    parser.add_argument("--sizes", default="50,500", help="database sizes in MB, comma-separated")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        measure_child(args.child)
        return
    with tempfile.TemporaryDirectory(prefix="sk-bench-backup-") as folder:
        tmp = Path(folder)
        client = fresh_client(tmp / "home")  # a SQLite catalogue of its own

        result = overhead(client, tmp, args.tree_mb)
        print(f"overhead: {result['files']} files, {result['mb']:.0f} MB")
        print(f"  bare restic backup   {result['bare']:7.2f} s")
        print(f"  sitekeeper backup    {result['sitekeeper']:7.2f} s")
        print(f"  ratio                {result['ratio']:7.3f}x   (goal <= 1.1x)")
        for name, seconds in sorted(result["spent"].items(), key=lambda item: -item[1]):
            print(f"    of which restic {name:16} {seconds:6.2f} s")

        rows = memory(client, tmp, [int(s) for s in args.sizes.split(",")])
        print("\ndump streaming memory (one fresh process per backup)")
        print(
            f"  {'source':10} {'size':>7} {'stored':>9} {'time':>7} {'sitekeeper RSS':>15} {'child RSS':>10}"
        )
        for row in rows:
            print(
                f"  {row['kind']:10} {row['mb']:>4} MB {int(row['bytes']) / 1e6:>6.0f} MB "
                f"{row['seconds']:>6.1f}s {row['self_mb']:>12.0f} MB {row['children_mb']:>7.0f} MB"
            )


if __name__ == "__main__":
    main()
