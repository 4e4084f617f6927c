"""The one time format of every page: `when`, `day` and `clock` (contracts/templatetags)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.template import Context, Template

INSTANT = dt.datetime(2026, 12, 7, 13, 5, 42, 123456, tzinfo=dt.UTC)


def render(text: str, **values: object) -> str:
    return Template("{% load sitekeeper_time tz %}" + text).render(Context(values))


def test_when_names_the_contract_zone_and_drops_seconds() -> None:
    assert (
        render("{% timezone 'Europe/Berlin' %}{{ t|when }}{% endtimezone %}", t=INSTANT)
        == "7 Dec 2026 14:05 CET"
    )


def test_when_in_summer_time_and_utc() -> None:
    summer = dt.datetime(2026, 7, 1, 10, 0, tzinfo=dt.UTC)
    assert (
        render("{% timezone 'Europe/Berlin' %}{{ t|when }}{% endtimezone %}", t=summer)
        == "1 Jul 2026 12:00 CEST"
    )
    assert render("{% timezone 'UTC' %}{{ t|when }}{% endtimezone %}", t=INSTANT) == "7 Dec 2026 13:05 UTC"


def test_day_of_an_instant_is_the_local_day() -> None:
    late = dt.datetime(2026, 12, 7, 23, 30, tzinfo=dt.UTC)
    assert render("{% timezone 'Europe/Berlin' %}{{ t|day }}{% endtimezone %}", t=late) == "8 Dec 2026"
    assert render("{{ d|day }}", d=dt.date(2026, 2, 28)) == "28 Feb 2026"


def test_clock_and_nothing() -> None:
    berlin = INSTANT.astimezone(ZoneInfo("Europe/Berlin"))
    assert render("{% timezone 'Europe/Berlin' %}{{ t|clock }}{% endtimezone %}", t=berlin) == "14:05 CET"
    assert render("{{ t|when }} {{ t|day }} {{ t|clock }}", t=None) == "— — —"
