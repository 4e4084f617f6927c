"""The subprocess runner's process-group mode: a command that starts programs of its own (as Lighthouse starts
Chromium) is killed with all of them on a timeout, so nothing outlives it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from sitekeeper import proc


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed grandchild is re-parented to init, which reaps it; until then it is a zombie: dead too.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


def test_group_timeout_kills_the_grandchildren(tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild.pid"
    script = f"sleep 60 & echo $! > {pidfile}; wait"
    with pytest.raises(proc.ProcError) as caught:
        proc.run(("sh", "-c", script), timeout=1, group=True, what="parent")
    assert caught.value.returncode is None
    assert "parent timed out" in str(caught.value)
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(grandchild):
        assert time.monotonic() < deadline, "the grandchild outlived the timeout"
        time.sleep(0.05)


def test_group_mode_returns_output_and_checks_the_status() -> None:
    done = proc.run(("sh", "-c", "cat; echo oops >&2"), input=b"hello", group=True)
    assert (done.returncode, done.stdout, done.stderr.strip()) == (0, b"hello", "oops")
    with pytest.raises(proc.ProcError, match="status 3"):
        proc.run(("sh", "-c", "exit 3"), group=True)
    assert proc.run(("sh", "-c", "exit 3"), group=True, check=False).returncode == 3
