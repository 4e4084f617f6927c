"""Request state labels in templates, from the one mapping in desk.presenters (STATE_LABELS).

`{% load desk_labels %}` then `{{ ticket|staff_state }}` on staff pages ("Waiting for client approval") and
`{{ ticket|client_state }}` on the client's ("Waiting for your approval"); a merged duplicate reads
"Merged into SK-00012" for both.
"""

from __future__ import annotations

from django import template

from sitekeeper.desk import presenters
from sitekeeper.desk.models import Ticket

register = template.Library()


@register.filter
def staff_state(ticket: Ticket) -> str:
    return presenters.state_label(ticket, client=False)


@register.filter
def client_state(ticket: Ticket) -> str:
    return presenters.state_label(ticket, client=True)
