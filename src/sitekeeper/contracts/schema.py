"""The contract file's JSON Schema (draft 2020-12), its error messages, and its reference documentation.

Every key carries a `description` and `examples`, and every object forbids keys it does not know, so a typo
is an error instead of a silently ignored setting. docs/contract-file.md embeds `render_markdown()`;
regenerate it with `python -m sitekeeper.contracts.schema --markdown`, or print the schema for an editor's
YAML language server with `python -m sitekeeper.contracts.schema --json`.

The schema checks shape. What needs the database or the contract arithmetic (does the plan exist, is the
time zone real, does the credit table parse) is checked in `apply.py`.
"""

from __future__ import annotations

import calendar as stdcal
import datetime as dt
import difflib
import json
import re
import sys
from collections.abc import Iterator
from typing import Any

import yaml
from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError

from sitekeeper.contracts.yamlio import MAX_DIGITS, Issue, JsonPath
from sitekeeper.core import term
from sitekeeper.health.linklimits import LINK_MAX_DEPTH, LINK_MAX_PAGES

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PRIORITIES = ("P1", "P2", "P3", "P4")
SLUG_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,49}$"
TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"

# Every date in a contract file lies in this range. Contract arithmetic adds up to ten years of minimum
# term, notice and transition to a start date: a start in year 9999 overflows Python's dates, and a date
# from a typo (20026, 1026) would be shown on pages and agreements as if meant. docs/contract-file.md
# ("Values") states the same range.
EARLIEST_DATE = term.EARLIEST_DATE
LATEST_DATE = term.LATEST_DATE
# A contract starts at most this many years after the day the file is applied.
START_YEARS_AHEAD = 5
_DATE_SHAPE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")

# Readable messages for pattern failures, keyed by the pattern.
PATTERN_HINTS: dict[str, str] = {
    SLUG_PATTERN: "a slug: letters, digits, '-' and '_', at most 50 characters",
    TIME_PATTERN: 'a time "HH:MM" (00:00 to 23:59), quoted',
    CURRENCY_PATTERN: "a three-letter ISO 4217 code in capitals, e.g. EUR",
}


def _decimal(int_digits: int, places: int, title: str, example: str) -> dict[str, Any]:
    """An exact decimal: a quoted string or an integer, never a float (floats are inexact)."""
    pattern = rf"^[0-9]{{1,{int_digits}}}(\.[0-9]{{1,{places}}})?$"
    PATTERN_HINTS[pattern] = (
        f"a decimal with at most {int_digits} digits before and {places} after the point, "
        f'quoted, e.g. "{example}"'
    )
    return {
        "title": title,
        "type": ["string", "integer"],
        "pattern": pattern,
        "minimum": 0,
        "maximum": 10**int_digits - 1,
    }


def _p(schema: dict[str, Any], description: str, *examples: Any) -> dict[str, Any]:
    """A documented property."""
    return {**schema, "description": description, "examples": list(examples)}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/$defs/{name}"}


def _text(max_length: int | None = None) -> dict[str, Any]:
    return {"type": "string"} | ({"maxLength": max_length} if max_length else {})


