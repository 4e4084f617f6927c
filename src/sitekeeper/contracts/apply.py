"""`sitekeeper apply`: make the database match a contract file, all or nothing.

Order of work: read the YAML (with line numbers), check its shape against the JSON Schema, check what needs
the database or the contract arithmetic, and only when nothing is wrong write everything in one transaction.
A dry run walks the very same code with saving switched off, so its diff is exactly what a real run does.

What the file means for the database (docs/contract-file.md says the same for users):
- calendars, plans and clients are matched by slug; contacts by (email, role), sites by url, environments
  by kind, maintenance windows by (weekday, start);
- a client listed in the file is described completely: its contacts, sites, environments and maintenance
  windows missing from the file are deleted, and optional keys left out take their defaults;
- clients, calendars and plans missing from the file are left alone (a file may describe a subset);
- a plan entry changes only the fields it lists; a calendar whose rules change gets a new version (tickets
  keep the version they arrived under), and an unchanged calendar gets none;
- a row is saved only when a value differs, so applying the same file twice changes nothing;
- a site's `link_scan` limits live in its health HealthConfig row (created when the file sets limits);
- warnings (a table plan's contract with no Schedule A agreed) do not stop the file; errors do.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Generic, TypeVar

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import DatabaseError, models, transaction
from django.db.models import Max, ProtectedError, RestrictedError
from django.utils import timezone

from sitekeeper.access.audit import acting_as
from sitekeeper.contracts.models import (
    Calendar,
    CalendarVersion,
    Client,
    Contact,
    Contract,
    Environment,
    MaintenanceWindow,
    Plan,
    Site,
)
from sitekeeper.contracts.schema import PLAN, START_YEARS_AHEAD, WEEKDAYS, schema_issues
from sitekeeper.contracts.yamlio import Document, Issue, JsonPath, LoadError, format_path, load
from sitekeeper.core.calendar import BusinessCalendar, CalendarError, parse_interval
from sitekeeper.core.credits import NO_REMEDY, CreditError, CreditRule
from sitekeeper.core.targets import MonthlyBatch, TargetError, parse_target
from sitekeeper.core.term import add_months
from sitekeeper.health.models import HealthConfig
from sitekeeper.monitoring.alerting import contract_alert_problems

PLAN_FIELDS: tuple[str, ...] = tuple(PLAN["properties"])
DECIMAL_PLAN_FIELDS = frozenset({"content_hours", "uptime_sla", "credit_rate", "credit_step"})
TARGET_PLAN_FIELDS = ("response_targets", "resolution_targets", "recovery_targets")
NEW_PLAN_REQUIRED = (
    "name",
    "backup_retention_days",
    "update_cadence",
    "content_hours",
    "security_level",
    "standard_response",
    "response_targets",
    "uptime_sla",
    "performance_call",
)
CONTRACT_OPTIONAL = (
    "minimum_term_months",
    "hourly_rate",
    "billing_unit_minutes",
    "credit_rounding",
    "credit_table",
    "credit_basis",
    "annual_prepayment",
    "notice_days",
    "notice_given_on",
    "cancellation_reading",
    "update_batch",
    "alert_minutes",
    "status",
)
ENV_KINDS = ("prod", "stage", "dev")
_URL = URLValidator(schemes=["http", "https"])
_SHOW_LIMIT = 200
_PARENTS = frozenset({"client", "contract", "site"})  # named in the change's label already
M = TypeVar("M", bound=models.Model)


def url_problem(url: str) -> str | None:
    """The contract file's rule for a site URL: None when it is an http(s) URL, else the message (also the
    monitors' URL check in the console, monitoring/validation.py, so both say the same)."""
    try:
        _URL(url)
    except ValidationError:
        return f"{url!r} is not an http(s) URL"
    return None


class ApplyError(Exception):
    """The file was not applied; each of `errors` reads "file:line: key: message".

    `issues` are the same problems at their JSON paths (empty when the file could not even be read), so a
    caller with its own form of the data (the console's edit pages) can put each one beside its field.
    """

    def __init__(self, errors: list[str], issues: list[Issue] | None = None) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors
        self.issues = issues or []


@dataclass
class ApplyResult:
    changes: list[str]  # one line per created, updated or deleted row, in the order they were made
    applied: bool  # True when changes were written (never on a dry run)
    warnings: list[str] = field(default_factory=list)  # "file:line: key: warning: …"; applied all the same


def apply_file(
    path: Path, *, dry_run: bool = False, actor_label: str = "cli:apply", user: Any = None
) -> ApplyResult:
    """Apply a contract file; raises ApplyError (and writes nothing) when anything in it is wrong."""
    try:
        document = load(Path(path))
    except LoadError as exc:
        raise ApplyError(exc.errors) from exc
    return apply_document(document, dry_run=dry_run, actor_label=actor_label, user=user)


