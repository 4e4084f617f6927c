"""contracts.presenters.local_time prints the pages' one format (sitekeeper_time's |when), zone named."""

from __future__ import annotations

import datetime as dt

from sitekeeper.contracts.presenters import NOT_SET, local_time


def test_local_time_is_the_pages_format_in_the_given_zone():
    instant = dt.datetime(2026, 5, 4, 10, 0, tzinfo=dt.UTC)
    assert local_time(instant, "Europe/Berlin") == "4 May 2026 12:00 CEST"
    assert (
        local_time(dt.datetime(2026, 12, 7, 13, 5, tzinfo=dt.UTC), "Europe/Berlin") == "7 Dec 2026 14:05 CET"
    )
    assert local_time(instant, "UTC") == "4 May 2026 10:00 UTC"
    assert local_time(None, "Europe/Berlin") == NOT_SET
