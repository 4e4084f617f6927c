"""The probe engine: one asyncio loop per process checking every monitor it claims when it is due.

How work is split between processes (any number, one or many machines, one database):
- a claim is one short transaction: pick due monitors (PostgreSQL: SELECT … FOR UPDATE SKIP LOCKED, so two
  probes never wait on each other), take them with a conditional UPDATE that re-checks they are still free
  (on SQLite the writer lock serialises this), then move each one's next_check_at one interval on. A monitor
  is therefore checked by one process per interval, never by two at once;
- claimed monitors wait in an in-memory heap ordered by due time; checks run under an overall and a per-host
  semaphore, so a slow host cannot take every slot and no site is hammered;
- results go to a queue that one writer drains every second in batches (bulk INSERT, one UPDATE releasing
  the claims), so the check loop never waits for the database. All database work runs on one thread.
Only failed checks, monitors not known "up", and TLS monitors go on to the outage and certificate logic.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import importlib.util
import logging
import os
import socket
import ssl
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx
from django.db import close_old_connections, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from httpcore._backends.anyio import AnyIOBackend
from httpcore._utils import is_socket_readable

from sitekeeper import http
from sitekeeper.monitoring import certs, outages
from sitekeeper.monitoring.checks import CheckOutcome, CheckSpec, run_check
from sitekeeper.monitoring.models import CheckResult, Monitor, ProbeSession

logger = logging.getLogger("sitekeeper.monitoring")

HEARTBEAT = 15.0  # seconds; the session's last_beat_at is never older than this while the process lives
LEASE_MARGIN = dt.timedelta(seconds=30)  # a claim outlives the check's timeout by this much if we crash
CLAIM_LIMIT = 2000  # monitors per claim transaction


@dataclass(order=True)
class Claimed:
    due: float  # time.time() at which to check
    pk: int = field(compare=False)
    spec: CheckSpec = field(compare=False)
    state: str = field(compare=False)
    quorum: int = field(compare=False)
    interval: float = field(compare=False)

    @property
    def host(self) -> str:
        return self.spec.host_port[0]


@dataclass
class Done:
    item: Claimed
    at: dt.datetime
    outcome: CheckOutcome


def _skip_sniffio_lookup() -> None:
    """httpcore tries `import sniffio` on every request; when it is not installed, each failed import
    searches sys.path (two of them per request were a quarter of the probe's CPU). A None entry in
    sys.modules makes that import fail at once; httpcore then assumes asyncio, which is what we run."""
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


class _Stream(httpcore.AsyncNetworkStream):
    """httpcore asks every pooled connection "is the socket readable?" on each request it queues or finishes;
    anyio answers that by building a dict of socket attributes (with a getpeername) each time, which was an
    eighth of the probe's CPU. This stream looks the raw socket up once and asks poll() directly."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        tls = await self._inner.start_tls(ssl_context, server_hostname, timeout)
        return _Stream(tls)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return is_socket_readable(self._socket)
        return self._inner.get_extra_info(info)


class _Backend(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        self._inner = AnyIOBackend()

    async def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.connect_tcp(*args, **kwargs))

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.connect_unix_socket(*args, **kwargs))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _transport(limits: httpx.Limits, verify: Any) -> httpx.AsyncHTTPTransport:
    transport = httpx.AsyncHTTPTransport(verify=verify, limits=limits, trust_env=False)
    transport._pool._network_backend = _Backend()  # httpx has no parameter for the network backend
    return transport


