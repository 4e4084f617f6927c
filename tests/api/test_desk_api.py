"""REST API /api/v1/tickets: scoping, required fields, clocks, messages, states and attachments."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client as HttpClient

from sitekeeper.access.models import ApiToken
from sitekeeper.desk import services
from sitekeeper.desk.attachments import store
from sitekeeper.desk.models import Message, Ticket
from sitekeeper.notify.models import Delivery
from tests.web.world import PERSONAS, World

UTC = dt.UTC
# Tuesday 3 March 2026, 10:00 in Berlin (09:00 UTC): inside business hours 09:00–18:00.
TUESDAY_10 = dt.datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def people(request, fast_passwords, acme, globex) -> World:
    """The personas with API tokens, and no requests yet (the shared `world` brings its own)."""
    users = {name: request.getfixturevalue(name) for name in PERSONAS if name != "anonymous"}
    keys = {name: ApiToken.issue(user, f"{name}'s script")[1] for name, user in users.items()}
    return World(acme=acme, globex=globex, users=users, keys=keys)


def api(people: World, persona: str) -> HttpClient:
    return HttpClient(headers={"authorization": f"Bearer {people.keys[persona]}"})


def complete(people: World, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "type": "change_request",
        "priority": "P2",
        "site": people.acme.sites.get().pk,
        "environment": "prod",
        "subject": "New banner on the home page",
        "description": "Please replace the spring banner with the summer one.",
    }
    body.update(overrides)
    return body


def post(http: HttpClient, url: str, body: dict[str, object]):
    return http.post(url, body, content_type="application/json")


def filed(people: World, client_slug: str = "acme", **values: object) -> Ticket:
    client = people.acme if client_slug == "acme" else people.globex
    defaults: dict[str, object] = {
        "type": "question",
        "priority": "P3",
        "site": client.sites.get(),
        "environment": "prod",
        "description": "How do I change my password?",
    }
    defaults.update(values)
    return services.file_request(client, channel="portal", subject=f"{client_slug} question", **defaults)


def test_a_token_is_needed(people: World):
    assert HttpClient().get("/api/v1/tickets").status_code == 401
    assert post(HttpClient(), "/api/v1/tickets", complete(people)).status_code == 401


def test_client_people_list_only_their_clients_requests(people: World):
    mine, theirs = filed(people, "acme"), filed(people, "globex")
    for persona in ("owner", "member"):
        assert [t["id"] for t in api(people, persona).get("/api/v1/tickets").json()] == [mine.pk]
    assert [t["id"] for t in api(people, "outsider").get("/api/v1/tickets").json()] == [theirs.pk]
    assert {t["id"] for t in api(people, "engineer").get("/api/v1/tickets").json()} == {mine.pk, theirs.pk}


def test_list_filters(people: World):
    p1 = filed(people, "acme", priority="P1", type="incident", steps="open the page")
    p3 = filed(people, "acme")
    services.set_state(p3, "waiting_information", actor=people.users["engineer"], note="Which browser?")
    filed(people, "globex")
    http = api(people, "engineer")
    assert [t["id"] for t in http.get("/api/v1/tickets?priority=P1").json()] == [p1.pk]
    assert [t["id"] for t in http.get("/api/v1/tickets?state=waiting_information").json()] == [p3.pk]
    assert {t["id"] for t in http.get("/api/v1/tickets?client=acme").json()} == {p1.pk, p3.pk}
    # A client filtering on another client finds nothing rather than an error that confirms it exists.
    assert api(people, "owner").get("/api/v1/tickets?client=globex").json() == []
    assert http.get("/api/v1/tickets?priority=P9").status_code == 422
    newest = http.get("/api/v1/tickets?limit=1").json()
    assert len(newest) == 1
    assert len(http.get("/api/v1/tickets?limit=2&offset=2").json()) == 1
    assert http.get("/api/v1/tickets?limit=0").status_code == 422


def test_a_client_files_a_complete_request_and_its_clocks_run(people: World):
    with time_machine.travel(TUESDAY_10, tick=False):
        response = post(api(people, "owner"), "/api/v1/tickets", complete(people))
        assert response.status_code == 201, response.content
        data = response.json()
    ticket = Ticket.objects.get(pk=data["id"])
    assert ticket.client == people.acme
    assert ticket.channel == "api"
    assert ticket.requester_user == people.users["owner"]
    assert data["reference"] == f"SK-{ticket.pk:05d}"
    assert data["incomplete"] is False
    assert data["missing_fields"] == []
    # Business plan, P2: 8 business hours. Tuesday 10:00 + 8 h of 09:00–18:00 → Tuesday 18:00 Berlin.
    assert data["clocks"]["response"] == {
        "target": "8bh",
        "due": "2026-03-03T17:00:00Z",
        "met": None,
        "status": "running",
    }
    assert data["response_due"] == "2026-03-03T17:00:00Z"
    assert data["clocks"]["recovery"]["status"] == "none"  # not an incident
    assert [e["kind"] for e in data["events"]] == ["received"]
    assert data["messages"][0]["kind"] == "auto"  # the acknowledgement, which is not a response


def test_the_clocks_of_an_api_request_follow_its_history(people: World):
    with time_machine.travel(TUESDAY_10, tick=False):
        created = post(api(people, "member"), "/api/v1/tickets", complete(people)).json()
    url = f"/api/v1/tickets/{created['id']}"
    engineer = api(people, "engineer")
    # Waiting for the client one hour in: paused; the client's answer 2 hours later resumes the clock.
    with time_machine.travel(TUESDAY_10 + dt.timedelta(hours=1), tick=False):
        paused = post(engineer, f"{url}/state", {"state": "waiting_information", "note": "Which banner?"})
        assert paused.status_code == 200, paused.content
        assert paused.json()["clocks"]["response"]["status"] == "paused"
    with time_machine.travel(TUESDAY_10 + dt.timedelta(hours=3), tick=False):
        assert post(api(people, "member"), f"{url}/messages", {"body": "The summer one."}).status_code == 201
        data = api(people, "member").get(url).json()
    assert data["state"] == "open"
    # Two paused business hours push the due instant from Tuesday 18:00 to Wednesday 11:00 Berlin.
    assert data["clocks"]["response"]["due"] == "2026-03-04T10:00:00Z"
    with time_machine.travel(TUESDAY_10 + dt.timedelta(hours=4), tick=False):
        assert post(engineer, f"{url}/messages", {"body": "Done, please check."}).status_code == 201
        data = engineer.get(url).json()
    assert data["clocks"]["response"]["met"] == "2026-03-03T13:00:00Z"
    assert data["clocks"]["response"]["status"] == "met"


def test_required_fields_are_enforced_with_their_names(people: World):
    body = {"subject": "Site is slow", "type": "bug", "description": "Very slow since Monday."}
    response = post(api(people, "owner"), "/api/v1/tickets", body)
    assert response.status_code == 422
    assert response.json()["missing"] == ["priority", "site", "environment", "steps"]
    assert "priority, site, environment, steps" in response.json()["detail"]
    assert not Ticket.objects.exists()


def test_invalid_values_are_422(people: World):
    http = api(people, "owner")
    assert post(http, "/api/v1/tickets", complete(people, priority="P7")).status_code == 422
    assert post(http, "/api/v1/tickets", complete(people, environment="qa")).status_code == 422
    globex_site = people.globex.sites.get().pk
    response = post(http, "/api/v1/tickets", complete(people, site=globex_site))
    assert response.status_code == 422
    assert not Ticket.objects.exists()


def test_agency_staff_must_name_the_client(people: World):
    http = api(people, "engineer")
    response = post(http, "/api/v1/tickets", complete(people))
    assert response.status_code == 422
    assert response.json()["missing"] == ["client"]
    created = post(http, "/api/v1/tickets", complete(people, client="acme"))
    assert created.status_code == 201
    assert created.json()["client"] == "acme"
    ticket = Ticket.objects.get()
    assert ticket.priority_confirmed  # the agency's own priority needs no confirmation
    assert post(http, "/api/v1/tickets", complete(people, client="nobody")).status_code == 404


def test_a_client_cannot_file_for_another_client(people: World):
    response = post(api(people, "outsider"), "/api/v1/tickets", complete(people, client="acme"))
    assert response.status_code == 404
    assert not Ticket.objects.exists()
    # Naming their own client is fine.
    body = complete(people, client="globex", site=people.globex.sites.get().pk)
    assert post(api(people, "outsider"), "/api/v1/tickets", body).status_code == 201


def test_another_clients_request_is_a_404_everywhere(people: World):
    ticket = filed(people, "acme")
    attachment = store(ticket, "shot.png", PNG)
    http = api(people, "outsider")
    base = f"/api/v1/tickets/{ticket.pk}"
    for url in (base, f"{base}/messages", f"{base}/attachments/{attachment.pk}"):
        response = http.get(url)
        assert response.status_code == 404, url
        assert "acme" not in response.text.lower()
    assert post(http, f"{base}/messages", {"body": "hi"}).status_code == 404
    assert post(http, f"{base}/state", {"state": "closed"}).status_code == 404
    assert http.get("/api/v1/tickets/999999").status_code == 404
    assert ticket.messages.count() == 1  # only the acknowledgement


def test_internal_notes_and_private_events_are_for_the_agency_only(people: World):
    ticket = filed(people, "acme")
    engineer = people.users["engineer"]
    services.add_message(ticket, "Customer is on PHP 7.4", channel="staff", author=engineer, internal=True)
    services.assign([ticket], engineer, actor=engineer)
    url = f"/api/v1/tickets/{ticket.pk}"
    staff_view = api(people, "engineer").get(url).json()
    client_view = api(people, "owner").get(url).json()
    assert any(m["internal"] for m in staff_view["messages"])
    assert not any(m["internal"] for m in client_view["messages"])
    assert "PHP 7.4" not in str(client_view)
    assert {"assign"} <= {e["kind"] for e in staff_view["events"]}
    assert all(e["public"] for e in client_view["events"])
    assert api(people, "owner").get(f"{url}/messages").json() == client_view["messages"]


def test_replies_and_notes(people: World):
    ticket = filed(people, "acme")
    url = f"/api/v1/tickets/{ticket.pk}/messages"
    owner = api(people, "owner")
    reply = post(owner, url, {"body": "Any news?"})
    assert reply.status_code == 201
    assert reply.json()["from_agency"] is False
    assert post(owner, url, {"body": "secret", "internal": True}).status_code == 403
    note = post(api(people, "engineer"), url, {"body": "Check the logs first", "internal": True})
    assert note.status_code == 201
    assert note.json()["internal"] is True
    assert post(owner, url, {"body": ""}).status_code == 422
    assert [m["body"] for m in owner.get(url).json()][-1] == "Any news?"
    ticket.refresh_from_db()
    assert ticket.first_response_at is None  # an internal note is not a response


def test_a_staff_reply_is_mailed_to_the_requester(people: World):
    ticket = filed(people, "acme", requester=people.acme.contacts.get(role="product_owner"))
    response = post(api(people, "engineer"), f"/api/v1/tickets/{ticket.pk}/messages", {"body": "On it."})
    assert response.status_code == 201
    delivery = Delivery.objects.get(key=f"ticket:{ticket.pk}:reply:{response.json()['id']}")
    assert delivery.target == "owner@acme.test"
    assert delivery.message["subject"] == f"[{ticket.reference} #{ticket.token}] {ticket.subject}"
    assert "On it." in delivery.message["text"]
    assert ticket.token in delivery.message["headers"]["Message-ID"]
    assert (
        Message.objects.get(pk=response.json()["id"]).email_message_id
        == delivery.message["headers"]["Message-ID"]
    )
    # An internal note is never mailed.
    post(api(people, "engineer"), f"/api/v1/tickets/{ticket.pk}/messages", {"body": "x", "internal": True})
    assert not Delivery.objects.filter(key__contains=":reply:").exclude(pk=delivery.pk).exists()


def test_only_agency_staff_change_states(people: World):
    ticket = filed(people, "acme")
    url = f"/api/v1/tickets/{ticket.pk}/state"
    response = post(api(people, "owner"), url, {"state": "resolved"})
    assert response.status_code == 403
    ticket.refresh_from_db()
    assert ticket.state == "new"
    engineer = api(people, "engineer")
    assert post(engineer, url, {"state": "sleeping"}).status_code == 422
    resolved = post(engineer, url, {"state": "resolved", "note": "Password reset link sent"})
    assert resolved.status_code == 200
    assert resolved.json()["state"] == "resolved"
    assert resolved.json()["clocks"]["response"]["met"] is not None  # resolving answers too


def test_attachments_download_scoped(people: World):
    ticket = filed(people, "acme")
    public = store(ticket, "screen shot ü.png", PNG)
    engineer = people.users["engineer"]
    note = services.add_message(ticket, "server log", channel="staff", author=engineer, internal=True)
    private = store(ticket, "server.log", b"PHP Fatal error\n", message=note)
    base = f"/api/v1/tickets/{ticket.pk}/attachments"
    response = api(people, "member").get(f"{base}/{public.pk}")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert api(people, "member").get(f"{base}/{private.pk}").status_code == 404
    staff = api(people, "engineer").get(f"{base}/{private.pk}")
    assert staff.status_code == 200
    assert staff["Content-Type"] == "text/plain; charset=utf-8"
    listed = api(people, "member").get(f"/api/v1/tickets/{ticket.pk}").json()["attachments"]
    assert [a["id"] for a in listed] == [public.pk]
    assert listed[0]["url"] == f"{base}/{public.pk}"
    # An attachment id of another ticket is not reachable through this one.
    other = filed(people, "acme")
    assert api(people, "member").get(f"/api/v1/tickets/{other.pk}/attachments/{public.pk}").status_code == 404


def test_openapi_documents_the_ticket_routes(people: World):
    paths = HttpClient().get("/api/v1/openapi.json").json()["paths"]
    assert {
        "/api/v1/tickets",
        "/api/v1/tickets/{ticket_id}",
        "/api/v1/tickets/{ticket_id}/messages",
        "/api/v1/tickets/{ticket_id}/state",
        "/api/v1/tickets/{ticket_id}/attachments/{attachment_id}",
    } <= set(paths)
    assert set(paths["/api/v1/tickets"]) == {"get", "post"}


@pytest.mark.parametrize("persona", ["owner", "engineer"])
def test_a_revoked_token_cannot_file(people: World, persona: str):
    ApiToken.objects.filter(user=people.users[persona]).delete()
    assert post(api(people, persona), "/api/v1/tickets", complete(people, client="acme")).status_code == 401
