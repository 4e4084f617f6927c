"""Staff console for the service desk (/staff/desk/): the queue, the ticket page and its actions.

The queue is one query per page however many requests are open: ordered by the stored, indexed
`next_due_at` (nulls last), 50 rows a page, related rows joined, and the warning / pause state read from two
subqueries instead of evaluating every ticket's clocks. The ticket page evaluates the clocks exactly.

Every action is a plain POST that redirects back to the ticket; the reply form also works through htmx, which
swaps the ticket's body in place.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from sitekeeper.access.permissions import agency_required
from sitekeeper.contracts.models import Client
from sitekeeper.desk import attachments, mail, presenters, search, services
from sitekeeper.desk.attachments import AttachmentError
from sitekeeper.desk.forms import (
    AssignForm,
    BulkAssignForm,
    LinkForm,
    MergeForm,
    NoteForm,
    PriorityForm,
    QueueFilterForm,
    ReclassifyForm,
    ReopenForm,
    StaffReplyForm,
    StateForm,
    TimeForm,
    UnlinkForm,
)
from sitekeeper.desk.models import CLOSED_STATES, Escalation, RequestType, SenderCheck, State, Ticket
from sitekeeper.desk.views_portal import (
    open_pause_reason,
    save_attachments,
    sla_page,
    ticket_context,
)

QUEUE_PAGE_SIZE = 50
# ?sender=unverified: only e-mail requests whose sender is not verified yet (docs/email.md).
SENDER_FILTERS = {"": "any sender", "unverified": "sender not verified"}


class AcceptSenderForm(forms.Form):
    """Accept an unverified e-mail request as genuine: nothing to fill in, the button is the decision
    (audited: the ticket's change and the timeline entry name who accepted it)."""


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def queue_tickets(request: HttpRequest, form: QueueFilterForm) -> QuerySet[Ticket]:
    """The filtered queue in order: nearest due instant first, requests without one (paused) last."""
    tickets = Ticket.objects.all()
    data = form.cleaned_data if form.is_valid() else {}
    if data.get("show", "open") != "all" and not data.get("state"):
        tickets = tickets.exclude(state__in=CLOSED_STATES)
    if data.get("client"):
        tickets = tickets.filter(client=data["client"])
    for name in ("priority", "type", "state"):
        if data.get(name):
            tickets = tickets.filter(**{name: data[name]})
    assignee = data.get("assignee")
    if assignee == "me":
        tickets = tickets.filter(assignee=request.user)
    elif assignee == "none":
        tickets = tickets.filter(assignee__isnull=True)
    elif assignee:
        tickets = tickets.filter(assignee_id=assignee)
    if sender_filter(request) == "unverified":
        tickets = tickets.filter(sender_check=SenderCheck.UNVERIFIED)
    return tickets.order_by(F("next_due_at").asc(nulls_last=True), "pk")


def sender_filter(request: HttpRequest) -> str:
    """The sender filter asked for; anything unknown is no filter (like an empty choice)."""
    value = request.GET.get("sender", "")
    return value if value in SENDER_FILTERS else ""


def queue_rows(pks: list[int]) -> list[Ticket]:
    """One page's tickets with what the row shows, in the page's order: one query, whatever the page.

    (The annotations run for these rows only, not for every row an OFFSET skips.)
    """
    tickets = (
        Ticket.objects.filter(pk__in=pks)
        .select_related("client", "assignee", "calendar_version")
        .annotate(
            pause_reason=open_pause_reason(),
            warned=Exists(
                Escalation.objects.filter(
                    ticket=OuterRef("pk"), kind=Escalation.Kind.WARNING, due=OuterRef("next_due_at")
                )
            ),
        )
    )
    by_pk = {ticket.pk: ticket for ticket in tickets}
    return [by_pk[pk] for pk in pks if pk in by_pk]


def searched(request: HttpRequest, tickets: QuerySet[Ticket]) -> tuple[QuerySet[Ticket], str, str]:
    """The queue narrowed by ?q= (desk.search), the query as searched and what is wrong with it, if anything.

    A query that cannot be searched leaves the queue as the filters make it and says why beside the box.
    """
    try:
        query = search.clean_query(request.GET.get("q", ""))
        return search.search_tickets(tickets, query), query, ""
    except search.SearchError as exc:
        return tickets, "", str(exc)


@agency_required
def queue(request: HttpRequest) -> HttpResponse:
    form = QueueFilterForm(request.GET or {"show": "open"})
    tickets, search_query, search_error = searched(request, queue_tickets(request, form))
    # One query counts the page's rows and the unverified e-mail requests among them (their clocks are
    # paused, so they sort last: the line above the queue is how staff see them).
    counts = tickets.aggregate(
        total=Count("pk"), unverified=Count("pk", filter=Q(sender_check=SenderCheck.UNVERIFIED))
    )
    paginator = Paginator(tickets.values_list("pk", flat=True), QUEUE_PAGE_SIZE)
    paginator.count = counts["total"]  # a cached property: set, so the paginator does not count again
    page = paginator.get_page(request.GET.get("page"))
    now = timezone.now()
    rows = [
        (
            ticket,
            presenters.summary(
                ticket, now, client=False, open_pause_reason=ticket.pause_reason, warned=ticket.warned
            ),
            presenters.remaining(ticket, now),
        )
        for ticket in queue_rows(list(page.object_list))
    ]
    query = request.GET.copy()
    query.pop("page", None)
    client = form.cleaned_data.get("client") if form.is_valid() else None
    today = timezone.localdate()
    context = {
        "form": form,
        "page": page,
        "rows": rows,
        "query": query.urlencode(),
        "assign_form": AssignForm(),
        "sla_client": client,
        "this_month": today.replace(day=1),
        "sender_filter": sender_filter(request),
        "sender_filters": SENDER_FILTERS,
        "unverified_waiting": counts["unverified"],
        "search_query": search_query,
        "search_raw": request.GET.get("q", "")[: search.MAX_QUERY_LENGTH * 2],
        "search_error": search_error,
        "searched_fields": search.SEARCHED,
    }
    return render(request, "desk/staff/queue.html", context)


@agency_required
@require_POST
def bulk_assign(request: HttpRequest) -> HttpResponse:
    form = BulkAssignForm(request.POST)
    back = request.POST.get("next") or reverse("staff_desk")
    if not back.startswith("/staff/desk/"):
        back = reverse("staff_desk")
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
        return redirect(back)
    assignee = form.cleaned_data["assignee"]
    try:
        count = services.assign(form.cleaned_data["tickets"], assignee, actor=request.user)
    except services.DeskError as exc:
        messages.error(request, str(exc))
    else:
        who = (assignee.get_full_name() or assignee.username) if assignee else "nobody"
        messages.success(request, f"{count} request{'s' if count != 1 else ''} assigned to {who}.")
    return redirect(back)


# Ticket page ------------------------------------------------------------------------------------------


def _ticket(pk: int) -> Ticket:
    return get_object_or_404(
        Ticket.objects.select_related(
            "client", "contract__plan", "calendar_version", "site", "assignee", "requester", "requester_user"
        ),
        pk=pk,
    )


def _forms(ticket: Ticket, given: dict[str, forms.Form]) -> dict[str, forms.Form | None]:
    proposed = ticket.proposed_priority if not ticket.priority_confirmed else ""
    default = {
        "reply_form": StaffReplyForm(),
        "state_form": StateForm(initial={"state": State.OPEN}),
        "priority_form": PriorityForm(initial={"priority": proposed or ticket.priority}),
        "recovered_form": NoteForm(prefix="recovered"),
        "resolve_form": NoteForm(prefix="resolve"),
        "reopen_form": ReopenForm(),
        "assign_form": AssignForm(initial={"assignee": ticket.assignee_id}),
        "reclassify_form": ReclassifyForm(
            initial={
                "type": ticket.type,
                **{f"q_{k}": v for k, v in (ticket.classification or {}).items()},
            }
        ),
        "time_form": TimeForm(),
        "accept_sender_form": AcceptSenderForm(),
        "merge_form": MergeForm(),
        "link_form": LinkForm(),
    }
    return {**default, **given}


def _page(
    request: HttpRequest, ticket: Ticket, status: int = 200, notice: str = "", **given: forms.Form
) -> HttpResponse:
    entries = ticket.time_entries.select_related("user")
    totals = entries.aggregate(
        minutes=Sum("minutes"),
        billed=Sum("billed_minutes"),
        billable=Sum("billed_minutes", filter=Q(billable=True)),
    )
    context = {
        "ticket": ticket,
        "notice": notice,
        "contract": ticket.contract,
        "time_entries": entries,
        "time_totals": totals,
        "escalations": ticket.escalations.order_by("at"),
        "classification_rows": [
            (question, (ticket.classification or {}).get(key, ""))
            for key, question in services.CLASSIFICATION_QUESTIONS.items()
        ],
        "is_incident": ticket.type == RequestType.INCIDENT,
        "mail_auth_detail": (ticket.mail_auth or {}).get("detail", ""),
        "proposal": ticket.proposed_priority
        if ticket.proposed_priority and not ticket.priority_confirmed and not ticket.merged
        else "",
        **_forms(ticket, given),
        **ticket_context(ticket, client=False),
    }
    if _is_htmx(request):  # htmx swaps only 2xx answers: a form with errors is swapped in too
        return render(request, "desk/staff/_ticket_body.html", context)
    return render(request, "desk/staff/ticket.html", context, status=status)


@agency_required
def ticket_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _page(request, _ticket(pk))


Action = Callable[[HttpRequest, Ticket, Any], str]


def action(
    form_class: type[forms.Form], form_name: str, prefix: str | None = None
) -> Callable[[Action], Any]:
    """A POST-only ticket action: validate the form, call the service, say what happened, go back.

    An invalid form or a refused operation (DeskError) shows the ticket again with the form's errors.
    """

    def decorator(perform: Action) -> Any:
        @agency_required
        @require_POST
        @wraps(perform)
        def view(request: HttpRequest, pk: int) -> HttpResponse:
            ticket = _ticket(pk)
            form = form_class(request.POST, request.FILES, prefix=prefix)
            if form.is_valid():
                try:
                    with transaction.atomic():
                        done = perform(request, ticket, form)
                except AttachmentError as exc:
                    form.add_error("attachments", str(exc))
                except services.DeskError as exc:
                    # Shown at the top of the page: the action's form may not be on it (e.g. reopen).
                    if _is_htmx(request):
                        form.add_error(None, str(exc))
                    else:
                        messages.error(request, f"Not done: {exc}.")
                else:
                    if _is_htmx(request):
                        return _page(request, _ticket(pk), notice=done)
                    messages.success(request, done)
                    return redirect("staff_ticket", pk=ticket.pk)
            return _page(request, _ticket(pk), status=400, **{form_name: form})

        return view

    return decorator


@action(StaffReplyForm, "reply_form")
def reply(request: HttpRequest, ticket: Ticket, form: StaffReplyForm) -> str:
    internal = form.cleaned_data["internal"]
    message = services.add_message(
        ticket, form.cleaned_data["body"], channel="staff", author=request.user, internal=internal
    )
    save_attachments(message.ticket, form.cleaned_data["attachments"], request.user, message)
    where = f" (on {message.ticket.reference}, which this request was merged into)" if ticket.merged else ""
    return ("Internal note added" if internal else "Reply sent to the client") + where + "."


@action(StateForm, "state_form")
def change_state(request: HttpRequest, ticket: Ticket, form: StateForm) -> str:
    state = form.cleaned_data["state"]
    services.set_state(ticket, state, actor=request.user, note=form.cleaned_data["note"])
    return f"State: {presenters.state_words(state, client=False)}."


@action(PriorityForm, "priority_form")
def change_priority(request: HttpRequest, ticket: Ticket, form: PriorityForm) -> str:
    priority = form.cleaned_data["priority"]
    services.change_priority(ticket, priority, actor=request.user, why=form.cleaned_data["why"])
    return f"Priority {priority} set; the clocks were recomputed from receipt."


@action(NoteForm, "recovered_form", prefix="recovered")
def mark_recovered(request: HttpRequest, ticket: Ticket, form: NoteForm) -> str:
    services.mark_recovered(ticket, actor=request.user, note=form.cleaned_data["note"])
    return "Function restored: the recovery clock is met."


@action(NoteForm, "resolve_form", prefix="resolve")
def resolve(request: HttpRequest, ticket: Ticket, form: NoteForm) -> str:
    services.resolve(ticket, actor=request.user, note=form.cleaned_data["note"])
    return "Resolved."


@action(ReopenForm, "reopen_form")
def reopen(request: HttpRequest, ticket: Ticket, form: ReopenForm) -> str:
    services.reopen(ticket, actor=request.user, why=form.cleaned_data["why"])
    return "Reopened; the resolution clock runs again."


@action(AssignForm, "assign_form")
def assign(request: HttpRequest, ticket: Ticket, form: AssignForm) -> str:
    assignee = form.cleaned_data["assignee"]
    services.assign([ticket], assignee, actor=request.user)
    return f"Assigned to {assignee.get_full_name() or assignee.username}." if assignee else "Unassigned."


@action(ReclassifyForm, "reclassify_form")
def reclassify(request: HttpRequest, ticket: Ticket, form: ReclassifyForm) -> str:
    kind = form.cleaned_data["type"]
    services.reclassify(
        ticket, type=kind, checklist=form.checklist(), actor=request.user, why=form.cleaned_data["why"]
    )
    return f"Classified as {RequestType(kind).label.lower()}."


@action(AcceptSenderForm, "accept_sender_form")
def accept_sender(request: HttpRequest, ticket: Ticket, form: AcceptSenderForm) -> str:
    """Staff checked with the contact (or otherwise know) that an unverified e-mail request is genuine:
    its clocks start now and the contact gets the acknowledgement."""
    mail.confirm_sender(ticket, SenderCheck.ACCEPTED, actor=request.user)
    return "Accepted as genuine: the clocks run from now and the contact was sent the acknowledgement."


@action(TimeForm, "time_form")
def log_time(request: HttpRequest, ticket: Ticket, form: TimeForm) -> str:
    entry = services.log_time(
        ticket,
        user=request.user,
        minutes=form.cleaned_data["minutes"],
        billable=form.cleaned_data["billable"],
        note=form.cleaned_data["note"],
        day=form.cleaned_data["day"],
    )
    kind = "billable" if entry.billable else "included hours"
    return f"{entry.minutes} min logged, billed as {entry.billed_minutes} min ({kind})."


@action(MergeForm, "merge_form")
def merge(request: HttpRequest, ticket: Ticket, form: MergeForm) -> str:
    """Close this request as a duplicate of another one of the same client (desk.services.merge)."""
    survivor = form.cleaned_data["into"]
    already = ticket.merged_into_id == survivor.pk
    merged = services.merge(ticket, survivor, actor=request.user)
    if already:
        return f"{ticket.reference} was already merged into {survivor.reference}; nothing changed."
    mail.send_merge_notice(merged)
    return (
        f"Merged into {survivor.reference}: this request is closed and its clocks stopped; "
        f"its conversation shows on {survivor.reference}, whose clocks are unchanged."
    )


@action(LinkForm, "link_form")
def link(request: HttpRequest, ticket: Ticket, form: LinkForm) -> str:
    other = form.cleaned_data["other"]
    if services.link(ticket, other, actor=request.user):
        return f"Linked: {ticket.reference} and {other.reference} now show each other as related."
    return f"{ticket.reference} and {other.reference} were already linked."


@action(UnlinkForm, "link_form")
def unlink(request: HttpRequest, ticket: Ticket, form: UnlinkForm) -> str:
    other = form.cleaned_data["other"]
    if services.unlink(ticket, other, actor=request.user):
        return f"{ticket.reference} and {other.reference} are no longer linked."
    return f"{ticket.reference} and {other.reference} were not linked."


@agency_required
def attachment_download(request: HttpRequest, pk: int, attachment_id: int) -> HttpResponse:
    ticket = _ticket(pk)
    return attachments.download(get_object_or_404(ticket.attachments, pk=attachment_id))


@agency_required
def sla(request: HttpRequest, client_slug: str, month: dt.date) -> HttpResponse:
    """A client's SLA figures for a month, as the client sees them in the portal."""
    client = get_object_or_404(Client, slug=client_slug)
    return sla_page(request, client, month, lambda m: reverse("staff_sla", args=[client.slug, m]))