def _integer(minimum: int, maximum: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": minimum, "maximum": maximum}


def _object(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


def _mapping_of_slugs(item: dict[str, Any], description: str, example: Any) -> dict[str, Any]:
    """A mapping keyed by slug; any other key is an error, as everywhere."""
    return {
        "type": "object",
        "patternProperties": {SLUG_PATTERN: _p(item, description, example)},
        "additionalProperties": False,
    }


TARGET = {"title": "SLA target", "type": "string", "maxLength": 20}
TARGET_HELP = "Nm, Nh (24/7), Nbh, Nbd (business time), same_bd, next_bd or next_cycle."

DEFS: dict[str, Any] = {
    "date": {"title": "date", "type": "string", "format": "date"},
    "time": {"title": "time", "type": "string", "pattern": TIME_PATTERN},
    "slug": {"title": "slug", "type": "string", "pattern": SLUG_PATTERN},
    "url": {"title": "URL", "type": "string", "maxLength": 200},
    "money": _decimal(10, 2, "amount", "900.00"),
    "rate": _decimal(8, 2, "amount", "95.00"),
    "percent": _decimal(3, 3, "percentage", "99.9"),
    "credit_rate": _decimal(4, 2, "percentage", "20"),
    "hours_decimal": _decimal(4, 2, "hours", "4"),
    "table_decimal": _decimal(3, 4, "percentage", "99.95"),
    "targets": {
        "title": "targets by priority",
        **_object({p: _p(TARGET, f"Target for {p}. {TARGET_HELP}", "4bh") for p in PRIORITIES}),
    },
    "credit_table": {
        "title": "credit table",
        "type": "array",
        "items": _object(
            {
                "below": _p(
                    _ref("table_decimal"),
                    "Monthly uptime % strictly below which this row applies.",
                    "99.95",
                ),
                "percent": _p(
                    _ref("table_decimal"), "Percent of the monthly fee credited in this row.", "10"
                ),
            },
            required=("below", "percent"),
        ),
    },
}

CALENDAR = _object(
    {
        "name": _p(_text(100), "Display name.", "Berlin office"),
        "timezone": _p(
            _text(64), "IANA time zone the hours are read in (DST-safe).", "Europe/Berlin", "America/New_York"
        ),
        "hours": _p(
            {
                "title": "weekly hours",
                **_object(
                    {
                        day: _p(
                            {"type": "array", "items": {"type": "string"}},
                            f"Opening intervals on {day}, 'HH:MM-HH:MM' (24:00 allowed as an end); "
                            "several make a lunch break. Omit the day or give [] when closed.",
                            ["09:00-18:00"],
                            ["09:00-13:00", "14:00-18:00"],
                        )
                        for day in WEEKDAYS
                    }
                ),
            },
            "Weekly business hours, weekday (mon..sun) to intervals.",
            {"mon": ["09:00-18:00"], "fri": ["09:00-16:00"]},
        ),
        "holidays": _p(
            _object(
                {
                    "country": _p(
                        {"type": "string", "pattern": r"^[A-Z]{2,3}$"},
                        "Country whose public holidays close the business (ISO 3166 code).",
                        "DE",
                        "GB",
                    ),
                    "subdivision": _p(
                        _text(16), "Optional state, region or province code for regional holidays.", "BY"
                    ),
                },
                required=("country",),
            ),
            "Public holidays (the `holidays` library). Omit for none.",
            {"country": "DE", "subdivision": "BE"},
        ),
        "closures": _p(
            {"type": "array", "items": _ref("date"), "uniqueItems": True},
            "Extra dates the business is closed (YYYY-MM-DD).",
            ["2026-12-24", "2026-12-31"],
        ),
        "business_day_minutes": _p(
            _integer(1, 1440),
            "Length of one business day for Nbd targets; default: the first open weekday's hours.",
            540,
        ),
    },
    required=("timezone", "hours"),
)

PLAN = _object(
    {
        "name": _p(_text(100), "Display name. Required for a new plan.", "Gold"),
        "rank": _p(_integer(0, 1000), "Order in tables (Starter 1 … Enterprise 4); new plans go last.", 5),
        "backup_retention_days": _p(
            _integer(1, 36500), "Days backups are kept. Required for a new plan.", 90
        ),
        "update_cadence": _p(
            {"enum": ["monthly_batch", "biweekly", "weekly", "weekly_emergency"]},
            "How often updates are applied. Required for a new plan.",
            "weekly",
        ),
        "content_hours": _p(
            _ref("hours_decimal"), "Content hours per calendar month. Required for new.", "4"
        ),
        "content_hours_open_ended": _p({"type": "boolean"}, 'Print content hours as "8+ hrs".', False),
        "security_level": _p(
            {"enum": ["standard", "advanced", "advanced_waf", "advanced_waf_scheduling"]},
            "Security tier of table 1.2. Required for a new plan.",
            "advanced_waf",
        ),
        "support_channels": _p(
            {
                "type": "array",
                "items": {"enum": ["email", "chat", "phone", "dedicated_line"]},
                "uniqueItems": True,
            },
            "Support channels, in the order printed; [] means per Schedule A.",
            ["email", "chat"],
        ),
        "standard_response": _p(
            TARGET, f"Table 1.3's standard-issue response target. {TARGET_HELP} Required for new.", "4bh"
        ),
        "response_targets": _p(
            {**_ref("targets"), "required": list(PRIORITIES)},
            "First-response targets for P1..P4, all four. Required for a new plan.",
            {"P1": "4h", "P2": "8bh", "P3": "2bd", "P4": "3bd"},
        ),
        "resolution_targets": _p(
            _ref("targets"), "Resolution targets per priority; omit a priority for none.", {"P1": "1bd"}
        ),
        "recovery_targets": _p(
            _ref("targets"), "Recovery (incident) targets per priority; omit for none.", {"P1": "4h"}
        ),
        "after_hours_emergency": _p({"type": "boolean"}, "P1 is counted 24/7 with escalation.", True),
        "uptime_sla": _p(_ref("percent"), "Monthly uptime promised, in %. Required for a new plan.", "99.9"),
        "credit_kind": _p(
            {"enum": ["steps", "table"]},
            "Service credits: `steps` (credit_rate per started credit_step) or `table` (credit_table).",
            "steps",
        ),
        "credit_rate": _p(
            {"anyOf": [_ref("credit_rate"), {"type": "null"}]},
            "Percent of the monthly fee per step below the SLA (steps credits).",
            "20",
        ),
        "credit_step": _p(
            {"anyOf": [_ref("percent"), {"type": "null"}]},
            "Percentage points of uptime per step (steps credits).",
            "0.1",
        ),
        "credit_table": _p(
            _ref("credit_table"),
            "Rows for table credits: the lowest threshold the uptime fell below gives the percent.",
            [{"below": "99.95", "percent": "10"}, {"below": "99.9", "percent": "25"}],
        ),
        "performance_call": _p(
            {"enum": ["none", "monthly_30min", "quarterly_review"]},
            "Performance call included. Required for a new plan.",
            "monthly_30min",
        ),
    }
)

CONTACT = _object(
    {
        "name": _p(_text(200), "Full name.", "Ada Owner"),
        "email": _p(_text(254), "E-mail address; with role, identifies the contact.", "ada@acme.test"),
        "role": _p(
            {"enum": ["product_owner", "emergency", "billing", "member"]},
            "product_owner (exactly one per client: approves, accepts, signs), emergency (needs a phone), "
            "billing or member.",
            "product_owner",
        ),
        "phone": _p(_text(40), "Phone number, quoted. Required for an emergency contact.", "+49 30 1234567"),
        "availability": _p(_text(100), "Hours the contact answers.", "24/7", "Mon-Fri 08:00-20:00"),
    },
    required=("name", "email", "role"),
)

WINDOW = _object(
    {
        "weekday": _p({"enum": list(WEEKDAYS)}, "Day the window starts, in the calendar's zone.", "tue"),
        "start": _p(_ref("time"), "Start time, quoted. With weekday, identifies the window.", "23:00"),
        "end": _p(_ref("time"), "End time, quoted; may be past midnight.", "02:00"),
        "max_minutes": _p(_integer(1, 1440), "Longest downtime within the window (default 30).", 30),
        "notice_hours": _p(_integer(0, 8760), "Notice for extended maintenance (default 48).", 48),
    },
    required=("weekday", "start", "end"),
)

CONTRACT = _object(
    {
        "plan": _p(_ref("slug"), "Plan slug: a built-in tier or one defined under plans.", "business"),
        "start": _p(_ref("date"), "Plan start date; the minimum term counts from it.", "2026-01-01"),
        "monthly_fee": _p(_ref("money"), "Monthly fee, quoted (exact decimal).", "900.00"),
        "currency": _p(
            {"type": "string", "pattern": CURRENCY_PATTERN}, "ISO 4217 currency code.", "EUR", "USD"
        ),
        "calendar": _p(_ref("slug"), "Business calendar slug (from calendars, or already stored).", "hq"),
        "minimum_term_months": _p(_integer(0, 120), "Minimum term in months (default 3).", 3),
        "hourly_rate": _p(_ref("rate"), "Rate for work beyond the included hours, quoted.", "95.00"),
        "billing_unit_minutes": _p(
            _integer(1, 240), "Time is rounded up per entry to this (default 15).", 15
        ),
        "credit_rounding": _p(
            {"enum": ["started_steps", "proportional"]},
            "Reading of credit steps: per started step (default) or pro rata.",
            "started_steps",
        ),
        "credit_table": _p(
            _ref("credit_table"),
            "This contract's own Schedule A table, replacing the plan's; [] or omitted: the plan's. On a "
            "table plan (Enterprise) with neither, no remedy is agreed: no credit is computed; apply warns.",
            [{"below": "99.95", "percent": "10"}],
        ),
        "credit_basis": _p(
            {"enum": ["fee_share", "full_fee"]},
            "What each site's service credit is a percent of: `fee_share` (default), the monthly fee ÷ the "
            "number of the client's sites, or `full_fee`, the whole fee. Either way the month's credits over "
            "all sites are capped at the monthly fee (2.3).",
            "fee_share",
            "full_fee",
        ),
        "annual_prepayment": _p({"type": "boolean"}, "Paid a year ahead (10 % discount).", False),
        "notice_days": _p(_integer(0, 365), "Client cancellation notice in days (default 30).", 30),
        "notice_given_on": _p(
            _ref("date"),
            "Day the client gave notice of cancellation (7.3); give it with `status: cancelling`. The "
            "effective date counts from it (notice_days, cancellation_reading, the minimum term) and every "
            "service runs until then. Omitted: no notice given.",
            "2026-05-12",
        ),
        "cancellation_reading": _p(
            {"enum": ["cycle_of_notice_end", "cycle_after_notice_end"]},
            "When notice takes effect: `cycle_of_notice_end` (default), at the end of the calendar month in "
            "which the notice period ends, or `cycle_after_notice_end`, at the end of the month after it.",
            "cycle_of_notice_end",
        ),
        "update_batch": _p(
            _text(20),
            "Day of the monthly update batch: '1st'..'4th' or 'last' + weekday, or 'day N' (1..28). "
            "Default '2nd tue'.",
            "2nd tue",
            "day 15",
        ),
        "alert_minutes": _p(_integer(1, 1440), "Uptime alerts go out within N minutes (default 5).", 5),
        "status": _p(
            {"enum": ["draft", "active", "cancelling", "terminated"]},
            "Contract status (default active). A contract under notice is `cancelling` with "
            "`notice_given_on`; it stays in service until its effective date.",
            "active",
        ),
        "maintenance_windows": _p(
            {"type": "array", "items": WINDOW},
            "Standard weekly maintenance windows (agreement 2.4); omitted or []: none.",
            [{"weekday": "tue", "start": "23:00", "end": "02:00", "max_minutes": 30, "notice_hours": 48}],
        ),
    },
    required=("plan", "start", "monthly_fee", "currency", "calendar"),
)

SITE = _object(
    {
        "url": _p(_ref("url"), "The site's public URL; identifies the site.", "https://acme.test"),
        "name": _p(_text(200), "Display name.", "Acme website"),
        "platform": _p(
            {"enum": ["wordpress", "shopify", "nextjs", "static", "other"]},
            "What the site runs on.",
            "wordpress",
        ),
        "hosting": _p(_text(200), "Hosting provider and region.", "Hetzner, Falkenstein"),
        "notes": _p({"type": "string"}, "Free-form notes for the team.", "Checkout plugin is pinned."),
        "environments": _p(
            _object(
                {
                    "prod": _p(_ref("url"), "Production URL (default: the site's url).", "https://acme.test"),
                    "stage": _p(_ref("url"), "Staging URL.", "https://stage.acme.test"),
                    "dev": _p(_ref("url"), "Development URL.", "https://dev.acme.test"),
                }
            ),
            "Environments by kind; prod defaults to the site's url.",
            {"stage": "https://stage.acme.test"},
        ),
        "link_scan": _p(
            _object(
                {
                    "max_pages": _p(
                        _integer(*LINK_MAX_PAGES),
                        "Same-site pages the scan reads at most (default 5000); a scan that a limit cuts "
                        "short is reported incomplete, with how many pages it found but did not read.",
                        20000,
                    ),
                    "max_depth": _p(
                        _integer(*LINK_MAX_DEPTH),
                        "Clicks from the start page the scan follows at most (default 6).",
                        8,
                    ),
                }
            ),
            "Limits of the monthly broken-link scan (1.2) for this site; a key left out takes its default.",
            {"max_pages": 20000, "max_depth": 8},
        ),
    },
    required=("url", "platform"),
)

CLIENT = _object(
    {
        "slug": _p(_ref("slug"), "Identifies the client; never changes.", "acme"),
        "name": _p(_text(200), "Display name.", "Acme GmbH"),
        "legal_name": _p(_text(200), "Legal name on the agreement, if different.", "Acme Handels GmbH"),
        "address": _p({"type": "string"}, "Postal address for the agreement.", "Hauptstr. 1, 10115 Berlin"),
        "contacts": _p(
            {"type": "array", "items": CONTACT, "minItems": 1},
            "The client's people; exactly one product_owner. Contacts not listed are removed.",
            [{"name": "Ada Owner", "email": "ada@acme.test", "role": "product_owner"}],
        ),
        "contract": _p(
            CONTRACT,
            "The current contract, updated in place. Omit to leave the client's contracts as they are.",
            {
                "plan": "business",
                "start": "2026-01-01",
                "monthly_fee": "900.00",
                "currency": "EUR",
                "calendar": "hq",
            },
        ),
        "sites": _p(
            {"type": "array", "items": SITE},
            "The client's websites. Sites not listed are removed; [] removes them all.",
            [{"url": "https://acme.test", "platform": "wordpress"}],
        ),
    },
    required=("slug", "name", "contacts", "sites"),
)

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "urn:sitekeeper:contract-file",
    "title": "sitekeeper contract file",
    "description": "Calendars, plans and clients applied with `sitekeeper apply FILE.yaml`.",
    "type": "object",
    "properties": {
        "calendars": _p(
            _mapping_of_slugs(
                CALENDAR,
                "A business calendar, keyed by its slug.",
                {"timezone": "Europe/Berlin", "hours": {"mon": ["09:00-18:00"]}, "closures": ["2026-12-31"]},
            ),
            "Business calendars by slug. A change of rules creates a new calendar version.",
            {"hq": {"timezone": "Europe/Berlin", "hours": {"mon": ["09:00-18:00"]}}},
        ),
        "plans": _p(
            _mapping_of_slugs(
                PLAN,
                "A plan: fields overriding a stored plan, or all fields of a new one.",
                {"uptime_sla": "99.95", "resolution_targets": {"P1": "1bd"}},
            ),
            "Plans by slug. The four built-in tiers exist already; list only fields to change.",
            {"business": {"uptime_sla": "99.95"}},
        ),
        "clients": _p(
            {"type": "array", "items": CLIENT},
            "Clients to create or update. Clients not listed are left untouched.",
            [
                {
                    "slug": "acme",
                    "name": "Acme GmbH",
                    "contacts": [{"name": "Ada Owner", "email": "ada@acme.test", "role": "product_owner"}],
                    "sites": [],
                }
            ],
        ),
    },
    "additionalProperties": False,
    "$defs": DEFS,
}


class DateError(ValueError):
    """Why a text is not a date a contract file accepts; the message follows the quoted value."""


def check_date(text: str) -> dt.date:
    """The date `text` names, if it is a real YYYY-MM-DD date between EARLIEST_DATE and LATEST_DATE."""
    if not _DATE_SHAPE.match(text):
        raise DateError("is not a date (YYYY-MM-DD)")
    year, month, day = (int(part) for part in text.split("-"))
    if not 1 <= month <= 12:
        raise DateError(f"is not a date: there is no month {month}")
    days = stdcal.monthrange(year or 1, month)[1]
    if not 1 <= day <= days:
        raise DateError(f"is not a date: {stdcal.month_name[month]} {year} has {days} days")
    if year == 0:
        raise DateError("is not a date: there is no year 0")
    date = dt.date(year, month, day)
    if not EARLIEST_DATE <= date <= LATEST_DATE:
        raise DateError(f"is outside the dates a contract file accepts ({EARLIEST_DATE} to {LATEST_DATE})")
    return date


_FORMATS = FormatChecker(formats=())


@_FORMATS.checks("date", raises=DateError)
def _is_date(instance: Any) -> bool:
    if isinstance(instance, str):  # another type is the `type` keyword's to report
        check_date(instance)
    return True


def _strict_integer(checker: Any, instance: Any) -> bool:
    # JSON Schema counts 900.0 as an integer; YAML's 900.00 is a float, and amounts must never be floats.
    return isinstance(instance, int) and not isinstance(instance, bool)


_Validator = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _strict_integer),
)
_VALIDATOR = _Validator(SCHEMA, format_checker=_FORMATS)


