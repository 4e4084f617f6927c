"""The client's agreement rendered from its contract: Markdown, HTML, or PDF (WeasyPrint from the HTML).

The rendered agreement *is* the agreement: every sentence of `maintenance-agreement-template.txt` is printed
word for word (templates/contracts/agreement-clauses.txt holds sections 1–11 as the template words them),
with its placeholders filled from the contract, its plan, its calendar and its windows. sitekeeper's exact
readings — how each figure is counted — are printed beside the clause as marked notes ("How this is
measured: …"), never by changing the clause's text (tests/contracts/test_render_text.py checks it).
The templates only lay out what `agreement_context()` computed; they hold no figures of their own.
"""

from __future__ import annotations

import calendar as stdcal
import datetime as dt
import itertools
import re
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string

from sitekeeper.contracts.models import PRIORITIES, Contact, Contract, Plan
from sitekeeper.contracts.presenters import contract_credit_rule, zone_of  # one wording, one zone
from sitekeeper.core.calendar import BusinessCalendar
from sitekeeper.core.credits import NO_REMEDY, basis_amount, minor_unit, to_decimal
from sitekeeper.core.targets import MonthlyBatch, Target, parse_target

FORMATS = ("md", "html", "pdf")
TEMPLATE_DIR = Path(__file__).parent / "templates" / "contracts"
AGREEMENT_VERSION = "1.0"  # of the agreement's wording; bump it when the templates' clauses change
NOTE_TITLE = "How this is measured:"

# The agency's identity as the agreement prints it; a deployment overrides it with SITEKEEPER_AGENCY.
DEFAULT_AGENCY = {
    "name": "Webility",
    "legal_name": "Webility LLC",
    "code": "WBL",
    "support_email": "support@webility.local",
    "legal_email": "legal@webility.local",
    "address": "",
    # 2.2 "[emergency contact method: phone / dedicated Slack]"; 10 "Governing law", "Exclusive jurisdiction".
    "emergency_method": "phone (the Agency's on-call line)",
    "governing_law": "as agreed in Schedule A",
    "jurisdiction": "as agreed in Schedule A",
}

# The template's bracketed figures that are the same for every contract today.
TERMS: dict[str, Any] = {
    "onboarding_business_days": 5,
    "monitoring_setup_business_days": 10,
}

PRIORITY_TEXT = {
    "P1": (
        "Critical",
        (
            "Website completely inaccessible; checkout or payment system broken; active security breach or "
            "data leak"
        ),
        (
            "Site returning 500/503 errors globally; malware detected and executing; SSL failure causing "
            "browser security blocks"
        ),
    ),
    "P2": (
        "High",
        (
            "Major functionality broken; significant portion of site inaccessible; severe performance "
            "degradation"
        ),
        (
            "Contact form not sending; 50%+ of pages returning errors; Lighthouse score dropped >40 points; "
            "e-commerce product pages broken"
        ),
    ),
    "P3": (
        "Medium",
        "Non-critical feature impaired; minor errors affecting some users; content displaying incorrectly",
        "Single form field not validating; one page loading slowly; image not displaying on one browser",
    ),
    "P4": (
        "Low",
        "Minor visual issue; enhancement request; general question",
        "Button color slightly off on one device; inquiry about adding a new section; billing question",
    ),
}

PAUSE_REASONS = (
    "the Client's access, information or approval",
    "the end of a third-party outage",
    "the missing details of an incomplete request from the Client",
    "the end of a disruption caused by an unauthorized change (Section 3.2 (b))",
    "access revoked or expired to be restored (Section 3.2 (c))",
)

CLOCK_TEXT = {
    "response": "Response",
    "resolution": "Resolution (time from receipt until the request is resolved)",
    "recovery": "Recovery, incidents (time from receipt until the critical function is restored, e.g. by a "
    "rollback or a workaround)",
}

CANCELLATION_READINGS = {
    "cycle_of_notice_end": "the end of the calendar month in which the notice period ends",
    "cycle_after_notice_end": "the end of the calendar month after the one in which the notice period ends",
}

