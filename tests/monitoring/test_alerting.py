"""The alert promise (1.2): interval × confirmations + timeout must fit the contract's alert minutes."""

from __future__ import annotations

from sitekeeper.monitoring.alerting import alert_problem, contract_alert_problems
from sitekeeper.monitoring.models import Monitor


def test_the_default_monitor_fits_five_minutes():
    # 60 s × 2 + 10 s = 130 s ≤ 300 s
    assert alert_problem(60, 2, 10, 5) is None


def test_exactly_the_limit_fits_one_second_more_does_not():
    assert alert_problem(145, 2, 10, 5) is None  # 290 + 10 = 300 s
    problem = alert_problem(145, 2, 11, 5, label="monitor “Home”")
    assert problem is not None
    assert "monitor “Home”" in problem
    assert "5 min (300 s)" in problem
    assert "145 s interval × 2 confirmations + 11 s timeout = 301 s" in problem


def test_contract_alert_problems_names_only_prod_monitors_that_miss(acme):
    site = acme.sites.get()
    Monitor.objects.create(site=site, url=site.url, name="Home page")  # 130 s: fine
    Monitor.objects.create(site=site, url=site.url, name="Slow", interval_seconds=300)  # 610 s
    stage = "https://stage.acme.test"
    Monitor.objects.create(site=site, url=stage, environment="stage", interval_seconds=600)
    Monitor.objects.create(site=site, url=site.url, name="Off", interval_seconds=900, enabled=False)
    problems = contract_alert_problems(acme.contract)
    assert len(problems) == 1
    assert "“Slow”" in problems[0]
    assert "= 610 s" in problems[0]
    # A shorter alert time proposed by `apply` is checked before it is saved: now both prod monitors miss.
    assert len(contract_alert_problems(acme.contract, alert_minutes=2)) == 2
