"""Backup retention: which snapshots a plan's "kept N days" lets go.

Counted back from now, not from the newest snapshot (restic's own --keep-within counts from the newest
snapshot, which keeps everything forever once backups stop — and says nothing exact about "N days"). One
exception, per series (site, layer, source): the newest snapshot is never let go, however old — after a month
of failing backups the last good copy is the one that matters most.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Snap:
    id: str
    time: dt.datetime
    series: Hashable


def cutoff(now: dt.datetime, keep_days: int) -> dt.datetime:
    if keep_days < 1:
        raise ValueError(f"retention must be at least 1 day, got {keep_days}")
    return now - dt.timedelta(days=keep_days)


def to_forget(snaps: Iterable[Snap], now: dt.datetime, keep_days: int) -> set[str]:
    """Ids of the snapshots older than `keep_days` days before `now`, except each series' newest."""
    oldest_kept = cutoff(now, keep_days)
    by_series: dict[Hashable, list[Snap]] = defaultdict(list)
    for snap in snaps:
        by_series[snap.series].append(snap)
    forget: set[str] = set()
    for series in by_series.values():
        newest = max(series, key=lambda s: (s.time, s.id))
        forget.update(s.id for s in series if s.time < oldest_kept and s is not newest)
    return forget
