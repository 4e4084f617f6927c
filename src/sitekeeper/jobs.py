"""Background jobs, the one way: claim a row with a lease, keep the lease alive, take over a job whose worker
is gone, finish or fail it, and report its progress to whoever listens (the CLI's bar) and to the row (the
page that polls it).

A job row is any model with `owner` (host:pid of the worker holding it), `lease_until` and `progress` fields;
its status field and the values that mean waiting, running and done are the caller's (a backup run, a restore
test, a link scan, a Lighthouse audit, a release each keep the statuses that mean something to them).

Claiming is one conditional UPDATE on exactly what the caller read (status, owner, lease): of two workers that
both saw the row free, one UPDATE matches the row and the other matches nothing, on SQLite and PostgreSQL
alike — no lock is held while the job runs. On PostgreSQL the claim first reads the row with
`SELECT … FOR UPDATE SKIP LOCKED`: a worker that finds another one claiming the row at that instant moves on
at once instead of waiting for its transaction (SQLite serialises writers and has no row locks).

A job is free to take when it waits, or when it runs but its worker is gone: the lease ran out (the worker
stopped renewing it), or the owner ran on this host and its process no longer exists.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import IO, Any, TypeVar

from django.db import connection, models, transaction

Listener = Callable[[dict[str, Any]], None]
_listeners: list[Listener] = []


class TakenOverError(RuntimeError):
    """Another worker took the job over (this one stalled past its lease): this worker stops and leaves the
    job, its ending and its alerts to the other. Raised by the callers when `heartbeat` or `finish` says the
    job is no longer theirs."""


# -- who holds a job -------------------------------------------------------------------------------------
def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_alive(owner: str) -> bool:
    """False only when we can tell: the owner ran on this host and its process is gone."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def abandoned(owner: str, lease_until: dt.datetime | None, now: dt.datetime) -> bool:
    """A running job nobody keeps: no lease, the lease ran out, or its worker's process is gone."""
    return lease_until is None or lease_until <= now or not owner or not owner_alive(owner)


# -- claiming -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Kind:
    """How one model keeps its jobs: its status field, which values wait, which one means running."""

    model: type[models.Model]
    waiting: Collection[str]  # statuses that may be claimed as they are (e.g. queued)
    running: str | None  # the status a claim sets, and under which an abandoned job may be taken over
    status_field: str = "status"

    @property
    def rows(self) -> models.QuerySet:
        return self.model._default_manager.all()


def claim(
    kind: Kind,
    pk: int,
    *,
    lease: dt.timedelta,
    now: dt.datetime | None = None,
    reentrant: bool = False,
    also: dict[str, Any] | None = None,
) -> bool:
    """Take job `pk` for this process: True when this call took it. Waiting jobs are taken as they are,
    running ones only when abandoned (or, with `reentrant`, when this process already holds them). `also`
    sets more fields in the same UPDATE (started_at, attempts=F("attempts") + 1, …)."""
    now = now or dt.datetime.now(dt.UTC)
    with transaction.atomic():
        row = kind.rows.filter(pk=pk)
        if connection.features.has_select_for_update_skip_locked:
            row = row.select_for_update(skip_locked=True)  # another worker is claiming it: not ours, no wait
        seen = row.values(kind.status_field, "owner", "lease_until").first()
        if seen is None:
            return False
        status, owner, until = seen[kind.status_field], seen["owner"], seen["lease_until"]
        if not _free(kind, status, owner, until, now=now, reentrant=reentrant):
            return False
        values: dict[str, Any] = {"owner": owner_id(), "lease_until": now + lease, **(also or {})}
        if kind.running is not None:
            values[kind.status_field] = kind.running
        exactly_as_seen = {kind.status_field: status, "owner": owner, "lease_until": until}
        return bool(kind.rows.filter(pk=pk, **exactly_as_seen).update(**values))


def _free(
    kind: Kind, status: str, owner: str, until: dt.datetime | None, *, now: dt.datetime, reentrant: bool
) -> bool:
    if reentrant and owner == owner_id():
        return True
    if status in kind.waiting and (kind.running is not None or not owner or abandoned(owner, until, now)):
        return True
    return status == kind.running and abandoned(owner, until, now)


# -- while it runs ------------------------------------------------------------------------------------------
def heartbeat(kind: Kind, pk: int, *, lease: dt.timedelta, progress: dict[str, Any] | None = None) -> bool:
    """Renew this process's lease (and store progress, telling listeners); False when the job is no longer
    ours — another worker took it over — so the caller stops."""
    values: dict[str, Any] = {"lease_until": dt.datetime.now(dt.UTC) + lease}
    if progress is not None:
        values["progress"] = progress
    kept = bool(kind.rows.filter(pk=pk, owner=owner_id()).update(**values))
    if progress is not None:
        _tell(progress)
    return kept


def report(model: type[models.Model], pk: int, progress: dict[str, Any], **also: Any) -> None:
    """Store `progress` on the row (plus any field in `also`, e.g. a renewed lease) and tell listeners."""
    model._default_manager.filter(pk=pk).update(progress=progress, **also)
    _tell(progress)


def _tell(progress: dict[str, Any]) -> None:
    for listener in list(_listeners):
        listener(progress)


# -- the end ------------------------------------------------------------------------------------------------
def finish(kind: Kind, pk: int, status: str, *, now: dt.datetime | None = None, **also: Any) -> bool:
    """End this process's job with `status` (done or failed, the caller's value); the lease is let go. False
    when the job was no longer ours (another worker finished or took it)."""
    values = {kind.status_field: status, "finished_at": now or dt.datetime.now(dt.UTC), "lease_until": None}
    return bool(kind.rows.filter(pk=pk, owner=owner_id()).update(**values, **also))


def let_go(kind: Kind, pk: int) -> None:
    """Give up the lease without ending the job (it continues later, in this or another worker)."""
    kind.rows.filter(pk=pk, owner=owner_id()).update(owner="", lease_until=None)


def reap(kind: Kind, failed: str, error: Callable[[str], str], now: dt.datetime | None = None) -> list[int]:
    """Mark `failed` the running jobs whose worker stopped renewing the lease (killed, machine restarted);
    `error(owner)` says so in the job's words. Returns their pks."""
    now = now or dt.datetime.now(dt.UTC)
    stale = kind.rows.filter(**{kind.status_field: kind.running}, lease_until__lt=now)
    reaped = []
    for pk, owner in stale.values_list("pk", "owner"):
        done = kind.rows.filter(pk=pk, **{kind.status_field: kind.running}, owner=owner, lease_until__lt=now)
        if done.update(**{kind.status_field: failed}, finished_at=now, lease_until=None, error=error(owner)):
            reaped.append(pk)
    return reaped


# -- listening (the CLI's progress bar) ---------------------------------------------------------------------
@contextlib.contextmanager
def listening(listener: Listener) -> Iterator[None]:
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


T = TypeVar("T")
BAR_WIDTH = 120


def terminal_bar(work: Callable[[], T], out: IO[str], render: Callable[[dict[str, Any]], str]) -> T:
    """Run `work`, drawing each progress report as one line on `out` (`render` turns it into text) and
    clearing it at the end; nothing is drawn when `out` is not a terminal (a pipe, a log file)."""
    interactive = out.isatty()

    def draw(data: dict[str, Any]) -> None:
        if interactive:
            out.write("\r" + render(data)[:BAR_WIDTH].ljust(BAR_WIDTH))
            out.flush()

    with listening(draw):
        result = work()
    if interactive:
        out.write("\r" + " " * BAR_WIDTH + "\r")
    return result
