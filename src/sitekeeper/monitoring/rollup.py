"""Raw check results → hourly and daily Rollup rows; raw rows older than the retention are then deleted.

Retention: SITEKEEPER_RAW_RESULT_DAYS days (default 14), read from settings. One pass:

1. hourly rollups for every complete UTC hour that has raw results since the last rolled-up hour (minus a
   margin for late results), and for the hours about to be deleted — recomputed from the raw rows and
   written with an upsert on (monitor, period, start), so running a pass twice changes nothing;
2. daily rollups for complete UTC days touched by step 1, summed from the hourly rows (so a day stays right
   after its raw rows are gone);
3. raw results older than the cutoff (now − retention, on a whole hour) are deleted — all of them were rolled
   up in step 1 of this same pass.

Uptime never reads these tables (monitoring/uptime.py reads outages, maintenance and probe sessions); the
response-time chart reads the hourly rollups.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Avg, Count, Max, Min, Q
from django.db.models.functions import TruncHour
from django.utils import timezone

from sitekeeper.monitoring.models import CheckResult, Rollup

LATE_MARGIN = dt.timedelta(hours=2)  # results a slow probe writes after their hour was rolled up
DELETE_BATCH = 10_000
UPDATE_FIELDS = ["checks", "failures", "response_ms_avg", "response_ms_max"]


def raw_result_days() -> int:
    return settings.SITEKEEPER_RAW_RESULT_DAYS


@dataclass(frozen=True)
class RollupSummary:
    hours: int
    days: int
    deleted: int

    def __str__(self) -> str:
        written = f"{self.hours} hourly rollups, {self.days} daily rollups written"
        return f"{written}; {self.deleted} raw results deleted"


def _hour(instant: dt.datetime) -> dt.datetime:
    return instant.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def _day(instant: dt.datetime) -> dt.datetime:
    return _hour(instant).replace(hour=0)


def hourly_rows(lo: dt.datetime, hi: dt.datetime) -> list[Rollup]:
    """Hourly aggregates of the raw results in [lo, hi), one GROUP BY query."""
    grouped = (
        CheckResult.objects.filter(at__gte=lo, at__lt=hi)
        .annotate(hour=TruncHour("at", tzinfo=dt.UTC))
        .values("monitor_id", "hour")
        .annotate(
            checks=Count("pk"),
            failures=Count("pk", filter=Q(ok=False)),
            avg=Avg("response_ms"),
            top=Max("response_ms"),
        )
        .order_by()
    )
    return [
        Rollup(
            monitor_id=row["monitor_id"],
            period=Rollup.Period.HOUR,
            start=row["hour"],
            checks=row["checks"],
            failures=row["failures"],
            response_ms_avg=None if row["avg"] is None else round(row["avg"]),
            response_ms_max=row["top"],
        )
        for row in grouped
    ]


def daily_rows(days: set[dt.datetime]) -> list[Rollup]:
    """Daily aggregates summed from the hourly rows of `days` (the average weighted by checks)."""
    rows: dict[tuple[int, dt.datetime], dict] = {}
    if not days:
        return []
    lo, hi = min(days), max(days) + dt.timedelta(days=1)
    hourly = Rollup.objects.filter(period=Rollup.Period.HOUR, start__gte=lo, start__lt=hi).values_list(
        "monitor_id", "start", "checks", "failures", "response_ms_avg", "response_ms_max"
    )
    for monitor_id, start, checks, failures, avg, top in hourly:
        day = _day(start)
        if day not in days:
            continue
        acc = rows.setdefault(
            (monitor_id, day), {"checks": 0, "failures": 0, "weight": 0, "sum": 0, "max": None}
        )
        acc["checks"] += checks
        acc["failures"] += failures
        if avg is not None:
            acc["weight"] += checks
            acc["sum"] += avg * checks
        if top is not None:
            acc["max"] = top if acc["max"] is None else max(acc["max"], top)
    return [
        Rollup(
            monitor_id=monitor_id,
            period=Rollup.Period.DAY,
            start=day,
            checks=acc["checks"],
            failures=acc["failures"],
            response_ms_avg=round(acc["sum"] / acc["weight"]) if acc["weight"] else None,
            response_ms_max=acc["max"],
        )
        for (monitor_id, day), acc in rows.items()
    ]


def _upsert(rows: list[Rollup]) -> None:
    if rows:
        Rollup.objects.bulk_create(
            rows,
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["monitor", "period", "start"],
            update_fields=UPDATE_FIELDS,
        )


def run(now: dt.datetime | None = None, days: int | None = None) -> RollupSummary:
    """One idempotent pass (see the module's docstring)."""
    now = now or timezone.now()
    keep = dt.timedelta(days=raw_result_days() if days is None else days)
    current_hour = _hour(now)
    cutoff = _hour(now - keep)
    oldest = CheckResult.objects.aggregate(at=Min("at"))["at"]
    if oldest is None:
        return RollupSummary(0, 0, 0)
    last = Rollup.objects.filter(period=Rollup.Period.HOUR).aggregate(start=Max("start"))["start"]
    since = max(_hour(oldest), last - LATE_MARGIN) if last else _hour(oldest)
    ranges = [(since, current_hour)]
    if _hour(oldest) < min(cutoff, since):  # raw rows about to be deleted but not in the range above
        ranges.append((_hour(oldest), min(cutoff, since)))
    hours = []
    with transaction.atomic():
        for lo, hi in ranges:
            if lo < hi:
                rows = hourly_rows(lo, hi)
                _upsert(rows)
                hours.extend(rows)
        touched = {_day(row.start) for row in hours}
        complete = {day for day in touched if day + dt.timedelta(days=1) <= current_hour}
        days_rows = daily_rows(complete)
        _upsert(days_rows)
    deleted = 0
    while True:  # in batches, so one pass never holds a long lock on a big table
        pks = list(CheckResult.objects.filter(at__lt=cutoff).values_list("pk", flat=True)[:DELETE_BATCH])
        if not pks:
            break
        deleted += CheckResult.objects.filter(pk__in=pks).delete()[0]
    return RollupSummary(len(hours), len(days_rows), deleted)
