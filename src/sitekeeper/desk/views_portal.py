"""Client portal: the client's own requests (/portal/requests/).

Every lookup goes through `own_tickets(request.user)`, filtered by the person's client before the object is
fetched, so another client's request is a 404 — never a permission question that would confirm it exists.
Agency people who open a portal address are sent to the console's page for the same thing.

The helpers at the bottom (attachments in and out, the ticket's timeline) are shared with the console.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from django.contrib import messages
from django.core.files.uploadedfile import UploadedFile
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from sitekeeper.access.audit import acting_as
from sitekeeper.access.models import User
from sitekeeper.access.permissions import portal_view
from sitekeeper.contracts.models import Client, Contact
from sitekeeper.contracts.presenters import describe_target
from sitekeeper.desk import attachments, clocks, mail, mailauth, presenters, services
from sitekeeper.desk.attachments import AttachmentError
from sitekeeper.desk.forms import CompleteRequestForm, NewRequestForm, PriorityProposalForm, ReplyForm
from sitekeeper.desk.models import CLOSED_STATES, Attachment, Message, Pause, SenderCheck, Ticket
from sitekeeper.desk.sla_report import ReportError, sla_report

PAGE_SIZE = 25


def own_tickets(user: User) -> QuerySet[Ticket]:
    """The requests a client person may see: their own client's, nothing else."""
    return Ticket.objects.filter(client_id=user.client_id).select_related(
        "calendar_version", "contract__plan", "site", "client"
    )


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def open_pause_reason() -> Subquery:
    """Annotation: the reason of the request's open pause, if any (one subquery, no per-row queries)."""
    return Subquery(
        Pause.objects.filter(ticket=OuterRef("pk"), end__isnull=True).order_by("start").values("reason")[:1]
    )


