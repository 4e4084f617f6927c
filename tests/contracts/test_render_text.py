"""The rendered agreement is the agreement (issue 12.9): every sentence of the template appears in it, word
for word, with only the placeholders filled — in Markdown and in HTML, for every plan, monthly and annual.
sitekeeper's readings are added as notes beside the clauses; they never replace a clause's words.

`data/maintenance-agreement-template.txt` is a verbatim copy of the agreement template (seeds/)."""

from __future__ import annotations

import datetime as dt
import html
import re
from pathlib import Path

import pytest

from sitekeeper.contracts.models import Client, Contract, Plan
from sitekeeper.contracts.render import render_agreement
from sitekeeper.core.credits import NO_REMEDY
from tests.conftest import make_client

pytestmark = pytest.mark.django_db

TEMPLATE = Path(__file__).parent / "data" / "maintenance-agreement-template.txt"
NOTE_TITLE = "How this is measured:"
# The template marks what a contract fills in with [brackets], blank lines (___) and tick boxes (☐).
PLACEHOLDER = re.compile(r"\[[^\]]*\]|_{3,}|☐")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\[])")
INLINE_TAGS = re.compile(r"</?(?:strong|em|b|i|span|a|small|code)\b[^>]*>")


MARKDOWN_LINE_START = re.compile(r"^\s*(?:#+|-|>)\s+")


def normalize(text: str, markdown: bool = True) -> str:
    """Text without layout: Markdown markers (headings, list and quote marks, bold), table pipes and line
    breaks gone, spaces collapsed."""
    lines = text.replace("\\|", "|").splitlines()
    if markdown:
        lines = [MARKDOWN_LINE_START.sub("", line).replace("**", "") for line in lines]
    return " ".join(" ".join(lines).replace("|", " ").split())


def html_text(document: str) -> str:
    """The HTML's text: inline tags dropped, block tags turned into spaces, entities decoded."""
    body = document[document.index("<body") :]
    return normalize(html.unescape(re.sub(r"<[^>]+>", " ", INLINE_TAGS.sub("", body))), markdown=False)


def template_sentences() -> list[str]:
    """Table rows whole (their cells in order), other lines sentence by sentence."""
    sentences = []
    for raw in TEMPLATE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or set(line) <= set("|-: "):
            continue
        parts = [line] if line.startswith("|") else SENTENCE_END.split(line)
        sentences += [normalize(part) for part in parts if normalize(part)]
    return sentences


def pattern(sentence: str) -> re.Pattern[str]:
    pieces = [re.escape(piece.strip()) for piece in PLACEHOLDER.split(sentence)]
    return re.compile(r"\s*.*?\s*".join(pieces))


def missing(rendered: str) -> list[str]:
    text = normalize(rendered)
    return [sentence for sentence in template_sentences() if not pattern(sentence).search(text)]


def contract_for(calendar, slug: str, annual: bool) -> Contract:
    client = make_client(f"{slug}-{'annual' if annual else 'monthly'}", f"Client {slug}", slug, calendar)
    Contract.objects.filter(client=client).update(annual_prepayment=annual)
    contract = Client.objects.get(pk=client.pk).contract
    assert contract is not None
    return contract


def test_the_template_is_split_into_its_sentences():
    sentences = template_sentences()
    assert len(sentences) > 200
    assert "Auto-billing via [payment method on file] is available and recommended" in sentences
    assert (
        "Late payment provisions (1.5%/month interest, service suspension) apply per the Agency's Payment "
        "Terms Policy" in sentences
    )
    assert any(s.startswith("Upon termination: (a) The Agency provides") and "(e) The Agency is not" in s
               for s in sentences)  # fmt: skip
    assert "Update frequency Monthly batch Bi-weekly Weekly Weekly + emergency" in sentences
    assert pattern("Alert within [5] minutes of downtime detection").search(
        "Alert within 7 minutes of downtime detection"
    )
    assert not pattern("Due within 15 calendar days of invoice date").search("Due within 14 calendar days")


@pytest.mark.parametrize("annual", [False, True], ids=["monthly", "annual"])
@pytest.mark.parametrize("slug", ["starter", "professional", "business", "enterprise"])
def test_every_template_sentence_is_in_the_rendered_agreement(berlin_calendar, slug, annual):
    contract = contract_for(berlin_calendar, slug, annual)
    assert missing(render_agreement(contract, "md")) == []
    assert missing(html_text(render_agreement(contract, "html"))) == []


