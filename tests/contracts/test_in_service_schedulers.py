"""Issue 12.7 (audits): notice given is not service stopped (agreement 7.3). A contract under notice — status
cancelling, notice on record, its effective date still ahead — keeps its nightly security scans, its monthly
link scan and Lighthouse audit, and its scheduled updates; after the effective date none is scheduled. Every
audits scheduler asks contracts.service."""

from __future__ import annotations

import datetime as dt

import pytest

from sitekeeper.contracts.models import Contract
from sitekeeper.health import tasks as health_tasks
from sitekeeper.releases import updates
from sitekeeper.security import scans
from sitekeeper.security import tasks as security_tasks

pytestmark = pytest.mark.django_db

NOTICE = dt.date(2026, 11, 20)
# acme's audit moment is the 3rd at 04:00 Berlin; the notice period ends 20 Dec, effective 31 Dec 2026.
UNDER_NOTICE = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)
AFTER_END = dt.datetime(2027, 1, 3, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def under_notice(acme) -> Contract:
    contract = acme.contract
    contract.status, contract.notice_given_on = Contract.Status.CANCELLING, NOTICE
    contract.save()
    assert contract.effective_end == dt.date(2026, 12, 31)
    return contract


@pytest.fixture
def queued(monkeypatch) -> list[tuple]:
    """The tasks the schedulers enqueue, recorded instead of run."""
    jobs: list[tuple] = []
    monkeypatch.setattr(security_tasks, "scan_site_task", lambda *args: jobs.append(("security", *args)))
    monkeypatch.setattr(health_tasks, "link_scan_task", lambda *args: jobs.append(("links", *args)))
    monkeypatch.setattr(
        health_tasks, "performance_audit_task", lambda *args: jobs.append(("performance", *args))
    )
    monkeypatch.setattr(scans, "scannable", lambda site, environment="prod": True)
    return jobs


def test_security_scans_run_until_the_effective_date(acme, under_notice, queued):
    site = acme.sites.get()
    assert security_tasks.security_scan_pass(UNDER_NOTICE) == [site.pk]
    assert queued == [("security", site.pk)]
    assert security_tasks.security_scan_pass(dt.datetime(2026, 12, 31, 22, 30, tzinfo=dt.UTC)) == [
        site.pk
    ]  # 23:30 CET
    assert (
        security_tasks.security_scan_pass(dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.UTC)) == []
    )  # 1 Jan in Berlin


def test_link_scan_and_lighthouse_audit_run_until_the_effective_date(acme, under_notice, queued):
    site = acme.sites.get()
    jobs = health_tasks.health_schedule_pass(UNDER_NOTICE)
    assert sorted(jobs) == [(site.pk, "links", "2026-12"), (site.pk, "performance", "2026-12")]
    queued.clear()
    assert health_tasks.health_schedule_pass(AFTER_END) == []
    assert queued == []


def test_scheduled_updates_run_until_the_effective_date(acme, under_notice, monkeypatch):
    monkeypatch.setattr(updates, "has_update_sources", lambda site: True)
    site = acme.sites.get()
    assert list(updates.sites_due_for_updates(UNDER_NOTICE)) == [(under_notice, site)]
    assert list(updates.sites_due_for_updates(AFTER_END)) == []


def test_draft_and_terminated_contracts_get_nothing(acme, queued, monkeypatch):
    monkeypatch.setattr(updates, "has_update_sources", lambda site: True)
    for status in (Contract.Status.DRAFT, Contract.Status.TERMINATED):
        Contract.objects.filter(client=acme).update(status=status)
        assert security_tasks.security_scan_pass(UNDER_NOTICE) == []
        assert health_tasks.health_schedule_pass(UNDER_NOTICE) == []
        assert list(updates.sites_due_for_updates(UNDER_NOTICE)) == []
    assert queued == []
