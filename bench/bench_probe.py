"""Probe throughput: checks/second, CPU and peak RSS of one `sitekeeper probe` process.

Run from the repository root:  .venv/bin/python bench/bench_probe.py [--monitors 10000] [--interval 60]
    [--warmup 20] [--window 60]

A fresh SQLite database in a temporary SITEKEEPER_HOME (or SITEKEEPER_DATABASE_URL) gets N HTTP monitors
whose first checks are spread evenly over one interval. A tiny asyncio HTTP server (a separate process, so
its CPU is not counted) answers on 127.0.0.1. The probe runs as its own process; after the warm-up its
utime+stime (/proc/PID/stat) and the CheckResult rows are sampled at the start and end of the window, and
its peak RSS is VmHWM from /proc/PID/status. Then the physical limit: a bare asyncio httpx loop (no database,
no scheduling) hitting the same server as fast as it can for 10 s.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BODY = b"<html>ok</html>"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Type: text/html\r\n\r\n%s" % (len(BODY), BODY)


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while await reader.readuntil(b"\r\n\r\n"):
            writer.write(RESPONSE)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    writer.close()


async def serve(port: int) -> None:
    server = await asyncio.start_server(_answer, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def setup_database(monitors: int, interval: int, port: int) -> None:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from django.utils import timezone

    from sitekeeper.contracts.models import Client, Site
    from sitekeeper.monitoring.models import Monitor

    client = Client.objects.create(slug="bench", name="Bench")
    site = Site.objects.create(client=client, url="https://bench.test", name="Bench")
    now = timezone.now()
    Monitor.objects.bulk_create(
        [
            Monitor(
                site=site,
                url=f"http://127.0.0.1:{port}/m{i}",
                interval_seconds=max(30, interval),
                next_check_at=now + dt.timedelta(seconds=interval * i / monitors),
                state="up",
            )
            for i in range(monitors)
        ],
        batch_size=1000,
    )


async def bare_loop(url: str, seconds: float, concurrency: int = 10) -> float:
    from sitekeeper import http
    from sitekeeper.monitoring.probe import _skip_sniffio_lookup

    _skip_sniffio_lookup()  # the same footing as the probe
    done = 0
    ends = time.perf_counter() + seconds

    async def worker(client: object) -> None:
        nonlocal done
        while time.perf_counter() < ends:
            await client.get(url)  # type: ignore[attr-defined]
            done += 1

    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with http.async_client(limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return done / (time.perf_counter() - started)


def measure(args: argparse.Namespace, env: dict[str, str], port: int) -> dict[str, float]:
    from sitekeeper.monitoring.models import CheckResult

    probe = subprocess.Popen(  # noqa: S603 (our own console script, fixed arguments)
        [
            str(ROOT / ".venv/bin/sitekeeper"),
            "probe",
            "--location",
            "bench",
            "--duration",
            str(args.warmup + args.window + 5),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        time.sleep(args.warmup)
        cpu0, rows0, t0 = cpu_seconds(probe.pid), CheckResult.objects.count(), time.perf_counter()
        time.sleep(args.window)
        cpu1, rows1, t1 = cpu_seconds(probe.pid), CheckResult.objects.count(), time.perf_counter()
        rss = peak_rss_mb(probe.pid)
    finally:
        probe.terminate()
        probe.wait(30)
    return {
        "checks_per_s": (rows1 - rows0) / (t1 - t0),
        "cpu_pct": 100 * (cpu1 - cpu0) / (t1 - t0),
        "rss_mb": rss,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--monitors", type=int, default=10_000)
    parser.add_argument("--interval", type=int, default=60, help="seconds (below 30 only via the override)")
    parser.add_argument("--warmup", type=float, default=20)
    parser.add_argument("--window", type=float, default=60)
    parser.add_argument("--port", type=int, default=18431)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.port))
        return
    home = tempfile.mkdtemp(prefix="bench-probe-")
    os.environ.setdefault("SITEKEEPER_HOME", home)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sitekeeper.settings")
    env = {**os.environ, "SITEKEEPER_PROBE_INTERVAL": str(args.interval)}
    server = subprocess.Popen([sys.executable, __file__, "--serve", "--port", str(args.port)])  # noqa: S603
    try:
        setup_database(args.monitors, args.interval, args.port)
        expected = args.monitors / args.interval
        figures = measure(args, env, args.port)
        cpu0 = time.process_time()
        limit = asyncio.run(bare_loop(f"http://127.0.0.1:{args.port}/", 10))
        bare_ms = 1000 * (time.process_time() - cpu0) / (limit * 10)
    finally:
        server.terminate()
        server.wait(10)
    print(f"monitors {args.monitors} at {args.interval} s: expected {expected:.0f} checks/s")
    print(
        f"probe: {figures['checks_per_s']:.0f} checks/s, CPU {figures['cpu_pct']:.1f} % of one core, "
        f"peak RSS {figures['rss_mb']:.0f} MB (window {args.window:g} s after {args.warmup:g} s warm-up)"
    )
    probe_ms = 10 * figures["cpu_pct"] / figures["checks_per_s"]
    print(f"bare httpx loop (10 in flight): {limit:.0f} requests/s, {bare_ms:.2f} ms CPU per request")
    print(
        f"probe: {probe_ms:.2f} ms CPU per check = {probe_ms / bare_ms:.2f}x the bare loop; "
        f"its load is {figures['checks_per_s'] / limit:.0%} of the bare loop's ceiling"
    )


if __name__ == "__main__":
    main()
