"""`{% load security_words %}`: what the security pages say once for a whole group of findings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import template

register = template.Library()


@register.filter
def shared_action(rows: Sequence[dict[str, Any]]) -> str:
    """The remediation (staff) or "what we do" (portal) when every one of two or more findings of a group
    has the same one, so the page says it once above the group instead of on every row; else ""."""
    actions = {str(row.get("action") or "") for row in rows}
    if len(rows) < 2 or len(actions) != 1:
        return ""
    return actions.pop()
