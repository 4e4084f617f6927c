"""The client's agreement rendered from its contract: Markdown, HTML, or PDF (WeasyPrint from the HTML).

The structure and the fixed wording follow `maintenance-agreement-template.txt`; every figure comes from the
contract, its plan, its calendar and its windows, and every SLA target is printed both in the agreement's
words and with the exact reading the software counts by, so the client reads the same rule the clocks run.
The templates only lay out what `agreement_context()` computed; they hold no numbers of their own.
"""

from __future__ import annotations

import calendar as stdcal
import datetime as dt
import itertools
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string

from sitekeeper.contracts.models import PRIORITIES, CalendarVersion, Contact, Contract, Plan
from sitekeeper.core.calendar import BusinessCalendar
from sitekeeper.core.credits import minor_unit, to_decimal
from sitekeeper.core.targets import MonthlyBatch, Target, parse_target

FORMATS = ("md", "html", "pdf")
TEMPLATE_DIR = Path(__file__).parent / "templates" / "contracts"
AGREEMENT_VERSION = "1.0"  # of the agreement's wording; bump it when the templates' clauses change

# The agency's identity as the agreement prints it; a deployment overrides it with SITEKEEPER_AGENCY.
DEFAULT_AGENCY = {
    "name": "Webility",
    "legal_name": "Webility LLC",
    "code": "WBL",
    "support_email": "support@webility.local",
    "legal_email": "legal@webility.local",
}

# The agreement's fixed terms (DESIGN.md "Billing" and "Term", and the template's clauses). They are the same
# for every contract today; they live here, named, so the templates never type a number.
TERMS: dict[str, Any] = {
    "invoice_due_days": 15,
    "late_interest_percent": Decimal("1.5"),
    "annual_discount_percent": Decimal("10"),
    "price_notice_days": 60,
    "transition_days": 30,
    "agency_notice_days": 30,
    "nonpayment_days": 15,
    "client_change_notice_hours": 48,
    "maintenance_notice_hours": 48,
    "incident_notice_hours": 24,
    "onboarding_business_days": 5,
    "monitoring_setup_business_days": 10,
    "confidentiality_years": 5,
    "negotiation_business_days": 15,
    "force_majeure_days": 30,
}

CANCELLATION_READING = "effective at the end of the billing cycle following the notice period"

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

SLA_EXCLUSIONS = (
    "Scheduled maintenance windows (notified {maintenance_notice_hours} hours in advance)",
    "Emergency security maintenance (notified as soon as practicable)",
    "Hosting provider infrastructure failures outside the Agency's control",
    "Force Majeure events (see Section 11)",
    "Actions taken by the Client or third parties authorized by the Client",
    "Third-party platform outages (Shopify, Stripe, payment gateways, social media APIs, etc.)",
    "DDoS attacks exceeding the mitigation capacity of the hosting plan",
    "Failure of domain DNS propagation caused by Client-controlled domain registrar",
    "Website inaccessibility caused by the Client's own code changes or CMS actions",
    "Client's failure to renew domain registration or third-party subscriptions",
)

PAUSE_REASONS = (
    "waiting for the Client's access, information or approval",
    "a third-party outage",
    "an incomplete request (until it is completed)",
    "an unauthorized change by the Client (Section 3.2 (b))",
    "access revoked or expired (Section 3.2 (c))",
)

