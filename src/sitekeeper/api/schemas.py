"""What the API returns. Money, hours and percentages are exact decimals, sent as strings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from ninja import Schema
from pydantic import PlainSerializer

from sitekeeper.contracts.models import Client, Contact, Contract, Environment, MaintenanceWindow, Plan, Site
from sitekeeper.contracts.presenters import contract_credit_rule, describe_credit

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
    update_cadence: str
    content_hours: DecimalStr
    content_hours_open_ended: bool
    content_hours_label: str
    security_level: str
    support_channels: list[str]
    standard_response: str
    response_targets: dict[str, str]
    resolution_targets: dict[str, str]
    recovery_targets: dict[str, str]
    after_hours_emergency: bool
    uptime_sla: DecimalStr
    credit_kind: str
    credit_rate: DecimalStr | None
    credit_step: DecimalStr | None
    credit_table: list[CreditRowOut]
    credit_rule: str
    performance_call: str

    @staticmethod
    def resolve_credit_rule(plan: Plan) -> str:
        return describe_credit(plan)


class ContactOut(Schema):
    name: str
    email: str
    role: str
    phone: str
    availability: str


class MaintenanceWindowOut(Schema):
    weekday: int
    start: dt.time
    end: dt.time
    max_minutes: int
    notice_hours: int


class ContractOut(Schema):
    id: int
    client: str
    plan: str
    calendar: str
    status: str
    start: dt.date
    minimum_term_months: int
    monthly_fee: DecimalStr
    currency: str
    hourly_rate: DecimalStr | None
    billing_unit_minutes: int
    credit_rounding: str
    annual_prepayment: bool
    notice_days: int
    # The last day of the minimum term, counted in (core.term: 3 months from 1 January → 31 March).
    minimum_term_end: dt.date
    notice_given_on: dt.date | None
    # With notice on record: the last day of service (every service runs until it, 7.3); else null.
    effective_date: dt.date | None
    credit_basis: str
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
    kind: str
    url: str


class SiteOut(Schema):
    id: int
    client: str
    url: str
    name: str
    platform: str
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


class ErrorOut(Schema):
    detail: str
