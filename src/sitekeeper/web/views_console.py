"""Editing the book in the console: a client and its contacts, its contract, a site.

Every edit is a one-client contract file (the client as `sitekeeper export` writes it, with the form's part
replaced) applied by `sitekeeper apply`'s own code (sitekeeper.contracts.edit): the same checks with the same
messages, all or nothing, audited with the person as the actor.

Who may edit (access/permissions.py): the client's name, people and contract are the commercial side of the
book — the agency admin and account managers (`audit_viewer_required`, the roles that also read the change
history of contracts). A site's name, addresses and environments are engineering work — every agency role
(`agency_required`), engineers included.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from sitekeeper.access.permissions import agency_required, audit_viewer_required
from sitekeeper.contracts.apply import ApplyError
from sitekeeper.contracts.edit import CLIENT_PATH, Renames, apply_client_entry
from sitekeeper.contracts.export import client_entry
from sitekeeper.contracts.models import Calendar, Client, Contract, Plan, Site
from sitekeeper.contracts.yamlio import Issue, JsonPath
from sitekeeper.web.forms_console import (
    ClientForm,
    ContactForm,
    ContactFormSet,
    ContractForm,
    FileForm,
    SiteForm,
    WindowForm,
    WindowFormSet,
    describe,
    kept_forms,
)

# Where a form's rows sit in the client's entry: (the issue's path prefix, the form that shows it, how the
# page names that row — "" for the page's main form).
Placement = list[tuple[JsonPath, FileForm, str]]


def _place_issues(issues: list[Issue], placement: Placement, fallback: FileForm) -> list[str]:
    """Put each issue beside its field (the deepest matching form); return the summary lines, each naming
    the field as the form labels it (and the row, for a contact or window)."""
    summary = []
    for issue in issues:
        matches = [place for place in placement if issue.path[: len(place[0])] == place[0]]
        if matches:
            prefix, form, row = max(matches, key=lambda place: len(place[0]))
            below = issue.path[len(prefix) :]
            label = form.place(below, issue.message)
            if (
                not (row or label) and below
            ):  # a list the page shows as rows: "Contacts", "Maintenance windows"
                label = describe(below).replace("_", " ").capitalize()
            where = " — ".join(part for part in (row, label) if part)
            summary.append(f"{where}: {issue.message}" if where else issue.message)
        else:
            where = describe(issue.path[len(CLIENT_PATH) :])
            fallback.add_error(None, f"{where}: {issue.message}")
            summary.append(f"{where}: {issue.message}")
    return summary


def _save(
    request: HttpRequest,
    entry: dict[str, Any],
    placement: Placement,
    fallback: FileForm,
    renames: Renames | None = None,
) -> list[str] | None:
    """Apply the entry; None on success (a message says what changed), else the error summary."""
    try:
        result = apply_client_entry(entry, user=request.user, renames=renames)
    except ApplyError as exc:
        return _place_issues(exc.issues, placement, fallback)
    if result.changes:
        messages.success(request, "Saved: " + "; ".join(result.changes))
    else:
        messages.info(request, "Nothing changed.")
    for warning in result.warnings:
        messages.warning(request, warning.split(": ", 2)[-1])
    return None


def _row_prefixes(formset: Any, rows: list[FileForm], path: JsonPath, noun: str) -> Placement:
    """The kept rows of a formset at their place in the file's list; each named by its place on the page
    ("Contact 2"), which counts the rows shown, deleted ones included."""
    return [
        ((*path, position), form, f"{noun} {formset.forms.index(form) + 1}")
        for position, form in enumerate(rows)
    ]


@audit_viewer_required
def staff_client_edit(request: HttpRequest, slug: str) -> HttpResponse:
    """The client's names and address, and its contacts (add, change, remove)."""
    client = get_object_or_404(Client, slug=slug)
    entry = client_entry(client)
    stored = {(c.email, c.role): c.pk for c in client.contacts.all()}
    contacts = [
        ContactForm.initial_from(c) | {"id": stored.get((c["email"], c["role"]))} for c in entry["contacts"]
    ]
    data = request.POST if request.method == "POST" else None
    form = ClientForm(data, initial=ClientForm.initial_from(entry))
    formset = ContactFormSet(data, initial=contacts, prefix="contacts")
    summary: list[str] = []
    if data is not None:
        if form.is_valid() and formset.is_valid():
            rows = kept_forms(formset)
            renames = Renames()
            mine = set(stored.values())
            for row in formset.forms:
                pk = row.cleaned_data.get("id")
                if pk not in mine:
                    continue
                if row not in rows:
                    renames.removed_contacts.append(pk)
                else:
                    fragment = row.fragment()
                    renames.contacts[pk] = (fragment.get("email", ""), fragment.get("role", ""))
            entry = {"slug": client.slug, **form.fragment(), **_rest(entry, ClientForm)}
            entry["contacts"] = [row.fragment() for row in rows]
            placement = [
                (CLIENT_PATH, form, ""),
                *_row_prefixes(formset, rows, (*CLIENT_PATH, "contacts"), "Contact"),
            ]
            summary = _save(request, entry, placement, form, renames) or []
            if not summary:
                return redirect("staff_client_detail", slug=client.slug)
        else:
            summary = ["The form could not be read; reload the page and try again."]
    return render(
        request,
        "web/staff/edit_client.html",
        {"client": client, "form": form, "formset": formset, "summary": summary},
    )


