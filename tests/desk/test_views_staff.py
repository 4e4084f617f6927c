"""The console's service desk: the queue (order, colours, filters, bulk assign, a constant number of queries),
the ticket page (full timeline, the three clocks) and every action, as a plain POST and, for replies, htmx.

acme is on the Business plan (P1 response 4 h wall-clock, P2 8 business hours) with the Berlin office
calendar; its billing unit is 15 minutes.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext

from sitekeeper.desk import services
from sitekeeper.desk.models import Escalation, Event, Message, State, Ticket
from tests.web.world import SECURITY_SUBJECT, World, fast_passwords, world

__all__ = ["fast_passwords", "world"]

UTC = dt.UTC
MON_10 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # Monday 2 March 2026, 10:00 in Berlin
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def signed_in(user) -> HttpClient:
    http = HttpClient()
    http.force_login(user)
    return http


def acme_ticket(world: World) -> Ticket:
    return Ticket.objects.get(pk=world.objects["ticket_pk"])


def file(world: World, subject: str, priority: str = "P2", at: dt.datetime = MON_10, **fields) -> Ticket:
    values = {
        "type": "incident",
        "priority": priority,
        "site": world.acme.sites.get(),
        "environment": "prod",
        "subject": subject,
        "description": "Broken.",
        "steps": "Open it.",
        "requester_user": world.users["owner"],
        "received_at": at,
        **fields,
    }
    return services.file_request(world.acme, channel="portal", **values)


# The queue -------------------------------------------------------------------------------------------


def queue_subjects(page: str, *subjects: str) -> list[str]:
    return sorted((s for s in subjects if s in page), key=page.index)


def test_the_queue_puts_the_nearest_due_first_and_colours_breaches(world: World):
    engineer = world.users["engineer"]
    p2 = file(world, "P2 since Monday")  # due Mon 18:00 Berlin
    p1 = file(world, "P1 since Monday", "P1")  # due Mon 14:00 (4 h wall-clock)
    later = file(world, "P2 Tuesday", at=MON_10 + dt.timedelta(days=1))  # due Tue 18:00
    paused = file(world, "Waiting for access")
    services.set_state(paused, State.WAITING_ACCESS, actor=engineer, note="Password?", at=MON_10)
    done = file(world, "Already resolved")
    services.resolve(done, actor=engineer, at=MON_10 + dt.timedelta(minutes=5))
    http = signed_in(engineer)
    with time_machine.travel(MON_10 + dt.timedelta(hours=5), tick=False):  # Mon 15:00 Berlin
        response = http.get("/staff/desk/")
    page = response.text
    subjects = ("P1 since Monday", "P2 since Monday", "P2 Tuesday", "Waiting for access", "Already resolved")
    # Paused requests have no due instant: last. Resolved ones are not in the open queue.
    assert queue_subjects(page, *subjects) == list(subjects[:4])
    rows = {t.pk: t for t, _s, _l in response.context["rows"]}
    statuses = {rows[t.pk].subject: s.status for t, s, _l in response.context["rows"] if t.pk in rows}
    assert statuses["P1 since Monday"] == "breached"
    assert statuses["P2 since Monday"] == "running"
    assert statuses["Waiting for access"] == "paused"
    assert "row-breach" in page
    assert "1 h overdue" in page  # P1 was due at 14:00
    assert "in 3 h" in page  # P2 is due at 18:00
    assert {p1.pk, p2.pk, later.pk, paused.pk} <= set(rows)
    everything = http.get("/staff/desk/?show=all").text
    assert "Already resolved" in everything


def test_a_warning_shows_once_three_quarters_of_the_target_are_used(world: World):
    ticket = file(world, "Warn me", "P1")  # 4 h: warning at 3 h (13:00 Berlin), due 14:00
    http = signed_in(world.users["engineer"])
    with time_machine.travel(MON_10 + dt.timedelta(hours=3, minutes=10), tick=False):
        response = http.get("/staff/desk/")
    summary = next(s for t, s, _l in response.context["rows"] if t.pk == ticket.pk)
    assert summary.status == "warning"
    assert "row-warn" in response.text
    # Once the escalation loop has sent the warning, the sent notice keeps the colour.
    ticket.refresh_from_db()
    Escalation.objects.create(
        ticket=ticket,
        clock="response",
        kind="warning",
        due=ticket.response_due,
        at=MON_10 + dt.timedelta(hours=3),
    )
    Ticket.objects.filter(pk=ticket.pk).update(next_check_at=ticket.response_due)
    with time_machine.travel(MON_10 + dt.timedelta(hours=3, minutes=10), tick=False):
        response = http.get("/staff/desk/")
    summary = next(s for t, s, _l in response.context["rows"] if t.pk == ticket.pk)
    assert summary.status == "warning"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("client=globex", {"Globex Inc invoice question"}),
        ("priority=P1", {"Urgent one", SECURITY_SUBJECT}),
        ("type=question", {"Globex Inc invoice question"}),
        ("state=waiting_information", set()),
        (
            "assignee=none",
            {
                "Globex Inc invoice question",
                "Urgent one",
                "Acme GmbH contact form does not send",
                SECURITY_SUBJECT,
            },
        ),
        ("assignee=me", set()),
    ],
)
def test_the_queue_filters(world: World, query: str, expected: set[str]):
    file(world, "Urgent one", "P1")
    response = signed_in(world.users["manager"]).get(f"/staff/desk/?{query}")
    assert {t.subject for t, _s, _l in response.context["rows"]} == expected


def test_the_queue_filters_by_assignee(world: World):
    engineer = world.users["engineer"]
    services.assign([acme_ticket(world)], engineer, actor=engineer)
    http = signed_in(engineer)
    mine = http.get("/staff/desk/?assignee=me").context["rows"]
    assert [t.subject for t, _s, _l in mine] == ["Acme GmbH contact form does not send"]
    by_id = http.get(f"/staff/desk/?assignee={engineer.pk}").context["rows"]
    assert [t.pk for t, _s, _l in by_id] == [t.pk for t, _s, _l in mine]


def test_the_queue_pages_by_50_with_a_constant_number_of_queries(world: World):
    ticket = acme_ticket(world)
    # Copies of one request, so the page has many rows without filing each one through the services.
    copies = []
    for n in range(120):
        copy = Ticket.objects.get(pk=ticket.pk)
        copy.pk, copy.token = None, f"copy{n:05d}"
        copy.subject = f"Copy {n}"
        copies.append(copy)
    Ticket.objects.bulk_create(copies)
    http = signed_in(world.users["engineer"])
    http.get("/staff/desk/")  # warm up: session, user
    with CaptureQueriesContext(connection) as first:
        response = http.get("/staff/desk/")
    assert len(response.context["rows"]) == 50
    with CaptureQueriesContext(connection) as third:
        page3 = http.get("/staff/desk/?page=3")
    assert len(page3.context["rows"]) == 123 - 100  # the world's 3 requests (one a security incident) + 120
    # 11: one of them is django-otp loading the session's verified second factor.
    assert len(first.captured_queries) == len(third.captured_queries) <= 11
    assert "Page 1 of 3" in response.text


def test_bulk_assign(world: World):
    engineer = world.users["engineer"]
    other = file(world, "Second one")
    http = signed_in(world.users["manager"])
    response = http.post(
        "/staff/desk/assign/",
        {
            "tickets": [acme_ticket(world).pk, other.pk],
            "assignee": engineer.pk,
            "next": "/staff/desk/?priority=P2",
        },
    )
    assert response.status_code == 302
    assert response.url == "/staff/desk/?priority=P2"
    assert set(Ticket.objects.filter(assignee=engineer).values_list("pk", flat=True)) == {
        acme_ticket(world).pk,
        other.pk,
    }
    assert Event.objects.filter(kind=Event.Kind.ASSIGN, public=False).count() == 2
    page = http.get(response.url).text
    assert "2 requests assigned to engineer." in page
    refused = http.post("/staff/desk/assign/", {"assignee": engineer.pk, "next": "https://evil.test/"})
    assert refused.url == "/staff/desk/"
    client_person = http.post(
        "/staff/desk/assign/", {"tickets": [other.pk], "assignee": world.users["owner"].pk}
    )
    assert client_person.status_code == 302
    other.refresh_from_db()
    assert other.assignee == engineer  # a client person is not a choice


# The ticket page ------------------------------------------------------------------------------------


def test_the_ticket_page_shows_the_full_timeline_and_the_three_clocks(world: World):
    ticket = acme_ticket(world)
    page = signed_in(world.users["engineer"]).get(f"/staff/desk/{ticket.pk}/").text
    for text in (
        "We are looking into it.",
        "Internal: SMTP relay rejects the sender.",
        "Internal note",
        "From sales@acme.test.",
        "Clocks paused — waiting for client information",
        "Which address did you send from?",
        "20 min",  # worked
        "30 min",  # billed: rounded up to the 15-minute unit
        "Escalations sent",
        "acme-mail.log",
        "First response given",
        "8 business hours",  # the P2 response target
        "Response given",
    ):
        assert text in page, text


def test_a_reply_through_htmx_and_an_internal_note_with_a_file(world: World):
    ticket = file(world, "Fresh incident")
    http = signed_in(world.users["engineer"])
    response = http.post(
        f"/staff/desk/{ticket.pk}/reply/",
        {"body": "Rolled back, looking further."},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="ticket-body">')
    assert "Reply sent to the client." in response.text
    ticket.refresh_from_db()
    assert ticket.first_response_at is not None
    assert ticket.state == State.OPEN
    note = http.post(
        f"/staff/desk/{ticket.pk}/reply/",
        {
            "body": "Core dump attached.",
            "internal": "on",
            "attachments": [SimpleUploadedFile("dump.png", PNG)],
        },
    )
    assert note.status_code == 302
    message = ticket.messages.latest("at")
    assert message.kind == Message.Kind.NOTE
    assert [a.filename for a in message.attachments.all()] == ["dump.png"]
    attachment = message.attachments.get()
    download = http.get(f"/staff/desk/{ticket.pk}/attachments/{attachment.pk}/")
    assert download.status_code == 200
    assert download["Content-Type"] == "image/png"
    assert download["X-Content-Type-Options"] == "nosniff"
    assert download["Content-Disposition"].startswith("attachment;")
    # The client sees neither the note nor its file.
    portal = signed_in(world.users["owner"]).get(f"/portal/requests/{ticket.pk}/").text
    assert "Core dump attached." not in portal
    assert "dump.png" not in portal


def test_an_empty_reply_shows_the_error_in_place(world: World):
    ticket = acme_ticket(world)
    http = signed_in(world.users["engineer"])
    response = http.post(f"/staff/desk/{ticket.pk}/reply/", {"body": ""})
    assert response.status_code == 400
    assert "This field is required." in response.text
    swapped = http.post(f"/staff/desk/{ticket.pk}/reply/", {"body": ""}, headers={"HX-Request": "true"})
    assert swapped.status_code == 200  # htmx swaps only 2xx: the form comes back with its error
    assert "This field is required." in swapped.text


def test_waiting_for_the_client_needs_a_note_the_client_sees(world: World):
    ticket = file(world, "Need access")
    http = signed_in(world.users["engineer"])
    refused = http.post(f"/staff/desk/{ticket.pk}/state/", {"state": "waiting_access", "note": ""})
    assert refused.status_code == 400
    assert "Tell the client what the request is waiting for." in refused.text
    done = http.post(
        f"/staff/desk/{ticket.pk}/state/", {"state": "waiting_access", "note": "SFTP password please"}
    )
    assert done.status_code == 302
    ticket.refresh_from_db()
    assert ticket.state == State.WAITING_ACCESS
    assert ticket.pauses.get(end__isnull=True).note == "SFTP password please"
    portal = signed_in(world.users["owner"]).get(f"/portal/requests/{ticket.pk}/").text
    assert "SFTP password please" in portal
    assert "waiting for your access" in portal


def test_third_party_outage_and_back(world: World):
    ticket = file(world, "Payment provider down")
    http = signed_in(world.users["engineer"])
    http.post(f"/staff/desk/{ticket.pk}/state/", {"state": "third_party_outage", "note": "Stripe incident"})
    http.post(f"/staff/desk/{ticket.pk}/state/", {"state": "open", "note": ""})
    ticket.refresh_from_db()
    assert ticket.state == State.OPEN
    assert [p.reason for p in ticket.pauses.all()] == ["third_party_outage"]
    assert ticket.pauses.get().end is not None


def test_confirming_the_clients_priority_recomputes_the_clocks(world: World):
    ticket = file(world, "Checkout broken", "P3")
    services.change_priority(ticket, "P1", actor=world.users["owner"], why="No orders since 9:00")
    http = signed_in(world.users["engineer"])
    page = http.get(f"/staff/desk/{ticket.pk}/").text
    assert "The client proposed" in page
    assert "Confirm priority" in page
    before = Ticket.objects.get(pk=ticket.pk).response_due
    refused = http.post(f"/staff/desk/{ticket.pk}/priority/", {"priority": "P1", "why": ""})
    assert refused.status_code == 400
    response = http.post(
        f"/staff/desk/{ticket.pk}/priority/", {"priority": "P1", "why": "Confirmed: checkout"}
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.priority_confirmed) == ("P1", True)
    assert ticket.response_due == MON_10 + dt.timedelta(hours=4) < before
    assert "Priority changed P3 → P1" in http.get(f"/staff/desk/{ticket.pk}/").text


def test_function_restored_resolve_and_reopen(world: World):
    ticket = file(world, "Site down")
    http = signed_in(world.users["engineer"])
    assert (
        http.post(f"/staff/desk/{ticket.pk}/recovered/", {"recovered-note": "Rolled back"}).status_code == 302
    )
    ticket.refresh_from_db()
    assert ticket.recovered_at is not None
    assert http.post(f"/staff/desk/{ticket.pk}/resolve/", {"resolve-note": "Plugin fixed"}).status_code == 302
    ticket.refresh_from_db()
    assert ticket.state == State.RESOLVED
    refused = http.post(f"/staff/desk/{ticket.pk}/reopen/", {"why": ""})
    assert refused.status_code == 400
    assert http.post(f"/staff/desk/{ticket.pk}/reopen/", {"why": "Back again"}).status_code == 302
    ticket.refresh_from_db()
    assert ticket.state == State.OPEN
    page = http.get(f"/staff/desk/{ticket.pk}/").text
    for text in ("Function restored", "Rolled back", "Plugin fixed", "Reopened", "Back again"):
        assert text in page


def test_function_restored_is_for_incidents_only(world: World):
    ticket = acme_ticket(world)  # a bug
    response = signed_in(world.users["engineer"]).post(f"/staff/desk/{ticket.pk}/recovered/", {})
    assert response.status_code == 400
    assert "only incidents have a recovery clock" in response.text


def test_reopening_an_open_request_is_refused_with_the_reason(world: World):
    ticket = acme_ticket(world)
    response = signed_in(world.users["engineer"]).post(f"/staff/desk/{ticket.pk}/reopen/", {"why": "test"})
    assert response.status_code == 400
    assert "only a resolved or closed request can be reopened" in response.text


def test_assign_and_unassign(world: World):
    ticket = acme_ticket(world)
    http = signed_in(world.users["manager"])
    http.post(f"/staff/desk/{ticket.pk}/assign/", {"assignee": world.users["engineer"].pk})
    ticket.refresh_from_db()
    assert ticket.assignee == world.users["engineer"]
    http.post(f"/staff/desk/{ticket.pk}/assign/", {"assignee": ""})
    ticket.refresh_from_db()
    assert ticket.assignee is None


def test_reclassify_with_the_checklist(world: World):
    ticket = acme_ticket(world)
    http = signed_in(world.users["engineer"])
    page = http.get(f"/staff/desk/{ticket.pk}/").text
    for question in services.CLASSIFICATION_QUESTIONS.values():
        assert question in page
    refused = http.post(f"/staff/desk/{ticket.pk}/reclassify/", {"type": "change_request", "why": ""})
    assert refused.status_code == 400
    response = http.post(
        f"/staff/desk/{ticket.pk}/reclassify/",
        {
            "type": "change_request",
            "why": "Never specified: a new recipient",
            "q_specified": "no",
            "q_accepted": "no",
            "q_worked_before": "no",
            "q_external_change": "unknown",
            "q_initiated_by": "client",
        },
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.type == "change_request"
    assert ticket.classification["specified"] == "no"
    assert ticket.classification["initiated_by"] == "client"
    assert ticket.classification["by"] == "engineer"
    page = http.get(f"/staff/desk/{ticket.pk}/").text
    assert "Reclassified Bug → Change request" in page
    assert "Never specified: a new recipient" in page


def test_log_time_rounds_to_the_contracts_unit(world: World):
    ticket = acme_ticket(world)
    http = signed_in(world.users["engineer"])
    response = http.post(
        f"/staff/desk/{ticket.pk}/time/", {"minutes": 7, "billable": "1", "day": "2026-03-02", "note": "Call"}
    )
    assert response.status_code == 302
    entry = ticket.time_entries.latest("id")
    assert (entry.minutes, entry.billed_minutes, entry.billable, str(entry.day)) == (
        7,
        15,
        True,
        "2026-03-02",
    )
    page = http.get(f"/staff/desk/{ticket.pk}/").text
    assert "7 min logged, billed as 15 min (billable)." in page
    assert "Billed in units of 15 min" in page
    refused = http.post(
        f"/staff/desk/{ticket.pk}/time/", {"minutes": 0, "billable": "0", "day": "2026-03-02"}
    )
    assert refused.status_code == 400


def test_a_missing_ticket_is_a_404(world: World):
    http = signed_in(world.users["engineer"])
    assert http.get("/staff/desk/999999/").status_code == 404
    assert http.post("/staff/desk/999999/resolve/", {}).status_code == 404


def test_the_sla_report_per_client_and_month(world: World):
    month = world.objects["sla_month"]
    http = signed_in(world.users["manager"])
    page = http.get(f"/staff/desk/sla/acme/{month}/").text
    assert "SLA report" in page
    assert "Acme GmbH" in page
    assert "Waiting for client information" in page
    assert http.get(f"/staff/desk/sla/globex/{month}/?format=json").json()["client"] == "globex"
    assert http.get(f"/staff/desk/sla/nobody/{month}/").status_code == 404
    queue = http.get("/staff/desk/?client=acme").text
    assert 'href="/staff/desk/sla/acme/' in queue


# Django admin ---------------------------------------------------------------------------------------


def test_the_admin_shows_the_desk_and_edits_only_a_tickets_wording(world: World):
    ticket = acme_ticket(world)
    http = signed_in(world.users["admin"])
    page = http.get(f"/admin/desk/ticket/{ticket.pk}/change/").text
    assert "Acme GmbH website" in page
    assert "Globex Inc website" not in page  # the site choice is the ticket's own client's
    assert 'name="priority"' not in page  # what moves a clock goes through the services
    data = {
        "subject": "Contact form: no e-mail arrives",
        "description": ticket.description,
        "steps": ticket.steps,
        "site": ticket.site_id,
        "environment": "prod",
        "pauses-TOTAL_FORMS": "0",
        "pauses-INITIAL_FORMS": "0",
        "messages-TOTAL_FORMS": "0",
        "messages-INITIAL_FORMS": "0",
    }
    response = http.post(f"/admin/desk/ticket/{ticket.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    ticket.refresh_from_db()
    assert ticket.subject == "Contact form: no e-mail arrives"
    event = ticket.events.first()
    read_only = http.get(f"/admin/desk/event/{event.pk}/change/").text
    assert 'name="_save"' not in read_only
    assert http.get("/admin/desk/escalation/add/").status_code == 403
