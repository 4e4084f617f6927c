"""`sitekeeper export`: the stored configuration as a contract file that `sitekeeper apply` takes back.

Applying the export changes nothing, so it can be kept in version control and edited from there. Output is
deterministic: calendars and plans by slug (plans in rank order), clients by slug, contacts by role and
e-mail, sites by url, windows by weekday and start; keys in the documented order. Optional keys are written
only when they differ from the default that `apply` would use in their absence.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sitekeeper.contracts.apply import (
    CONTRACT_OPTIONAL,
    ENV_KINDS,
    PLAN_FIELDS,
    hours_rules,
    model_default,
    plan_value,
    same,
)
from sitekeeper.contracts.models import Calendar, Client, Contact, Contract, MaintenanceWindow, Plan, Site
from sitekeeper.contracts.plans import BUILTIN_PLANS
from sitekeeper.contracts.schema import WEEKDAYS
from sitekeeper.contracts.yamlio import dump
from sitekeeper.health.models import HealthConfig

HEADER = (
    "# sitekeeper contract file, written by `sitekeeper export`.\n"
    "# Apply changes with `sitekeeper apply FILE --dry-run`, then without --dry-run.\n"
    "# Reference: docs/contract-file.md\n"
)
ROLE_ORDER = [choice.value for choice in Contact.Role]
MONEY_FIELDS = frozenset({"monthly_fee", "hourly_rate"})


def export_data() -> dict[str, Any]:
    """Calendars (latest version), plans that differ from the built-in tiers, and all clients.

    Values are JSON data (dates as ISO text, amounts as quoted decimals), valid against the schema.
    """
    data: dict[str, Any] = {}
    sections = (("calendars", _calendars()), ("plans", _plans()), ("clients", _clients()))
    for key, section in sections:
        if section:
            data[key] = section
    return data


def export_yaml() -> str:
    return dump(_with_dates(export_data()), header=HEADER)


def decimal_text(value: Decimal, money: bool = False) -> str:
    """Amounts with their two places ("900.00"); other figures without trailing zeros ("99.9")."""
    if money:
        return f"{value:.2f}"
    return format(value.normalize(), "f")


def _calendars() -> dict[str, Any]:
    result = {}
    for calendar in Calendar.objects.order_by("slug"):
        version = calendar.versions.order_by("-number").first()
        if version is None:  # nothing to describe; a calendar is its rules
            continue
        entry: dict[str, Any] = {"name": calendar.name} if calendar.name else {}
        entry["timezone"] = version.timezone
        entry["hours"] = hours_rules(version.hours or {})
        if version.holiday_country:
            entry["holidays"] = {"country": version.holiday_country}
            if version.holiday_subdivision:
                entry["holidays"]["subdivision"] = version.holiday_subdivision
        if version.closures:
            entry["closures"] = sorted({str(day) for day in version.closures})
        if version.business_day_minutes:
            entry["business_day_minutes"] = version.business_day_minutes
        result[calendar.slug] = entry
    return result


def _plans() -> dict[str, Any]:
    """New plans in full; built-in tiers only with the fields an agency changed."""
    builtin = {values["slug"]: values for values in BUILTIN_PLANS}
    result = {}
    for plan in Plan.objects.order_by("rank", "slug"):
        defaults = builtin.get(plan.slug)
        fields = {
            name: _plain(getattr(plan, name))
            for name in PLAN_FIELDS
            if defaults is None or not same(name, getattr(plan, name), _builtin_value(defaults, name))
        }
        if fields:
            result[plan.slug] = fields
    return result


def _builtin_value(defaults: dict[str, Any], name: str) -> Any:
    if name in defaults:
        return plan_value(name, defaults[name])
    return model_default(Plan, name)  # tiers ship without resolution/recovery targets


def _clients() -> list[dict[str, Any]]:
    clients = Client.objects.order_by("slug").prefetch_related(
        "contacts", "sites__environments", "sites__health"
    )
    return [_client(client) for client in clients]


def client_entry(client: Client) -> dict[str, Any]:
    """One client as the export writes it (JSON data: the console's edit pages start from it)."""
    return _client(client)


def _client(client: Client) -> dict[str, Any]:
    entry: dict[str, Any] = {"slug": client.slug, "name": client.name}
    entry |= _non_empty(client, ("legal_name", "address"))
    contacts = sorted(client.contacts.all(), key=lambda c: (ROLE_ORDER.index(c.role), c.email, c.name))
    entry["contacts"] = [_contact(contact) for contact in contacts]
    contract = client.contract or client.contracts.order_by("-start", "-pk").first()
    if contract is not None:
        entry["contract"] = _contract(contract)
    entry["sites"] = [_site(site) for site in sorted(client.sites.all(), key=lambda s: s.url)]
    return entry


def _contact(contact: Contact) -> dict[str, Any]:
    entry = {"name": contact.name, "email": contact.email, "role": contact.role}
    return entry | _non_empty(contact, ("phone", "availability"))


def _contract(contract: Contract) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "plan": contract.plan.slug,
        "start": contract.start.isoformat(),
        "monthly_fee": decimal_text(contract.monthly_fee, money=True),
        "currency": contract.currency,
        "calendar": contract.calendar.slug,
    }
    for name in CONTRACT_OPTIONAL:
        value = getattr(contract, name)
        if not same(name, value, model_default(Contract, name)):
            entry[name] = _plain(value, money=name in MONEY_FIELDS)
    windows = contract.maintenance_windows.order_by("weekday", "start")
    if windows:
        entry["maintenance_windows"] = [_window(window) for window in windows]
    return entry


