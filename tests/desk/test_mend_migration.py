"""The data migration desk.0003 mends rows written before issue 12 (item 2): detected requests lose their
incomplete-request pause and client-proposed priority and get the detected acknowledgement; pauses left open
on resolved requests end at the resolution; the clock columns are recomputed as desk.clocks.recompute would.

The rows are broken by hand the way the old code left them, then the real migration runs (desk back to
0002, forward again).
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from sitekeeper.access.models import User
from sitekeeper.contracts.models import Client
from sitekeeper.desk import clocks, services
from sitekeeper.desk.models import Channel, Event, Message, Pause, PauseReason, Ticket

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)  # real migrations

UTC = dt.UTC
RECEIVED = dt.datetime(2026, 2, 10, 9, 0, tzinfo=UTC)  # Tue 10:00 in Berlin
COLUMNS = [f"{clock}_{part}" for clock in clocks.core_clocks.CLOCKS for part in ("due", "met_at")] + [
    "next_due_at",
    "next_check_at",
]


def migrate(target: str | None = None) -> None:
    """desk to `target`, or every app to its latest migration (the schema the models describe) when None.

    Taking desk back also unapplies the apps whose first migration depends on a later desk one (releases,
    security, health): "latest" brings them back too, or the next test in this worker meets dropped tables.
    """
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    if target is None:
        executor.migrate(executor.loader.graph.leaf_nodes())
        return
    executor.migrate([("desk", target)])


def as_the_old_code_filed_it(ticket: Ticket) -> None:
    """A detected request as it used to be: incomplete, paused, priority only proposed, asked for steps."""
    Ticket.objects.filter(pk=ticket.pk).update(
        incomplete=True, missing_fields=["steps"], proposed_priority=ticket.priority, priority_confirmed=False
    )
    Pause.objects.create(
        ticket=ticket, reason=PauseReason.INCOMPLETE, start=ticket.received_at, note="Missing"
    )
    Event.objects.create(
        ticket=ticket, kind="pause", at=ticket.received_at, data={"reason": "incomplete_request"}
    )
    Message.objects.filter(ticket=ticket, kind="auto").update(
        body=f"We received your request {ticket.reference}: {ticket.subject}. It is missing: steps. "
        "The SLA clocks are paused until you complete it."
    )
    clocks.recompute(Ticket.objects.get(pk=ticket.pk))


def left_running_after(ticket: Ticket) -> None:
    """Resolving used to end only the waiting-state pauses: the others ran on."""
    Pause.objects.filter(ticket=ticket).exclude(reason__in=["waiting_access", "waiting_information",
                         "waiting_approval", "third_party_outage"]).update(end=None)  # fmt: skip
    Event.objects.filter(ticket=ticket, kind="resume").delete()
    clocks.recompute(Ticket.objects.get(pk=ticket.pk))


def detected(client: Client, received: dt.datetime) -> Ticket:
    return services.file_request(
        client, channel=Channel.MONITOR, type="incident", priority="P1", site=client.sites.get(),
        environment="prod", subject="Acme GmbH website is down: HTTP 503", description="Checks failed.",
        received_at=received,
    )  # fmt: skip


def test_the_migration_mends_detected_requests_and_pauses_left_running(acme: Client, engineer: User) -> None:
    resolved_at = RECEIVED + dt.timedelta(hours=1)
    # 1. The demo's case: a detected P1, resolved 1 h later, its incomplete pause still running.
    outage = detected(acme, RECEIVED)
    as_the_old_code_filed_it(outage)
    services.resolve(Ticket.objects.get(pk=outage.pk), actor=engineer, at=resolved_at)
    left_running_after(outage)
    # 2. A detected P1 still open, paused for steps nobody will send.
    still_down = detected(acme, RECEIVED + dt.timedelta(days=1))
    as_the_old_code_filed_it(still_down)
    # 3. A client's incomplete e-mail request, resolved with its pause still running.
    mail = services.file_request(acme, channel=Channel.EMAIL, subject="broken??", received_at=RECEIVED)
    services.resolve(mail, actor=engineer, at=resolved_at)
    left_running_after(mail)
    assert Pause.objects.filter(end__isnull=True).count() == 3

    migrate("0002_after_hours_page")
    migrate("0003_mend_detected_requests_and_pauses")
    migrate()  # every app's latest migrations, so the models read the schema they describe

    for ticket in Ticket.objects.filter(pk__in=[outage.pk, still_down.pk]):
        assert (ticket.incomplete, ticket.missing_fields) == (False, [])
        assert (ticket.proposed_priority, ticket.priority_confirmed) == ("", True)
        assert not ticket.pauses.exists()
        assert not ticket.events.filter(kind="pause").exists()
        ack = ticket.messages.get(kind="auto").body
        assert ack == services.detected_acknowledgement(ticket)
        assert ack.startswith("sitekeeper detected: Acme GmbH website is down: HTTP 503 at ")
    mail = Ticket.objects.get(pk=mail.pk)
    assert mail.incomplete  # a client's request stays incomplete: only its pause ends
    assert list(mail.pauses.values_list("reason", "end")) == [(PauseReason.INCOMPLETE, resolved_at)]
    assert mail.events.filter(kind="resume", at=resolved_at, data__reason="incomplete_request").exists()
    assert not Pause.objects.filter(end__isnull=True).exists()

    # The derived clock columns are what desk.clocks.recompute computes from the mended history.
    for ticket in Ticket.objects.all():
        stored = {name: getattr(ticket, name) for name in COLUMNS}
        clocks.recompute(ticket, save=False)
        assert stored == {name: getattr(ticket, name) for name in COLUMNS}, ticket.reference
    still_down = Ticket.objects.get(pk=still_down.pk)
    assert still_down.response_due == still_down.received_at + dt.timedelta(hours=4)  # no longer paused
    assert still_down.next_due_at == still_down.response_due