class Probe:
    def __init__(
        self,
        location: str = "default",
        *,
        concurrency: int = 200,
        per_host: int = 8,
        lookahead: float = 2.0,
        flush_every: float = 1.0,
        tick: float = 0.1,
        interval_override: float | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.location = location
        self.instance = f"{location}/{socket.gethostname()}:{os.getpid()}"[:100]
        self.concurrency, self.per_host = concurrency, per_host
        self.lookahead, self.flush_every, self.tick = lookahead, flush_every, tick
        # Tests and benchmarks only: the model keeps real monitors at ≥ 30 s.
        self.interval_override = interval_override
        self.ssl_context = ssl_context
        self.db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="probe-db")
        self.heap: list[Claimed] = []
        self.results: asyncio.Queue[Done] = asyncio.Queue()
        self.session_pk: int | None = None
        self.checked = 0

    # -- the loop ---------------------------------------------------------------------------------------
    async def run(self, *, once: bool = False, duration: float | None = None) -> int:
        """Probe until cancelled (or `duration` seconds); `once`: check what is due now, then stop."""
        _skip_sniffio_lookup()
        self.overall = asyncio.Semaphore(self.concurrency)
        self.hosts: dict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(self.per_host))
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        verify: Any = self.ssl_context or True
        self.session_pk = await self._db(self._start_session)
        writer = asyncio.create_task(self._writer())
        beat = asyncio.create_task(self._heartbeat())
        try:
            transport = _transport(limits, verify)
            async with http.async_client(limits=limits, verify=verify, transport=transport) as self.client:
                await (self._once() if once else self._forever(duration))
        finally:
            beat.cancel()
            await self.results.join()
            writer.cancel()
            await self._db(self._stop_session)
            self.db.shutdown(wait=True)
        return self.checked

    async def _once(self) -> None:
        claimed = await self._db(self._claim, 0.0)
        await asyncio.gather(*(self._check(item) for item in claimed))

    async def _forever(self, duration: float | None) -> None:
        ends = time.time() + duration if duration else float("inf")
        running: set[asyncio.Task] = set()
        next_claim = 0.0
        while time.time() < ends:
            now = time.time()
            if now >= next_claim:
                for item in await self._db(self._claim, self.lookahead):
                    heapq.heappush(self.heap, item)
                next_claim = now + min(1.0, self.lookahead / 2)
            while self.heap and self.heap[0].due <= time.time():
                task = asyncio.create_task(self._check(heapq.heappop(self.heap)))
                running.add(task)
                task.add_done_callback(running.discard)
            wake = min(next_claim, self.heap[0].due if self.heap else next_claim, ends)
            # Start due checks in batches a tick apart, not one wake-up per check: their I/O then shares the
            # loop's iterations and the pool's bookkeeping (a third less CPU per check). A check starts at
            # most one tick late, which is nothing against an interval of 30 s or more.
            await asyncio.sleep(max(self.tick, wake - time.time()))
        await asyncio.gather(*running)

    async def _check(self, item: Claimed) -> None:
        async with self.overall, self.hosts[item.host]:
            at = timezone.now()
            outcome = await run_check(item.spec, self.client, self.ssl_context)
        self.checked += 1
        self.results.put_nowait(Done(item, at, outcome))

    async def _db(self, function: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.db, function, *args)

    async def _writer(self) -> None:
        while True:
            batch = [await self.results.get()]
            await asyncio.sleep(self.flush_every)  # let a batch gather: one INSERT per second, not per check
            while not self.results.empty():
                batch.append(self.results.get_nowait())
            try:
                await self._db(self.write, batch)
            # A database hiccup loses this batch's rows, not the probe: the next batch is tried afresh.
            except Exception:
                logger.exception("probe %s: writing %d results failed", self.instance, len(batch))
            finally:
                for _ in batch:
                    self.results.task_done()

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT)
            await self._db(self._beat)

    # -- database work (on the one probe-db thread) -------------------------------------------------------
    def _start_session(self) -> int:
        close_old_connections()
        now = timezone.now()
        session = ProbeSession.objects.create(
            location=self.location, instance=self.instance, started_at=now, last_beat_at=now
        )
        return session.pk

    def _beat(self) -> None:
        close_old_connections()
        ProbeSession.objects.filter(pk=self.session_pk).update(last_beat_at=timezone.now())

    def _stop_session(self) -> None:
        now = timezone.now()
        ProbeSession.objects.filter(pk=self.session_pk).update(last_beat_at=now, stopped_at=now)
        # Unclaim what we took but will not check, so another probe picks it up at once.
        Monitor.objects.filter(claimed_by=self.instance).update(claimed_until=None)
        connection.close()

    def _free(self, now: dt.datetime) -> Q:
        handed_to_others = Q(claimed_by__startswith="!") & ~Q(claimed_by=f"!{self.location}")
        return Q(claimed_until__isnull=True) | Q(claimed_until__lt=now) | handed_to_others

    def _claim(self, lookahead: float) -> list[Claimed]:
        close_old_connections()
        now = timezone.now()
        horizon = now + dt.timedelta(seconds=lookahead)
        due = Monitor.objects.filter(enabled=True).filter(
            Q(next_check_at__isnull=True) | Q(next_check_at__lte=horizon), self._free(now)
        )
        lease = horizon + LEASE_MARGIN + dt.timedelta(microseconds=os.getpid() % 1000)
        with transaction.atomic():
            picked = due.order_by("next_check_at").values_list("pk", flat=True)
            if connection.features.has_select_for_update_skip_locked:
                picked = picked.select_for_update(skip_locked=True)
            ids = list(picked[:CLAIM_LIMIT])
            if not ids:
                return []
            due.filter(pk__in=ids).update(claimed_by=self.instance, claimed_until=lease)
            mine = list(
                Monitor.objects.filter(pk__in=ids, claimed_by=self.instance, claimed_until=lease).only(
                    *SPEC_FIELDS
                )
            )
            return self._schedule(mine, now)

    def _schedule(self, mine: list[Monitor], now: dt.datetime) -> list[Claimed]:
        claimed = []
        # (interval, keeps its phase) -> pks: one UPDATE per group instead of bulk_update's CASE per row.
        groups: dict[tuple[float, bool], list[int]] = defaultdict(list)
        for monitor in mine:
            interval = self.interval_override or monitor.interval_seconds
            step = dt.timedelta(seconds=interval)
            # Keep each monitor's phase (checks stay spread over the interval); after a gap, start afresh.
            keeps = bool(monitor.next_check_at and monitor.next_check_at > now - step)
            due_at = monitor.next_check_at if keeps else now
            groups[interval, keeps].append(monitor.pk)
            claimed.append(
                Claimed(
                    due_at.timestamp(),
                    monitor.pk,
                    CheckSpec.from_monitor(monitor),
                    monitor.state,
                    monitor.quorum,
                    interval,
                )
            )
        for (interval, keeps), pks in groups.items():
            step = dt.timedelta(seconds=interval)
            following = F("next_check_at") + step if keeps else now + step
            Monitor.objects.filter(pk__in=pks).update(next_check_at=following)
        return claimed

    def write(self, batch: list[Done]) -> None:
        """One batch of results: INSERT them, release the claims, then the outage/certificate logic."""
        close_old_connections()
        CheckResult.objects.bulk_create(
            [
                CheckResult(
                    monitor_id=done.item.pk,
                    location=self.location,
                    at=done.at,
                    ok=done.outcome.ok,
                    status_code=done.outcome.status_code,
                    response_ms=done.outcome.response_ms,
                    error=done.outcome.error[:300],
                )
                for done in batch
            ],
            batch_size=500,
        )
        # last_checked_at is the batch's time, not each check's: a second late at most, one UPDATE not 500.
        Monitor.objects.filter(pk__in=[done.item.pk for done in batch], claimed_by=self.instance).update(
            claimed_until=None, last_checked_at=timezone.now()
        )
        for done in batch:
            if not done.outcome.ok or done.item.state != "up" or done.item.spec.kind == "tls":
                self._follow_up(done)

    def _follow_up(self, done: Done) -> None:
        try:
            monitor = Monitor.objects.select_related("site").get(pk=done.item.pk)
            now = timezone.now()
            if done.outcome.cert_expires_at is not None:
                certs.record(monitor, done.outcome.cert_expires_at, done.outcome.cert_issuer, now)
            state = outages.evaluate(monitor, now, done.outcome.priority or "P1", done.outcome.error)
            if state == "suspect" and monitor.quorum > 1:
                self._hand_off(monitor, done.item.interval, now)
        # One monitor's broken data (a deleted site, a bad contact) must not stop the probing of the others.
        except Exception:
            logger.exception("probe %s: follow-up of monitor %s failed", self.instance, done.item.pk)

    def _hand_off(self, monitor: Monitor, interval: float, now: dt.datetime) -> None:
        """Quorum: ask another location to re-check now; this one waits its normal interval."""
        Monitor.objects.filter(pk=monitor.pk, claimed_until__isnull=True).update(
            claimed_by=f"!{self.location}"[:100],
            claimed_until=now + dt.timedelta(seconds=interval),
            next_check_at=now,
        )


SPEC_FIELDS = (
    "pk",
    "kind",
    "url",
    "method",
    "expected_status",
    "keyword",
    "keyword_absent",
    "keyword_regex",
    "max_response_ms",
    "follow_redirects",
    "headers",
    "timeout_seconds",
    "interval_seconds",
    "next_check_at",
    "state",
    "quorum",
)
