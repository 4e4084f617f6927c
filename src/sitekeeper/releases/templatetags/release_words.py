"""`{% load release_words %}`: a release's smoke-check names as a client reads them (no server paths)."""

from __future__ import annotations

import re

from django import template

register = template.Library()

AFTER_ROLLBACK = "after rollback: "
_LOG = re.compile(r"^PHP error log\b.*$")
_FATAL = re.compile(r"^no PHP fatal on (?P<path>\S+)$")
_PAGE = re.compile(r"^page (?P<path>\S+)$")


@register.filter
def client_check(name: str) -> str:
    """ "PHP error log /srv/…/debug.log" → "No new errors in the site's error log"; "page /bestellen/" →
    "Page /bestellen/ answers"; "after rollback: …" → "After the rollback: …". Other names are kept."""
    text = str(name)
    prefix = ""
    if text.startswith(AFTER_ROLLBACK):
        prefix, text = "After the rollback: ", text[len(AFTER_ROLLBACK) :]
    if _LOG.match(text):
        text = "no new errors in the site's error log"
    elif match := _FATAL.match(text):
        text = f"no PHP errors on {match['path']}"
    elif match := _PAGE.match(text):
        text = f"page {match['path']} answers"
    elif text == "apply updates":
        text = "updates applied"
    return prefix + text if prefix else text[:1].upper() + text[1:]
