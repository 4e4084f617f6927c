"""Issue 12 item 3: a contract's month is credited over all its sites, each site's percent counted on the
contract's basis, the total capped at the month's fee (agreement 2.3); item 15: the credit rule's words come
from the one presenter on every monitoring page; no remedy agreed: the NO_REMEDY sentence and no amount.

acme: Business plan (SLA 99.9 %, 20 % per started 0.1 % below it), 900.00 EUR, Berlin; March 2026 = 44,580
min. Site A down 600 min: 1.3459 % → 13 steps → 260 %, capped at 100 %. Site B down 90 min: 0.2019 % →
shortfall 0.1019 → 2 steps → 40 %.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.test import Client as HttpClient

from sitekeeper.access.models import ApiToken
from sitekeeper.contracts.models import Contract, Site
from sitekeeper.contracts.presenters import contract_credit_rule
from sitekeeper.core.credits import NO_REMEDY
from sitekeeper.monitoring.models import Monitor
from sitekeeper.monitoring.uptime import contract_month, month_figures
from tests.monitoring.conftest import SINCE, outage, utc, watch

MARCH = (utc(2026, 2, 28, 23), utc(2026, 3, 31, 22))
AFTER_MARCH = utc(2026, 4, 15)


@pytest.fixture
def two_sites(acme, monitor):
    """acme's site A (down 600 min in March) and a shop B (down 90 min), both watched all month."""
    shop = Site.objects.create(client=acme, url="https://shop.acme.test", name="Acme shop", platform="other")
    shop_monitor = Monitor.objects.create(site=shop, url=shop.url, created_at=SINCE)
    watch(*MARCH)
    outage(monitor, utc(2026, 3, 12, 10), utc(2026, 3, 12, 20))
    outage(shop_monitor, utc(2026, 3, 13, 10), utc(2026, 3, 13, 11, 30))
    return monitor.site, shop


def test_fee_share_each_site_on_its_share(acme, two_sites):
    site, shop = two_sites
    month = contract_month(acme.contract, 2026, 3, now=AFTER_MARCH)
    credit = month.credit
    assert credit.basis == "fee_share"
    assert credit.basis_amount == Decimal("450.00")
    assert [(row.site, row.credit_percent, row.credit_amount) for row in credit.sites] == [
        (site.url, Decimal(100), Decimal("450.00")),
        (shop.url, Decimal(40), Decimal("180.00")),
    ]
    assert (month.total, credit.capped) == (Decimal("630.00"), False)
    # The site's own figure says the same as its row (its share, not the whole fee).
    assert month.figures_for(shop).credit.credit_amount == Decimal("180.00")


def test_full_fee_total_is_capped_at_the_months_fee(acme, two_sites):
    Contract.objects.filter(pk=acme.contract.pk).update(credit_basis="full_fee")
    acme.refresh_from_db()
    month = contract_month(acme.contract, 2026, 3, now=AFTER_MARCH)
    assert [row.credit_amount for row in month.credit.sites] == [Decimal("900.00"), Decimal("360.00")]
    assert month.credit.uncapped_amount == Decimal("1260.00")
    assert month.total == Decimal("900.00")  # not 1,260.00: the month's fee is the cap (2.3)
    assert month.credit.capped is True
    data = month.as_json()
    assert (data["credit_amount"], data["capped"], data["covered_sites"]) == ("900.00", True, 2)


def test_an_unmeasured_site_is_covered_but_earns_nothing(acme, two_sites):
    Site.objects.create(client=acme, url="https://blog.acme.test", name="Acme blog", platform="wordpress")
    month = contract_month(acme.contract, 2026, 3, now=AFTER_MARCH)
    assert month.credit.basis_amount == Decimal("300.00")  # 900 ÷ 3 covered sites
    blog = month.credit.sites[2]
    assert (blog.uptime, blog.credit_amount) == (None, None)
    assert month.total == Decimal("420.00")  # 300 + 120
    assert month.measured_sites == 2


