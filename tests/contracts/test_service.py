"""One answer to "is this contract in service on day D" (12.7): through notice, up to the effective date."""

from __future__ import annotations

import datetime as dt

import pytest

from sitekeeper.contracts import service
from sitekeeper.contracts.models import Contract

D = dt.date


def at_noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)


@pytest.mark.django_db
def test_under_notice_is_in_service_until_the_effective_date(acme):
    contract = acme.contract  # starts 1 Jan 2026, 3-month minimum term
    contract.status, contract.notice_given_on = Contract.Status.CANCELLING, D(2026, 5, 10)
    contract.save()
    assert contract.effective_end == D(2026, 6, 30)
    assert contract.in_service(D(2026, 6, 30))
    assert not contract.in_service(D(2026, 7, 1))
    assert service.contract_in_service(contract, at_noon(D(2026, 6, 15)))
    assert [c.pk for c in service.contracts_in_service(at_noon(D(2026, 6, 15)))] == [contract.pk]
    assert service.contracts_in_service(at_noon(D(2026, 7, 2))) == []
    assert service.sites_in_service(at_noon(D(2026, 7, 2))) == []


@pytest.mark.django_db
def test_the_day_is_the_contract_zones_day(acme):
    contract = acme.contract
    contract.status, contract.notice_given_on = Contract.Status.CANCELLING, D(2026, 5, 10)
    contract.save()
    # 30 June 23:30 UTC is already 1 July in Berlin: the service has ended there.
    late = dt.datetime(2026, 6, 30, 23, 30, tzinfo=dt.UTC)
    assert not service.contract_in_service(contract, late)
    assert service.contract_in_service(contract, late - dt.timedelta(hours=2))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "day", "expected"),
    [
        (Contract.Status.DRAFT, D(2026, 2, 1), False),
        (Contract.Status.TERMINATED, D(2026, 2, 1), False),
        (Contract.Status.ACTIVE, D(2025, 12, 31), False),  # before its start
        (Contract.Status.ACTIVE, D(2026, 1, 1), True),
        (Contract.Status.ACTIVE, D(2030, 1, 1), True),  # no notice: runs on
    ],
)
def test_status_and_start(acme, status, day, expected):
    contract = acme.contract
    contract.status = status
    contract.save()
    assert contract.in_service(day) is expected
    assert service.site_in_service(acme.sites.get(), at_noon(day)) is expected