def test_a_dropped_or_reworded_sentence_is_found(acme):
    md = render_agreement(acme.contract, "md")
    assert missing(md) == []
    dropped = md.replace("- Auto-billing via the payment method on file is available and recommended\n", "")
    assert missing(dropped) == ["Auto-billing via [payment method on file] is available and recommended"]
    reworded = md.replace("(1.5%/month interest, service suspension)", "(1.5%/month simple interest)")
    assert len(missing(reworded)) == 1


def readings(md: str) -> str:
    """The text of the notes only: what the agreement adds beside its clauses."""
    quoted = [line[2:] for line in md.splitlines() if line.startswith("> ")]
    return " ".join(" ".join(quoted).replace("**", "").split())


def test_the_readings_this_issue_changes_are_printed_as_notes(acme):
    md = render_agreement(acme.contract, "md")
    assert md.count(f"**{NOTE_TITLE}**") >= 10
    notes = readings(md)
    for expected in (
        # uptime coverage, "not measured", monitoring gap
        "uptime is shown with its coverage: the share of the month the probes observed",
        'is "not measured" — never 100 %',
        "coverage below 99 % is flagged on the uptime page and in the monthly report as a monitoring gap",
        # maintenance windows
        "excluded only when maintenance was recorded in that occurrence",
        "at most for the window's maximum length; otherwise it counts",
        # the credit basis and the cap over all sites
        "share of the monthly fee: EUR 900.00 ÷ 1 covered website(s) = EUR 900.00",
        "capped at that month's fee (EUR 900.00)",
        # requests the platform opens, pauses ended at resolution
        "are never paused as incomplete requests",
        "resolving it ends its open pauses at that moment",
        # P1 after hours
        "outside business hours pages the on-call engineer at once",
        # the alert promise
        (
            "The alert promise (5 minutes) is checked for every production monitor: its check interval × the "
            "number of failed checks that confirm an outage + its timeout must fit within 5 minutes"
        ),
        # 6.3 clock
        "the 24 hours run from that detection",
        # daily backups
        (
            "backed up in full — its code and its data (files and database) — every day, its configuration "
            "whenever it changes"
        ),
        # every service until the effective date
        "runs until the effective date of a cancellation, including that day",
        # the minimum term
        "The Minimum Term runs from 1 January 2026 up to and including 31 March 2026.",
        # link scans cut short
        "a scan cut short by its page or depth limit is reported as incomplete",
        # agency-side gaps
        (
            "no uptime monitor, no backup source or no security scan in the last 48 hours is a gap on the "
            "Agency's side"
        ),
    ):
        assert expected in notes, expected


def test_full_fee_basis_and_several_sites(acme):
    from sitekeeper.contracts.models import Site

    Site.objects.create(client=acme, url="https://shop.acme.test", platform="wordpress")
    contract = acme.contract
    assert "EUR 900.00 ÷ 2 covered website(s) = EUR 450.00" in readings(render_agreement(contract, "md"))
    contract.credit_basis = Contract.CreditBasis.FULL_FEE
    contract.save()
    notes = readings(render_agreement(Contract.objects.get(pk=contract.pk), "md"))
    assert "a percentage of the full monthly fee (EUR 900.00)" in notes
    assert "capped at that month's fee (EUR 900.00)" in notes


def test_enterprise_without_schedule_a_has_no_remedy(berlin_calendar, monkeypatch):
    contract = contract_for(berlin_calendar, "enterprise", annual=False)
    monkeypatch.setattr(Contract, "credit_rule", lambda self: None)  # no Schedule A table agreed
    md = render_agreement(contract, "md")
    assert f"Remedy under this Agreement: {NO_REMEDY}. No service credit is computed." in readings(md)
    assert "| **Enterprise** | 99.95% | Monthly | Custom remedy per Schedule A |" in md
    assert missing(md) == []


def test_after_hours_reading_follows_the_plan(berlin_calendar):
    starter = readings(render_agreement(contract_for(berlin_calendar, "starter", annual=False), "md"))
    assert "The Starter plan has no after-hours emergency escalation" in starter
    assert "pages the on-call engineer" not in starter
    assert Plan.objects.get(slug="business").after_hours_emergency


def test_notice_on_record_prints_the_effective_date(acme):
    contract = acme.contract
    contract.notice_given_on = dt.date(2026, 5, 20)
    contract.status = Contract.Status.CANCELLING
    contract.save()
    notes = readings(render_agreement(Contract.objects.get(pk=contract.pk), "md"))
    assert "Notice on record: given on 20 May 2026; the notice period ends 19 June 2026" in notes
    assert "the cancellation is effective on 30 June 2026 (the last day of service)" in notes
    assert "backups can be downloaded until 30 July 2026" in notes
