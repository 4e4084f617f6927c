"""The console's edit forms: each is a piece of a contract file, checked only by `sitekeeper apply`'s checks.

The forms do no checking of their own (every field is optional text to Django), so a value is accepted or
refused exactly as the same value in a contract file, with the same message (sitekeeper.contracts.edit).
What a form does is turn its fields into the file's keys, the way a person would write them in a file:

- a field left blank is a key left out (its default applies, or "missing required key" when it is required);
- amounts are text, as a file quotes them ("900.00"); dates are text YYYY-MM-DD;
- whole numbers are read as the file's YAML would read them (``12`` is a number, ``abc`` is text, which the
  schema refuses with its own message);
- a checkbox is true or false.

`place_issues` puts each of apply's problems beside the field it is about, named as the form names it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from typing import Any

from django import forms
from django.core.exceptions import FieldDoesNotExist

from sitekeeper.contracts.apply import model_default
from sitekeeper.contracts.models import Contact, Contract, MaintenanceWindow, Site
from sitekeeper.contracts.schema import WEEKDAYS
from sitekeeper.contracts.yamlio import JsonPath, LoadError, format_path, loads

TEXT, INTEGER, DECIMAL, DATE, BOOLEAN, CHOICE = "text", "integer", "decimal", "date", "boolean", "choice"
_MISSING = re.compile(r"^missing required key '([^']+)'$")


def yaml_scalar(text: str) -> Any:
    """`text` as the contract file's YAML reads it when written unquoted (12 → 12, abc → 'abc')."""
    try:
        return loads(text, "form").data
    except LoadError:
        return text


def _widget(kind: str, choices: Sequence[tuple[str, str]]) -> forms.Widget:
    if kind == CHOICE:
        return forms.Select(choices=choices)
    if kind == DATE:
        return forms.DateInput(attrs={"type": "date"})
    if kind == INTEGER:
        return forms.TextInput(attrs={"inputmode": "numeric"})
    if kind == DECIMAL:
        return forms.TextInput(attrs={"inputmode": "decimal"})
    return forms.TextInput()