def apply_document(
    document: Document,
    *,
    dry_run: bool = False,
    actor_label: str | None = "cli:apply",
    user: Any = None,
    before_sync: Callable[[Writer], None] | None = None,
) -> ApplyResult:
    """Validate and write a contract file's data, all or nothing: the one path `apply` and the console's
    edit pages share. `before_sync` runs inside the transaction, after every check passed and before the
    data is synced (the console renames a site or contact in place there, keeping its history)."""
    with acting_as(user=user, label=actor_label), transaction.atomic():
        warnings: list[Issue] = []
        issues = validate(document, warnings)
        if issues:
            raise ApplyError(document.render_all(issues), sorted(set(issues)))
        writer = Writer(document, dry_run=dry_run)
        try:
            if before_sync is not None:
                before_sync(writer)
            sync_document(writer, document.data)
        except DatabaseError as exc:  # a constraint the checks did not foresee, or a protected row
            raise ApplyError([writer.failure(exc)], [writer.failure_issue(exc)]) from exc
    return ApplyResult(
        changes=writer.changes,
        applied=bool(writer.changes) and not dry_run,
        warnings=document.render_all(warnings),
    )


# --- values: the file's text as model values --------------------------------------------------------------


def decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def credit_table(rows: Iterable[dict[str, Any]] | None) -> list[dict[str, str]]:
    """Rows stored as text, as the built-in tiers store them."""
    return [{"below": str(row["below"]), "percent": str(row["percent"])} for row in rows or ()]


def plan_value(name: str, raw: Any) -> Any:
    if name in DECIMAL_PLAN_FIELDS:
        return decimal(raw)
    if name in TARGET_PLAN_FIELDS:
        return {priority: str(target).strip() for priority, target in raw.items()}
    if name == "standard_response":
        return str(raw).strip()
    if name == "credit_table":
        return credit_table(raw)
    return raw


def hours_rules(hours: dict[str, Any]) -> dict[str, list[str]]:
    """Weekly hours in one canonical form, so equal rules compare equal however they were written."""
    return {day: sorted(str(text).strip() for text in hours[day]) for day in WEEKDAYS if hours.get(day)}


def calendar_rules(spec: dict[str, Any]) -> dict[str, Any]:
    holidays = spec.get("holidays") or {}
    return {
        "timezone": spec["timezone"],
        "hours": hours_rules(spec["hours"]),
        "holiday_country": holidays.get("country", ""),
        "holiday_subdivision": holidays.get("subdivision") or "",
        "closures": sorted({str(day) for day in spec.get("closures") or ()}),
        "business_day_minutes": spec.get("business_day_minutes"),
    }


def version_rules(version: CalendarVersion) -> dict[str, Any]:
    return {
        "timezone": version.timezone,
        "hours": hours_rules(version.hours or {}),
        "holiday_country": version.holiday_country,
        "holiday_subdivision": version.holiday_subdivision,
        "closures": sorted({str(day) for day in version.closures or ()}),
        "business_day_minutes": version.business_day_minutes,
    }


def model_default(model: type[models.Model], name: str) -> Any:
    return model._meta.get_field(name).get_default()


def contract_values(spec: dict[str, Any], client: Client, refs: Refs) -> dict[str, Any]:
    values: dict[str, Any] = {
        "client": client,
        "plan": refs.plans[spec["plan"]],
        "calendar": refs.calendars[spec["calendar"]],
        "start": dt.date.fromisoformat(spec["start"]),
        "monthly_fee": decimal(spec["monthly_fee"]),
        "currency": spec["currency"],
    }
    for name in CONTRACT_OPTIONAL:
        values[name] = spec.get(name, model_default(Contract, name))
    values["hourly_rate"] = decimal(values["hourly_rate"])
    values["credit_table"] = credit_table(values["credit_table"])
    if values["notice_given_on"] is not None:
        values["notice_given_on"] = dt.date.fromisoformat(values["notice_given_on"])
    values["update_batch"] = " ".join(str(values["update_batch"]).lower().split())
    return values


def window_values(spec: dict[str, Any], contract: Contract) -> dict[str, Any]:
    return {
        "contract": contract,
        "weekday": WEEKDAYS.index(spec["weekday"]),
        "start": dt.time.fromisoformat(spec["start"]),
        "end": dt.time.fromisoformat(spec["end"]),
        "max_minutes": spec.get("max_minutes", model_default(MaintenanceWindow, "max_minutes")),
        "notice_hours": spec.get("notice_hours", model_default(MaintenanceWindow, "notice_hours")),
    }


# --- comparing and showing values -------------------------------------------------------------------------


def canonical(name: str, value: Any) -> Any:
    """A value in the form in which two equal settings compare equal (99.0 == 99, '4' == 4.00)."""
    if name == "credit_table" and isinstance(value, list):
        try:
            return [(Decimal(str(row["below"])), Decimal(str(row["percent"]))) for row in value]
        except (InvalidOperation, KeyError, TypeError):
            return value
    if isinstance(value, str) and name in DECIMAL_PLAN_FIELDS:
        return Decimal(value)
    return value


def same(name: str, before: Any, after: Any) -> bool:
    return canonical(name, before) == canonical(name, after)