@portal_view(lambda: reverse("staff_desk"))
def requests_list(request: HttpRequest) -> HttpResponse:
    tickets = own_tickets(request.user).annotate(pause_reason=open_pause_reason()).order_by("-received_at")
    show = request.GET.get("show", "open")
    if show == "open":
        tickets = tickets.exclude(state__in=CLOSED_STATES)
    page = Paginator(tickets, PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    rows = [
        (
            ticket,
            presenters.summary(ticket, now, client=True, open_pause_reason=ticket.pause_reason),
            presenters.received(ticket),
        )
        for ticket in page.object_list
    ]
    today = timezone.localdate()
    context = {
        "client": request.user.client,
        "page": page,
        "rows": rows,
        "show": show,
        "this_month": dt.date(today.year, today.month, 1),
    }
    return render(request, "desk/portal/list.html", context)


def _targets(user: User) -> dict[str, str]:
    contract = user.client.contract
    if contract is None:
        return {}
    return {p: describe_target(contract.plan.target("response", p)) for p in presenters.PRIORITY_GUIDE}


def contact_for(user: User) -> Contact | None:
    """The client's contact record for this person, matched by e-mail, if there is one."""
    if not user.email or user.client_id is None:
        return None
    return Contact.objects.filter(client_id=user.client_id, email__iexact=user.email).first()


@portal_view(lambda: reverse("staff_desk"))
def request_new(request: HttpRequest) -> HttpResponse:
    user = request.user
    client = user.client
    form = NewRequestForm(request.POST or None, request.FILES or None, client=client, targets=_targets(user))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                ticket = services.file_request(
                    client,
                    channel="portal",
                    type=data["type"],
                    priority=data["priority"],
                    site=data["site"],
                    environment=data["environment"],
                    subject=data["subject"],
                    description=data["description"],
                    steps=data["steps"],
                    requester=contact_for(user),
                    requester_user=user,
                    allow_incomplete=False,
                )
                save_attachments(ticket, data["attachments"], user)
        except AttachmentError as exc:
            form.add_error("attachments", str(exc))
        except services.DeskError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Request {ticket.reference} filed. We will respond within the SLA.")
            return redirect("portal_request", pk=ticket.pk)
    context = {"client": client, "form": form, "contract": client.contract}
    return render(request, "desk/portal/new.html", context, status=400 if form.errors else 200)


def _portal_ticket(request: HttpRequest, pk: int) -> Ticket:
    return get_object_or_404(own_tickets(request.user), pk=pk)


def _portal_page(
    request: HttpRequest, ticket: Ticket, status: int = 200, notice: str = "", **forms: Any
) -> HttpResponse:
    context = {
        "ticket": ticket,
        "notice": notice,
        "client": ticket.client,
        "reply_form": forms.get("reply_form") or ReplyForm(),
        "priority_form": forms.get("priority_form")
        or PriorityProposalForm(initial={"priority": ticket.priority}),
        "complete_form": forms.get("complete_form")
        or (CompleteRequestForm(ticket=ticket) if ticket.incomplete else None),
        **ticket_context(ticket, client=True),
    }
    if _is_htmx(request):  # htmx swaps only 2xx answers: a form with errors is swapped in too
        return render(request, "desk/portal/_ticket_body.html", context)
    return render(request, "desk/portal/ticket.html", context, status=status)


@portal_view(lambda pk: reverse("staff_ticket", args=[pk]))
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _portal_page(request, _portal_ticket(request, pk))


@never_cache
@require_http_methods(["GET", "POST"])
def confirm_sender(request: HttpRequest, token: str) -> HttpResponse:
    """The link mailed to the contact of an unverified e-mail request. No login: whoever holds the link
    may confirm the request — and nothing else: the page shows no subject, text or reference. Opening it
    (GET, which mail scanners do on their own) only asks; the button (POST) confirms, once."""
    try:
        pk, secret = mailauth.read_token(token)
    except mailauth.LinkError as exc:
        state = "expired" if exc.expired else "invalid"
        return render(
            request, "desk/portal/confirm.html", {"state": state}, status=410 if exc.expired else 404
        )
    ticket = (
        Ticket.objects.select_related("calendar_version", "requester").filter(pk=pk, token=secret).first()
    )
    if ticket is None:
        return render(request, "desk/portal/confirm.html", {"state": "invalid"}, status=404)
    context: dict[str, Any] = {"received": presenters.received(ticket), "state": "ask"}
    if not ticket.unverified:
        context["state"] = "done"
    elif request.method == "POST":
        who = ticket.requester.email if ticket.requester else "unknown"
        with acting_as(None, label=f"confirmation link of {who}"[:150]), transaction.atomic():
            try:
                mail.confirm_sender(ticket, SenderCheck.CONFIRMED)
            except services.DeskError:  # confirmed by a second click or accepted by staff meanwhile
                context["state"] = "done"
            else:
                context["state"] = "confirmed"
    return render(request, "desk/portal/confirm.html", context)


def post_only(request: HttpRequest) -> HttpResponse | None:
    """After the scoped lookup (another client's request stays a 404): actions are POST only."""
    return None if request.method == "POST" else HttpResponseNotAllowed(["POST"])


@portal_view(lambda pk: reverse("staff_ticket", args=[pk]))
def request_reply(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _portal_ticket(request, pk)
    if refused := post_only(request):
        return refused
    form = ReplyForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            with transaction.atomic():
                message = services.add_message(
                    ticket,
                    form.cleaned_data["body"],
                    channel="portal",
                    author=request.user,
                    contact=contact_for(request.user),
                )
                # (A reply to a merged request lands on the request it was merged into.)
                save_attachments(message.ticket, form.cleaned_data["attachments"], request.user, message)
        except AttachmentError as exc:
            form.add_error("attachments", str(exc))
        except services.DeskError as exc:
            form.add_error(None, str(exc))
        else:
            if _is_htmx(request) and message.ticket_id == ticket.pk:
                return _portal_page(request, _portal_ticket(request, pk), notice="Reply sent.")
            messages.success(request, "Reply sent.")
            return redirect("portal_request", pk=message.ticket_id)
    return _portal_page(request, ticket, status=400, reply_form=form)


@portal_view(lambda pk: reverse("staff_ticket", args=[pk]))
def request_priority(request: HttpRequest, pk: int) -> HttpResponse:
    """The client proposes a priority with a reason; the agency confirms it (services.change_priority)."""
    ticket = _portal_ticket(request, pk)
    if refused := post_only(request):
        return refused
    form = PriorityProposalForm(request.POST)
    if form.is_valid():
        try:
            services.change_priority(
                ticket, form.cleaned_data["priority"], actor=request.user, why=form.cleaned_data["why"]
            )
        except services.DeskError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request, f"Priority {form.cleaned_data['priority']} proposed; we will confirm it shortly."
            )
            return redirect("portal_request", pk=ticket.pk)
    return _portal_page(request, ticket, status=400, priority_form=form)


@portal_view(lambda pk: reverse("staff_ticket", args=[pk]))
def request_complete(request: HttpRequest, pk: int) -> HttpResponse:
    """Fill in what an incomplete request (e.g. by e-mail) lacked; clocks start once nothing is missing."""
    ticket = _portal_ticket(request, pk)
    if refused := post_only(request):
        return refused
    form = CompleteRequestForm(request.POST, ticket=ticket)
    if form.is_valid():
        services.complete_request(ticket, form.cleaned_data, actor=request.user)
        messages.success(request, "Thank you — the request is complete and its clocks are running.")
        return redirect("portal_request", pk=ticket.pk)
    return _portal_page(request, ticket, status=400, complete_form=form)


@portal_view(lambda pk, attachment_id: reverse("staff_attachment", args=[pk, attachment_id]))
def attachment_download(request: HttpRequest, pk: int, attachment_id: int) -> HttpResponse:
    ticket = _portal_ticket(request, pk)
    attachment = get_object_or_404(client_attachments(ticket), pk=attachment_id)
    return attachments.download(attachment)


@portal_view(lambda month: reverse("staff_desk"))
def sla(request: HttpRequest, month: dt.date) -> HttpResponse:
    """The client's own SLA figures for a month (agreement 2.2); ?format=json gives the same as data."""
    client = request.user.client
    return sla_page(request, client, month, lambda m: reverse("portal_sla", args=[m]))


# Shared with the console ------------------------------------------------------------------------------


def _months_apart(month: dt.date, step: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + step
    return dt.date(index // 12, index % 12 + 1, 1)


def sla_page(
    request: HttpRequest, client: Client, month: dt.date, url: Callable[[dt.date], str]
) -> HttpResponse:
    try:
        report = sla_report(client, month.year, month.month)
    except ReportError as exc:
        raise Http404(str(exc)) from exc
    if request.GET.get("format") == "json":
        return JsonResponse(report.as_dict())
    today = timezone.localdate()
    this_month = dt.date(today.year, today.month, 1)
    later = _months_apart(month, 1)
    tallies = [t for t in report.clocks if t.with_target]
    context = {
        "client": client,
        "report": report,
        "month": month,
        "month_label": f"{month:%B %Y}",
        "previous_url": url(_months_apart(month, -1)),
        "next_url": url(later) if later <= this_month else "",
        "json_url": url(month) + "?format=json",
        "tallies": [(presenters.CLOCK_NAMES[t.clock], t) for t in tallies],
        "incidents": [
            (
                line,
                [
                    {
                        "name": presenters.CLOCK_NAMES[c.clock],
                        "target": describe_target(c.target),
                        "due": c.due,
                        "met": c.met,
                        "wall": presenters.duration(c.wall) if c.wall is not None else "—",
                        "counted": presenters.duration(c.counted) if c.counted is not None else "—",
                        "status": c.status,
                        "css": presenters.STATUS_CLASS.get(c.status, "none"),
                    }
                    for c in line.clocks
                    if c.target is not None
                ],
            )
            for line in report.incidents
        ],
        "paused": [
            {
                "label": presenters.pause_words(p.reason, client=not request.user.is_agency),
                "pauses": p.pauses,
                "wall": presenters.duration(p.wall),
                "business": f"{p.business.total_seconds() / 3600:.1f} h",
            }
            for p in report.paused
            if p.pauses
        ],
    }
    return render(request, "desk/sla.html", context)


def client_attachments(ticket: Ticket) -> QuerySet[Attachment]:
    """What the client may see: not what was attached to an internal note."""
    return ticket.attachments.exclude(message__kind=Message.Kind.NOTE).select_related("message")


def save_attachments(
    ticket: Ticket, files: Iterable[UploadedFile], user: User, message: Message | None = None
) -> list[Attachment]:
    """Store every file or none: on a refused file, those already written are removed again (the caller's
    transaction rolls their rows back)."""
    stored: list[Attachment] = []
    try:
        for upload in files:
            stored.append(
                # The upload itself, not upload.read(): store() checks its size before reading a byte.
                attachments.store(ticket, upload.name or "", upload, uploaded_by=user, message=message)
            )
    except AttachmentError:
        for attachment in stored:
            (attachments.root() / attachment.path).unlink(missing_ok=True)
        raise
    return stored


DECIDED = frozenset({"met", "met_late", "breached"})


def _clock_lines(
    ticket: Ticket, states: dict[str, Any], pauses: list[Pause], now: dt.datetime, *, client: bool
) -> list[presenters.ClockLine]:
    """The clock sentences; a merged duplicate's clocks stopped at the merge, so only what they had decided
    by then is shown (judged at that instant), as the SLA report counts it."""
    if ticket.merged_at is None:
        return presenters.clock_lines(ticket, states, pauses, now, client=client)
    at = min(now, ticket.merged_at)
    lines = presenters.clock_lines(ticket, states, pauses, at, client=client)
    return [line for line in lines if line.status in DECIDED]


def ticket_context(ticket: Ticket, *, client: bool) -> dict[str, Any]:
    """Clocks in plain words, pauses and the timeline — for a client without anything internal."""
    now = timezone.now()
    states = clocks.evaluate(ticket)
    pauses = list(ticket.pauses.all())
    events = ticket.events.all()
    # The conversation of the requests merged into this one shows here too (desk.services.merge).
    sources = [ticket.pk, *services.merged_sources(ticket)]
    # (Their automatic acknowledgements stay with them: they would only repeat the merge event here.)
    message_rows = (
        Message.objects.filter(ticket_id__in=sources)
        .exclude(~Q(ticket_id=ticket.pk), kind=Message.Kind.AUTO)
        .select_related("author", "author_contact")
    )
    files = Attachment.objects.filter(ticket_id__in=sources).select_related("message")
    if client:
        events = events.filter(public=True)
        message_rows = message_rows.exclude(kind=Message.Kind.NOTE)
        files = files.exclude(message__kind=Message.Kind.NOTE)
    tz = presenters.zone_of(ticket)
    return {
        "now": now,
        "tz": tz.key,
        "received": presenters.received(ticket),
        "origin": presenters.origin(ticket),
        "states": states,
        "clock_lines": _clock_lines(ticket, states, pauses, now, client=client),
        "pauses": [
            {
                "reason": presenters.pause_words(p.reason, client),
                "note": p.note,
                "start": p.start,
                "end": p.end,
                "length": presenters.duration((p.end or now) - p.start),
            }
            for p in pauses
        ],
        "timeline": presenters.timeline(events, message_rows, files, client=client, ticket_id=ticket.pk),
        "state_label": presenters.state_label(ticket, client=client),
        "related": services.linked(ticket),
        "merged_sources": [f"SK-{pk:05d}" for pk in sources[1:]],
        "attachments": list(files),
        "priority_guide": presenters.PRIORITY_GUIDE,
    }
