# ruff: noqa: F811  (the wordpress fixture is imported by name, then used as an argument)
"""ACCEPTANCE (issue 7): Lighthouse runs against the real WordPress test site and stores scores; a scripted
drop of more than 40 points opens a P2.

The real npm lighthouse (node_modules, `make bootstrap`) with Debian's Chromium against the WordPress test
site (scripts/wordpress-test.sh). Last month's mobile audit is the median of 3 runs; then a must-use plugin
makes the home page really slow for mobile visitors (a render-blocking busy loop in <head> and long tasks
after load, so FCP/LCP and TBT explode under Lighthouse's mobile CPU throttling) and this month's audit
drops far more than 40 points on mobile — exactly one P2 incident — while desktop stays fast. The plugin is
removed afterwards: the WordPress fixture is shared by the whole session. Five Lighthouse runs in all
(about 1 to 1.5 minutes; the budget for the suite's Lighthouse time is about 3).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sitekeeper import proc
from sitekeeper.contracts.models import Environment, Site
from sitekeeper.contracts.presenters import contract_zone
from sitekeeper.desk.models import Ticket
from sitekeeper.health import lighthouse, performance
from sitekeeper.health.models import JobStatus, KeyPage, LighthouseResult
from sitekeeper.security.models import Finding, FindingKind
from tests.backups.services import unavailable
from tests.monitoring.test_wordpress import TITLE, WordPress, wordpress  # noqa: F401 (fixture)

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

# Only for mobile user agents (wp_is_mobile: Lighthouse's mobile emulation says "Mobile"), so the desktop
# audit of the same page stays fast and only one form factor regresses.
SLOW_PLUGIN = """<?php
// sitekeeper test: a page made slow on purpose (removed by the test).
add_action('wp_head', function () {
    if (!wp_is_mobile()) { return; }
    echo "<script>var t0 = Date.now(); while (Date.now() - t0 < 2500) {}\\n"
       . "addEventListener('load', function () { var n = 0; (function busy() { var s = Date.now();"
       . " while (Date.now() - s < 400) {} if (++n < 8) setTimeout(busy, 10); })(); });</script>\\n";
}, 1);
"""


@pytest.fixture
def lighthouse_ready() -> None:
    try:
        lighthouse.find_binary()
        lighthouse.find_chrome()
    except proc.MissingProgramError as exc:
        unavailable(f"Lighthouse audits need npm lighthouse and the Debian package chromium: {exc}")


@pytest.fixture
def wp(acme, wordpress: WordPress, lighthouse_ready) -> Site:
    site = Site.objects.create(client=acme, url=wordpress.url.rstrip("/"), name="WordPress test site",
                               platform="wordpress")  # fmt: skip
    Environment.objects.create(site=site, kind="prod", url=wordpress.url)
    KeyPage.objects.create(site=site, path="/", label="Home", kind="home", expected_text=TITLE,
                           budget={"performance": 80, "tbt_ms": 600})  # fmt: skip
    return site


@pytest.fixture
def slow_mobile_home(wordpress: WordPress) -> Iterator[Path]:
    folder = wordpress.base / "site" / "wp-content" / "mu-plugins"
    created = not folder.exists()
    folder.mkdir(exist_ok=True)
    plugin = folder / "sitekeeper-slow-test.php"
    plugin.write_text(SLOW_PLUGIN)
    try:
        yield plugin
    finally:
        plugin.unlink(missing_ok=True)
        if created:
            folder.rmdir()


def last_month(zone: ZoneInfo) -> dt.datetime:
    """Noon on the 10th of the previous calendar month in the contract's zone, as UTC."""
    first = dt.datetime.now(zone).replace(day=1, hour=12, minute=0, second=0, microsecond=0)
    return (first - dt.timedelta(days=20)).replace(day=10).astimezone(dt.UTC)


def test_lighthouse_on_wordpress_stores_scores_and_a_drop_of_more_than_40_opens_one_p2(
    wp: Site, wordpress: WordPress, slow_mobile_home: Path
) -> None:
    slow_mobile_home.unlink()  # last month: the site as installed; mobile, the median of 3 runs
    before = performance.run_audit(
        wp,
        slot="last-month",
        runs=3,
        now=last_month(contract_zone(wp.client.contract)),
        form_factors=("mobile",),
    )
    assert before.status == JobStatus.SUCCEEDED, before.error
    assert before.lighthouse_version.startswith("12.")
    baseline = before.results.get(form_factor="mobile")
    assert len(baseline.run_scores) == 3
    assert baseline.performance == sorted(baseline.run_scores)[1]  # the median run's score ...
    report = json.loads(gzip.decompress(bytes(baseline.report_gz)))
    assert round(report["categories"]["performance"]["score"] * 100) == baseline.performance  # ... and report
    assert baseline.performance >= 85, baseline.run_scores
    assert baseline.lcp_ms
    assert baseline.fcp_ms
    assert baseline.page_weight_bytes > 10_000  # WordPress's page with its theme's styles and fonts
    assert baseline.accessibility
    assert baseline.seo
    assert baseline.best_practices
    assert not Ticket.objects.exists()

    slow_mobile_home.write_text(SLOW_PLUGIN)  # this month: the scripted slowdown; mobile and desktop
    after = performance.run_audit(wp, slot="this-month", runs=1)
    assert after.status == JobStatus.SUCCEEDED, after.error
    mobile = after.results.get(form_factor="mobile")
    desktop = after.results.get(form_factor="desktop")
    assert baseline.performance - mobile.performance > 40, (baseline.run_scores, mobile.run_scores)
    assert mobile.tbt_ms > 600
    assert {line["metric"] for line in mobile.over_budget} >= {"performance", "tbt_ms"}
    assert desktop.performance >= 85  # the desktop page is not slowed down (and has no baseline)

    [ticket] = Ticket.objects.all()
    assert (ticket.priority, ticket.type, ticket.site) == ("P2", "incident", wp)
    assert "Performance: Home (mobile) dropped" in ticket.subject
    assert LighthouseResult.objects.get(ticket=ticket) == mobile
    assert Finding.objects.get(kind=FindingKind.PERFORMANCE).ticket == ticket