def show(value: Any) -> str:
    """One value as a diff shows it."""
    if isinstance(value, models.Model):
        return str(getattr(value, "slug", None) or value)
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    if isinstance(value, Decimal | dt.date | int):
        return str(value)
    text = json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
    return text if len(text) <= _SHOW_LIMIT else text[: _SHOW_LIMIT - 1] + "…"


# --- writing ----------------------------------------------------------------------------------------------


@dataclass
class Writer:
    """Creates, updates and deletes rows, recording each change; a dry run records without writing."""

    document: Document
    dry_run: bool
    changes: list[str] = field(default_factory=list)
    where: JsonPath = ()  # the file entry being written, for a database error's message

    def upsert(
        self, model: type[M], instance: M | None, values: dict[str, Any], label: str, key: Iterable[str] = ()
    ) -> M:
        if instance is None:
            instance = model(**values)
            self.changes.append(f"create {label}{self._summary(model, values, set(key))}")
            self._save(instance)
            return instance
        changed = [(name, value) for name, value in values.items() if not self._same(instance, name, value)]
        if changed:
            diff = "; ".join(
                f"{name}: {show(getattr(instance, name))} → {show(value)}" for name, value in changed
            )
            for name, value in changed:
                setattr(instance, name, value)
            self.changes.append(f"update {label}: {diff}")
            self._save(instance)
        return instance

    def create_version(self, values: dict[str, Any], label: str, before: dict[str, Any] | None) -> None:
        """A calendar version is never edited: a change of rules is a new version beside the old ones."""
        if before is None:
            summary = self._summary(CalendarVersion, values, {"calendar", "number"})
        else:
            changed = [name for name in before if before[name] != values[name]]
            summary = ": " + "; ".join(f"{n}: {show(before[n])} → {show(values[n])}" for n in changed)
        self.changes.append(f"create {label}{summary}")
        self._save(CalendarVersion(**values))

    def delete(self, instance: models.Model, label: str) -> None:
        self.changes.append(f"delete {label}")
        if not self.dry_run:
            instance.delete()

    def failure(self, exc: Exception) -> str:
        return self.document.render(self.failure_issue(exc))

    def failure_issue(self, exc: Exception) -> Issue:
        reason = exc.args[0] if isinstance(exc, ProtectedError | RestrictedError) else str(exc)
        return Issue(self.where, f"the database refused the change: {reason}")

    def _save(self, instance: models.Model) -> None:
        if not self.dry_run:
            instance.save()

    @staticmethod
    def _same(instance: models.Model, name: str, value: Any) -> bool:
        model_field = instance._meta.get_field(name)
        if model_field.is_relation:  # compare ids: no query, and a new (unsaved) row is never the same
            return value.pk is not None and getattr(instance, model_field.attname) == value.pk
        return same(name, getattr(instance, name), value)

    @staticmethod
    def _summary(model: type[models.Model], values: dict[str, Any], key: set[str]) -> str:
        """A created row's settings that differ from the model's defaults."""
        shown = [
            f"{name}={show(value)}"
            for name, value in values.items()
            if name not in key
            and name not in _PARENTS
            and value not in ("", None, [], {})
            and not same(name, value, model_default(model, name))
        ]
        return ": " + ", ".join(shown) if shown else ""


@dataclass
class Refs:
    """Plans and calendars by slug: stored ones plus those the file creates (unsaved on a dry run)."""

    plans: dict[str, Plan]
    calendars: dict[str, Calendar]


def sync_document(writer: Writer, data: dict[str, Any]) -> None:
    refs = Refs(
        plans={plan.slug: plan for plan in Plan.objects.all()},
        calendars={calendar.slug: calendar for calendar in Calendar.objects.all()},
    )
    for slug, spec in sorted((data.get("calendars") or {}).items()):
        refs.calendars[slug] = sync_calendar(writer, slug, spec, refs.calendars.get(slug))
    next_rank = (Plan.objects.aggregate(rank=Max("rank"))["rank"] or 0) + 1
    for slug, spec in sorted((data.get("plans") or {}).items()):
        plan = refs.plans.get(slug)
        refs.plans[slug] = sync_plan(writer, slug, spec, plan, next_rank)
        if plan is None:
            next_rank += 1
    for index, spec in enumerate(data.get("clients") or ()):
        sync_client(writer, index, spec, refs)


def sync_calendar(writer: Writer, slug: str, spec: dict[str, Any], calendar: Calendar | None) -> Calendar:
    writer.where = ("calendars", slug)
    values = {"slug": slug, "name": spec.get("name", "")}
    calendar = writer.upsert(Calendar, calendar, values, f"calendar {slug}", key=("slug",))
    current = calendar.versions.order_by("-number").first() if calendar.pk else None
    rules = calendar_rules(spec)
    before = version_rules(current) if current else None
    if before != rules:
        number = current.number + 1 if current else 1
        values = {"calendar": calendar, "number": number, **rules}
        writer.create_version(values, f"calendar {slug} v{number}", before)
    return calendar


