"""Run a piece of the demo's history at the moment it happened.

The demo's past (last month's link scan, the releases deployed in past maintenance windows, the nightly
backups) is made by the real code, which stamps what it does with the clock: run that way at seed time, a
release "deployed in the window of 17 November" would carry today's start and finish. `at(moment)` runs the
block with the process clock set to `moment` and ticking on from there (time-machine, the library the test
suite uses for the same purpose), so every stamp the code writes — runs, checks, logs, snapshots' catalogue
times — falls where the story says. Subprocesses keep the real clock (restic's own snapshot time is the
real one; the catalogue's is the moment given here, as the backup code's `at` does for back-dated backups).

Without time-machine (installed with the dev extras, which `make demo` installs) the block runs at the real
time and the demo says so once: the data is then dated at seed time, never in the future.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterator

logger = logging.getLogger(__name__)
_warned: list[bool] = []


@contextlib.contextmanager
def at(moment: dt.datetime) -> Iterator[None]:
    try:
        import time_machine
    except ImportError:
        if not _warned:
            logger.warning("demo: time-machine is not installed: the demo's past runs are dated at seed time")
            _warned.append(True)
        yield
        return
    with time_machine.travel(moment, tick=True):
        yield