def _rest(entry: dict[str, Any], form_class: type[FileForm]) -> dict[str, Any]:
    """The entry's keys the form does not show, kept as they are (the client's contract and sites)."""
    shown = {keys[0] for _, keys, _, _ in form_class.KEYS.values()} | {"slug", "contacts"}
    return {key: value for key, value in entry.items() if key not in shown}


def _choices_from(rows: Any, current: str | None) -> list[tuple[str, str]]:
    options = [(row.slug, f"{row} ({row.slug})") for row in rows]
    if current and current not in {slug for slug, _ in options}:
        options.append((current, current))
    return options


@audit_viewer_required
def staff_contract_edit(request: HttpRequest, slug: str) -> HttpResponse:
    """The client's current contract (a new one when it has none): commercial terms, plan, dates, windows."""
    client = get_object_or_404(Client, slug=slug)
    entry = client_entry(client)
    current = entry.get("contract")
    choices = {
        "plan": _choices_from(Plan.objects.order_by("rank", "slug"), (current or {}).get("plan")),
        "calendar": _choices_from(Calendar.objects.order_by("slug"), (current or {}).get("calendar")),
    }
    data = request.POST if request.method == "POST" else None
    form = ContractForm(data, initial=ContractForm.initial_from(current, Contract), choices=choices)
    windows = WindowFormSet(
        data,
        initial=[WindowForm.initial_from(w) for w in (current or {}).get("maintenance_windows", [])],
        prefix="windows",
    )
    summary: list[str] = []
    if data is not None:
        if form.is_valid() and windows.is_valid():
            contract = form.fragment()
            if current and "credit_table" in current:  # Schedule A rows are kept as the file has them
                contract["credit_table"] = current["credit_table"]
            rows = kept_forms(windows)
            if rows:
                contract["maintenance_windows"] = [row.fragment() for row in rows]
            entry["contract"] = contract
            path = (*CLIENT_PATH, "contract")
            placement = [
                (path, form, ""),
                *_row_prefixes(windows, rows, (*path, "maintenance_windows"), "Maintenance window"),
            ]
            summary = _save(request, entry, placement, form) or []
            if not summary:
                return redirect("staff_client_detail", slug=client.slug)
        else:
            summary = ["The form could not be read; reload the page and try again."]
    return render(
        request,
        "web/staff/edit_contract.html",
        {"client": client, "form": form, "windows": windows, "summary": summary, "new": current is None},
    )


@agency_required
def staff_site_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """One site: its name, URL, platform, hosting, environments and link-scan limits."""
    site = get_object_or_404(Site.objects.select_related("client"), pk=pk)
    entry = client_entry(site.client)
    position = next(i for i, spec in enumerate(entry["sites"]) if spec["url"] == site.url)
    data = request.POST if request.method == "POST" else None
    form = SiteForm(data, initial=SiteForm.initial_from(entry["sites"][position], Site))
    summary: list[str] = []
    if data is not None and form.is_valid():
        spec = form.fragment()
        entry["sites"][position] = spec
        renames = Renames(sites={site.pk: spec.get("url", site.url)})
        placement: Placement = [((*CLIENT_PATH, "sites", position), form, "")]
        summary = _save(request, entry, placement, form, renames) or []
        if not summary:
            return redirect("staff_site_detail", pk=site.pk)
    return render(request, "web/staff/edit_site.html", {"site": site, "form": form, "summary": summary})