def _window(window: MaintenanceWindow) -> dict[str, Any]:
    return {
        "weekday": WEEKDAYS[window.weekday],
        "start": window.start.strftime("%H:%M"),
        "end": window.end.strftime("%H:%M"),
        "max_minutes": window.max_minutes,
        "notice_hours": window.notice_hours,
    }


def _site(site: Site) -> dict[str, Any]:
    entry: dict[str, Any] = {"url": site.url}
    entry |= _non_empty(site, ("name",))
    entry["platform"] = site.platform
    entry |= _non_empty(site, ("hosting", "notes"))
    # prod defaults to the site's url when applied, so it is written only when it differs
    environments = {
        env.kind: env.url
        for env in sorted(site.environments.all(), key=lambda e: ENV_KINDS.index(e.kind))
        if not (env.kind == "prod" and env.url == site.url)
    }
    if environments:
        entry["environments"] = environments
    link_scan = _link_scan(site)
    if link_scan:
        entry["link_scan"] = link_scan
    return entry


LINK_SCAN = (("max_pages", "link_max_pages"), ("max_depth", "link_max_depth"))


def _link_scan(site: Site) -> dict[str, int]:
    """The limits that differ from the defaults `apply` gives a key left out."""
    try:
        config = site.health
    except HealthConfig.DoesNotExist:
        return {}
    return {
        key: getattr(config, name)
        for key, name in LINK_SCAN
        if getattr(config, name) != model_default(HealthConfig, name)
    }


def _non_empty(instance: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(instance, name) for name in names if getattr(instance, name)}


def _plain(value: Any, money: bool = False) -> Any:
    if isinstance(value, Decimal):
        return decimal_text(value, money)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _with_dates(data: dict[str, Any]) -> dict[str, Any]:
    """Dates written as YAML dates (2026-01-01), not quoted text; the file reads more naturally."""
    for calendar in data.get("calendars", {}).values():
        if "closures" in calendar:
            calendar["closures"] = [dt.date.fromisoformat(day) for day in calendar["closures"]]
    for client in data.get("clients", []):
        if "contract" in client:
            contract = client["contract"]
            for name in ("start", "notice_given_on"):
                if name in contract:
                    contract[name] = dt.date.fromisoformat(contract[name])
    return data
