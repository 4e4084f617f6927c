"""Searching the staff queue (?q=, desk.search): by a word of a message only, by requester, by site, with the
filters, with a constant number of queries, and clear messages for what cannot be searched.

Runs on SQLite (contains) and on PostgreSQL (full text) alike: SITEKEEPER_DATABASE_URL picks the database.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext

from sitekeeper.contracts.models import Contact, Site
from sitekeeper.desk import search, services
from sitekeeper.desk.models import State, Ticket
from tests.desk.test_views_staff import file, signed_in
from tests.web.world import World, fast_passwords, world

__all__ = ["fast_passwords", "world"]


def found(http: HttpClient, query: str) -> set[str]:
    response = http.get(f"/staff/desk/?{query}")
    assert response.status_code == 200
    return {ticket.subject for ticket, _summary, _left in response.context["rows"]}


def test_a_word_only_in_a_message_finds_the_request(world: World):
    ticket = file(world, "Checkout is slow", description="Since this morning.")
    services.add_message(
        ticket, "The Zeppelin payment plugin times out.", channel="portal", author=world.users["owner"]
    )
    file(world, "Header image blurry")
    http = signed_in(world.users["engineer"])
    assert found(http, "q=zeppelin") == {"Checkout is slow"}
    response = http.get("/staff/desk/?q=zeppelin")
    assert "1 request matches “zeppelin”" in response.text


def test_a_word_of_the_description_or_subject_finds_the_request(world: World):
    file(world, "Newsletter signup", description="The Mailchimp form rejects umlauts.")
    http = signed_in(world.users["engineer"])
    assert found(http, "q=MAILCHIMP") == {"Newsletter signup"}
    assert found(http, "q=newsletter") == {"Newsletter signup"}


def test_the_requester_finds_their_requests(world: World):
    quartz = Contact.objects.create(
        client=world.acme, name="Wilhelmina Quartz", email="w.quartz@bakery.test", role="technical"
    )
    file(world, "Menu PDF outdated", requester=quartz, requester_user=None)
    http = signed_in(world.users["engineer"])
    assert found(http, "q=quartz") == {"Menu PDF outdated"}
    assert found(http, "q=w.quartz%40bakery") == {"Menu PDF outdated"}


def test_the_site_finds_its_requests(world: World):
    ticket = file(world, "Cart empties itself")
    shop = Site.objects.create(client=world.acme, url="https://brotzeit.example", name="Brotzeit shop")
    Ticket.objects.filter(pk=ticket.pk).update(site=shop)  # file() takes acme's only site: move it
    http = signed_in(world.users["engineer"])
    assert found(http, "q=brotzeit") == {"Cart empties itself"}
    assert found(http, "q=brotzeit.example") == {"Cart empties itself"}


def test_search_and_filters_narrow_together_and_closed_requests_need_show_all(world: World):
    file(world, "Gallery plugin crash", "P1")
    file(world, "Gallery captions wrong", "P3")
    done = file(world, "Gallery resized")
    services.resolve(done, actor=world.users["engineer"])
    http = signed_in(world.users["engineer"])
    assert found(http, "q=gallery") == {"Gallery plugin crash", "Gallery captions wrong"}
    assert found(http, "q=gallery&priority=P1") == {"Gallery plugin crash"}
    assert found(http, "q=gallery&show=all") == {
        "Gallery plugin crash",
        "Gallery captions wrong",
        "Gallery resized",
    }
    assert found(http, "q=gallery&client=globex") == set()


def test_no_match_says_where_search_looked(world: World):
    response = signed_in(world.users["engineer"]).get("/staff/desk/?q=xylophone")
    assert response.status_code == 200
    assert "No request mentions “xylophone” — search looks in subjects, descriptions, messages" in (
        response.text
    )
    assert "0 requests match “xylophone”" in response.text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("q=" + "a" * 300, "at most 200 are searched"),
        ("q=%21%21%3F%3F", "no letter or digit"),
        ("q=%22%27%28%29*%26%7C", "no letter or digit"),
    ],
)
def test_what_cannot_be_searched_gets_a_message_not_an_error(world: World, query: str, message: str):
    response = signed_in(world.users["engineer"]).get(f"/staff/desk/?{query}")
    assert response.status_code == 200
    assert message in response.text
    assert "The queue below is not searched." in response.text
    # The queue is still shown, as the filters make it.
    assert "Acme GmbH contact form does not send" in response.text


@pytest.mark.parametrize("query", ['"contact form', "-contact", "contact or invoice", "o'brien", "100%_"])
def test_query_syntax_never_breaks_the_page(world: World, query: str):
    response = signed_in(world.users["engineer"]).get("/staff/desk/", {"q": query})
    assert response.status_code == 200


def test_search_adds_no_query_to_the_page(world: World):
    http = signed_in(world.users["engineer"])
    http.get("/staff/desk/")  # warm up: session, user
    with CaptureQueriesContext(connection) as plain:
        http.get("/staff/desk/")
    with CaptureQueriesContext(connection) as searched:
        response = http.get("/staff/desk/?q=contact&priority=P2")
    assert [t.subject for t, _s, _l in response.context["rows"]] == ["Acme GmbH contact form does not send"]
    assert len(searched.captured_queries) == len(plain.captured_queries)


def test_the_pager_keeps_the_search(world: World):
    ticket = Ticket.objects.get(pk=world.objects["ticket_pk"])
    copies = []
    for n in range(60):
        copy = Ticket.objects.get(pk=ticket.pk)
        copy.pk, copy.token, copy.subject, copy.state = None, f"srch{n:05d}", f"Kiwi {n}", State.OPEN
        copies.append(copy)
    Ticket.objects.bulk_create(copies)
    response = signed_in(world.users["engineer"]).get("/staff/desk/?q=kiwi")
    assert "60 requests match “kiwi”" in response.text
    assert "q=kiwi&amp;page=2" in response.text


def test_search_tickets_is_the_one_way_to_search(world: World):
    file(world, "Sitemap missing pages")
    everything = Ticket.objects.all()
    assert search.search_tickets(everything, "  ") is everything
    assert [t.subject for t in search.search_tickets(everything, "sitemap")] == ["Sitemap missing pages"]
    with pytest.raises(search.SearchError, match="no letter or digit"):
        search.search_tickets(everything, "...")
