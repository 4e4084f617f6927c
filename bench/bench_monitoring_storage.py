"""Database growth per monitor per year, from row sizes measured on PostgreSQL.

Usage: SITEKEEPER_DATABASE_URL=postgres://… SITEKEEPER_HOME=$(mktemp -d) .venv/bin/python
bench/bench_monitoring_storage.py [--rows 200000]. Migrates the database, inserts N raw results and N
hourly rollups for one throw-away monitor, reads pg_total_relation_size (table + indexes + TOAST) before and
after, prints bytes per row and the yearly figures, then deletes what it inserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys

import django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    if not os.environ.get("SITEKEEPER_DATABASE_URL", "").startswith("postgres"):
        sys.exit("set SITEKEEPER_DATABASE_URL=postgres://… (the figure is about PostgreSQL)")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sitekeeper.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from sitekeeper.contracts.models import Client, Site
    from sitekeeper.monitoring.models import CheckResult, Monitor, Rollup

    call_command("migrate", verbosity=0)

    def size(table: str) -> int:
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE " + table)
            cursor.execute("SELECT pg_total_relation_size(%s)", [table])
            return cursor.fetchone()[0]

    client = Client.objects.create(slug="bench-storage", name="Bench storage")
    site = Site.objects.create(client=client, url="https://bench.example")
    monitor = Monitor.objects.create(site=site, url=site.url)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    try:
        before = size("monitoring_checkresult")
        batch = [
            CheckResult(
                monitor=monitor,
                location="fra1",
                at=start + dt.timedelta(seconds=60 * i),
                ok=i % 500 != 0,
                status_code=200,
                response_ms=200 + i % 300,
                error="" if i % 500 else "HTTP 503",
            )
            for i in range(args.rows)
        ]
        CheckResult.objects.bulk_create(batch, batch_size=5000)
        raw = (size("monitoring_checkresult") - before) / args.rows
        before = size("monitoring_rollup")
        Rollup.objects.bulk_create(
            [
                Rollup(
                    monitor=monitor,
                    period="hour",
                    start=start + dt.timedelta(hours=i),
                    checks=60,
                    failures=i % 3,
                    response_ms_avg=250,
                    response_ms_max=900,
                )
                for i in range(args.rows)
            ],
            batch_size=5000,
        )
        roll = (size("monitoring_rollup") - before) / args.rows
    finally:
        client.delete()
    raw_kept = 14 * 24 * 60  # 60-s interval, one location, 14 days kept
    yearly = (365 * 24 + 365) * roll
    print(f"raw result: {raw:.1f} bytes/row (table + indexes), rollup: {roll:.1f} bytes/row")
    print(
        f"raw window (14 days at 60 s, 1 location): {raw_kept} rows = {raw_kept * raw / 1e6:.2f} MB, constant"
    )
    print(f"growth: 8,760 hourly + 365 daily rollups = {yearly / 1e6:.2f} MB per monitor per year")


if __name__ == "__main__":
    main()
