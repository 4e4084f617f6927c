"""The rendered agreement: every figure comes from the contract, in Markdown, HTML and PDF."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from pypdf import PdfReader

from sitekeeper.contracts.models import Client, Contract, Plan, Site
from sitekeeper.contracts.render import render_agreement
from tests.conftest import make_client

PLAN_WORDS = {
    # plan slug → (retention, content hours, support channel, P1..P4 response targets in words)
    "starter": (
        "30 days",
        "1 hr",
        "Email + Chat",
        ["next business day", "3 business days", "5 business days", "next monthly cycle"],
    ),
    "professional": (
        "60 days",
        "2 hrs",
        "Email + Chat + Phone",
        ["same business day", "2 business days", "3 business days", "5 business days"],
    ),
    "business": (
        "90 days",
        "4 hrs",
        "Dedicated line",
        ["4 hours (24/7)", "8 business hours", "2 business days", "3 business days"],
    ),
    "enterprise": (
        "365 days",
        "8+ hrs",
        "per Schedule A",
        ["1 hour (24/7)", "4 business hours", "1 business day", "2 business days"],
    ),
}


# Declared statically so pytest-django orders these with the other database tests: the parametrized ones
# reach their client fixture through request.getfixturevalue(), which it cannot see, and would otherwise run
# after the live-server (transactional) tests, whose flush removes the built-in plans.
pytestmark = pytest.mark.django_db


def contract_of(client: Client) -> Contract:
    contract = client.contract
    assert contract is not None
    return contract


def flat(text: str) -> str:
    return " ".join(text.split())


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return flat(" ".join(page.extract_text() or "" for page in reader.pages))


# --- markdown ------------------------------------------------------------------------------------------
def test_markdown_carries_the_business_plan_values(acme):
    md = render_agreement(contract_of(acme), "md")
    assert md.startswith("# Website Maintenance & Support Agreement")
    for expected in (
        "**Document ID:** WBL-CTR-MNT-ACME-v1.0",
        "**Plan Start Date:** 1 January 2026",
        "**Client:** Acme GmbH Ltd",
        "☒ **Business**",
        "Representative: Acme GmbH Owner, product owner, owner@acme.test",
        (
            "| 1 | https://acme.test (Acme GmbH website) | WordPress | — | "
            "Production: https://acme.test; Stage: https://stage.acme.test |"
        ),
        "| Backup retention | Per plan | Starter: 30 days / Professional: 60 / Business: 90 / Enterprise:",
        "Backups are kept for 90 days under the Business plan.",
        "| Uptime monitoring | 24/7 | Alert within 5 minutes of downtime detection |",
        "| Service | Starter | Professional | **Business** | Enterprise |",
        "| Update frequency | Monthly batch | Bi-weekly | Weekly | Weekly + emergency |",
        "| Content update hours / month | 1 hr | 2 hrs | 4 hrs | 8+ hrs |",
        "| Security level | Standard | Advanced | Advanced + WAF | Advanced + WAF + scheduling |",
        "| Support channel | Email + Chat | Email + Chat + Phone | Dedicated line | per Schedule A |",
        "| Response time (standard issues) | 2 business days | 1 business day | 4 business hours |",
        "| Emergency response (P1) | Next business day | Same business day | 4 hours | 1 hour |",
        "| Monthly performance call | — | — | 30 min | Quarterly review |",
        "| Uptime SLA | 99.0% | 99.5% | 99.9% | 99.95% |",
        "| P1 — Critical | 4 hours (24/7) | counted around the clock",
        "| P2 — High | 8 business hours | 8 h of business time, counted only within business hours |",
        "| P3 — Medium | 2 business days | 2 × 9 h (one business day) = 18 h of business time",
        "Business hours: Monday–Friday, 09:00–18:00, Agency's local time zone: Europe/Berlin.",
        "Monday–Friday, 09:00–18:00; Saturday–Sunday, closed.",
        "public holidays of Germany (DE)",
        "Closures: 31 December 2026.",
        "After-hours emergency escalation (P1) is available on Business and Enterprise plans via",
        "On the Business plan a P1 is counted around the clock (24/7)",
        "| **Business** | 99.9% | Monthly | Service credit: 20% of monthly fee per 0.1% below SLA |",
        "Service credit under this Agreement: 20 % of the monthly fee per started 0.1 % below the SLA",
        "SLA credit cap: Total credits in any month shall not exceed the monthly plan fee. Credits are",
        "capped at that month's fee (EUR 900.00)",
        "- Scheduled maintenance windows (notified 48 hours in advance)",
        "Standard window: Tuesday, 23:00–02:00 (ending the next day), Europe/Berlin — maximum 30 minutes",
        "Plan: Business Monthly Fee: EUR 900.00/month (exclusive of applicable taxes)",
        "is invoiced at EUR 95.00/hour, approved by the Client",
        "Time is recorded in units of 15 minutes, each entry rounded up",
        "Due within 15 calendar days of invoice date",
        "- Auto-billing via the payment method on file is available and recommended",
        "(1.5%/month interest, service suspension)",
        "Late interest: 1.5 % × 12 ÷ 365 per day",
        "Not elected in this Agreement (the annual fee would be EUR 9,720.00",
        'initial term of 3 months ("Minimum Term").',
        "The Minimum Term runs from 1 January 2026 up to and including 31 March 2026.",
        "with 30 calendar days' written notice",
        "effective at the end of the billing cycle following the notice period",
        "a 30-day data transition period",
        "(e) The Agency is not liable for any issues arising from the Client's failure",
        "The plan's retention period under (e): 90 days (Business plan).",
    ):
        assert expected in md, expected


@pytest.mark.parametrize("slug", list(PLAN_WORDS))
def test_markdown_for_each_plan(berlin_calendar, slug):
    client = make_client(f"c-{slug}", f"Client {slug}", slug, berlin_calendar)
    md = render_agreement(contract_of(client), "md")
    retention, hours, channel, targets = PLAN_WORDS[slug]
    plan = Plan.objects.get(slug=slug)
    assert f"Backups are kept for {retention} under the {plan.name} plan." in md
    assert f"Included hours: {hours} per calendar month" in md
    assert f" | {channel} |" in md
    assert f"| Priority | {plan.name} | Exact reading |" in md  # the plan's own readings, beside table 2.2
    for priority, words in zip(("P1", "P2", "P3", "P4"), targets, strict=True):
        assert f"| {priority} — " in md
        assert f" | {words} | " in md, words
    assert (f"On the {plan.name} plan a P1 is counted around the clock" in md) is plan.after_hours_emergency


def test_markdown_enterprise_without_schedule_a_says_no_remedy_is_agreed(berlin_calendar):
    client = make_client("initech", "Initech", "enterprise", berlin_calendar)
    md = render_agreement(contract_of(client), "md")
    assert "Remedy under this Agreement: remedy per Schedule A — not agreed in this contract." in md
    assert "Schedule A of this Agreement" not in md


def test_markdown_enterprise_prints_schedule_a(berlin_calendar):
    client = make_client("umbrella", "Umbrella Corp", "enterprise", berlin_calendar)
    contract = contract_of(client)
    # Enterprise's remedy is "per Schedule A": this contract agrees its table.
    contract.credit_table = [
        {"below": "99.95", "percent": "10"},
        {"below": "99.9", "percent": "25"},
        {"below": "99.5", "percent": "50"},
        {"below": "99.0", "percent": "100"},
    ]
    contract.save()
    md = render_agreement(contract, "md")
    assert "| **Enterprise** | 99.95% | Monthly | Custom remedy per Schedule A |" in md
    assert "below 99.95 %: 10 % of the fee; below 99.9 %: 25 % of the fee" in md
    assert "Schedule A of this Agreement — the lowest threshold the monthly uptime falls below applies:" in md
    assert "> | 99.95% | 10% |" in md
    assert "> | 99.0% | 100% |" in md
    assert "pages the on-call engineer at once" in md
    assert "| Service | Starter | Professional | Business | **Enterprise** |" in md


def test_starter_reading_of_next_cycle_names_the_batch_day(globex):
    md = render_agreement(contract_of(globex), "md")
    assert (
        "| P4 — Low | next monthly cycle | by close of business on the day of the next monthly update" in md
    )
    assert "(the 2nd Tuesday of each month)" in md
    assert "The Starter plan has no after-hours emergency escalation" in md
    assert "| **Starter** | 99.0% | Monthly | Service credit: 10% of monthly fee per 1% below SLA |" in md


def test_every_figure_follows_the_contract(acme):
    contract = contract_of(acme)
    contract.monthly_fee = Decimal("1234.50")
    contract.hourly_rate = Decimal("120")
    contract.billing_unit_minutes = 30
    contract.minimum_term_months = 6
    contract.notice_days = 45
    contract.alert_minutes = 7
    contract.annual_prepayment = True
    contract.update_batch = "last fri"
    contract.save()
    window = contract.maintenance_windows.get()
    window.weekday, window.start, window.end, window.max_minutes = 3, dt.time(1), dt.time(3), 45
    window.save()
    Plan.objects.filter(slug="business").update(
        backup_retention_days=120, resolution_targets={"P1": "next_bd"}, response_targets={"P4": "next_cycle"}
    )
    md = render_agreement(Contract.objects.get(pk=contract.pk), "md")
    for expected in (
        "Monthly Fee: EUR 1,234.50/month",
        "EUR 120.00/hour",
        "units of 30 minutes",
        'initial term of 6 months ("Minimum Term").',
        "up to and including 30 June 2026.",
        "with 45 calendar days' written notice",
        "Alert within 7 minutes",
        "The alert promise (7 minutes)",
        "Elected: one invoice per annual term of EUR 13,332.60",
        "Standard window: Thursday, 01:00–03:00, Europe/Berlin — maximum 45 minutes",
        "Business: 120 / Enterprise",
        "Backups are kept for 120 days",
        "Resolution (time from receipt until the request is resolved) targets of the Business plan:",
        "| P1 — Critical | next business day | by close of business on the first business day after",
        "(the last Friday of each month)",
    ):
        assert expected in md, expected
    assert "ending the next day" not in md


def test_markdown_keeps_client_text_from_breaking_tables(acme):
    Site.objects.filter(client=acme).update(hosting="Hetzner | Falkenstein\nrack 3")
    md = render_agreement(contract_of(acme), "md")
    assert "| Hetzner \\| Falkenstein, rack 3 |" in md


# --- html ----------------------------------------------------------------------------------------------
def test_html_escapes_client_provided_text(acme):
    Client.objects.filter(pk=acme.pk).update(
        name="<script>alert(1)</script>", legal_name="Evil & <b>Sons</b>", address="<img src=x onerror=1>"
    )
    Site.objects.filter(client=acme).update(hosting="<iframe>", name='"><svg onload=1>')
    html = render_agreement(Contract.objects.get(client=acme), "html")
    assert "<script>" not in html
    assert "<b>Sons" not in html
    assert "<img" not in html
    assert "<iframe>" not in html
    assert "<svg" not in html
    assert "Evil &amp; &lt;b&gt;Sons&lt;/b&gt;" in html
    assert "&lt;img src=x onerror=1&gt;" in html
    assert "&lt;iframe&gt;" in html


def test_html_is_a_full_document_with_print_css(acme):
    html = render_agreement(contract_of(acme), "html")
    assert html.startswith("<!DOCTYPE html>")
    assert "size: A4" in html
    assert '<dd class="doc-id">WBL-CTR-MNT-ACME-v1.0</dd>' in html
    assert '<td>Uptime SLA</td><td>99.0%</td><td>99.5%</td><td class="chosen">99.9%</td>' in html
    assert (
        '<aside class="reading"><p class="reading-title"><strong>How this is measured:</strong></p>' in html
    )


# --- pdf -----------------------------------------------------------------------------------------------
def test_pdf_text_carries_the_agreement(acme):
    data = render_agreement(contract_of(acme), "pdf")
    assert isinstance(data, bytes)
    assert data.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(data))
    assert reader.pages[0].mediabox.width == pytest.approx(595.3, abs=1)  # A4: 210 mm
    assert reader.pages[0].mediabox.height == pytest.approx(841.9, abs=1)  # 297 mm
    text = pdf_text(data)
    for expected in (
        "Acme GmbH Ltd",
        "Business",
        "WBL-CTR-MNT-ACME-v1.0",
        "99.9%",
        "90 days",
        "4 hours (24/7)",
        "8 business hours",
        "2 business days",
        "3 business days",
        "EUR 900.00",
        "Tuesday, 23:00–02:00",
        "maximum 30 minutes",
        "20 % of the monthly fee per started 0.1 % below the SLA",
        "How this is measured:",
        "up to and including 31 March 2026",
        "Europe/Berlin",
    ):
        assert expected in text, expected


def test_pdf_for_starter_has_its_targets(globex):
    text = pdf_text(render_agreement(contract_of(globex), "pdf"))
    for expected in (
        "Globex Inc Ltd",
        "Starter",
        "30 days",
        "next business day",
        "next monthly cycle",
        "EUR 250.00",
    ):
        assert expected in text, expected


# --- the command ---------------------------------------------------------------------------------------
def test_command_writes_markdown_to_stdout(acme):
    out = StringIO()
    call_command("contract", "render", "acme", "--format", "md", stdout=out)
    assert out.getvalue() == render_agreement(contract_of(acme), "md")


def test_command_writes_html_to_a_file(acme, tmp_path):
    target = tmp_path / "acme.html"
    call_command("contract", "render", "acme", "--format", "html", "--output", str(target), stderr=StringIO())
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_command_pdf_defaults_to_a_file_in_the_current_folder(acme, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    err = StringIO()
    call_command("contract", "render", "acme", "--format", "pdf", stdout=StringIO(), stderr=err)
    written = tmp_path / "acme-agreement.pdf"
    assert written.read_bytes().startswith(b"%PDF-")
    assert "acme-agreement.pdf" in err.getvalue()


def test_command_errors(acme, tmp_path):
    with pytest.raises(CommandError, match="unknown client 'nope'"):
        call_command("contract", "render", "nope")
    with pytest.raises(CommandError, match="invalid choice: 'docx'"):
        call_command("contract", "render", "acme", "--format", "docx")
    with pytest.raises(CommandError, match="--output"):
        call_command("contract", "render", "acme", "--output", str(tmp_path / "missing" / "a.md"))


def test_render_agreement_rejects_unknown_formats(acme):
    with pytest.raises(ValueError, match="docx"):
        render_agreement(contract_of(acme), "docx")


@pytest.mark.parametrize(
    ("start", "months", "last_day"),
    [
        (dt.date(2026, 1, 1), 3, "31 March 2026"),
        (dt.date(2026, 1, 31), 1, "28 February 2026"),  # no 31 February: the month's last day
        (dt.date(2026, 1, 31), 3, "30 April 2026"),
        (dt.date(2026, 11, 15), 3, "14 February 2027"),
        (dt.date(2024, 2, 29), 12, "28 February 2025"),
    ],
)
def test_minimum_term_end_is_the_contracts(acme, start, months, last_day):
    """Issue 12.10: the agreement prints `contract.minimum_term_end` (core.term), the last day counted in."""
    Contract.objects.filter(client=acme).update(start=start, minimum_term_months=months)
    md = render_agreement(Contract.objects.get(client=acme), "md")
    assert f"up to and including {last_day}." in md
