"""The one way pages print a time: `{% load sitekeeper_time %}` then `|when`, `|day` or `|clock`.

Every page shows instants in one format with the zone named ("7 Dec 2026 14:05 CET"), in the zone that is
active for the template — the contract's zone where the page wraps it in `{% timezone zone %}`, UTC
otherwise. Dates (a `datetime.date`, or the day of an instant) read "7 Dec 2026". No microseconds, no ISO
strings, no naive times on any page.
"""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils import timezone
from django.utils.dateformat import format as django_format

from sitekeeper.contracts.presenters import NOT_SET

register = template.Library()

WHEN = "j M Y H:i T"
DAY = "j M Y"
CLOCK = "H:i T"


def _local(value: dt.datetime) -> dt.datetime:
    return timezone.localtime(value) if timezone.is_aware(value) else value


@register.filter
def when(value: dt.datetime | None) -> str:
    """{{ ticket.created_at|when }} → "7 Dec 2026 14:05 CET"."""
    if value is None or value == "":
        return NOT_SET
    return django_format(_local(value), WHEN)


@register.filter
def day(value: dt.date | dt.datetime | None) -> str:
    """{{ backup.finished_at|day }} or {{ contract.start_date|day }} → "7 Dec 2026"."""
    if value is None or value == "":
        return NOT_SET
    if isinstance(value, dt.datetime):
        value = _local(value)
    return django_format(value, DAY)


@register.filter
def clock(value: dt.datetime | None) -> str:
    """{{ outage.held_until|clock }} → "14:05 CET" (where the day is plain from the line)."""
    if value is None or value == "":
        return NOT_SET
    return django_format(_local(value), CLOCK)