def sync_plan(writer: Writer, slug: str, spec: dict[str, Any], plan: Plan | None, next_rank: int) -> Plan:
    writer.where = ("plans", slug)
    values = {name: plan_value(name, spec[name]) for name in PLAN_FIELDS if name in spec}
    if plan is None:
        values = {"slug": slug, "rank": next_rank, **values}
    return writer.upsert(Plan, plan, values, f"plan {slug}", key=("slug",))


def sync_client(writer: Writer, index: int, spec: dict[str, Any], refs: Refs) -> None:
    path: JsonPath = ("clients", index)
    writer.where = path
    slug = spec["slug"]
    values = {
        "slug": slug,
        "name": spec["name"],
        "legal_name": spec.get("legal_name", ""),
        "address": spec.get("address", ""),
    }
    stored = Client.objects.filter(slug=slug).first()
    client = writer.upsert(Client, stored, values, f"client {slug}", key=("slug",))
    sync_contacts(writer, path, client, spec["contacts"])
    if "contract" in spec:
        sync_contract(writer, (*path, "contract"), client, spec["contract"], refs)
    sync_sites(writer, path, client, spec["sites"])


@dataclass
class Rows(Generic[M]):
    """One parent's rows of one kind: those stored and those the file lists, matched by natural key."""

    model: type[M]
    path: JsonPath  # the list (or mapping) in the file
    key: tuple[str, ...]  # the fields of the natural key
    label: Callable[[Any], str]  # a row (stored, or the values of a new one) as the diff names it
    stored: Iterable[M] = ()
    wanted: list[tuple[dict[str, Any], JsonPath]] = field(default_factory=list)

    def natural(self, row: M | dict[str, Any]) -> tuple[Any, ...]:
        return tuple(_get(row, name) for name in self.key)


def _get(row: models.Model | dict[str, Any], name: str) -> Any:
    return row[name] if isinstance(row, dict) else getattr(row, name)


def sync_rows(writer: Writer, rows: Rows[M]) -> dict[tuple[Any, ...], M]:
    """Upsert rows by natural key and delete the stored ones the file no longer lists.

    Deletions go first so a unique rule (one product owner per client) holds at every step when a role
    moves from one person to another.
    """
    existing = {rows.natural(row): row for row in rows.stored}
    wanted = {rows.natural(values) for values, _ in rows.wanted}
    writer.where = rows.path
    for natural, instance in existing.items():
        if natural not in wanted:
            writer.delete(instance, rows.label(instance))
    result = {}
    for values, where in rows.wanted:
        writer.where = where
        natural = rows.natural(values)
        result[natural] = writer.upsert(
            rows.model, existing.get(natural), values, rows.label(values), key=rows.key
        )
    return result


def sync_contacts(writer: Writer, path: JsonPath, client: Client, specs: list[dict[str, Any]]) -> None:
    rows = Rows(
        Contact,
        (*path, "contacts"),
        key=("email", "role"),
        label=lambda row: f"contact {client.slug} {_get(row, 'email')} ({_get(row, 'role')})",
        stored=client.contacts.all() if client.pk else (),
    )
    for position, spec in enumerate(specs):
        values = {
            "client": client,
            "name": spec["name"],
            "email": spec["email"],
            "role": spec["role"],
            "phone": spec.get("phone", ""),
            "availability": spec.get("availability", ""),
        }
        rows.wanted.append((values, (*rows.path, position)))
    sync_rows(writer, rows)


def current_contract(client: Client, spec: dict[str, Any]) -> Contract | None:
    """The contract the file describes: the client's current one, updated in place.

    A terminated contract is not "current" (Client.contract), so a file that says `status: terminated`
    matches the latest contract instead; otherwise applying it twice would open a new contract.
    """
    if client.pk is None:
        return None
    contract = client.contract
    if contract is None and spec.get("status") == Contract.Status.TERMINATED:
        contract = client.contracts.order_by("-start", "-pk").first()
    return contract


def sync_contract(writer: Writer, path: JsonPath, client: Client, spec: dict[str, Any], refs: Refs) -> None:
    writer.where = path
    values = contract_values(spec, client, refs)
    contract = writer.upsert(Contract, current_contract(client, spec), values, f"contract {client.slug}")

    def label(row: MaintenanceWindow | dict[str, Any]) -> str:
        start = _get(row, "start").strftime("%H:%M")
        return f"maintenance window {client.slug} {WEEKDAYS[_get(row, 'weekday')]} {start}"

    rows = Rows(
        MaintenanceWindow,
        (*path, "maintenance_windows"),
        key=("weekday", "start"),
        label=label,
        stored=contract.maintenance_windows.all() if contract.pk else (),
    )
    for position, window in enumerate(spec.get("maintenance_windows") or ()):
        rows.wanted.append((window_values(window, contract), (*rows.path, position)))
    sync_rows(writer, rows)