LEAD_IN = re.compile(r"^(\([a-z]\) [^:]{1,60}:) (.+)$")
ENV_ORDER = {"prod": 0, "stage": 1, "dev": 2}
ORDINALS = {1: "1st", 2: "2nd", 3: "3rd", 4: "4th", -1: "last"}


# --- entry point ---------------------------------------------------------------------------------------
def render_agreement(contract: Contract, fmt: str) -> str | bytes:
    """The agreement as Markdown or HTML text, or PDF bytes."""
    if fmt not in FORMATS:
        raise ValueError(f"agreement format {fmt!r}: expected one of {', '.join(FORMATS)}")
    context = agreement_context(contract)
    if fmt == "md":
        safe = markdown_safe(context)
        safe["body"] = "".join(section_markdown(section) for section in safe["sections"])
        return render_to_string("contracts/agreement.md", safe)
    html = render_to_string("contracts/agreement.html", context)
    if fmt == "html":
        return html
    import weasyprint  # heavy; only the PDF path pays for it

    return weasyprint.HTML(string=html, base_url=str(TEMPLATE_DIR)).write_pdf()


def document_id(contract: Contract) -> str:
    return f"{agency()['code']}-CTR-MNT-{contract.client.slug.upper()}-v{AGREEMENT_VERSION}"


def agency() -> dict[str, str]:
    return {**DEFAULT_AGENCY, **getattr(settings, "SITEKEEPER_AGENCY", {})}


# --- the context ---------------------------------------------------------------------------------------
def agreement_context(contract: Contract) -> dict[str, Any]:
    plans = list(Plan.objects.order_by("rank", "slug"))
    return {
        "doc_id": document_id(contract),
        "agency": agency(),
        "terms": TERMS,
        "note_title": NOTE_TITLE,
        "contract": contract,
        "start": long_date(contract.start),
        "client": client_context(contract),
        "plan": contract.plan,
        "tiers": [{"name": p.name, "chosen": p.pk == contract.plan_id} for p in plans],
        "sections": clauses(contract, plans),
    }


def clauses(contract: Contract, plans: list[Plan] | None = None) -> list[dict[str, Any]]:
    """Sections 1–11: the template's clauses with their placeholders filled, and the notes beside them."""
    plans = plans if plans is not None else list(Plan.objects.order_by("rank", "slug"))
    cal = contract.calendar.current.to_core()
    blocks = computed_blocks(contract, plans, cal)
    text = (TEMPLATE_DIR / "agreement-clauses.txt").read_text(encoding="utf-8")
    return parse_clauses(text, clause_values(contract, plans, cal), blocks)