class FileForm(forms.Form):
    """A form whose fields are keys of one object of the contract file.

    KEYS maps a field name to (kind, key path below the object, label, help); CHOICES gives the options of
    choice fields. Django checks nothing: every field is optional text (or a checkbox).
    """

    KEYS: dict[str, tuple[str, tuple[str, ...], str, str]] = {}
    CHOICES: dict[str, Sequence[tuple[str, str]]] = {}
    TEXTAREAS: frozenset[str] = frozenset()

    def __init__(
        self, *args: Any, choices: dict[str, Sequence[tuple[str, str]]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        options = {**self.CHOICES, **(choices or {})}
        for name, (kind, _, label, help_text) in self.KEYS.items():
            if kind == BOOLEAN:
                self.fields[name] = forms.BooleanField(label=label, required=False, help_text=help_text)
                continue
            widget = forms.Textarea(attrs={"rows": 3}) if name in self.TEXTAREAS else _widget(kind, ())
            if kind == CHOICE:
                widget = forms.Select(choices=[("", "—"), *options.get(name, ())])
            self.fields[name] = forms.CharField(
                label=label, required=False, help_text=help_text, widget=widget, strip=kind != TEXT
            )

    def add_error(self, field: str | None, error: Any) -> None:
        super().add_error(field, error)
        if field in self.fields:  # Pico marks the input; the message is tied to it for screen readers
            self.fields[field].widget.attrs.update(
                {"aria-invalid": "true", "aria-describedby": f"id_{self.add_prefix(field)}_error"}
            )

    @classmethod
    def initial_from(cls, spec: dict[str, Any] | None, model: type | None = None) -> dict[str, Any]:
        """Field values from an object of the file; keys it leaves out show the default they take."""
        spec = spec or {}
        initial: dict[str, Any] = {}
        for name, (kind, keys, _, _) in cls.KEYS.items():
            value: Any = spec
            for key in keys:
                value = value.get(key) if isinstance(value, dict) else None
            if value is None and model is not None and len(keys) == 1:
                try:
                    value = model_default(model, keys[0])
                except FieldDoesNotExist:  # a key that is no model field has no default
                    value = None
            if isinstance(value, dt.date):
                value = value.isoformat()
            initial[name] = value if value is not None else ("" if kind != BOOLEAN else False)
        return initial

    def fragment(self) -> dict[str, Any]:
        """The object of the contract file the form describes; call after is_valid()."""
        data: dict[str, Any] = {}
        for name, (kind, keys, _, _) in self.KEYS.items():
            value = self.cleaned_data.get(name)
            if kind == BOOLEAN:
                value = bool(value)
            else:
                text = value if isinstance(value, str) else ""
                if not text.strip():
                    continue  # a key left out
                value = yaml_scalar(text.strip()) if kind == INTEGER else text
            target = data
            for key in keys[:-1]:
                target = target.setdefault(key, {})
            target[keys[-1]] = value
        return data

    def field_for(self, path: JsonPath) -> str | None:
        """The field an issue at `path` (below the object) is about: the longest key path it starts with."""
        best, length = None, 0
        for name, (_, keys, _, _) in self.KEYS.items():
            if tuple(path[: len(keys)]) == keys and len(keys) > length:
                best, length = name, len(keys)
        return best

    def place(self, path: JsonPath, message: str) -> str:
        """Attach an issue at `path` (below this object) to its field; returns the label it names."""
        missing = _MISSING.match(message)
        if missing:
            path = (*path, missing.group(1))
        name = self.field_for(path)
        if name is None:
            self.add_error(None, message)
            return ""
        self.add_error(name, message)
        return str(self.fields[name].label)


def _choices(model_choices: Iterable[tuple[Any, str]]) -> list[tuple[str, str]]:
    return [(str(value), f"{label} ({value})") for value, label in model_choices]


class ClientForm(FileForm):
    KEYS = {
        "name": (TEXT, ("name",), "Name", "As the console and portal show the client."),
        "legal_name": (TEXT, ("legal_name",), "Legal name", "On the agreement, if different."),
        "address": (TEXT, ("address",), "Postal address", "For the agreement."),
    }
    TEXTAREAS = frozenset({"address"})


class ContactForm(FileForm):
    KEYS = {
        "name": (TEXT, ("name",), "Name", ""),
        "email": (TEXT, ("email",), "E-mail", ""),
        "role": (CHOICE, ("role",), "Role", "Exactly one product owner."),
        "phone": (TEXT, ("phone",), "Phone", "Required for an emergency contact."),
        "availability": (TEXT, ("availability",), "Availability", "Hours the contact answers."),
    }
    CHOICES = {"role": [(str(v), str(label)) for v, label in Contact.Role.choices]}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["id"] = forms.IntegerField(required=False, widget=forms.HiddenInput)


class ContractForm(FileForm):
    KEYS = {
        "plan": (CHOICE, ("plan",), "Plan", ""),
        "start": (DATE, ("start",), "Start date", "The minimum term counts from it."),
        "monthly_fee": (DECIMAL, ("monthly_fee",), "Monthly fee", 'An exact amount, e.g. "900.00".'),
        "currency": (TEXT, ("currency",), "Currency", "ISO 4217 code, e.g. EUR."),
        "hourly_rate": (DECIMAL, ("hourly_rate",), "Hourly rate", "For work beyond the included hours."),
        "calendar": (CHOICE, ("calendar",), "Business calendar", ""),
        "minimum_term_months": (INTEGER, ("minimum_term_months",), "Minimum term (months)", ""),
        "billing_unit_minutes": (INTEGER, ("billing_unit_minutes",), "Billing unit (minutes)", ""),
        "alert_minutes": (INTEGER, ("alert_minutes",), "Uptime alert within (minutes)", ""),
        "update_batch": (TEXT, ("update_batch",), "Monthly update batch", 'e.g. "2nd tue" or "day 15".'),
        "credit_rounding": (CHOICE, ("credit_rounding",), "Credit steps", ""),
        "credit_basis": (CHOICE, ("credit_basis",), "Credit basis", ""),
        "annual_prepayment": (BOOLEAN, ("annual_prepayment",), "Paid a year ahead", ""),
        "status": (CHOICE, ("status",), "Status", ""),
        "notice_days": (INTEGER, ("notice_days",), "Notice period (days)", ""),
        "notice_given_on": (DATE, ("notice_given_on",), "Notice given on", "With status “Notice given”."),
        "cancellation_reading": (CHOICE, ("cancellation_reading",), "Notice takes effect", ""),
    }
    CHOICES = {
        "credit_rounding": _choices(Contract.CreditRounding.choices),
        "credit_basis": _choices(Contract.CreditBasis.choices),
        "status": _choices(Contract.Status.choices),
        "cancellation_reading": _choices(Contract.CancellationReading.choices),
    }


class WindowForm(FileForm):
    KEYS = {
        "weekday": (CHOICE, ("weekday",), "Weekday", ""),
        "start": (TEXT, ("start",), "Starts", "HH:MM"),
        "end": (TEXT, ("end",), "Ends", "HH:MM; may be past midnight."),
        "max_minutes": (INTEGER, ("max_minutes",), "Longest downtime (min)", ""),
        "notice_hours": (INTEGER, ("notice_hours",), "Notice for extended work (h)", ""),
    }
    CHOICES = {
        "weekday": [
            (key, label) for key, (_, label) in zip(WEEKDAYS, MaintenanceWindow.WEEKDAYS, strict=True)
        ]
    }


class SiteForm(FileForm):
    KEYS = {
        "name": (TEXT, ("name",), "Name", ""),
        "url": (TEXT, ("url",), "URL", "The site's public address."),
        "platform": (CHOICE, ("platform",), "Platform", ""),
        "hosting": (TEXT, ("hosting",), "Hosting", "Provider and region."),
        "prod": (TEXT, ("environments", "prod"), "Production URL", "Left blank: the site's URL."),
        "stage": (TEXT, ("environments", "stage"), "Staging URL", "Blank: no staging environment."),
        "dev": (TEXT, ("environments", "dev"), "Development URL", "Blank: no development environment."),
        "link_max_pages": (INTEGER, ("link_scan", "max_pages"), "Link scan: most pages", "Default 5000."),
        "link_max_depth": (INTEGER, ("link_scan", "max_depth"), "Link scan: most clicks deep", "Default 6."),
        "notes": (TEXT, ("notes",), "Notes for the team", ""),
    }
    CHOICES = {"platform": [(str(v), str(label)) for v, label in Site.Platform.choices]}
    TEXTAREAS = frozenset({"notes"})


ContactFormSet = forms.formset_factory(ContactForm, extra=1, can_delete=True)
WindowFormSet = forms.formset_factory(WindowForm, extra=1, can_delete=True)


def kept_forms(formset: forms.BaseFormSet) -> list[FileForm]:
    """The formset's rows that describe an entry: not deleted, and not an untouched blank row."""
    kept = []
    for form in formset.forms:
        if formset.can_delete and formset._should_delete_form(form):
            continue
        if form not in formset.initial_forms and not form.has_changed():
            continue
        kept.append(form)
    return kept


def describe(path: JsonPath) -> str:
    """A path no field shows, in the contract file's terms below the client (contract.alert_minutes)."""
    return format_path(path) or "this client"
