"""The client portal's requests: filing (required fields, the agreement's priorities), the ticket page (public
timeline only, clocks in plain words, pauses), replies with files, priority proposals and scoped downloads.

Who may open which address is tests/web/test_persona_matrix.py's job; this file checks what the pages do.
acme is on the Business plan (P2 response: 8 business hours) with the Berlin office calendar (Mon-Fri
09:00-18:00); Berlin is UTC+1 in March 2026 until the 29th.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client as HttpClient

from sitekeeper.contracts.models import Contact
from sitekeeper.desk import attachments, services
from sitekeeper.desk.models import Channel, Message, Ticket
from sitekeeper.desk.presenters import PRIORITY_GUIDE
from tests.web.world import World, fast_passwords, world

__all__ = ["fast_passwords", "world"]

UTC = dt.UTC
MON_10 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # Monday 2 March 2026, 10:00 in Berlin
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def signed_in(user) -> HttpClient:
    http = HttpClient()
    http.force_login(user)
    return http


def request_data(world: World, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "type": "bug",
        "priority": "P2",
        "site": world.acme.sites.get().pk,
        "environment": "prod",
        "subject": "Newsletter sign-up fails",
        "description": "The sign-up box in the footer shows an error.",
        "steps": "1. Open the home page\n2. Enter an address\n3. Press Subscribe",
    }
    data.update(overrides)
    return data


def acme_ticket(world: World) -> Ticket:
    return Ticket.objects.get(pk=world.objects["ticket_pk"])


# The list --------------------------------------------------------------------------------------------


def test_the_list_holds_the_own_requests_with_their_clock_in_words(world: World):
    page = signed_in(world.users["member"]).get("/portal/requests/").text
    assert "Acme GmbH contact form does not send" in page
    assert "Globex" not in page
    assert "Response given" in page  # the engineer has replied
    assert 'href="/portal/requests/new/"' in page
    outsider = signed_in(world.users["outsider"]).get("/portal/requests/").text
    assert "Globex Inc invoice question" in outsider
    assert "Acme GmbH contact form" not in outsider


def test_the_list_shows_open_requests_by_default_and_all_on_request(world: World):
    ticket = acme_ticket(world)
    services.resolve(ticket, actor=world.users["engineer"], note="Relay fixed")
    http = signed_in(world.users["owner"])
    assert "Acme GmbH contact form" not in http.get("/portal/requests/").text
    everything = http.get("/portal/requests/?show=all").text
    assert "Acme GmbH contact form" in everything
    assert "Resolved" in everything


# Filing a request -----------------------------------------------------------------------------------


def test_the_form_shows_each_priority_with_the_agreements_definition_and_examples(world: World):
    page = signed_in(world.users["owner"]).get("/portal/requests/new/").text
    for definition, examples in PRIORITY_GUIDE.values():
        assert definition in page
        assert examples.replace(">", "&gt;") in page
    assert "we respond within 4 hours (24/7)" in page  # P1 on the Business plan
    assert "we respond within 8 business hours" in page  # P2
    for label in ("Incident", "Bug", "Change request", "Update", "Question"):
        assert label in page
    assert "Acme GmbH website" in page
    assert "Globex Inc website" not in page  # only the client's own sites


def test_filing_a_request_starts_its_clocks_and_records_who_asked(world: World):
    owner = world.users["owner"]
    owner.email = "owner@acme.test"  # the client's product-owner contact
    owner.save()
    http = signed_in(owner)
    with time_machine.travel(MON_10, tick=False):
        response = http.post(
            "/portal/requests/new/",
            {
                **request_data(world),
                "attachments": [
                    SimpleUploadedFile("shot.png", PNG, "image/png"),
                    SimpleUploadedFile("console.txt", b"TypeError: x is undefined\n", "text/plain"),
                ],
            },
        )
    ticket = Ticket.objects.get(subject="Newsletter sign-up fails")
    assert response.status_code == 302
    assert response.url == f"/portal/requests/{ticket.pk}/"
    assert (ticket.channel, ticket.priority, ticket.type, ticket.client) == (
        Channel.PORTAL,
        "P2",
        "bug",
        world.acme,
    )
    assert ticket.requester_user == owner
    assert ticket.requester == Contact.objects.get(client=world.acme, email="owner@acme.test")
    assert not ticket.incomplete
    assert sorted(a.filename for a in ticket.attachments.all()) == ["console.txt", "shot.png"]
    with time_machine.travel(MON_10 + dt.timedelta(hours=1), tick=False):
        page = http.get(response.url).text
    assert "Response due Mon 2 Mar 2026 18:00 CET" in page  # 8 business hours from 10:00
    assert "We received your request" in page  # the automatic acknowledgement


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"subject": ""}, "subject", "This field is required."),
        ({"description": ""}, "description", "This field is required."),
        ({"priority": ""}, "priority", "This field is required."),
        ({"environment": ""}, "environment", "This field is required."),
        ({"type": "incident", "steps": " "}, "steps", "Bugs and incidents need the steps"),
        ({"environment": "dev"}, "environment", "has no development environment"),
    ],
)
def test_a_request_without_what_it_needs_is_refused_with_the_reason(world, overrides, field, message):
    response = signed_in(world.users["owner"]).post("/portal/requests/new/", request_data(world, **overrides))
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert not Ticket.objects.filter(subject="Newsletter sign-up fails").exists()


def test_a_question_needs_no_steps(world: World):
    response = signed_in(world.users["member"]).post(
        "/portal/requests/new/", request_data(world, type="question", steps="")
    )
    assert response.status_code == 302


def test_another_clients_site_cannot_be_chosen(world: World):
    response = signed_in(world.users["owner"]).post(
        "/portal/requests/new/", request_data(world, site=world.globex.sites.get().pk)
    )
    assert response.status_code == 400
    assert "site" in response.context["form"].errors
    assert not Ticket.objects.filter(subject="Newsletter sign-up fails").exists()


def test_a_refused_attachment_is_explained_and_nothing_is_filed(world: World):
    stored_before = sorted(p.name for p in attachments.root().rglob("*") if p.is_file())
    response = signed_in(world.users["owner"]).post(
        "/portal/requests/new/",
        {
            **request_data(world),
            "attachments": [
                SimpleUploadedFile("fine.png", PNG, "image/png"),
                SimpleUploadedFile("tool.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\xff\xfe", "image/png"),
            ],
        },
    )
    assert response.status_code == 400
    assert "tool.exe: only images, PDF, ZIP and text files (logs) are accepted" in response.text
    assert not Ticket.objects.filter(subject="Newsletter sign-up fails").exists()
    # The file stored before the refused one is removed again with its row.
    assert sorted(p.name for p in attachments.root().rglob("*") if p.is_file()) == stored_before


# The ticket page ------------------------------------------------------------------------------------


def test_the_ticket_page_shows_the_public_timeline_and_never_internal_notes(world: World):
    ticket = acme_ticket(world)
    note = services.add_message(
        ticket,
        "Internal: do not tell the client yet.",
        channel="staff",
        author=world.users["engineer"],
        internal=True,
    )
    attachments.store(
        ticket, "secret-dump.txt", b"internal only\n", uploaded_by=world.users["engineer"], message=note
    )
    page = signed_in(world.users["member"]).get(f"/portal/requests/{ticket.pk}/").text
    assert "We are looking into it." in page
    assert "From sales@acme.test." in page
    assert "SMTP relay rejects" not in page
    assert "do not tell the client" not in page
    assert "secret-dump.txt" not in page
    assert "Assigned" not in page
    assert "min logged" not in page  # time entries are the agency's
    assert "acme-mail.log" in page
    assert "Which address did you send from?" in page  # the pause's note is for the client
    assert "waiting for your information" in page.lower()


def test_an_attachment_is_a_download_scoped_to_the_clients_own_request(world: World):
    ticket = acme_ticket(world)
    attachment_id = world.objects["attachment_id"]
    url = f"/portal/requests/{ticket.pk}/attachments/{attachment_id}/"
    response = signed_in(world.users["member"]).get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"Acme GmbH mail log (acme.test): 550 sender rejected\n"
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="acme-mail.log"'
    assert response["X-Content-Type-Options"] == "nosniff"
    # Through another request's address, or as another client: not found.
    globex_ticket = world.objects["globex_ticket_pk"]
    outsider = signed_in(world.users["outsider"])
    assert outsider.get(url).status_code == 404
    assert outsider.get(f"/portal/requests/{globex_ticket}/attachments/{attachment_id}/").status_code == 404


def test_a_file_attached_to_an_internal_note_is_not_downloadable_by_the_client(world: World):
    ticket = acme_ticket(world)
    note = services.add_message(
        ticket, "Dump", channel="staff", author=world.users["engineer"], internal=True
    )
    hidden = attachments.store(ticket, "db.txt", b"rows\n", uploaded_by=world.users["engineer"], message=note)
    response = signed_in(world.users["owner"]).get(f"/portal/requests/{ticket.pk}/attachments/{hidden.pk}/")
    assert response.status_code == 404


def test_a_reply_with_files_is_added_to_the_timeline(world: World):
    ticket = acme_ticket(world)
    http = signed_in(world.users["owner"])
    response = http.post(
        f"/portal/requests/{ticket.pk}/reply/",
        {
            "body": "Here is a screenshot.",
            "attachments": [SimpleUploadedFile("error.png", PNG, "image/png")],
        },
    )
    assert response.status_code == 302
    message = ticket.messages.latest("at")
    assert (message.body, message.kind, message.from_agency, message.author) == (
        "Here is a screenshot.",
        Message.Kind.REPLY,
        False,
        world.users["owner"],
    )
    assert [a.filename for a in message.attachments.all()] == ["error.png"]
    page = http.get(f"/portal/requests/{ticket.pk}/").text
    assert "Here is a screenshot." in page
    assert "error.png" in page


def test_a_reply_through_htmx_swaps_the_ticket_in_place(world: World):
    ticket = acme_ticket(world)
    response = signed_in(world.users["owner"]).post(
        f"/portal/requests/{ticket.pk}/reply/", {"body": "Any news?"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="ticket-body">')
    assert "Any news?" in response.text
    assert "<html" not in response.text


def test_an_empty_reply_is_refused(world: World):
    ticket = acme_ticket(world)
    response = signed_in(world.users["owner"]).post(f"/portal/requests/{ticket.pk}/reply/", {"body": ""})
    assert response.status_code == 400
    assert "This field is required." in response.text


def test_a_refused_file_in_a_reply_is_explained_and_the_reply_not_sent(world: World):
    ticket = acme_ticket(world)
    count = ticket.messages.count()
    response = signed_in(world.users["owner"]).post(
        f"/portal/requests/{ticket.pk}/reply/",
        {"body": "Binary", "attachments": [SimpleUploadedFile("x.bin", b"\x00\xff\xfe\x01" * 10)]},
    )
    assert response.status_code == 400
    assert "x.bin: only images" in response.text
    assert ticket.messages.count() == count


def test_the_client_proposes_a_priority_and_the_agency_confirms_it(world: World):
    ticket = acme_ticket(world)
    http = signed_in(world.users["owner"])
    response = http.post(
        f"/portal/requests/{ticket.pk}/priority/", {"priority": "P1", "why": "We lose leads"}
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert (ticket.priority, ticket.proposed_priority, ticket.priority_confirmed) == ("P2", "P1", False)
    page = http.get(f"/portal/requests/{ticket.pk}/").text
    assert "you proposed P1 — to be confirmed" in page
    assert "Priority P1 proposed" in page
    assert "We lose leads" in page
    refused = http.post(f"/portal/requests/{ticket.pk}/priority/", {"priority": "P1", "why": ""})
    assert refused.status_code == 400


def test_an_incomplete_request_can_be_completed_in_the_portal(world: World):
    ticket = services.file_request(
        world.acme, channel="email", subject="Site slow", description="Since this morning", requester=None
    )
    assert ticket.incomplete
    http = signed_in(world.users["member"])
    page = http.get(f"/portal/requests/{ticket.pk}/").text
    assert "Complete your request" in page
    assert "waiting for the missing details of your request" in page
    assert set(ticket.missing_fields) == {"type", "priority", "site", "environment"}
    url = f"/portal/requests/{ticket.pk}/complete/"
    data = {"type": "incident", "priority": "P2", "site": world.acme.sites.get().pk, "environment": "prod"}
    refused = http.post(url, data)  # an incident needs its steps, although they were not "missing" before
    assert refused.status_code == 400
    assert "Bugs and incidents need the steps" in refused.text
    response = http.post(url, {**data, "steps": "Open any page"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert not ticket.incomplete
    assert ticket.response_due is not None


# Clocks in plain words -----------------------------------------------------------------------------


def test_clock_words_through_a_pause_and_a_reply(world: World):
    """Filed Mon 10:00 (P2, 8 business hours); waiting for access 11:00-13:00; answered Mon 14:12."""
    owner, engineer = world.users["owner"], world.users["engineer"]
    ticket = services.file_request(
        world.acme,
        channel="portal",
        type="question",
        priority="P2",
        site=world.acme.sites.get(),
        environment="prod",
        subject="Staging login",
        description="Please give our agency access to staging.",
        requester_user=owner,
        received_at=MON_10,
    )
    services.set_state(
        ticket,
        "waiting_access",
        actor=engineer,
        note="Please send the staging password",
        at=MON_10 + dt.timedelta(hours=1),
    )
    http = signed_in(owner)
    url = f"/portal/requests/{ticket.pk}/"
    with time_machine.travel(MON_10 + dt.timedelta(hours=2), tick=False):
        page = http.get(url).text
    assert "Response clock paused since Mon 2 Mar 2026 11:00 CET (1 h) — waiting for your access" in page
    assert "Please send the staging password" in page
    services.set_state(ticket, "open", actor=engineer, at=MON_10 + dt.timedelta(hours=3))
    with time_machine.travel(MON_10 + dt.timedelta(hours=4), tick=False):
        page = http.get(url).text
    # 7 business hours were left at 11:00; from 13:00 that is 5 today and 2 on Tuesday.
    assert "Response due Tue 3 Mar 2026 11:00 CET, paused 2 h waiting for your access" in page
    services.add_message(
        ticket,
        "Got it, thanks.",
        channel="staff",
        author=engineer,
        at=MON_10 + dt.timedelta(hours=4, minutes=12),
    )
    with time_machine.travel(MON_10 + dt.timedelta(hours=5), tick=False):
        page = http.get(url).text
        listing = http.get("/portal/requests/").text
    assert "Response given Mon 2 Mar 2026 14:12 CET — on time" in page
    assert "Response given Mon 2 Mar 2026 14:12 CET" in listing


def test_clock_words_for_an_overdue_response(world: World):
    ticket = services.file_request(
        world.acme,
        channel="portal",
        type="question",
        priority="P2",
        site=world.acme.sites.get(),
        environment="prod",
        subject="Overdue question",
        description="Anyone there?",
        requester_user=world.users["owner"],
        received_at=MON_10,
    )
    http = signed_in(world.users["owner"])
    with time_machine.travel(MON_10 + dt.timedelta(days=1), tick=False):
        page = http.get(f"/portal/requests/{ticket.pk}/").text
        listing = http.get("/portal/requests/").text
    assert "Response overdue since Mon 2 Mar 2026 18:00 CET" in page
    assert "Response overdue since Mon 2 Mar 2026 18:00 CET" in listing
    assert "row-breach" in listing


# The SLA report ------------------------------------------------------------------------------------


def test_the_sla_report_shows_the_own_clients_month(world: World):
    month = world.objects["sla_month"]
    http = signed_in(world.users["member"])
    response = http.get(f"/portal/requests/sla/{month}/")
    assert response.status_code == 200
    page = response.text
    assert "Acme GmbH" in page
    assert "requests received" in page
    assert "Response" in page
    assert "Waiting for your information" in page  # the world's pause, in the client's words
    assert "Globex" not in page
    data = http.get(f"/portal/requests/sla/{month}/?format=json").json()
    assert data["client"] == "acme"
    assert data["received"] == 2  # the contact form bug and the security incident on the site
    assert data["by_priority"]["P2"] == 1
    assert data["by_priority"]["P1"] == 1
    outsider = signed_in(world.users["outsider"]).get(f"/portal/requests/sla/{month}/?format=json").json()
    assert outsider["client"] == "globex"


def test_a_month_that_does_not_exist_is_not_found(world: World):
    http = signed_in(world.users["owner"])
    assert http.get("/portal/requests/sla/2026-13/").status_code == 404
    assert http.get("/portal/requests/sla/2026-00/").status_code == 404
