"""Searching requests: the one way the staff queue (and later the API) finds requests by their words.

What is searched: the subject, the description and steps, every message's text (internal notes included:
only staff search), the requester (contact name and e-mail, or the portal user's name, username and e-mail)
and the site (name and URL).

On PostgreSQL the words of the subject, description, steps and messages are matched with full-text search in
the 'simple' configuration (no stemming, no stop words: requests mix German and English, and a stemmer for
one language mangles the other) and websearch syntax ("exact phrase", -excluded, or). The requester and site
are short identifiers (e-mail addresses, host names) that the text parser keeps as one token
("owner@acme.example", "acme.example"), so they are matched by a case-insensitive contains of the whole
query instead: "acme" finds the site https://www.acme.example/.

On SQLite (development, the demo) every word of the query must be contained, case-insensitively, in one of
the same fields.

Measured on PostgreSQL with 3,000 requests of three 500-character messages each: a search took 0.5-0.8 s
while every message's vector was computed per query; with the GIN expression index on messages (desk
migration 0006) and the messages matched through `pk IN (…)`, the count takes about 0.1-0.2 s, most of it
the requests' own text (subject, description, steps) still computed per query — an index on that expression
was not picked by the planner in the time there was; a stored, indexed vector column is the next step if
agencies keep tens of thousands of requests. SQLite (contains) took 3-12 ms on the same data.
"""

from __future__ import annotations

import re

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet

from sitekeeper.desk.models import Message, Ticket

MAX_QUERY_LENGTH = 200
SEARCH_CONFIG = "simple"
# Where the words are looked for, said the same way on every page that explains an empty result.
SEARCHED = "subjects, descriptions, messages, requesters and sites"

TEXT_FIELDS = ("subject", "description", "steps")
IDENTITY_FIELDS = (
    "requester__name",
    "requester__email",
    "requester_user__first_name",
    "requester_user__last_name",
    "requester_user__username",
    "requester_user__email",
    "site__name",
    "site__url",
)
_WORD = re.compile(r"\w", re.UNICODE)


class SearchError(ValueError):
    """A query that cannot be searched; the message says what is wrong, for the person who typed it."""


def clean_query(raw: str) -> str:
    """The query as searched: trimmed, at most MAX_QUERY_LENGTH characters, with a letter or digit."""
    query = " ".join(raw.split())
    if len(query) > MAX_QUERY_LENGTH:
        raise SearchError(
            f"The search is {len(query)} characters long; at most {MAX_QUERY_LENGTH} are searched — "
            "shorten it to the words that matter."
        )
    if query and not _WORD.search(query):
        raise SearchError("The search has no letter or digit in it; type a word from the request.")
    return query


def search_tickets(tickets: QuerySet[Ticket], raw: str) -> QuerySet[Ticket]:
    """`tickets` narrowed to those matching the query (all of them for an empty query).

    Raises SearchError for a query that cannot be searched (too long, no word in it). Adds no query of its
    own: the match is a condition of the queryset, so counting and paging stay one query each.
    """
    query = clean_query(raw)
    if not query:
        return tickets
    if connection.vendor == "postgresql":
        return tickets.filter(_full_text(query))
    return tickets.filter(_contains_every_word(query))


def _full_text(query: str) -> Q:
    words = SearchQuery(query, config=SEARCH_CONFIG, search_type="websearch")
    in_ticket = Q(pk__in=_ticket_text_matches(words))
    # `pk IN (…)` rather than EXISTS: PostgreSQL runs it once as a hashed subplan reading the GIN index
    # (desk migration 0006), where a correlated EXISTS inside an OR recomputes vectors row by row.
    in_messages = Q(
        pk__in=Message.objects.annotate(document=SearchVector("body", config=SEARCH_CONFIG))
        .filter(document=words)
        .values("ticket_id")
    )
    in_identity = Q()
    for field in IDENTITY_FIELDS:
        in_identity |= Q(**{f"{field}__icontains": query})
    return in_ticket | in_messages | in_identity


def _ticket_text_matches(words: SearchQuery) -> QuerySet[Ticket]:
    # A subquery, so the vector is an expression of the ticket table alone (the outer query keeps its own
    # ordering, filters and joins untouched).
    return (
        Ticket.objects.annotate(document=SearchVector(*TEXT_FIELDS, config=SEARCH_CONFIG))
        .filter(document=words)
        .values("pk")
    )


def _contains_every_word(query: str) -> Q:
    condition = Q()
    for word in query.split():
        condition &= _contains(word)
    return condition


def _contains(word: str) -> Q:
    anywhere = Q()
    for field in (*TEXT_FIELDS, *IDENTITY_FIELDS):
        anywhere |= Q(**{f"{field}__icontains": word})
    return anywhere | Exists(Message.objects.filter(ticket=OuterRef("pk"), body__icontains=word))
