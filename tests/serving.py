"""What every test that starts a server needs when the suite runs on several pytest-xdist workers at once.

* `free_port()`: a port of this worker's own. Each worker draws from its own slice of 10000–31999 (below the
  kernel's ephemeral range, so no outgoing connection and no `bind(("127.0.0.1", 0))` of another worker can
  take it between the draw and the server's bind), and checks that nothing is bound to it.
* `wait_until()`: poll a readiness check for a generous deadline — SITEKEEPER_TEST_READY_SECONDS, 60 s by
  default — and on timeout say what was waited for, where, and the end of the program's log. A busy machine
  (CI with the suite on every core, load 8–12 on 2 cores) makes start-up slow, never wrong.
* `dies_with_us()`: a command line that the kernel ends (SIGTERM) when this test process dies, even by
  SIGKILL, so no server outlives a killed pytest. Servers that daemonise themselves are watched by their
  script instead (scripts/test-servers.sh: SITEKEEPER_TEST_OWNER_PID, set by tests/conftest.py).
* `die_with_parent()`: the same for an xdist worker itself, whose pytest (the controller) was killed.
"""

from __future__ import annotations

import ctypes
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

READY_VARIABLE = "SITEKEEPER_TEST_READY_SECONDS"
PORTS_FROM, PORTS_TO = 10_000, 32_000  # below net.ipv4.ip_local_port_range (32768–60999 by default)
SLICE = 500  # ports per worker: 44 slices; a worker reuses its own after a full turn
_SLICES = (PORTS_TO - PORTS_FROM) // SLICE
_next: list[int] = []  # this process's next candidate, drawn at random on first use


def ready_seconds() -> float:
    """The readiness deadline in seconds (SITEKEEPER_TEST_READY_SECONDS, default 60)."""
    raw = os.environ.get(READY_VARIABLE, "").strip()
    if not raw:
        return 60.0
    try:
        seconds = float(raw)
    except ValueError as exc:
        raise pytest.UsageError(f"{READY_VARIABLE}: expected seconds, got {raw!r}") from exc
    if seconds <= 0:
        raise pytest.UsageError(f"{READY_VARIABLE}: must be more than 0, got {raw!r}")
    return seconds


def _slice() -> int:
    """gwN → slice N; a run without xdist takes one of the last four slices (by pid), away from gw0…gw39."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw") and worker[2:].isdigit():
        return int(worker[2:]) % (_SLICES - 4)
    return _SLICES - 4 + os.getpid() % 4


def _bindable(port: int) -> bool:
    # No SO_REUSEADDR: a port with a connection still in TIME_WAIT counts as taken.
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port on 127.0.0.1 nothing is bound to, from this worker's slice (also "connection refused")."""
    first = PORTS_FROM + _slice() * SLICE
    if not _next:
        _next.append(random.randrange(SLICE))  # noqa: S311 - spreads runs over the slice, not a secret
    for _ in range(SLICE):
        port = first + _next[0] % SLICE
        _next[0] += 1
        if _bindable(port):
            return port
    raise RuntimeError(f"no free port in 127.0.0.1:{first}-{first + SLICE - 1}")


def listening(port: int, host: str = "127.0.0.1") -> bool:
    """Does something accept TCP connections on host:port?"""
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True


def tail(path: Path | None, lines: int = 40) -> str:
    """The last lines of a log file, for a failure message ("" when there is none)."""
    if path is None:
        return ""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"\n(no log at {path}: {exc.strerror})"
    last = text.splitlines()[-lines:]
    return f"\n--- last {len(last)} lines of {path}:\n" + "\n".join(last)


def wait_until(
    ready: Callable[[], bool],
    what: str,
    *,
    seconds: float | None = None,
    log: Path | None = None,
    process: subprocess.Popen | None = None,
    interval: float = 0.1,
) -> None:
    """Poll `ready()` until it is true; fail naming `what` (program and address) with the end of `log` when
    the deadline (default: SITEKEEPER_TEST_READY_SECONDS) passes or `process` exits first."""
    limit = ready_seconds() if seconds is None else seconds
    deadline = time.monotonic() + limit
    while not ready():
        if process is not None and process.poll() is not None:
            pytest.fail(
                f"{what}: exited with {process.returncode} before it was ready{tail(log)}", pytrace=False
            )
        if time.monotonic() > deadline:
            pytest.fail(
                f"{what}: not ready after {limit:g} s ({READY_VARIABLE} sets the deadline){tail(log)}",
                pytrace=False,
            )
        time.sleep(interval)


SETPRIV = shutil.which("setpriv")  # util-linux: sets the parent-death signal, then execs the program


def dies_with_us(argv: list[str]) -> list[str]:
    """`argv` run so that the kernel sends it SIGTERM when this process dies (Linux PR_SET_PDEATHSIG through
    `setpriv --pdeathsig`, which execs the program: the pid stays the program's). Without setpriv the
    command is returned as it is and the fixture's own finaliser is what stops it."""
    if SETPRIV is None:
        return argv
    return [SETPRIV, "--pdeathsig", "TERM", "--", *argv]


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent() -> None:
    """Have the kernel send this process SIGTERM when its parent dies (Linux; elsewhere nothing happens).

    For an xdist worker: when the pytest that started it is killed, the worker would otherwise run on to the
    end of its current test (the demo's may wait 10 minutes), keeping its servers up. With SIGTERM it ends
    at once; what it started dies with it (`dies_with_us`) or is stopped by its script's watcher."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        return
    if os.getppid() != parent:  # the parent was gone before the kernel was asked
        os.kill(os.getpid(), signal.SIGTERM)
