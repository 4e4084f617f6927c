"""The audits' tests serve their "sites" from Python (no PHP, no OPcache): the update pipeline need not wait
for changed files to be re-read before its smoke checks. The real-WordPress tests set the wait back."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_settle_wait(settings) -> None:
    settings.SITEKEEPER_UPDATE_SETTLE_SECONDS = 0
