# ruff: noqa: F811  (the fixtures of tests/monitoring/servers.py are imported by name, then used as arguments)
"""The probe engine: claims split monitors between processes, sessions record when we were watching."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from django.db import connection

from sitekeeper.monitoring.models import CheckResult, Monitor, ProbeSession
from sitekeeper.monitoring.probe import Probe
from tests.monitoring.servers import make_monitor, server  # noqa: F401 (server: a fixture)
from tests.serving import dies_with_us

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
SITEKEEPER = Path(sys.executable).parent / "sitekeeper"


def test_two_probes_claim_disjoint_sets(acme, server) -> None:
    for i in range(20):
        make_monitor(acme, f"{server.url}/m{i}")
    first, second = Probe("a"), Probe("b")
    a = first.db.submit(first._claim, 2.0).result()
    b = second.db.submit(second._claim, 2.0).result()
    assert len(a) == 20
    assert b == []  # all taken; each moved one interval on
    assert Monitor.objects.filter(claimed_by=first.instance).count() == 20
    assert all(m.next_check_at is not None for m in Monitor.objects.all())


def test_monitors_of_a_contract_under_notice_are_still_checked(acme, server) -> None:
    """Issue 12 item 7 (check): notice given is not service stopped — the probe claims every enabled monitor,
    whatever its contract's status; nothing in monitoring filters on status="active"."""
    import datetime as dt

    from sitekeeper.contracts.models import Contract

    Contract.objects.filter(pk=acme.contract.pk).update(
        status=Contract.Status.CANCELLING, notice_given_on=dt.datetime.now(dt.UTC).date()
    )
    make_monitor(acme, f"{server.url}/")
    assert asyncio.run(Probe("a", flush_every=0.01).run(once=True)) == 1
    assert CheckResult.objects.filter(ok=True).count() == 1


def test_once_checks_all_due_and_records_a_session(acme, server) -> None:
    for i in range(5):
        make_monitor(acme, f"{server.url}/m{i}")
    assert asyncio.run(Probe("a", flush_every=0.01).run(once=True)) == 5
    assert CheckResult.objects.filter(ok=True, location="a").count() == 5
    assert not Monitor.objects.filter(claimed_until__isnull=False).exists()  # claims released
    session = ProbeSession.objects.get()
    assert session.stopped_at is not None
    assert asyncio.run(Probe("a", flush_every=0.01).run(once=True)) == 0  # nothing due until next interval


@pytest.mark.slow
def test_two_probe_processes_never_check_one_monitor_at_once(acme, server) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("two processes need a database they share: run with SITEKEEPER_DATABASE_URL=postgres://…")
    for i in range(30):
        make_monitor(acme, f"{server.url}/m{i}", timeout_seconds=2)
    settings = connection.settings_dict
    url = f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT'] or 5432}/{settings['NAME']}"
    env = {**os.environ, "SITEKEEPER_DATABASE_URL": url, "SITEKEEPER_PROBE_INTERVAL": "1"}
    probes = [
        subprocess.Popen(
            dies_with_us([str(SITEKEEPER), "probe", "--location", location, "--duration", "10"]),
            env=env,
            stdout=subprocess.DEVNULL,
        )
        for location in ("a", "b")
    ]
    for process in probes:
        assert process.wait(60) == 0
    by_monitor: dict[int, list[CheckResult]] = defaultdict(list)
    for result in CheckResult.objects.order_by("at"):
        by_monitor[result.monitor_id].append(result)
    # Which process takes a monitor is a race (the first to claim each second takes all that is due), so
    # both need not have worked; what must hold is that their checks of one monitor never overlap.
    assert set(CheckResult.objects.values_list("location", flat=True)) <= {"a", "b"}
    for results in by_monitor.values():
        # Start-up on a busy machine can eat seconds; two checks already make a pair to compare.
        assert len(results) >= 2
        for before, after in itertools.pairwise(results):
            # The next check starts after the previous one ended (and about one interval later).
            ended = before.at.timestamp() + (before.response_ms or 0) / 1000
            assert after.at.timestamp() > ended
            assert after.at.timestamp() - before.at.timestamp() >= 0.5


def test_pooled_connection_closed_by_the_server_is_not_reused() -> None:
    """The probe's network backend answers httpcore's "is the socket readable?" from a cached socket: a
    keep-alive connection the server has since closed must still be seen as dead, not reused."""
    import httpx

    from sitekeeper.monitoring.probe import _transport

    body = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    connections = 0

    async def answer_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(body)  # no "Connection: close": the client pools it, then we hang up
        await writer.drain()
        writer.close()

    async def scenario() -> list[int]:
        server = await asyncio.start_server(answer_once, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
        statuses = []
        async with server, httpx.AsyncClient(transport=_transport(limits, True)) as client:
            for _ in range(3):
                statuses.append((await client.get(f"http://127.0.0.1:{port}/")).status_code)
                await asyncio.sleep(0.05)  # let the server's close reach our socket
        return statuses

    assert asyncio.run(scenario()) == [200, 200, 200]
    assert connections == 3