def schema_issues(data: Any) -> list[Issue]:
    """Every shape problem in the data, each at the path of the offending key."""
    issues: list[Issue] = []
    for error in _VALIDATOR.iter_errors(data):
        issues.extend(_translate(error))
    return issues


# --- error messages ---------------------------------------------------------------------------------------


def _translate(error: ValidationError) -> Iterator[Issue]:
    path: JsonPath = tuple(error.absolute_path)
    if error.validator == "additionalProperties":
        yield from _unknown_keys(error, path)
    elif error.validator == "required":
        for key in error.validator_value:
            if isinstance(error.instance, dict) and key not in error.instance:
                yield Issue(path, f"missing required key '{key}'")
    elif error.validator == "anyOf":  # a nullable decimal: report why the value is not that decimal
        for sub in error.context or ():
            if sub.relative_schema_path[0] == 0:
                yield from _translate(sub)
    else:
        yield Issue(path, _message(error))


def _unknown_keys(error: ValidationError, path: JsonPath) -> Iterator[Issue]:
    known = list(error.schema.get("properties", {}))
    patterns = error.schema.get("patternProperties", {})
    for key in sorted(set(error.instance) - set(known)):
        if patterns:  # a mapping keyed by slug: the key is a slug that does not match the pattern
            yield Issue((*path, key), f"'{key}' is not {PATTERN_HINTS[SLUG_PATTERN]}")
            continue
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(known)}"
        yield Issue((*path, key), f"unknown key '{key}' ({hint})")