def parse_clauses(
    text: str, values: dict[str, Any], blocks: dict[str, list[dict[str, Any]]] | None = None
) -> list[dict[str, Any]]:
    """'# N Title' starts a section, '## …' a subheading, '- …' a list item, '| … |' a table row, '@name' a
    computed block, '> …' a note item; any other line is a paragraph. Lines starting with ';' are comments;
    {name} placeholders are filled from `values`."""
    sections: list[dict[str, Any]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(";"):
            continue
        line = line.format(**values)
        if line.startswith("# "):
            number, _, title = line[2:].partition(" ")
            sections.append({"number": number, "title": title, "blocks": []})
            continue
        _add_line(sections[-1]["blocks"], line, blocks or {})
    return sections


def _add_line(blocks: list[dict[str, Any]], line: str, computed: dict[str, list[dict[str, Any]]]) -> None:
    last = blocks[-1] if blocks else None
    if line.startswith("@"):
        blocks.extend(computed[line[1:]])
    elif line.startswith("> "):
        item = line[2:].strip()
        if not item:  # a reading that does not apply to this contract (its value is empty)
            return
        if last is None or last["kind"] != "note":
            blocks.append(note_block())
        blocks[-1]["parts"].append({"kind": "p", "text": item})
    elif line.startswith("|"):
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if all(set(cell) <= {"-", ":"} for cell in cells):
            return  # the Markdown header rule
        if last is None or last["kind"] != "table":
            blocks.append(table_block(cells, []))
        else:
            last["rows"].append(cells)
    elif line.startswith("- "):
        if last is None or last["kind"] != "ul":
            blocks.append({"kind": "ul", "items": []})
        blocks[-1]["items"].append(line[2:])
    elif line.startswith("## "):
        blocks.append({"kind": "h", "text": line[3:]})
    else:
        lead = LEAD_IN.match(line)  # "(a) New features: …" → the lead-in is printed bold
        blocks.append(
            {"kind": "p", "lead": lead.group(1) if lead else "", "text": lead.group(2) if lead else line}
        )


def note_block(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "note", "title": NOTE_TITLE, "parts": list(parts)}


def table_block(head: list[str], rows: list[list[str]], css: str = "", chosen: int | None = None) -> dict:
    """`chosen`: index of the column of this contract's plan (printed bold)."""
    return {"kind": "table", "head": head, "rows": rows, "css": css, "chosen": chosen}


# --- Markdown of the sections (the HTML is laid out by _clauses.html) ----------------------------------
def section_markdown(section: dict[str, Any]) -> str:
    out = [f"\n## {section['number']}. {section['title']}\n"]
    for block in section["blocks"]:
        out.append("\n" + "\n".join(block_markdown(block)) + "\n")
    return "".join(out)


def block_markdown(block: dict[str, Any]) -> list[str]:
    kind = block["kind"]
    if kind == "h":
        return [f"### {block['text']}"]
    if kind == "p":
        return [f"**{block['lead']}** {block['text']}" if block["lead"] else block["text"]]
    if kind == "ul":
        return [f"- {item}" for item in block["items"]]
    if kind == "table":
        return table_markdown(block)
    lines = [f"**{block['title']}**", ""]
    for part in block["parts"]:
        lines += [f"- {part['text']}"] if part["kind"] == "p" else ["", *table_markdown(part), ""]
    return [f"> {line}".rstrip() for line in lines]


def table_markdown(table: dict[str, Any]) -> list[str]:
    def bold(cells: list[str], column: int | None) -> list[str]:
        return [f"**{cell}**" if i == column and cell else cell for i, cell in enumerate(cells)]

    head = bold(table["head"], table["chosen"])
    rows = [
        bold(row, 0 if index == table.get("chosen_row") else None) for index, row in enumerate(table["rows"])
    ]
    return [
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


# --- placeholders --------------------------------------------------------------------------------------
def clause_values(contract: Contract, plans: list[Plan], cal: BusinessCalendar) -> dict[str, Any]:
    plan, version, firm = contract.plan, contract.calendar.current, agency()
    currency = contract.currency.upper()
    return {
        **TERMS,
        "agency_name": firm["name"],
        "support_email": firm["support_email"],
        "governing_law": firm["governing_law"],
        "jurisdiction": firm["jurisdiction"],
        "emergency_method": firm["emergency_method"],
        "plan_name": plan.name,
        "retention_days": plan.backup_retention_days,
        "retention_by_plan": retention_by_plan(plans),
        "alert_minutes": contract.alert_minutes,
        "rate": fee(contract.hourly_rate, currency)
        if contract.hourly_rate is not None
        else "the Agency's current rate",
        "content_hours": plan.content_hours_label,
        "billing_unit": contract.billing_unit_minutes,
        "timezone": version.timezone,
        "calendar_version": version.number,
        "business_hours": f"{business_days(cal)}, Agency's local time zone: {version.timezone}",
        "business_days": business_days(cal, closed=True),
        "holidays": holidays_words(version.holiday_country, version.holiday_subdivision),
        "closures": ", ".join(long_date(dt.date.fromisoformat(str(d))) for d in sorted(version.closures))
        or "none",
        "business_day": duration(cal.business_day_length()),
        "after_hours_plans": " and ".join(p.name for p in plans if p.after_hours_emergency) or "no",
        "pause_reasons": ", ".join(PAUSE_REASONS[:-1]) + " or " + PAUSE_REASONS[-1],
        "after_hours_reading": after_hours_reading(plan, firm["emergency_method"]),
        "remedy_reading": remedy_reading(contract),
        "credit_cap_reading": credit_cap_reading(contract),
        "currency": currency,
        "amount": amount_text(contract.monthly_fee, currency),
        "payment_method": "the payment method on file",
        "annual_reading": annual_reading(contract),
        "minimum_months": contract.minimum_term_months,
        "start": long_date(contract.start),
        "minimum_term_end": long_date(contract.minimum_term_end),
        "notice_days": contract.notice_days,
        "cancellation_reading": cancellation_reading(contract),
        "notice_on_record": notice_on_record(contract),
    }


def retention_by_plan(plans: list[Plan]) -> str:
    """'Starter: 30 days / Professional: 60 / Business: 90 / Enterprise: 365', as table 1.2 words it."""
    parts = [f"{p.name}: {p.backup_retention_days}" for p in plans]
    if parts:
        parts[0] += " days"
    return " / ".join(parts)


def business_days(cal: BusinessCalendar, closed: bool = False) -> str:
    """'Monday–Friday, 09:00–18:00' (consecutive weekdays with the same hours grouped); `closed`: with the
    days without business hours too."""
    rows = [(days, spans) for days, spans in weekly_rows(cal) if closed or spans != "closed"]
    return "; ".join(f"{days}, {spans}" for days, spans in rows) or "none"


def after_hours_reading(plan: Plan, method: str) -> str:
    if not plan.after_hours_emergency:
        return (
            f"The {plan.name} plan has no after-hours emergency escalation: every target, P1 included, is "
            "counted in business hours."
        )
    return (
        f"On the {plan.name} plan a P1 is counted around the clock (24/7), nights, weekends and holidays "
        "included. A P1 received — or raised to P1 — outside business hours pages the on-call engineer at "
        f"once, via {method}, without waiting for any warning."
    )


def remedy_reading(contract: Contract) -> str:
    rule = contract.credit_rule()
    if rule is None:
        return f"Remedy under this Agreement: {NO_REMEDY}. No service credit is computed."
    return (
        f"Service credit under this Agreement: {contract_credit_rule(contract)}. The shortfall below the SLA "
        "and the steps are computed exactly (no rounding of the uptime first)."
    )


def credit_cap_reading(contract: Contract) -> str:
    monthly, currency = contract.monthly_fee, contract.currency.upper()
    if contract.credit_rule() is None:
        return "With no remedy agreed, there is no credit to cap."
    sites = contract.client.sites.count()
    if contract.credit_basis == Contract.CreditBasis.FULL_FEE:
        basis = f"Each website's credit is a percentage of the full monthly fee ({fee(monthly, currency)})."
    else:
        count = max(sites, 1)
        share = to_decimal(basis_amount(Fraction(monthly), count, "fee_share"), minor_unit(currency))
        basis = (
            "Each website's credit is a percentage of its share of the monthly fee: "
            f"{fee(monthly, currency)} ÷ {count} covered website(s) = {fee(share, currency)}."
        )
    return (
        f"{basis} The credits of all the Agreement's websites in a calendar month are added up, and the "
        f"total is capped at that month's fee ({fee(monthly, currency)}). Credits are a deduction on the "
        "next invoice; any excess is carried as a credit balance."
    )


def annual_reading(contract: Contract) -> str:
    currency = contract.currency.upper()
    annual = fee(contract.monthly_fee * 12 * Decimal("0.9"), currency)
    if not contract.annual_prepayment:
        return f"Not elected in this Agreement (the annual fee would be {annual}: 12 × the fee − 10 %)."
    return (
        f"Elected: one invoice per annual term of {annual} (12 × the fee − 10 %). On an upgrade the unused "
        "part of the term, pro rata by days, becomes a credit balance for the new plan."
    )


def cancellation_reading(contract: Contract) -> str:
    when = CANCELLATION_READINGS.get(contract.cancellation_reading, contract.cancellation_reading)
    annual = (
        " and, with annual pre-payment, not before the end of the annual term"
        if contract.annual_prepayment
        else ""
    )
    return (
        f"Notice may be given at any time; the notice period ends {contract.notice_days} calendar days after "
        f"the day of notice. The cancellation is effective at {when} — never before the end of the month in "
        f"which the Minimum Term ends{annual}."
    )


def notice_on_record(contract: Contract) -> str:
    dates = contract.cancellation()
    if dates is None:
        return ""
    return (
        f"Notice on record: given on {long_date(contract.notice_given_on)}; the notice period ends "  # type: ignore[arg-type]
        f"{long_date(dates.notice_period_end)}; the cancellation is effective on "
        f"{long_date(dates.effective_date)} (the last day of service); backups can be downloaded until "
        f"{long_date(dates.transition_end)}."
    )


# --- computed blocks: the tables whose rows come from the plans, the sites and the windows -------------
def computed_blocks(contract: Contract, plans: list[Plan], cal: BusinessCalendar) -> dict[str, list[dict]]:
    chosen = next((i + 1 for i, p in enumerate(plans) if p.pk == contract.plan_id), None)
    names = [p.name for p in plans]
    return {
        "sites": [sites_table(contract)],
        "plan_services": [table_block(["Service", *names], plan_service_rows(plans), "plans", chosen)],
        "priorities": [priorities_table()],
        "response_times": [table_block(["Priority", *names], response_rows(plans), "plans", chosen)],
        "readings": [readings_note(contract, cal)],
        "uptime_remedies": uptime_blocks(contract, plans, chosen),
        "windows": [windows_list(contract)],
    }


def sites_table(contract: Contract) -> dict[str, Any]:
    sites = contract.client.sites.prefetch_related("environments").order_by("url")
    rows = [
        [
            str(number),
            f"{site.url} ({site.name})" if site.name else site.url,
            site.get_platform_display(),
            site.hosting or "—",
            "; ".join(
                f"{env.get_kind_display()}: {env.url}"
                for env in sorted(site.environments.all(), key=lambda env: ENV_ORDER.get(env.kind, 9))
            )
            or "—",
        ]
        for number, site in enumerate(sites, start=1)
    ]
    head = ["#", "Website URL", "Platform / CMS", "Hosting Location", "Environments"]
    return table_block(head, rows or [["—", "no website registered yet", "", "", ""]], "sites")


def plan_service_rows(plans: list[Plan]) -> list[list[str]]:
    def row(label: str, value: Any) -> list[str]:
        return [label, *(value(p) for p in plans)]

    return [
        row("Update frequency", lambda p: p.get_update_cadence_display()),
        row("Content update hours / month", lambda p: p.content_hours_label),
        row("Security level", lambda p: p.get_security_level_display()),
        row("Support channel", lambda p: p.channels_label),
        row("Response time (standard issues)", lambda p: words(p.standard_response)),
        row("Emergency response (P1)", lambda p: words(p.target("response", "P1") or "")),
        row("Monthly performance call", lambda p: p.get_performance_call_display()),
        row("Uptime SLA", lambda p: f"{percent(p.uptime_sla)}%"),
    ]


def priorities_table() -> dict[str, Any]:
    rows = [
        [f"{code} — {name}", definition, examples]
        for code, (name, definition, examples) in PRIORITY_TEXT.items()
    ]
    return table_block(["Priority", "Definition", "Examples"], rows, "priorities")


def response_rows(plans: list[Plan]) -> list[list[str]]:
    """Table 2.2: each priority's response target in every plan, in the agreement's words."""
    return [
        [priority_label(code), *(words(p.target("response", code) or "") for p in plans)]
        for code in PRIORITIES
    ]


def priority_label(code: str) -> str:
    return f"{code} — {PRIORITY_TEXT[code][0]}"


def readings_note(contract: Contract, cal: BusinessCalendar) -> dict[str, Any]:
    """The exact reading of each of the plan's targets, one table per clock the plan sets."""
    plan, parts = contract.plan, []
    for clock in ("response", "resolution", "recovery"):
        if clock != "response" and not any(plan.target(clock, p) for p in PRIORITIES):
            continue
        parts.append({"kind": "p", "text": f"{CLOCK_TEXT[clock]} targets of the {plan.name} plan:"})
        head = ["Priority", plan.name, "Exact reading"]
        parts.append(table_block(head, clock_rows(contract, clock, cal), "targets"))
    return note_block(*parts)


def clock_rows(contract: Contract, clock: str, cal: BusinessCalendar) -> list[list[str]]:
    rows = []
    for code in PRIORITIES:
        text = contract.plan.target(clock, code)
        target = parse_target(text) if text else None
        rows.append(
            [
                priority_label(code),
                target.describe() if target else "no target",
                reading(target, cal, contract.batch_rule()) if target else "—",
            ]
        )
    return rows


def uptime_blocks(contract: Contract, plans: list[Plan], chosen: int | None) -> list[dict[str, Any]]:
    rows = [[p.name, f"{percent(p.uptime_sla)}%", "Monthly", remedy_words(p)] for p in plans]
    head = ["Plan", "Uptime Guarantee", "Measurement", "SLA Breach Remedy"]
    blocks = [table_block(head, rows, "remedies", None)]
    if chosen is not None:
        blocks[0]["chosen_row"] = chosen - 1
    rule = contract.credit_rule()
    if rule is not None and rule.kind == "table":
        schedule = table_block(
            ["Monthly uptime below", "Credit (% of the monthly fee)"],
            [[f"{percent(to_decimal(r.below))}%", f"{to_decimal(r.percent)}%"] for r in rule.table],
            "schedule-a",
        )
        intro = "Schedule A of this Agreement — the lowest threshold the monthly uptime falls below applies:"
        blocks.append(note_block({"kind": "p", "text": intro}, schedule))
    return blocks


def remedy_words(plan: Plan) -> str:
    """Table 2.3's remedy column in the agreement's words, from the plan's figures."""
    if plan.credit_kind != "steps" or plan.credit_rate is None or plan.credit_step is None:
        return "Custom remedy per Schedule A"
    return (
        f"Service credit: {plain(plan.credit_rate)}% of monthly fee per {plain(plan.credit_step)}% below SLA"
    )


def windows_list(contract: Contract) -> dict[str, Any]:
    zone = zone_of(contract)
    items = [
        f"Standard window: {window.get_weekday_display()}, {window.start:%H:%M}–{window.end:%H:%M}"
        f"{' (ending the next day)' if window.end <= window.start else ''}, {zone} — maximum "
        f"{window.max_minutes} minutes"
        for window in contract.maintenance_windows.order_by("weekday", "start")
    ]
    return {"kind": "ul", "items": items or ["Standard window: none agreed in this contract"]}


# --- readings in words ---------------------------------------------------------------------------------
def words(text: str) -> str:
    """A target as the agreement's table words it: '4 hours', '8 business hours', 'Next business day'."""
    if not text:
        return "—"
    described = parse_target(text).describe().removesuffix(" (24/7)")
    return described[:1].upper() + described[1:]


def reading(target: Target, cal: BusinessCalendar, batch: MonthlyBatch) -> str:
    """Exactly how the clock counts this target (DESIGN.md 'SLA targets')."""
    n = target.amount
    if target.is_wall_clock:
        return "counted around the clock: nights, weekends and holidays included"
    if target.kind == "bh":
        return f"{n} h of business time, counted only within business hours"
    if target.kind == "bd":
        day = cal.business_day_length()
        return (
            f"{n} × {duration(day)} (one business day) = {duration(day * n)} of business time, "
            "counted only within business hours"
        )
    if target.kind == "same_bd":
        return (
            "by close of business on the day of receipt; if received at or after close or on a "
            "non-business day, by close of business on the next business day"
        )
    if target.kind == "next_bd":
        return "by close of business on the first business day after the day of receipt"
    return (
        f"by close of business on the day of the next monthly update batch ({batch_words(batch)}); "
        "if that day is not a business day, on the next business day"
    )


def batch_words(batch: MonthlyBatch) -> str:
    if batch.nth == 0:
        return f"day {batch.day} of each month"
    weekday = stdcal.day_name[batch.weekday]
    return f"the {ORDINALS[batch.nth]} {weekday} of each month"


def weekly_rows(cal: BusinessCalendar) -> list[tuple[str, str]]:
    """Consecutive weekdays with the same hours on one row: ('Monday–Friday', '09:00–18:00')."""
    rows = []
    indexed = list(enumerate(cal.weekly))
    for spans, group in itertools.groupby(indexed, key=lambda item: item[1]):
        days = [index for index, _ in group]
        first, last = stdcal.day_name[days[0]], stdcal.day_name[days[-1]]
        label = first if first == last else f"{first}–{last}"
        rows.append((label, ", ".join(interval(start, end) for start, end in spans) or "closed"))
    return rows


def interval(start: dt.time, end: dt.time | None) -> str:
    return f"{start:%H:%M}–{'24:00' if end is None else f'{end:%H:%M}'}"


def holidays_words(country: str, subdivision: str) -> str:
    if not country:
        return "none (no public-holiday calendar)"
    from holidays.registry import COUNTRIES

    names = {code: name for name, code, *_ in COUNTRIES.values()}
    place = f"{names.get(country, country)} ({country})"
    return f"public holidays of {place}{f', subdivision {subdivision}' if subdivision else ''}"


def client_context(contract: Contract) -> dict[str, Any]:
    client = contract.client
    contacts = {c.role: c for c in client.contacts.all()}
    return {
        "name": client.name,
        "legal_name": client.legal_name or client.name,
        "address": client.address,
        "product_owner": contacts.get(Contact.Role.PRODUCT_OWNER),
        "emergency": contacts.get(Contact.Role.EMERGENCY),
        "particulars": particulars(client.address, contacts),
    }


def particulars(address: str, contacts: dict[str, Contact]) -> str:
    """The template's '[Registered Address, Representative: Name, Title, Email]', from the client's record."""
    parts = [" ".join(address.split()) if address else "registered address: not on record"]
    owner, emergency = contacts.get(Contact.Role.PRODUCT_OWNER), contacts.get(Contact.Role.EMERGENCY)
    if owner:
        parts.append(f"Representative: {owner.name}, product owner, {owner.email}")
    if emergency:
        parts.append(f"emergency contact: {emergency.name}, {emergency.phone or emergency.email}")
    return "; ".join(parts)


# --- small formatters ----------------------------------------------------------------------------------
def percent(value: Decimal) -> str:
    """99.900 → '99.9', 99 → '99.0', 99.95 → '99.95' (the agreement's way of printing an SLA)."""
    normal = Decimal(value).normalize()
    if normal.as_tuple().exponent >= 0:  # type: ignore[operator]
        return str(normal.quantize(Decimal("0.1")))
    return f"{normal:f}"


def plain(value: Decimal) -> str:
    """10 → '10', 1.50 → '1.5': a rate as a person writes it."""
    return f"{Decimal(value).normalize():f}"


def money(amount: Decimal, currency: str) -> str:
    """'900.00 EUR' (the `sla` command's way; the agreement prints `fee()`)."""
    return f"{amount_text(amount, currency)} {currency.upper()}"


def fee(amount: Decimal, currency: str) -> str:
    """'EUR 900.00': as 5.1 words it, '[CURRENCY] [AMOUNT]'."""
    return f"{currency.upper()} {amount_text(amount, currency)}"


def amount_text(amount: Decimal, currency: str) -> str:
    """900 → '900.00' (in the currency's minor unit, thousands separated)."""
    unit = minor_unit(currency)
    places = 0 if unit == 1 else 2
    return f"{Decimal(amount).quantize(unit):,.{places}f}"


def duration(length: dt.timedelta) -> str:
    minutes = int(length.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    if not minutes:
        return f"{hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def long_date(day: dt.date) -> str:
    return f"{day.day} {stdcal.month_name[day.month]} {day.year}"


def markdown_safe(value: Any) -> Any:
    """Client-typed text must not break a Markdown table: escape pipes, keep each value on one line."""
    if isinstance(value, str):
        lines = (" ".join(line.split()) for line in value.replace("|", "\\|").splitlines())
        return ", ".join(line for line in lines if line)
    if isinstance(value, dict):
        return {key: markdown_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [markdown_safe(item) for item in value]
    if isinstance(value, Contact):
        return {key: markdown_safe(getattr(value, key)) for key in ("name", "email", "phone")}
    return value
