"""Forms of the service desk pages: the client's new request, replies, and the console's actions.

Required fields come from desk.services (REQUIRED_FIELDS, and steps for bugs and incidents), so a request
filed through the portal is always a correctly submitted one: its clocks never start paused as incomplete.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.utils import timezone

from sitekeeper.access.models import AGENCY_ROLES, User
from sitekeeper.contracts.models import Client, Environment, Site
from sitekeeper.desk import services
from sitekeeper.desk.models import PAUSING_STATES, Priority, RequestType, State, Ticket
from sitekeeper.desk.presenters import PRIORITY_GUIDE, TYPE_GUIDE, state_words

MAX_FILES = 10


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; each is checked by desk.attachments.store when it is saved."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        files = data if isinstance(data, list | tuple) else [data]
        files = [f for f in files if f]
        if len(files) > MAX_FILES:
            raise forms.ValidationError(f"At most {MAX_FILES} files at a time.")
        return [super(MultipleFileField, self).clean(f, initial) for f in files]


class PriorityRadio(forms.RadioSelect):
    """Each priority with the agreement's definition and examples beside it (template below)."""

    option_template_name = "desk/widgets/priority_option.html"

    def __init__(self, *args: Any, targets: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.targets = targets or {}

    def create_option(self, name: str, value: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option = super().create_option(name, value, *args, **kwargs)
        definition, examples = PRIORITY_GUIDE.get(str(value), ("", ""))
        option.update(definition=definition, examples=examples, target=self.targets.get(str(value), ""))
        return option


class TypeRadio(forms.RadioSelect):
    option_template_name = "desk/widgets/type_option.html"

    def create_option(self, name: str, value: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option = super().create_option(name, value, *args, **kwargs)
        option["hint"] = TYPE_GUIDE.get(str(value), "")
        return option


ENVIRONMENTS = Environment.Kind.choices
DEFECTS = {RequestType.BUG, RequestType.INCIDENT}


class NewRequestForm(forms.Form):
    type = forms.ChoiceField(label="Type of request", choices=RequestType.choices, widget=TypeRadio)
    priority = forms.ChoiceField(label="Priority", choices=Priority.choices)
    site = forms.ModelChoiceField(label="Site", queryset=Site.objects.none(), empty_label=None)
    environment = forms.ChoiceField(label="Environment", choices=ENVIRONMENTS, initial="prod")
    subject = forms.CharField(label="Subject", max_length=200)
    description = forms.CharField(
        label="Description",
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="What happens, where (a link), and what you expected instead.",
    )
    steps = forms.CharField(
        label="Steps to reproduce",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "1. Open …\n2. Click …\n3. See …"}),
        help_text="Required for bugs and incidents.",
    )
    attachments = MultipleFileField(
        label="Attachments",
        help_text="Screenshots, PDFs, ZIPs or log files; up to 10 MB each.",
    )

    def __init__(self, *args: Any, client: Client, targets: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = Site.objects.filter(client=client).prefetch_related("environments")
        self.fields["priority"].widget = PriorityRadio(choices=Priority.choices, targets=targets)
        # What services.REQUIRED_FIELDS asks for is required here, whatever the defaults above say.
        for name in services.REQUIRED_FIELDS:
            self.fields[name].required = True

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("type") in DEFECTS and not data.get("steps", "").strip():
            self.add_error("steps", "Bugs and incidents need the steps to reproduce them.")
        site, environment = data.get("site"), data.get("environment")
        if site is not None and environment:
            kinds = {env.kind for env in site.environments.all()}
            if kinds and environment not in kinds:
                label = dict(ENVIRONMENTS)[environment]
                self.add_error("environment", f"{site} has no {label.lower()} environment recorded.")
        return data


class CompleteRequestForm(forms.Form):
    """The missing fields of an incomplete request (e.g. one that came by e-mail)."""

    def __init__(self, *args: Any, ticket: Ticket, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ticket = ticket
        full = NewRequestForm(client=ticket.client, targets={})
        for name in ticket.missing_fields:
            if name in full.fields:
                self.fields[name] = full.fields[name]
                self.fields[name].required = True
        if "type" in self.fields and not ticket.steps:
            # Choosing "bug" or "incident" makes the steps required (validated below).
            self.fields["steps"] = full.fields["steps"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("type") or self.ticket.type
        steps = data.get("steps", "").strip() or self.ticket.steps
        if kind in DEFECTS and not steps and "steps" in self.fields:
            self.add_error("steps", "Bugs and incidents need the steps to reproduce them.")
        return data


class ReplyForm(forms.Form):
    body = forms.CharField(label="Reply", widget=forms.Textarea(attrs={"rows": 4}))
    attachments = MultipleFileField(label="Attachments")


class StaffReplyForm(ReplyForm):
    internal = forms.BooleanField(
        label="Internal note (not shown to the client)",
        required=False,
    )


class PriorityProposalForm(forms.Form):
    priority = forms.ChoiceField(label="Priority", choices=Priority.choices)
    why = forms.CharField(label="Why", max_length=500, widget=forms.TextInput())


class PriorityForm(PriorityProposalForm):
    """Staff: change the priority, or confirm the client's (recomputes the clocks from receipt)."""


# The states staff set directly; resolving and reopening have their own actions.
SETTABLE_STATES = [
    (state.value, state_words(state, client=False))
    for state in (
        State.OPEN,
        State.WAITING_ACCESS,
        State.WAITING_INFO,
        State.WAITING_APPROVAL,
        State.WAITING_THIRD_PARTY,
        State.CLOSED,
    )
]


class StateForm(forms.Form):
    state = forms.ChoiceField(label="New state", choices=SETTABLE_STATES)
    note = forms.CharField(
        label="Note for the client",
        required=False,
        max_length=300,
        help_text="Shown to the client with the pause: what you need from them, or what you wait for.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("state") in {s.value for s in PAUSING_STATES} and not data.get("note", "").strip():
            self.add_error("note", "Tell the client what the request is waiting for.")
        return data


class NoteForm(forms.Form):
    note = forms.CharField(label="Note", required=False, max_length=500)


class ReopenForm(forms.Form):
    why = forms.CharField(label="Why reopen", max_length=500)


def agency_people() -> QuerySet[User]:
    return User.objects.filter(role__in=AGENCY_ROLES, is_active=True).order_by("username")


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        label="Assignee", queryset=User.objects.none(), required=False, empty_label="— nobody —"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = agency_people()
        self.fields["assignee"].label_from_instance = lambda u: u.get_full_name() or u.username


class BulkAssignForm(AssignForm):
    tickets = forms.ModelMultipleChoiceField(
        queryset=Ticket.objects.all(), error_messages={"required": "Tick at least one request."}
    )


YES_NO = [("", "—"), ("yes", "Yes"), ("no", "No"), ("unknown", "Unknown")]
INITIATORS = [("", "—"), ("client", "Client"), ("agency", "Agency"), ("third_party", "Third party")]


class ReclassifyForm(forms.Form):
    """The guide's bug-versus-change-request checklist, with the new type and the reason."""

    type = forms.ChoiceField(label="Classify as", choices=RequestType.choices)
    why = forms.CharField(label="Reason", max_length=500)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for key, question in services.CLASSIFICATION_QUESTIONS.items():
            choices = INITIATORS if key == "initiated_by" else YES_NO
            self.fields[f"q_{key}"] = forms.ChoiceField(label=question, choices=choices, required=False)

    def checklist(self) -> dict[str, str]:
        return {
            key: self.cleaned_data[f"q_{key}"]
            for key in services.CLASSIFICATION_QUESTIONS
            if self.cleaned_data.get(f"q_{key}")
        }


class TimeForm(forms.Form):
    minutes = forms.IntegerField(label="Minutes", min_value=1, max_value=24 * 60)
    billable = forms.TypedChoiceField(
        label="Counts as",
        choices=[("0", "Included hours"), ("1", "Billable at the contract rate")],
        coerce=lambda v: v == "1",
        initial="0",
    )
    day = forms.DateField(label="Day", widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(label="Note", required=False, max_length=300)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {}).setdefault("day", timezone.localdate())
        super().__init__(*args, **kwargs)


class QueueFilterForm(forms.Form):
    client = forms.ModelChoiceField(
        queryset=Client.objects.order_by("name"),
        to_field_name="slug",
        required=False,
        empty_label="All clients",
    )
    priority = forms.ChoiceField(choices=[("", "All priorities"), *Priority.choices], required=False)
    type = forms.ChoiceField(choices=[("", "All types"), *RequestType.choices], required=False)
    state = forms.ChoiceField(
        choices=[("", "All states"), *((s.value, state_words(s, client=False)) for s in State)],
        required=False,
    )
    assignee = forms.ChoiceField(required=False)
    show = forms.ChoiceField(
        choices=[("open", "Open only"), ("all", "Open and closed")], required=False, initial="open"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        people = [(str(u.pk), u.get_full_name() or u.username) for u in agency_people()]
        self.fields["assignee"].choices = [("", "Anyone"), ("me", "Me"), ("none", "Unassigned"), *people]


REFERENCE = re.compile(r"^\s*(?:#|SK-?)?\s*0*(\d{1,9})\s*$", re.IGNORECASE)


class OtherTicketField(forms.CharField):
    """The other request, by its number as staff see it: "SK-00012", "#12" or "12"."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault("widget", forms.TextInput(attrs={"placeholder": "SK-00012", "inputmode": "text"}))
        super().__init__(**kwargs)

    def clean(self, value: Any) -> Ticket:
        text = super().clean(value)
        found = REFERENCE.match(text)
        if not found:
            raise forms.ValidationError(f"“{text}” is not a request number: type it as SK-00012, #12 or 12.")
        ticket = Ticket.objects.select_related("client").filter(pk=int(found.group(1))).first()
        if ticket is None:
            raise forms.ValidationError(f"There is no request SK-{int(found.group(1)):05d}.")
        return ticket


class MergeForm(forms.Form):
    """Staff: merge this request (the duplicate) into another one (the survivor), after confirming."""

    into = OtherTicketField(
        label="Merge this request into",
        help_text="The request that carries on. This one is closed with a pointer to it; its clocks stop.",
    )
    confirm = forms.BooleanField(
        label="Yes, close this request as a duplicate",
        error_messages={"required": "Tick the box to confirm the merge: it cannot be undone."},
    )


class LinkForm(forms.Form):
    """Staff: mark another request of the same client as related."""

    other = OtherTicketField(label="Related request")


class UnlinkForm(forms.Form):
    other = forms.ModelChoiceField(queryset=Ticket.objects.all(), widget=forms.HiddenInput())