def sync_sites(writer: Writer, path: JsonPath, client: Client, specs: list[dict[str, Any]]) -> None:
    rows = Rows(
        Site,
        (*path, "sites"),
        key=("url",),
        label=lambda row: f"site {client.slug} {_get(row, 'url')}",
        stored=client.sites.all() if client.pk else (),
    )
    for position, spec in enumerate(specs):
        values = {
            "client": client,
            "url": spec["url"],
            "name": spec.get("name", ""),
            "platform": spec["platform"],
            "hosting": spec.get("hosting", ""),
            "notes": spec.get("notes", ""),
        }
        rows.wanted.append((values, (*rows.path, position)))
    sites = sync_rows(writer, rows)
    for (_, where), spec in zip(rows.wanted, specs, strict=True):
        sync_environments(writer, where, sites[(spec["url"],)], spec)
        sync_link_scan(writer, where, sites[(spec["url"],)], spec)


def sync_link_scan(writer: Writer, path: JsonPath, site: Site, spec: dict[str, Any]) -> None:
    """The site's link-scan limits; a key left out takes its default, like every optional key. A site with
    no limits in the file and no settings row keeps the defaults without a row (a scan creates it)."""
    stored = HealthConfig.objects.filter(site=site).first() if site.pk else None
    limits = spec.get("link_scan")
    if limits is None and stored is None:
        return
    limits = limits or {}
    values = {
        "site": site,
        "link_max_pages": limits.get("max_pages", model_default(HealthConfig, "link_max_pages")),
        "link_max_depth": limits.get("max_depth", model_default(HealthConfig, "link_max_depth")),
    }
    writer.where = (*path, "link_scan")
    writer.upsert(HealthConfig, stored, values, f"link-scan limits {site.url}")


def sync_environments(writer: Writer, path: JsonPath, site: Site, spec: dict[str, Any]) -> None:
    urls = {"prod": spec["url"], **(spec.get("environments") or {})}
    rows = Rows(
        Environment,
        (*path, "environments"),
        key=("kind",),
        label=lambda row: f"environment {site.url} {_get(row, 'kind')}",
        stored=site.environments.all() if site.pk else (),
    )
    for kind in ENV_KINDS:
        if kind in urls:
            rows.wanted.append(({"site": site, "kind": kind, "url": urls[kind]}, (*rows.path, kind)))
    sync_rows(writer, rows)


# --- checking what the schema cannot ----------------------------------------------------------------------


def validate(document: Document, warnings: list[Issue] | None = None) -> list[Issue]:
    """Every problem in the file: its shape (schema), then references, rules and arithmetic. What is
    allowed but worth a person's attention is added to `warnings`."""
    if document.data is None:
        return [Issue((), "the file is empty; expected calendars, plans and/or clients")]
    issues = [*document.issues, *schema_issues(document.data)]
    if isinstance(document.data, dict):
        checker = Checker(document.data, broken=[issue.path for issue in issues])
        checker.run()
        issues.extend(checker.issues)
        if warnings is not None:
            warnings.extend(checker.warnings)
    return issues


_CALENDAR_NEUTRAL: dict[str, Any] = {
    "timezone": "UTC",
    "hours": {"mon": ["00:00-24:00"]},
    "holidays": None,
    "closures": (),
    "business_day_minutes": None,
}
_HOURS_DAY = re.compile(r"business hours for (\w+):")
_CREDIT_KEYS = ("credit_kind", "credit_rate", "credit_step", "credit_table")
_ABSENT = object()  # a key not in the file, told apart from a key set to null


