"""Certificate expiry in days, for the pages: days left and the state a person should see.

Pure (no Django): the monitoring pages and warnings read a certificate's expiry through these two rules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

DEFAULT_WARN_DAYS = (30, 14, 7, 1)
DAY_SECONDS = 86400


def days_left(expires_at: dt.datetime, now: dt.datetime) -> int:
    """Whole days until `expires_at`, rounded down (so "0" means it expires within the day); negative once it
    has expired (-1 within the first day after expiry)."""
    return int((expires_at - now).total_seconds() // DAY_SECONDS)


def cert_state(expires_at: dt.datetime, now: dt.datetime, warn_days: Sequence[int] | None = None) -> str:
    """ "expired" once past expiry, "warning" within the largest warning threshold (30 days by default: the
    first warning e-mail goes out then), "ok" before."""
    if expires_at <= now:
        return "expired"
    first_warning = max(warn_days or DEFAULT_WARN_DAYS)
    return "warning" if (expires_at - now).total_seconds() <= first_warning * DAY_SECONDS else "ok"
