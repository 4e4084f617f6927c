"""`sitekeeper term SLUG --notice DATE`: the dates a notice leads to, from core/term.py, changing nothing."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sitekeeper.contracts.models import Contract


def term(*args: str) -> str:
    out = StringIO()
    call_command("term", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_json_keys_and_dates(acme):
    data = json.loads(term("acme", "--notice", "2026-01-05", "--json"))
    assert data == {
        "minimum_term_end": "2026-03-31",
        "notice_period_end": "2026-02-04",
        "effective_date": "2026-03-31",
        "transition_end": "2026-04-30",
    }
    assert Contract.objects.get(pk=acme.contract.pk).notice_given_on is None  # nothing changed


@pytest.mark.django_db
def test_text_and_the_notice_on_record(acme):
    contract = acme.contract
    contract.status, contract.notice_given_on = Contract.Status.CANCELLING, "2026-05-10"
    contract.save()
    out = term("acme")
    assert "minimum term ends   31 March 2026" in out
    assert "effective           30 June 2026 (end of the month in which the notice period ends)" in out
    assert "transition ends     30 July 2026" in out


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("acme",), "no notice on record"),
        (("acme", "--notice", "10/05/2026"), "not a date"),
        (("acme", "--notice", "2025-12-01"), "before the contract's start"),
        (("nobody", "--notice", "2026-05-10"), "unknown contract 'nobody'"),
    ],
)
def test_bad_input_is_named(acme, args, message):
    with pytest.raises(CommandError, match=message):
        term(*args)