@dataclass
class Checker:
    """The semantic checks. A value with a shape error is left to that error, not reported twice."""

    data: dict[str, Any]
    broken: list[JsonPath]
    issues: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    stored_plans: dict[str, Plan] = field(default_factory=dict)

    def add(self, path: JsonPath, message: str) -> None:
        self.issues.append(Issue(path, message))

    def warn(self, path: JsonPath, message: str) -> None:
        self.warnings.append(Issue(path, f"warning: {message}"))

    def value(self, path: JsonPath, default: Any = None) -> Any:
        value: Any = self.data
        for key in path:
            try:
                value = value[key]
            except (KeyError, IndexError, TypeError):
                return default
        return value

    def sound(self, path: JsonPath, kind: type | tuple[type, ...] = dict) -> bool:
        """The value at `path` is present, has the expected type and no shape error inside it."""
        inside = any(broken[: len(path)] == path for broken in self.broken)
        value = self.value(path, _ABSENT)
        return value is not _ABSENT and isinstance(value, kind) and not inside

    def entries(self, path: JsonPath) -> list[tuple[Any, Any]]:
        """(key, value) of the mapping or list at `path`; nothing when it is neither."""
        value = self.value(path)
        if isinstance(value, dict):
            return list(value.items())
        return list(enumerate(value)) if isinstance(value, list) else []

    def run(self) -> None:
        self.stored_plans = {plan.slug: plan for plan in Plan.objects.all()}
        for slug, spec in self.entries(("calendars",)):
            if isinstance(spec, dict):
                self.calendar(("calendars", slug))
        for slug, spec in self.entries(("plans",)):
            if isinstance(spec, dict):
                self.plan(("plans", slug), self.stored_plans.get(slug))
        if isinstance(self.value(("clients",)), list):
            ClientChecker(self).run()

    # calendars
    def calendar(self, path: JsonPath) -> None:
        parts = {
            name: self.value((*path, name)) if self.sound((*path, name), object) else neutral
            for name, neutral in _CALENDAR_NEUTRAL.items()
        }
        if self.sound((*path, "hours")):
            parts["hours"] = self.good_hours(path, parts["hours"])
        parts["closures"] = parts["closures"] or ()
        # from_spec stops at the first problem: put a neutral value in its place and look again.
        for _ in range(len(parts)):
            try:
                BusinessCalendar.from_spec(**parts)
            except CalendarError as exc:
                part = self.calendar_error(path, parts, str(exc))
                parts[part] = _CALENDAR_NEUTRAL[part]
            else:
                return

    def good_hours(self, path: JsonPath, hours: dict[str, Any]) -> dict[str, list[str]]:
        """Each interval checked on its own, so the error names its exact key; the good ones kept."""
        good: dict[str, list[str]] = {}
        for day, texts in hours.items():
            good[day] = []
            for position, text in enumerate(texts):
                try:
                    parse_interval(str(text))
                except CalendarError as exc:
                    self.add((*path, "hours", day, position), str(exc))
                else:
                    good[day].append(str(text))
        return good

    def calendar_error(self, path: JsonPath, parts: dict[str, Any], message: str) -> str:
        """Report one CalendarError at the key it is about; returns which part to neutralise."""
        if message.startswith("time zone"):
            self.add((*path, "timezone"), message)
            return "timezone"
        if message.startswith("holidays"):
            self.add(*self.holiday_issue(path, parts["holidays"], message))
            return "holidays"
        if message.startswith("closure"):
            self.add((*path, "closures"), message)
            return "closures"
        day = _HOURS_DAY.match(message)
        self.add((*path, "hours", day.group(1)) if day else (*path, "hours"), message)
        return "hours"

    @staticmethod
    def holiday_issue(path: JsonPath, holidays: dict[str, Any], message: str) -> tuple[JsonPath, str]:
        """The holidays library cannot tell a bad country from a bad subdivision; trying both can."""
        subdivision = holidays.get("subdivision")
        if subdivision:
            try:
                BusinessCalendar.from_spec("UTC", {"mon": ["09:00-17:00"]}, {"country": holidays["country"]})
            except CalendarError:
                pass
            else:
                where = (*path, "holidays", "subdivision")
                return where, f"holidays: {holidays['country']} has no subdivision {subdivision!r}"
        return (*path, "holidays", "country"), message

    # plans
    def plan(self, path: JsonPath, stored: Plan | None) -> None:
        spec = self.value(path)
        if stored is None:
            missing = [name for name in NEW_PLAN_REQUIRED if name not in spec]
            if missing:
                self.add(path, f"a new plan needs {', '.join(missing)}")
        if self.sound((*path, "standard_response"), str):
            self.target((*path, "standard_response"))
        for name in TARGET_PLAN_FIELDS:
            if self.sound((*path, name)):
                for priority, _ in self.entries((*path, name)):
                    self.target((*path, name, priority))
        if all(self.sound((*path, name), object) for name in _CREDIT_KEYS if name in spec):
            self.plan_credits(path, spec, stored)
        sla = spec.get("uptime_sla")
        if self.sound((*path, "uptime_sla"), (str, int)) and not 0 < Decimal(str(sla)) <= 100:
            self.add((*path, "uptime_sla"), f"{sla} is not a percentage above 0 and at most 100")
        self.at_most_100((*path, "credit_rate"), "a percent of the monthly fee per step")
        self.at_most_100((*path, "credit_step"), "percentage points of uptime per step")
        self.table_percents((*path, "credit_table"))

    def at_most_100(self, path: JsonPath, meaning: str) -> None:
        """A percentage the schema's pattern lets through up to 9999.99: over 100 has no meaning here."""
        if self.sound(path, (str, int)) and Decimal(str(self.value(path))) > 100:
            self.add(path, f"{self.value(path)} is more than 100 ({meaning})")

    def table_percents(self, path: JsonPath) -> None:
        for position, _ in self.entries(path):
            self.at_most_100((*path, position, "percent"), "a percent of the monthly fee")

    def target(self, path: JsonPath) -> None:
        try:
            parse_target(str(self.value(path)))
        except TargetError as exc:
            self.add(path, str(exc))

    def plan_credits(self, path: JsonPath, spec: dict[str, Any], stored: Plan | None) -> None:
        given = [name for name in _CREDIT_KEYS if name in spec]
        if stored is not None and not given:
            return
        defaults = {"credit_kind": "steps", "credit_rate": None, "credit_step": None, "credit_table": []}
        merged = {
            name: spec[name] if name in spec else getattr(stored, name) if stored else defaults[name]
            for name in _CREDIT_KEYS
        }
        if merged["credit_kind"] == "table" and not merged["credit_table"]:
            # Allowed: Schedule A may be agreed contract by contract (Enterprise ships without a table).
            self.warn(
                (*path, given[0]) if given else path,
                "a table plan without a credit_table: its contracts have no remedy (no credit computed) "
                "unless each agrees its own credit_table",
            )
            return
        try:
            CreditRule.from_data(
                kind=merged["credit_kind"],
                rate=merged["credit_rate"],
                step=merged["credit_step"],
                table=merged["credit_table"],
            )
        except CreditError as exc:
            self.add((*path, given[0]) if given else path, str(exc))

    def plan_credit_kind(self, slug: Any) -> str | None:
        """The credit kind a plan will have once the file is applied."""
        return self.plan_setting(slug, "credit_kind")

    def plan_setting(self, slug: Any, name: str) -> Any:
        """A plan's value of `name` once the file is applied (None for an unknown plan)."""
        file_plan = self.value(("plans", slug)) if isinstance(slug, str) else None
        if isinstance(file_plan, dict) and name in file_plan:
            return file_plan[name]
        stored = self.stored_plans.get(slug) if isinstance(slug, str) else None
        if stored is not None:
            return getattr(stored, name)
        return model_default(Plan, name) if isinstance(file_plan, dict) else None