_FIXED_MESSAGES = {
    "uniqueItems": "lists an entry twice",
    "minItems": "is empty; list at least one",
}


def _message(error: ValidationError) -> str:
    value, kind = error.instance, error.validator
    if kind == "type":
        return _type_message(value, error.validator_value)
    if kind == "enum":
        options = [str(option) for option in error.validator_value]
        close = difflib.get_close_matches(str(value), options, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        return f"{value!r} is not one of {', '.join(options)}{hint}"
    if kind == "pattern":
        return f"{_short(value)} is not {PATTERN_HINTS.get(error.validator_value, 'in the expected form')}"
    if kind == "format":
        return f"{_short(value)} {error.cause or 'is not in the expected form'}"
    if kind in _FIXED_MESSAGES:
        return f"{_short(value)} {_FIXED_MESSAGES[kind]}"
    return error.message


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _type_message(value: Any, expected: str | list[str]) -> str:
    wanted = [expected] if isinstance(expected, str) else list(expected)
    if isinstance(value, float) and "string" in wanted:
        return (
            f"{value!r} is a floating-point number, which is inexact: quote amounts and percentages "
            f'as text, e.g. "{value:.2f}"'
        )
    if value is None:
        return "has no value"
    if isinstance(value, str) and value.lstrip("+-").isdigit() and len(value) > MAX_DIGITS:
        return f"a number of {len(value.lstrip('+-'))} digits is far beyond any setting here"
    names = {"string": "text", "integer": "a whole number", "object": "a mapping", "array": "a list"}
    described = " or ".join(names.get(name, name) for name in wanted)
    return f"expected {described}, got {_yaml_type(value)} {value!r}"


def _yaml_type(value: Any) -> str:
    for kind, name in ((bool, "boolean"), (int, "number"), (float, "number"), (str, "text")):
        if isinstance(value, kind):
            return name
    return "a mapping" if isinstance(value, dict) else "a list"


# --- documentation ----------------------------------------------------------------------------------------


def render_markdown() -> str:
    """The reference part of docs/contract-file.md: one table per object, every key with an example."""
    sections: list[str] = []
    _render_object(SCHEMA, "top level", sections, {})
    return "\n".join(sections)


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        target = DEFS[schema["$ref"].rsplit("/", 1)[1]]
        return {**_resolve(target), **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _render_object(schema: dict[str, Any], title: str, sections: list[str], seen: dict[str, str]) -> None:
    schema = _resolve(schema)
    if "patternProperties" in schema:
        (item,) = schema["patternProperties"].values()
        _render_object(item, f"{title}.SLUG", sections, seen)
        return
    required = set(schema.get("required", ()))
    rows = ["| key | type | required | description | example |", "| --- | --- | --- | --- | --- |"]
    nested: list[tuple[dict[str, Any], str]] = []
    for key, prop in schema["properties"].items():
        resolved = _resolve(prop)
        rows.append(
            f"| `{key}` | {_type_label(resolved)} | {'yes' if key in required else ''} "
            f"| {prop['description']} | `{_flow(prop['examples'][0])}` |"
        )
        child = f"{title}.{key}" if title != "top level" else key
        if resolved.get("type") == "object":
            nested.append((resolved, child))
        elif resolved.get("type") == "array" and _resolve(resolved.get("items", {})).get("type") == "object":
            nested.append((resolved["items"], f"{child}[]"))
    heading = f"### `{title}`" if title != "top level" else "### Top level"
    table = "\n".join(rows)
    if table in seen:  # the same keys again (targets, credit tables): point at the first table
        sections.extend([heading, "", f"The same keys as `{seen[table]}`.", ""])
        return
    seen[table] = title
    sections.extend([heading, "", *rows, ""])
    for child_schema, child_title in nested:
        _render_object(child_schema, child_title, sections, seen)


def _type_label(schema: dict[str, Any]) -> str:
    if "title" in schema:
        return str(schema["title"])
    if "enum" in schema:
        return "one of " + ", ".join(f"`{option}`" for option in schema["enum"])
    if "anyOf" in schema:
        return " or ".join(_type_label(_resolve(option)) for option in schema["anyOf"])
    kind = schema.get("type")
    if kind == "array":
        return f"list of {_type_label(_resolve(schema.get('items', {})))}"
    if kind == "object":
        return "mapping"
    return {"string": "text", "integer": "integer", "boolean": "true/false", "null": "null"}.get(
        str(kind), str(kind)
    )


def _flow(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=1000, sort_keys=False)
    return text.removesuffix("\n...\n").strip().replace("|", "\\|")


def main(argv: list[str]) -> int:
    if argv == ["--json"]:
        sys.stdout.write(json.dumps(SCHEMA, indent=2, ensure_ascii=False) + "\n")
    elif argv == ["--markdown"]:
        sys.stdout.write(render_markdown())
    else:
        sys.stderr.write("usage: python -m sitekeeper.contracts.schema --json | --markdown\n")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