@time_machine.travel(AFTER_MARCH, tick=False)
def test_uptime_page_shows_the_sites_credit_and_the_capped_total(acme, two_sites, owner):
    Contract.objects.filter(pk=acme.contract.pk).update(credit_basis="full_fee")
    site, _shop = two_sites
    portal = HttpClient()
    portal.force_login(owner)
    text = portal.get(f"/portal/sites/{site.pk}/uptime/?month=2026-03").content.decode()
    assert 'data-figure="contract-credit"' in text
    assert "Contract's credit, all 2 sites</small><b>EUR 900.00</b>" in text
    assert "capped at the month's fee (EUR 1,260.00 before the cap)" in text
    assert "Service credit, this site</small><b>EUR 900.00</b><small>100 % of its basis" in text
    assert 'data-table="contract-sites"' in text


@time_machine.travel(AFTER_MARCH, tick=False)
def test_api_adds_the_contract_credit(acme, two_sites, owner):
    Contract.objects.filter(pk=acme.contract.pk).update(credit_basis="full_fee")
    site, shop = two_sites
    _, key = ApiToken.issue(owner, "script")
    http = HttpClient(headers={"authorization": f"Bearer {key}"})
    data = http.get(f"/api/v1/sites/{shop.pk}/uptime?month=2026-03").json()
    assert data["credit"]["credit_amount"] == "360.00"  # this site, on the full fee, before the cap
    combined = data["contract_credit"]
    assert (combined["credit_amount"], combined["uncapped_amount"], combined["capped"]) == (
        "900.00",
        "1260.00",
        True,
    )
    assert [s["site"] for s in combined["sites"]] == [site.url, shop.url]
    assert combined["sites"][0]["coverage"] == "100"


@time_machine.travel(AFTER_MARCH, tick=False)
def test_the_credit_rule_on_the_page_is_the_presenters(acme, monitor, owner, engineer):
    """Item 15: the museum's rule read 10/25/50 % on one page and 15/30/60 % on another. Every monitoring
    page now prints contracts.presenters.contract_credit_rule(contract)."""
    Contract.objects.filter(pk=acme.contract.pk).update(credit_rounding="proportional")
    acme.refresh_from_db()
    rule = contract_credit_rule(acme.contract)
    assert "pro rata per 0.1 %" in rule  # the contract's own reading, not the plan's default
    assert "the month's total over all sites capped at the fee" in rule
    for user, url in ((owner, "/portal/sites/{}/uptime/"), (engineer, "/staff/monitoring/sites/{}/")):
        http = HttpClient()
        http.force_login(user)
        text = http.get(url.format(monitor.site.pk)).content.decode()
        assert f"Credit rule: {rule}".replace("'", "&#x27;") in text
    assert month_figures(monitor.site, 2026, 3, now=AFTER_MARCH).as_json()["credit_rule"] == rule


@time_machine.travel(AFTER_MARCH, tick=False)
def test_no_remedy_agreed_shows_the_sentence_and_no_amount(acme, two_sites, owner, monkeypatch):
    monkeypatch.setattr(Contract, "credit_rule", lambda self: None)
    site, _shop = two_sites
    month = contract_month(acme.contract, 2026, 3, now=AFTER_MARCH)
    assert month.total is None
    assert month.figures_for(site).credit is None
    assert month.rule == NO_REMEDY
    portal = HttpClient()
    portal.force_login(owner)
    text = portal.get(f"/portal/sites/{site.pk}/uptime/?month=2026-03").content.decode()
    assert NO_REMEDY in text
    assert "EUR 900.00" not in text
    assert "EUR 450.00" not in text


def test_no_credit_on_an_unmeasured_month_even_with_outages(acme, site):
    # An outage recorded by a monitor since removed: nobody watches the site now, so the month is unmeasured.
    old = Monitor.objects.create(site=site, url=site.url, created_at=SINCE, enabled=False)
    watch(*MARCH)
    outage(old, utc(2026, 3, 12, 10), utc(2026, 3, 12, 20))
    month = contract_month(acme.contract, 2026, 3, now=AFTER_MARCH)
    assert month.credit.sites[0].credit_amount is None
    assert month.total is None
    assert month.figures_for(site).downtime == dt.timedelta(0)
