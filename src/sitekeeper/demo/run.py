"""Run the demo's programs together: the demo's own sites (demo/sites.py, on the loopback), the web server,
the worker and one probe location that checks those sites.

Each is its own child process (`python -m sitekeeper …`; the sites: `python -m sitekeeper.demo.sites`).
One Ctrl+C or SIGTERM to the demo stops all of them; a child that
dies on its own is named and the others are stopped, and the demo exits non-zero. The children also ask the
kernel to end them when the demo dies (PR_SET_PDEATHSIG), so even `kill -9` of the demo leaves no orphan.

Why not sitekeeper.proc.spawn: it strips SITEKEEPER_* from the child's environment (right for restic or
Lighthouse, which must never see the secret key) — but these children are sitekeeper itself and need
SITEKEEPER_HOME, the database URL and the key. Their output goes straight to the demo's terminal (no pipe
that nobody reads and that would fill up).
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import NoReturn, TextIO

from sitekeeper import proc

PROBE_LOCATION = "demo"
# Seconds the children get to finish after SIGTERM (the worker lets a running task end) before SIGKILL.
STOP_SECONDS = 20.0
# Seconds a server (the web server, the sites) gets to accept connections before the demo gives up on it.
WEB_READY_SECONDS = 120.0
SITES = "demo sites"
_POLL = 0.2
# SIGTERM (graceful: the worker lets its task end) when the demo dies, however it dies.
_END_WITH_DEMO = functools.partial(proc.die_with_parent, signal.SIGTERM)


@dataclass
class Component:
    name: str  # what the demo calls it in its messages
    argv: list[str]
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    env: dict[str, str] = field(default_factory=dict)  # added to the demo's environment
    serves: str = ""  # HOST:PORT it accepts connections on, once ready ("" for the worker and the probe)


@dataclass(frozen=True)
class SiteServer:
    """Where the demo's sites are served and with which files (demo/local_sites.prepare made them)."""

    bind: str  # HTTPS: what the monitors check
    pages: Path
    tls_folder: Path
    ca_file: Path
    http_bind: str = ""  # plain HTTP, the same pages: what link scans and Lighthouse load


def components(bind: str, probe: bool = True, sites: SiteServer | None = None) -> list[Component]:
    """The demo's sites (when given), the web server, the worker and (unless asked not to) the probe, which
    trusts the sites' certificate authority through SITEKEEPER_PROBE_CA_FILE."""
    sitekeeper = [sys.executable, "-m", "sitekeeper"]
    parts = []
    if sites is not None:
        argv = [sys.executable, "-m", "sitekeeper.demo.sites", "--bind", sites.bind,
                "--pages", str(sites.pages), "--tls", str(sites.tls_folder)]  # fmt: skip
        if sites.http_bind:
            argv += ["--http-bind", sites.http_bind]
        parts.append(Component(SITES, argv, serves=sites.bind))
    parts += [
        Component("web server", [*sitekeeper, "serve", "--bind", bind], serves=bind),
        Component("worker", [*sitekeeper, "worker"]),
    ]
    if probe:
        where = [*sitekeeper, "probe", "--location", PROBE_LOCATION]
        trust = {"SITEKEEPER_PROBE_CA_FILE": str(sites.ca_file)} if sites is not None else {}
        parts.append(Component(f"probe location {PROBE_LOCATION}", where, env=trust))
    return parts


class _StopRequestedError(Exception):
    """SIGINT or SIGTERM arrived: stop everything, exit 0."""


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    raise _StopRequestedError(signal.Signals(signum).name)


def _accepting(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True


def split_bind(bind: str) -> tuple[str, int]:
    """HOST:PORT → (host, port) for the readiness check; [::1]:8000 works too."""
    host, _sep, port = bind.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def run(  # noqa: PLR0917 - the command's options, each with its default
    bind: str,
    say: Callable[[str], None],
    started: float,
    out: TextIO = sys.stdout,
    probe: bool = True,
    sites: SiteServer | None = None,
) -> int:
    """Start them, report each as it is up, wait for a signal or a death; exit status for the demo.
    `started`: time.monotonic() when the demo began, for the "ready after" line. The sites are up before the
    probe starts (its first checks find them answering); the web server is waited for last."""
    parts = components(bind, probe, sites)
    previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for part in parts:
            out.flush()
            part.process = subprocess.Popen(  # noqa: S603 - argument list, no shell
                part.argv,
                preexec_fn=_END_WITH_DEMO,  # noqa: PLW1509 - only a prctl call, safe after fork
                stdin=subprocess.DEVNULL,
                env={**os.environ, **part.env} if part.env else None,
            )
            if part.name == SITES and sites is not None:
                plain = f" and http://{sites.http_bind}/ (link scans, Lighthouse)" if sites.http_bind else ""
                _wait_until_serving(part, say, f"demo sites on https://{part.serves}/ (monitors){plain}")
        for part in parts:
            if part.serves and part.name != SITES:
                _wait_until_serving(part, say, f"web on http://{part.serves}/")
        for part in parts:
            if not part.serves:
                say(f"{part.name} (pid {part.process.pid})")  # type: ignore[union-attr]
        say(f"All running, {time.monotonic() - started:.0f} s after start. Ctrl+C stops all of them.")
        _watch(parts)
    except _ComponentDiedError as died:
        say(f"The {died.part.name} stopped ({died}); stopping the others.")
        return 1
    except _StopRequestedError as stop:
        say(f"\n{stop.args[0]}: stopping {', '.join(part.name for part in parts)} …")
        return 0
    finally:
        # Signals during the shutdown must not interrupt it half-way: ignore them until everyone is reaped.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        _stop_all(parts, say)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _wait_until_serving(part: Component, say: Callable[[str], None], line: str) -> None:
    host, port = split_bind(part.serves)
    deadline = time.monotonic() + WEB_READY_SECONDS
    while not _accepting(host, port):
        if part.process is not None and part.process.poll() is not None:
            raise _ComponentDiedError(part)
        if time.monotonic() > deadline:
            reason = f"did not accept connections on {part.serves} within {WEB_READY_SECONDS:g} s"
            raise _ComponentDiedError(part, reason)
        time.sleep(_POLL)
    say(line)


class _ComponentDiedError(Exception):
    def __init__(self, part: Component, reason: str = "") -> None:
        self.part = part
        code = part.process.returncode if part.process is not None else None
        super().__init__(reason or f"exited with status {code}")


def _watch(parts: list[Component]) -> NoReturn:
    """Block until a child exits, which while the demo runs is an error (_ComponentDiedError)."""
    while True:
        for part in parts:
            if part.process is not None and part.process.poll() is not None:
                raise _ComponentDiedError(part)
        time.sleep(_POLL)


def _stop_all(parts: list[Component], say: Callable[[str], None]) -> None:
    running = [p.process for p in parts if p.process is not None and p.process.poll() is None]
    for process in running:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    for part in parts:
        if part.process is None:
            continue
        try:
            part.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            say(f"The {part.name} did not stop within {STOP_SECONDS:g} s: killing it.")
            part.process.kill()
            part.process.wait()