@dataclass
class ClientChecker:
    """Checks of clients: references, people, and duplicates across the whole file."""

    checker: Checker
    plans: list[str] = field(default_factory=list)
    calendars: list[str] = field(default_factory=list)
    slugs: dict[Any, JsonPath] = field(default_factory=dict)
    urls: dict[Any, JsonPath] = field(default_factory=dict)

    def run(self) -> None:
        stored_calendars = list(Calendar.objects.order_by("slug").values_list("slug", flat=True))
        file_calendars = sorted(str(slug) for slug, _ in self.checker.entries(("calendars",)))
        self.calendars = stored_calendars + [slug for slug in file_calendars if slug not in stored_calendars]
        stored_plans = list(self.checker.stored_plans)  # in rank order
        file_plans = [str(slug) for slug, _ in self.checker.entries(("plans",))]
        self.plans = stored_plans + [slug for slug in file_plans if slug not in stored_plans]
        for index, spec in self.checker.entries(("clients",)):
            if isinstance(spec, dict):
                self.client(("clients", index))

    def add(self, path: JsonPath, message: str) -> None:
        self.checker.add(path, message)

    def client(self, path: JsonPath) -> None:
        sound = self.checker.sound
        if sound((*path, "slug"), str):
            slug = self.checker.value((*path, "slug"))
            self.unique(self.slugs, slug, (*path, "slug"), f"client slug '{slug}'")
        if isinstance(self.checker.value((*path, "contacts")), list):
            self.contacts((*path, "contacts"))
        if isinstance(self.checker.value((*path, "contract")), dict):
            self.contract((*path, "contract"))
        for position, _ in self.checker.entries((*path, "sites")):
            if sound((*path, "sites", position)):
                self.site((*path, "sites", position))

    def unique(self, seen: dict[Any, JsonPath], key: Any, path: JsonPath, what: str) -> None:
        """Report a natural key the file uses twice; `what` names it in the message."""
        first = seen.setdefault(key, path)
        if first != path:
            self.add(path, f"duplicate {what} (also at {format_path(first)})")

    def contacts(self, path: JsonPath) -> None:
        contacts = [(i, c) for i, c in self.checker.entries(path) if isinstance(c, dict)]
        owners = [i for i, contact in contacts if contact.get("role") == "product_owner"]
        if not owners and not any(broken[: len(path)] == path for broken in self.checker.broken):
            self.add(path, "no contact has role product_owner; exactly one is required")
        for extra in owners[1:]:
            self.add((*path, extra, "role"), f"a second product_owner (the first is contacts[{owners[0]}])")
        seen: dict[Any, JsonPath] = {}
        for position, contact in contacts:
            if self.checker.sound((*path, position)):
                self.contact((*path, position), contact, seen)

    def contact(self, path: JsonPath, contact: dict[str, Any], seen: dict[Any, JsonPath]) -> None:
        if contact["role"] == "emergency" and not contact.get("phone", "").strip():
            self.add(path, "an emergency contact needs a phone number")
        try:
            validate_email(contact["email"])
        except ValidationError:
            self.add((*path, "email"), f"{contact['email']!r} is not an e-mail address")
        natural = (contact["email"], contact["role"])
        self.unique(seen, natural, (*path, "email"), f"contact {contact['email']} as {contact['role']}")

    def contract(self, path: JsonPath) -> None:
        sound, value = self.checker.sound, self.checker.value
        plan, calendar = value((*path, "plan")), value((*path, "calendar"))
        if sound((*path, "plan"), str) and plan not in self.plans:
            self.add((*path, "plan"), f"unknown plan '{plan}' (known: {', '.join(self.plans)})")
        if sound((*path, "calendar"), str) and calendar not in self.calendars:
            known = ", ".join(self.calendars) or "none; define it under calendars"
            self.add((*path, "calendar"), f"unknown calendar '{calendar}' (known: {known})")
        if sound((*path, "update_batch"), str):
            try:
                MonthlyBatch.parse(value((*path, "update_batch")))
            except TargetError as exc:
                self.add((*path, "update_batch"), str(exc))
        if sound((*path, "credit_table"), list) and value((*path, "credit_table")):
            self.contract_table((*path, "credit_table"), plan)
        self.checker.table_percents((*path, "credit_table"))
        self.start(path)
        self.remedy(path, plan)
        self.notice(path)
        self.alert_promise(path)
        seen: dict[Any, JsonPath] = {}
        for position, window in self.checker.entries((*path, "maintenance_windows")):
            where = (*path, "maintenance_windows", position)
            if sound(where):
                natural = (window["weekday"], window["start"])
                self.unique(seen, natural, where, f"maintenance window {' '.join(natural)}")
                if window["start"] == window["end"]:
                    self.add((*where, "end"), "the window ends when it starts")

    def start(self, path: JsonPath) -> None:
        """A start years ahead is a typo (2062 for 2026), not a contract agreed today."""
        if not self.checker.sound((*path, "start"), str):
            return
        start = dt.date.fromisoformat(self.checker.value((*path, "start")))
        latest = add_months(timezone.localdate(), 12 * START_YEARS_AHEAD)
        if start > latest:
            self.add(
                (*path, "start"),
                f"{start} is more than {START_YEARS_AHEAD} years ahead (the latest start is {latest})",
            )

    def remedy(self, path: JsonPath, plan: Any) -> None:
        """A table plan (Enterprise: "per Schedule A") whose contract agrees no table has no remedy: allowed,
        since Schedule A may be agreed later, but said, because no credit will be computed meanwhile."""
        if self.checker.plan_credit_kind(plan) != "table" or self.checker.value((*path, "credit_table")):
            return
        if self.checker.plan_setting(plan, "credit_table"):
            return
        client = self.checker.value(path[:-1])
        self.checker.warn(
            path,
            f"{client.get('name')} ({client.get('slug')}) is on plan '{plan}', whose remedy is per "
            f"Schedule A, and agrees no credit_table: no service credit will be computed ({NO_REMEDY})",
        )

    def notice(self, path: JsonPath) -> None:
        """A contract under notice is `status: cancelling` with the day notice was given (7.3)."""
        spec = self.checker.value(path)
        if self.broken(path, "notice_given_on", str) or self.broken(path, "status", str):
            return  # a shape error says what is wrong with it
        status = spec.get("status", Contract.Status.ACTIVE)
        given = spec.get("notice_given_on")
        if status == Contract.Status.CANCELLING and given is None:
            self.add(
                (*path, "status"),
                "a contract under notice needs notice_given_on, the day notice was given: its effective "
                "date (the last day of service) counts from it",
            )
        elif given is not None and status in {Contract.Status.ACTIVE, Contract.Status.DRAFT}:
            self.add(
                (*path, "notice_given_on"),
                f"notice given on {given} but status is {status}: a contract under notice has status "
                "cancelling (terminated once it has ended)",
            )
        start = spec.get("start")
        early = (
            given is not None
            and self.checker.sound((*path, "start"), str)
            and dt.date.fromisoformat(given) < dt.date.fromisoformat(start)
        )
        if early:
            self.add((*path, "notice_given_on"), f"notice given on {given}, before the start {start}")

    def broken(self, path: JsonPath, key: str, kind: type) -> bool:
        """The contract gives `key` but with a shape error (already reported)."""
        return key in self.checker.value(path) and not self.checker.sound((*path, key), kind)

    def alert_promise(self, path: JsonPath) -> None:
        """A changed alert time must be one every monitor of the client's sites can keep (1.2), checked
        before anything is written, so the whole file is refused."""
        spec = self.checker.value(path)
        slug = self.checker.value((*path[:-1], "slug"))
        if self.broken(path, "alert_minutes", int) or not isinstance(slug, str):
            return
        client = Client.objects.filter(slug=slug).first()
        if client is None or spec.get("status") == Contract.Status.TERMINATED:
            return  # a new client has no monitors yet; an ended contract promises nothing
        minutes = spec.get("alert_minutes", model_default(Contract, "alert_minutes"))
        stored = current_contract(client, spec)
        if stored is not None and stored.alert_minutes == minutes:
            return
        contract = stored or Contract(client=client, alert_minutes=minutes)
        given = "alert_minutes" in spec
        where = (*path, "alert_minutes") if given else path
        prefix = "" if given else f"alert_minutes left out, so the default {minutes} min: "
        for problem in contract_alert_problems(contract, minutes):
            self.add(where, prefix + problem)

    def contract_table(self, path: JsonPath, plan: Any) -> None:
        try:
            CreditRule.from_data(kind="table", table=self.checker.value(path))
        except CreditError as exc:
            self.add(path, str(exc))
        if self.checker.plan_credit_kind(plan) == "steps":
            self.add(path, f"plan '{plan}' counts credits in steps, so this table would be ignored")

    def site(self, path: JsonPath) -> None:
        site = self.checker.value(path)
        self.url((*path, "url"), site["url"])
        self.unique(self.urls, site["url"], (*path, "url"), f"site url '{site['url']}'")
        for kind, env_url in (site.get("environments") or {}).items():
            self.url((*path, "environments", kind), env_url)

    def url(self, path: JsonPath, url: str) -> None:
        problem = url_problem(url)
        if problem:
            self.add(path, problem)