CLOCK_TEXT = {
    "resolution": "Resolution time = time from receipt until the request is resolved.",
    "recovery": "Recovery time (incidents) = time from receipt until the critical function is restored, "
    "e.g. by a rollback or a workaround.",
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
        return render_to_string("contracts/agreement.md", markdown_safe(context))
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
    plan, version = contract.plan, contract.calendar.current
    cal = version.to_core()
    return {
        "doc_id": document_id(contract),
        "agency": agency(),
        "terms": TERMS,
        "contract": contract,
        "start": long_date(contract.start),
        "client": client_context(contract),
        "plan": plan,
        "escalation_channel": escalation_channel(plan),
        "tiers": [{"name": p.name, "chosen": p.pk == plan.pk} for p in Plan.objects.order_by("rank", "slug")],
        "sites": sites_context(contract),
        "standard_services": standard_services(contract),
        "plan_services": plan_services(plan),
        "priorities": [priority_context(code) for code in PRIORITIES],
        "response": clock_rows(contract, "response", cal),
        "other_clocks": [
            {"name": clock, "text": CLOCK_TEXT[clock], "rows": clock_rows(contract, clock, cal)}
            for clock in ("resolution", "recovery")
            if any(plan.target(clock, p) for p in PRIORITIES)
        ],
        "pause_reasons": PAUSE_REASONS,
        "hours": hours_context(version, cal),
        "uptime": uptime_context(contract),
        "windows": windows_context(contract, version.timezone),
        "fees": fees_context(contract),
        "term": term_context(contract),
        "clauses": clauses(contract),
    }


def clauses(contract: Contract) -> dict[str, dict[str, Any]]:
    """The fixed clauses (sections 3, 4, 6, 8–11) with their placeholders filled, keyed by section number."""
    fees = fees_context(contract)
    rate = f"{fees['hourly_rate']}/hour" if fees["hourly_rate"] else "the Agency's current hourly rate"
    values = {
        **TERMS,
        "rate": rate,
        "monthly_fee": fees["monthly_fee"],
        "retention_days": contract.plan.backup_retention_days,
    }
    text = (TEMPLATE_DIR / "agreement-clauses.txt").read_text(encoding="utf-8")
    return {section["number"]: section for section in parse_clauses(text, values)}


def parse_clauses(text: str, values: dict[str, Any]) -> list[dict[str, Any]]:
    """'# N Title' starts a section, '## …' a subheading, '- …' a list item; any other line is a paragraph.
    Lines starting with ';' are comments; {name} placeholders are filled from `values`."""
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
        blocks = sections[-1]["blocks"]
        if line.startswith("- "):
            if not blocks or blocks[-1]["kind"] != "ul":
                blocks.append({"kind": "ul", "text": "", "items": [], "lead": ""})
            blocks[-1]["items"].append(line[2:])
        else:
            kind = "h" if line.startswith("## ") else "p"
            blocks.append({"kind": kind, "text": line.removeprefix("## "), "items": [], "lead": ""})
            lead = LEAD_IN.match(line)
            if kind == "p" and lead:  # "(a) New features: …" → the lead-in is printed bold
                blocks[-1].update(lead=lead.group(1), text=lead.group(2))
    return sections


def escalation_channel(plan: Plan) -> str:
    # Enterprise leaves the channel blank in table 1.3: it is agreed in Schedule A.
    return plan.channels_label if plan.support_channels else "the channel agreed in Schedule A"


def client_context(contract: Contract) -> dict[str, Any]:
    client = contract.client
    contacts = {c.role: c for c in client.contacts.all()}
    return {
        "name": client.name,
        "legal_name": client.legal_name or client.name,
        "address": client.address,
        "product_owner": contacts.get(Contact.Role.PRODUCT_OWNER),
        "emergency": contacts.get(Contact.Role.EMERGENCY),
    }


def sites_context(contract: Contract) -> list[dict[str, Any]]:
    sites = contract.client.sites.prefetch_related("environments").order_by("url")
    return [
        {
            "number": number,
            "url": site.url,
            "name": site.name,
            "platform": site.get_platform_display(),
            "hosting": site.hosting or "—",
            "environments": [
                {"kind": env.get_kind_display(), "url": env.url}
                for env in sorted(site.environments.all(), key=lambda env: ENV_ORDER.get(env.kind, 9))
            ],
        }
        for number, site in enumerate(sites, start=1)
    ]


def standard_services(contract: Contract) -> list[tuple[str, str, str]]:
    plan, name = contract.plan, agency()["name"]
    retention, cadence = plan.backup_retention_days, plan.get_update_cadence_display()
    return [
        ("Automated backups", "Daily", "Full site + database; off-site storage"),
        ("Backup retention", "Per plan", f"{retention} days ({plan.name} plan)"),
        ("Backup integrity test", "Monthly", "Restore test to verify backup usability"),
        ("Security scanning", "Continuous", "Malware, file integrity, known vulnerability monitoring"),
        ("SSL certificate monitoring", "Continuous", "Auto-renewal alert + configuration verification"),
        ("Uptime monitoring", "24/7", f"Alert within {contract.alert_minutes} minutes of downtime detection"),
        (
            "Core / plugin / theme updates",
            f"Per plan cadence: {cadence}",
            "Staged on test/staging environment first, then deployed",
        ),
        ("Broken link scan", "Monthly", "Reported in monthly report"),
        ("Performance audit", "Monthly", "Lighthouse / PageSpeed score tracking with trend"),
        ("Monthly report", "Monthly", "Summary of all actions taken, metrics, recommendations"),
        ("Dedicated account contact", "Ongoing", f"Named {name} contact for all plan communication"),
    ]


def plan_services(plan: Plan) -> list[tuple[str, str]]:
    return [
        ("Update frequency", plan.get_update_cadence_display()),
        ("Content update hours / month", plan.content_hours_label),
        ("Security level", plan.get_security_level_display()),
        ("Support channel", plan.channels_label),
        ("Response time (standard issues)", words(plan.standard_response)),
        ("Emergency response (P1)", words(plan.target("response", "P1") or "")),
        ("Monthly performance call", plan.get_performance_call_display()),
        ("Uptime SLA", f"{percent(plan.uptime_sla)}%"),
    ]


def priority_context(code: str) -> dict[str, str]:
    name, definition, examples = PRIORITY_TEXT[code]
    return {"code": code, "label": f"{code} — {name}", "definition": definition, "examples": examples}


def clock_rows(contract: Contract, clock: str, cal: BusinessCalendar) -> list[dict[str, str]]:
    rows = []
    for code in PRIORITIES:
        text = contract.plan.target(clock, code)
        target = parse_target(text) if text else None
        rows.append(
            {
                "priority": priority_context(code)["label"],
                "words": target.describe() if target else "no target",
                "reading": reading(target, cal, contract.batch_rule()) if target else "—",
            }
        )
    return rows


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


def hours_context(version: CalendarVersion, cal: BusinessCalendar) -> dict[str, Any]:
    return {
        "rows": weekly_rows(cal),
        "timezone": version.timezone,
        "holidays": holidays_words(version.holiday_country, version.holiday_subdivision),
        "closures": [long_date(dt.date.fromisoformat(str(d))) for d in sorted(version.closures)],
        "business_day": duration(cal.business_day_length()),
        "version": version.number,
    }


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


def uptime_context(contract: Contract) -> dict[str, Any]:
    plan, rule = contract.plan, contract.credit_rule()
    return {
        "sla": percent(plan.uptime_sla),
        "remedy": rule.describe(),
        "schedule_a": rule.kind == "table",
        "table": [
            {"below": percent(to_decimal(r.below)), "percent": to_decimal(r.percent)} for r in rule.table
        ],
        "exclusions": [text.format(**TERMS) for text in SLA_EXCLUSIONS],
    }


def windows_context(contract: Contract, zone: str) -> list[dict[str, Any]]:
    return [
        {
            "weekday": window.get_weekday_display(),
            "span": f"{window.start:%H:%M}–{window.end:%H:%M}",
            "overnight": window.end <= window.start,
            "zone": zone,
            "max_minutes": window.max_minutes,
            "notice_hours": window.notice_hours,
        }
        for window in contract.maintenance_windows.order_by("weekday", "start")
    ]


def fees_context(contract: Contract) -> dict[str, Any]:
    fee, currency = contract.monthly_fee, contract.currency
    discount = TERMS["annual_discount_percent"]
    annual = fee * 12 * (100 - discount) / 100
    return {
        "monthly_fee": money(fee, currency),
        "hourly_rate": money(contract.hourly_rate, currency) if contract.hourly_rate is not None else None,
        "billing_unit": contract.billing_unit_minutes,
        "annual_prepayment": contract.annual_prepayment,
        "annual_fee": money(annual, currency),
        "discount": plain(discount),
        "interest": plain(TERMS["late_interest_percent"]),
    }


def term_context(contract: Contract) -> dict[str, Any]:
    return {
        "start": long_date(contract.start),
        "minimum_months": contract.minimum_term_months,
        "minimum_end": long_date(term_end(contract.start, contract.minimum_term_months)),
        "notice_days": contract.notice_days,
        "cancellation_reading": CANCELLATION_READING,
        "transition_days": TERMS["transition_days"],
    }


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
    unit = minor_unit(currency)
    places = 0 if unit == 1 else 2
    return f"{Decimal(amount).quantize(unit):,.{places}f} {currency.upper()}"


def duration(length: dt.timedelta) -> str:
    minutes = int(length.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    if not minutes:
        return f"{hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def long_date(day: dt.date) -> str:
    return f"{day.day} {stdcal.month_name[day.month]} {day.year}"


def term_end(start: dt.date, months: int) -> dt.date:
    """Last day of a term of `months` starting on `start` (counted in): the day before the same day
    `months` later, or that month's last day when it has no such day (31 January + 1 month → 28 February)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    last = stdcal.monthrange(year, month)[1]
    if start.day > last:
        return dt.date(year, month, last)
    return dt.date(year, month, start.day) - dt.timedelta(days=1)


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
