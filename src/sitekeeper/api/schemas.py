"""What the API returns. Money, hours and percentages are exact decimals, sent as strings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from ninja import Schema
from pydantic import Field, PlainSerializer

from sitekeeper.api.errors import ErrorItemOut, ErrorOut
from sitekeeper.api.params import choices_of
from sitekeeper.contracts.models import Client, Contact, Contract, Environment, MaintenanceWindow, Plan, Site
from sitekeeper.contracts.presenters import contract_credit_rule, describe_credit, zone_of

__all__ = ["ErrorItemOut", "ErrorOut"]  # the error shape lives in api/errors.py; importable from here too

# Decimals as JSON strings ("99.900", "900.00"): a float would lose the exactness the contract relies on.
DecimalStr = Annotated[Decimal, PlainSerializer(str, return_type=str)]


class CreditRowOut(Schema):
    below: str
    percent: str


class PlanOut(Schema):
    slug: str
    name: str
    rank: int
    builtin: bool
    backup_retention_days: int
    update_cadence: choices_of(Plan, "update_cadence")  # type: ignore[valid-type]
    content_hours: DecimalStr
    content_hours_open_ended: bool
    content_hours_label: str
    security_level: choices_of(Plan, "security_level")  # type: ignore[valid-type]
    support_channels: list[str]
    standard_response: str
    response_targets: dict[str, str]
    resolution_targets: dict[str, str]
    recovery_targets: dict[str, str]
    after_hours_emergency: bool
    uptime_sla: DecimalStr
    credit_kind: choices_of(Plan, "credit_kind")  # type: ignore[valid-type]
    credit_rate: DecimalStr | None
    credit_step: DecimalStr | None
    credit_table: list[CreditRowOut]
    credit_rule: str
    performance_call: choices_of(Plan, "performance_call")  # type: ignore[valid-type]

    @staticmethod
    def resolve_credit_rule(plan: Plan) -> str:
        return describe_credit(plan)


class ContactOut(Schema):
    name: str
    email: str
    role: choices_of(Contact, "role")  # type: ignore[valid-type]
    phone: str
    availability: str


# A wall-clock time of day (HH:MM:SS) in the zone named beside it — not an instant, so not RFC 3339's "time"
# (which needs an offset, and a weekly window's offset changes with summer time).
LOCAL_TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$"


class MaintenanceWindowOut(Schema):
    weekday: int = Field(ge=0, le=6, description="0 = Monday … 6 = Sunday")
    start: str = Field(pattern=LOCAL_TIME, description="Local time of day, in `time_zone`")
    end: str = Field(pattern=LOCAL_TIME, description="Local time of day, in `time_zone`")
    time_zone: str = Field(description="The contract calendar's IANA time zone, e.g. Europe/Berlin")
    max_minutes: int
    notice_hours: int

    @staticmethod
    def resolve_start(window: MaintenanceWindow) -> str:
        return window.start.strftime("%H:%M:%S")

    @staticmethod
    def resolve_end(window: MaintenanceWindow) -> str:
        return window.end.strftime("%H:%M:%S")

    @staticmethod
    def resolve_time_zone(window: MaintenanceWindow) -> str:
        return zone_of(window.contract)


class ContractOut(Schema):
    id: int
    client: str
    plan: str
    calendar: str
    status: choices_of(Contract, "status")  # type: ignore[valid-type]
    start: dt.date
    minimum_term_months: int
    monthly_fee: DecimalStr
    currency: str
    hourly_rate: DecimalStr | None
    billing_unit_minutes: int
    credit_rounding: choices_of(Contract, "credit_rounding")  # type: ignore[valid-type]
    annual_prepayment: bool
    notice_days: int
    # The last day of the minimum term, counted in (core.term: 3 months from 1 January → 31 March).
    minimum_term_end: dt.date
    notice_given_on: dt.date | None
    # With notice on record: the last day of service (every service runs until it, 7.3); else null.
    effective_date: dt.date | None
    credit_basis: choices_of(Contract, "credit_basis")  # type: ignore[valid-type]
    # The contract's own rule in words — the same sentence as every page (contracts.presenters).
    credit_rule: str
    update_batch: str
    maintenance_windows: list[MaintenanceWindowOut]

    @staticmethod
    def resolve_client(contract: Contract) -> str:
        return contract.client.slug

    @staticmethod
    def resolve_plan(contract: Contract) -> str:
        return contract.plan.slug

    @staticmethod
    def resolve_calendar(contract: Contract) -> str:
        return contract.calendar.slug

    @staticmethod
    def resolve_minimum_term_end(contract: Contract) -> dt.date:
        return contract.minimum_term_end

    @staticmethod
    def resolve_effective_date(contract: Contract) -> dt.date | None:
        return contract.effective_end

    @staticmethod
    def resolve_credit_rule(contract: Contract) -> str:
        return contract_credit_rule(contract)

    @staticmethod
    def resolve_maintenance_windows(contract: Contract) -> list[MaintenanceWindow]:
        return list(contract.maintenance_windows.all())


class EnvironmentOut(Schema):
    kind: choices_of(Environment, "kind")  # type: ignore[valid-type]
    url: str


class SiteOut(Schema):
    id: int
    client: str
    url: str
    name: str
    platform: choices_of(Site, "platform")  # type: ignore[valid-type]
    hosting: str
    environments: list[EnvironmentOut]

    @staticmethod
    def resolve_client(site: Site) -> str:
        return site.client.slug

    @staticmethod
    def resolve_environments(site: Site) -> list[Environment]:
        return list(site.environments.all())


class ClientOut(Schema):
    slug: str
    name: str
    legal_name: str


class ClientDetailOut(ClientOut):
    address: str
    contacts: list[ContactOut]
    contract: ContractOut | None
    sites: list[SiteOut]

    @staticmethod
    def resolve_contacts(client: Client) -> list[Contact]:
        return list(client.contacts.all())

    @staticmethod
    def resolve_contract(client: Client) -> Contract | None:
        return client.contract

    @staticmethod
    def resolve_sites(client: Client) -> list[Site]:
        return list(client.sites.prefetch_related("environments"))
