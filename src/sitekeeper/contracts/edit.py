"""Editing a client from the console through the very path `sitekeeper apply` takes.

A console edit is a contract file of one client: the client's entry as `sitekeeper export` writes it, with
the part the form edits replaced by the form's values. It is checked by the same schema and checks and
written by the same code (`apply.apply_document`), all or nothing and audited with the person as the actor,
so the console can accept nothing that a file would refuse and refuses it with the same message.

One thing a file cannot say, the console can: "this site (or contact) now has another URL (e-mail, role)".
In a file the URL is what identifies a site, so a changed URL is a removed site and a new one; in the console
the person edits one row, so the row is renamed in place first (its monitors, backups, tickets and audit
history stay with it), then the data is synced as a file would be.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sitekeeper.contracts.apply import ApplyResult, Writer, apply_document
from sitekeeper.contracts.models import Contact, Site
from sitekeeper.contracts.yamlio import Document, JsonPath

CLIENT_PATH: JsonPath = ("clients", 0)
SOURCE = "console"


@dataclass
class Renames:
    """Rows the person changed the identifying values of, renamed in place before the sync."""

    sites: dict[int, str] = field(default_factory=dict)  # site pk -> new url
    contacts: dict[int, tuple[str, str]] = field(default_factory=dict)  # contact pk -> (email, role)
    removed_contacts: list[int] = field(default_factory=list)

    def __call__(self, writer: Writer) -> None:
        for contact in Contact.objects.filter(pk__in=self.removed_contacts).order_by("pk"):
            writer.delete(contact, f"contact {contact.client.slug} {contact.email} ({contact.role})")
        # A product owner who gets another role goes first, so "one product owner" holds at every step.
        moves = Contact.objects.filter(pk__in=self.contacts).select_related("client").order_by("pk")
        for contact in sorted(moves, key=lambda c: c.role != Contact.Role.PRODUCT_OWNER):
            email, role = self.contacts[contact.pk]
            if (email, role) != (contact.email, contact.role):
                label = f"contact {contact.client.slug} {contact.email} ({contact.role})"
                writer.upsert(Contact, contact, {"email": email, "role": role}, label)
        for site in Site.objects.filter(pk__in=self.sites).select_related("client").order_by("pk"):
            if self.sites[site.pk] != site.url:
                writer.upsert(Site, site, {"url": self.sites[site.pk]}, f"site {site.client.slug} {site.url}")


def apply_client_entry(entry: dict[str, Any], *, user: Any, renames: Renames | None = None) -> ApplyResult:
    """Apply one client's entry as a contract file holding only it; raises apply.ApplyError (writing
    nothing) with the issues at their paths under ("clients", 0)."""
    document = Document(source=SOURCE, data={"clients": [entry]})
    return apply_document(document, actor_label=None, user=user, before_sync=renames)
