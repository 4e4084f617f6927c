"""The one subprocess runner: argument tuples in, never a shell; secrets go through files or the environment,
never the command line; children die with the process that started them (a worker killed with SIGKILL
leaves no orphan writing to a repository).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

PIPE = subprocess.PIPE
DEVNULL = subprocess.DEVNULL
STDERR_KEEP = 8000  # characters of stderr kept in an error (and a job's log)


class ProcError(RuntimeError):
    """A command failed: names the program, its exit status and the tail of what it wrote to stderr."""

    def __init__(self, args: Sequence[str], returncode: int | None, stderr: str, what: str = "") -> None:
        self.argv = tuple(args)
        self.returncode = returncode
        self.stderr = stderr[-STDERR_KEEP:]
        status = "timed out" if returncode is None else f"exited with status {returncode}"
        label = what or os.path.basename(self.argv[0])
        super().__init__(f"{label} {status}: {self.stderr.strip()[-500:]}".rstrip(": "))


class MissingProgramError(RuntimeError):
    """A program sitekeeper needs is not installed; says which Debian package provides it."""


@dataclass(frozen=True)
class Result:
    args: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: str

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", "replace")


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """A preexec_fn: runs in the child between fork and exec and asks the kernel to send it `sig` when its
    parent dies, however the parent dies (SIGKILL for tools; a program that can stop cleanly takes
    SIGTERM: functools.partial(die_with_parent, signal.SIGTERM))."""
    _libc.prctl(_PR_SET_PDEATHSIG, sig)


def require(program: str, package: str) -> str:
    """Path of `program`, or MissingProgramError naming the Debian package to install."""
    path = shutil.which(program) or shutil.which(program, path="/usr/sbin:/sbin:/usr/bin:/bin")
    if path is None:
        raise MissingProgramError(f"{program} is not installed: install the Debian package {package!r}")
    return path


def _env(env: Mapping[str, str] | None) -> dict[str, str]:
    merged = {k: v for k, v in os.environ.items() if not k.startswith("SITEKEEPER_")}
    merged.update(env or {})
    return merged


def run(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    input: bytes | None = None,
    stdin: IO[bytes] | int | None = None,
    timeout: float | None = None,
    cwd: str | None = None,
    check: bool = True,
    ok_codes: Sequence[int] = (0,),
    what: str = "",
    group: bool = False,
    umask: int = -1,
) -> Result:
    """Run a command to completion and capture its output. The environment is the caller's minus our own
    SITEKEEPER_* settings (a child never sees the secret key), plus `env`. `group`: the command starts
    programs of its own (Lighthouse starts Chromium) — it leads a process group, killed whole on timeout.
    `umask`: the child's, when it writes into a client's site (sitekeeper.files.site_umask); by default it
    inherits ours, under which what it creates is owner-only."""
    logger.debug("run %s", args[0])
    if group:
        return _run_group(args, env=env, input=input, timeout=timeout, cwd=cwd, check=check,
                          ok_codes=ok_codes, what=what, umask=umask)  # fmt: skip
    try:
        done = subprocess.run(  # noqa: S603 - argument tuple, no shell
            list(args),
            input=input,
            stdin=stdin if input is None else None,
            capture_output=True,
            env=_env(env),
            cwd=cwd,
            timeout=timeout,
            preexec_fn=die_with_parent,
            check=False,
            umask=umask,
        )
    except subprocess.TimeoutExpired as exc:
        raise ProcError(args, None, (exc.stderr or b"").decode("utf-8", "replace"), what) from exc
    stderr = done.stderr.decode("utf-8", "replace")
    if check and done.returncode not in ok_codes:
        raise ProcError(args, done.returncode, stderr, what)
    return Result(tuple(args), done.returncode, done.stdout, stderr)


def _run_group(
    args: Sequence[str], *, env: Mapping[str, str] | None, input: bytes | None, timeout: float | None,
    cwd: str | None, check: bool, ok_codes: Sequence[int], what: str, umask: int,
) -> Result:  # fmt: skip
    child = subprocess.Popen(  # noqa: S603 - argument tuple, no shell
        list(args),
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(env),
        cwd=cwd,
        start_new_session=True,
        preexec_fn=die_with_parent,  # noqa: PLW1509 - only a prctl call, safe after fork
        umask=umask,
    )
    try:
        stdout, stderr_bytes = child.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)  # the grandchildren too: none outlives the timeout
        _out, late = child.communicate()
        raise ProcError(args, None, (exc.stderr or late or b"").decode("utf-8", "replace"), what) from exc
    finally:
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    stderr = stderr_bytes.decode("utf-8", "replace")
    if check and child.returncode not in ok_codes:
        raise ProcError(args, child.returncode, stderr, what)
    return Result(tuple(args), child.returncode, stdout, stderr)


@contextlib.contextmanager
def spawn(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    stdin: IO[bytes] | int | None = None,
    stdout: IO[bytes] | int | None = subprocess.PIPE,
    cwd: str | None = None,
    umask: int = -1,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a command for streaming (a dump into `restic backup --stdin`, `restic dump` into a restore).
    Leaving the block kills the process if it is still running and always reaps it; the caller reads or
    writes the pipes and calls `finish()`."""
    proc = subprocess.Popen(  # noqa: S603 - argument tuple, no shell
        list(args),
        stdin=stdin,
        stdout=stdout,
        stderr=subprocess.PIPE,
        env=_env(env),
        cwd=cwd,
        preexec_fn=die_with_parent,  # noqa: PLW1509 - only a prctl call, safe after fork
        umask=umask,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        proc.wait()


def finish(
    proc: subprocess.Popen[bytes],
    *,
    timeout: float | None = None,
    what: str = "",
    ok_codes: Sequence[int] = (0,),
) -> tuple[bytes, str]:
    """Wait for a spawned command; return (stdout if piped, stderr) or raise ProcError."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        proc.kill()
        proc.communicate()
        raise ProcError(proc.args, None, "", what) from exc  # type: ignore[arg-type]
    stderr = (err or b"").decode("utf-8", "replace")
    if proc.returncode not in ok_codes:
        raise ProcError(proc.args, proc.returncode, stderr, what)  # type: ignore[arg-type]
    return out or b"", stderr
