"""A returning client's backups are never deleted (issue 12, item 6; DESIGN "Term"): the transition after a
contract ends starts only when no contract holds the client's backups (draft, active, or under notice up to
its effective date); a cancelled contract's window closes 30 days after the end of its effective date; a new
contract stops a running transition, audited with who or what stopped it and when."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine

from sitekeeper.access.audit import acting_as
from sitekeeper.access.models import AuditEntry
from sitekeeper.backups import tasks, termination
from sitekeeper.backups.models import Repository, SiteBackup, Snapshot
from sitekeeper.backups.restic import Restic
from sitekeeper.contracts.models import Client, Contract, Plan, Site
from tests.backups.conftest import back_up

BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2026, 11, 10, 9, 0, tzinfo=dt.UTC)


def old_contract(client: Client, **extra) -> Contract:
    """A contract from 2025 the client cancelled: notice on 10 May 2025, effective at the end of 30 June."""
    values = {
        "client": client,
        "plan": Plan.objects.get(slug="starter"),
        "calendar": client.contracts.first().calendar,
        "start": dt.date(2025, 1, 1),
        "monthly_fee": Decimal("250.00"),
        "currency": "EUR",
        "notice_given_on": dt.date(2025, 5, 10),
        "status": Contract.Status.TERMINATED,
    }
    return Contract.objects.create(**{**values, **extra})


def new_contract(client: Client, status: str = Contract.Status.ACTIVE) -> Contract:
    return Contract(
        client=client,
        plan=Plan.objects.get(slug="business"),
        calendar=client.contracts.first().calendar,
        start=dt.date(2026, 12, 1),
        monthly_fee=Decimal("900.00"),
        currency="EUR",
        status=status,
    )


@pytest.fixture
def config(site: Site, local_repo: Repository) -> SiteBackup:
    return SiteBackup.objects.create(site=site, repository=local_repo)


def restic_ids(repo: Repository) -> set[str]:
    repo.refresh_from_db()
    with Restic(repo) as restic:
        return {snap["id"] for snap in restic.snapshots()}


@pytest.mark.slow
def test_a_returning_clients_snapshots_survive_31_days_of_housekeeping(backed_site, local_repo, acme) -> None:
    """End to end with the real restic: acme has an old, terminated contract and its current one; 31 days of
    the hourly housekeeping (run every 6 hours of travelled time) leave every snapshot where it was."""
    old_contract(acme)
    back_up(backed_site)
    before = restic_ids(local_repo)
    assert len(before) == 3

    with time_machine.travel(dt.datetime.now(dt.UTC), tick=False) as traveller:
        for _ in range(31 * 4 + 1):
            tasks.backup_housekeeping_hourly.call_local()
            traveller.shift(dt.timedelta(hours=6))

    local_repo.refresh_from_db()
    assert local_repo.status == Repository.Status.ACTIVE
    assert local_repo.download_until is None
    assert Path(local_repo.location).is_dir()
    assert restic_ids(local_repo) == before
    assert Snapshot.objects.filter(site=backed_site, forgotten_at=None).count() == 3
    assert SiteBackup.objects.get(site=backed_site).enabled is True


@pytest.mark.parametrize("status", ["draft", "active", "cancelling"])
def test_no_transition_while_a_contract_holds_the_backups(acme, config, status) -> None:
    """Draft, active, or under notice before its effective date: the old terminated contract starts nothing,
    and a person cannot start one by hand either."""
    old_contract(acme)
    current = acme.contracts.get(status="active")
    Contract.objects.filter(pk=current.pk).update(status=status, notice_given_on=dt.date(2026, 10, 22))

    with time_machine.travel(NOW, tick=False):
        tasks.backup_housekeeping_hourly.call_local()

    repo = Repository.objects.get(pk=config.repository_id)
    assert repo.status == Repository.Status.ACTIVE
    assert SiteBackup.objects.get(pk=config.pk).enabled is True
    with pytest.raises(termination.TerminationError, match="is current"):
        termination.start_transition(acme, now=NOW, user=None)


def test_a_cancelled_contracts_transition_starts_after_its_effective_date(acme, config) -> None:
    """Notice on 22 October 2026: effective at the end of 30 November (Berlin); the download window closes 30
    days after that, at midnight between 30 and 31 December, Berlin time."""
    contract = acme.contract
    contract.status = Contract.Status.CANCELLING
    contract.notice_given_on = dt.date(2026, 10, 22)
    contract.save()
    last_minute = dt.datetime(2026, 11, 30, 23, 59, tzinfo=BERLIN)

    assert termination.reconcile(last_minute) == ([], [])  # still in service
    started, _ = termination.reconcile(last_minute + dt.timedelta(minutes=1))

    assert [r.pk for r in started] == [config.repository_id]
    closes = dt.datetime(2026, 12, 31, 0, 0, tzinfo=BERLIN)
    assert started[0].download_until == closes
    assert (
        started[0].deletion_evidence["ended_contract"]
        == f"contract #{contract.pk} (Notice given, from 2026-01-01)"
    )
    assert SiteBackup.objects.get(pk=config.pk).enabled is False
    assert termination.finish_transitions(closes - dt.timedelta(minutes=1)) == []
    assert [r.pk for r in termination.finish_transitions(closes)] == [config.repository_id]


def test_a_new_contract_stops_a_running_transition_under_the_persons_name(acme, config, manager) -> None:
    Contract.objects.filter(client=acme).update(status=Contract.Status.TERMINATED)
    started, _ = termination.reconcile(NOW)
    assert [r.pk for r in started] == [config.repository_id]
    assert SiteBackup.objects.get(pk=config.pk).enabled is False

    with time_machine.travel(NOW + dt.timedelta(days=3), tick=False), acting_as(manager):
        contract = new_contract(acme)
        contract.save()

    repo = Repository.objects.get(pk=config.repository_id)
    assert repo.status == Repository.Status.ACTIVE
    assert repo.download_until is None
    [record] = repo.deletion_evidence["stopped_transitions"]
    assert record == {
        "started_at": NOW.isoformat(),
        "started_by": termination.SCHEDULER,
        "download_until": (NOW + dt.timedelta(days=30)).isoformat(),
        "stopped_at": (NOW + dt.timedelta(days=3)).isoformat(),
        "stopped_by": "manager",
        "contract": f"contract #{contract.pk} (Active, from 2026-12-01)",
    }
    entry = AuditEntry.objects.get(model="backups.Repository", action="update")
    assert entry.actor == manager
    assert entry.after["status"] == "active"
    assert SiteBackup.objects.get(pk=config.pk).enabled is True  # the backups it switched off run again
    assert termination.finish_transitions(NOW + dt.timedelta(days=40)) == []


def test_the_hourly_pass_stops_a_transition_for_a_contract_saved_without_signals(acme, config) -> None:
    """A contract written in bulk (no post_save): the next housekeeping stops the transition, audited under
    a label naming the contract."""
    Contract.objects.filter(client=acme).update(status=Contract.Status.TERMINATED)
    termination.reconcile(NOW)
    Contract.objects.bulk_create([new_contract(acme, Contract.Status.DRAFT)])
    draft = Contract.objects.get(client=acme, status="draft")

    started, stopped = termination.reconcile(NOW + dt.timedelta(hours=1))

    assert (started, [r.pk for r in stopped]) == ([], [config.repository_id])
    label = f"sitekeeper: new contract #{draft.pk} (Draft, from 2026-12-01)"
    repo = Repository.objects.get(pk=config.repository_id)
    assert repo.deletion_evidence["stopped_transitions"][0]["stopped_by"] == label
    entry = AuditEntry.objects.get(model="backups.Repository", action="update")
    assert (entry.actor, entry.actor_label) == (None, label)


def test_nothing_is_deleted_when_a_contract_appeared_after_the_last_pass(acme, config) -> None:
    """The deletion itself checks again: a transition whose window has passed is stopped, not finished, when
    a contract holds the client's backups by then."""
    Contract.objects.filter(client=acme).update(status=Contract.Status.TERMINATED)
    termination.reconcile(NOW)
    Contract.objects.bulk_create([new_contract(acme)])

    assert termination.finish_transitions(NOW + dt.timedelta(days=31)) == []

    repo = Repository.objects.get(pk=config.repository_id)
    assert repo.status == Repository.Status.ACTIVE
    assert repo.deleted_at is None
