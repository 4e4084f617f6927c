"""Helpers shared by the contract-file tests: writing files and counting every row apply could touch."""

from __future__ import annotations

import textwrap
from pathlib import Path

from sitekeeper.access.models import AuditEntry
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
from sitekeeper.health.models import HealthConfig

MODELS = (
    Calendar,
    CalendarVersion,
    Plan,
    Client,
    Contact,
    Contract,
    MaintenanceWindow,
    Site,
    Environment,
    HealthConfig,
    AuditEntry,
)

# The example from the issue, verbatim.
EXAMPLE = """\
calendars:
  hq:
    timezone: Europe/Berlin
    hours: {mon: ["09:00-18:00"], tue: ["09:00-18:00"], wed: ["09:00-18:00"], thu: ["09:00-18:00"], fri: ["09:00-18:00"]}
    holidays: {country: DE}
    closures: [2026-12-31]
clients:
  - slug: acme
    name: Acme GmbH
    contacts:
      - {name: Ada Owner, email: ada@acme.test, role: product_owner}
      - {name: Ed Oncall, email: ed@acme.test, role: emergency, phone: "+49 30 1234567"}
    contract: {plan: business, start: 2026-01-01, monthly_fee: "900.00", currency: EUR, calendar: hq}
    sites:
      - {url: "https://acme.test", platform: wordpress}
"""  # noqa: E501 (verbatim from the issue)


def write(tmp_path: Path, text: str, name: str = "acme.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def state() -> dict[str, list[tuple]]:
    """Every row's values, to prove that nothing at all changed."""
    return {model.__name__: sorted(map(tuple, model.objects.values_list())) for model in MODELS}
