"""What the portal and staff pages say about a site's service (issue 12, items 1, 10 and 15): a gap on the
agency's side is never shown to the client as all clear; one presenter per figure (the contract's credit
rule, the minimum term's last day); times in the contract calendar's zone, the zone named."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client as HttpClient
from django.utils.html import escape

from sitekeeper.access.models import ApiToken
from sitekeeper.backups.models import Repository, SiteBackup, Source
from sitekeeper.contracts.models import Contract, Plan, Site
from sitekeeper.contracts.presenters import contract_credit_rule, describe_credit
from sitekeeper.monitoring.models import MaintenanceAnnouncement, Monitor
from sitekeeper.security.models import ScanStepRun

NOW = dt.datetime(2026, 5, 4, 10, 0, tzinfo=dt.UTC)
MUSEUM_TABLE = [
    {"below": "99.9", "percent": "15"},
    {"below": "99.5", "percent": "30"},
    {"below": "99.0", "percent": "60"},
]

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


def signed_in(user) -> HttpClient:
    http = HttpClient()
    http.force_login(user)
    return http


def serve_fully(site: Site, tmp_path) -> None:
    Monitor.objects.create(site=site, url=site.url)
    repo = Repository.objects.create(client=site.client, name="main", kind="local", location=str(tmp_path))
    Source.objects.create(
        site=site, name="db", layer="data", kind="sqlite", path=str(tmp_path / "db.sqlite3")
    )
    SiteBackup.objects.create(site=site, repository=repo)
    at = NOW - dt.timedelta(hours=8)
    ScanStepRun.objects.create(site=site, step="malware", started_at=at, finished_at=at, outcome="ok")


# --- item 1: a gap is never "all clear" ------------------------------------------------------------------
def test_portal_says_what_is_not_measured_yet_for_a_site_nobody_watches(acme, owner):
    site = acme.sites.get()
    for url in ("/portal/", f"/portal/sites/{site.pk}/"):  # the site's card on both, its services on its page
        page = signed_in(owner).get(url).text
        assert "Uptime: not measured yet — we are setting up monitoring." in page
        assert '<strong class="not-measured">Not measured</strong>' in page  # never a figure, never 100 %
        assert "Backups are not set up yet for this site — we are arranging it." in page
        assert "Security scans: not scanned yet — we are setting up security scanning." in page
        assert "Watched around the clock" not in page
        assert "Backed up automatically every day" not in page
        assert "agency action needed" not in page  # the staff wording stays on staff pages
    page = signed_in(owner).get(f"/portal/sites/{site.pk}/").text
    assert '<span class="service-gap">Uptime: not measured yet — we are setting up monitoring.</span>' in page


def test_portal_reads_plainly_once_everything_is_in_place(acme, owner, tmp_path):
    site = acme.sites.get()
    serve_fully(site, tmp_path)
    page = signed_in(owner).get(f"/portal/sites/{site.pk}/").text
    assert "Watched around the clock by our monitoring." in page
    assert "Backed up automatically every day." in page
    assert "Last scanned 4 May 2026 04:00 CEST." in page  # 02:00 UTC, in the contract's zone
    assert "service-gap" not in page.split("</style>")[-1].split("How this site is looked after")[-1]
    home = signed_in(owner).get("/portal/").text
    # A monitor but no probe has watched yet: still "not measured", with no gap to blame.
    assert "We did not watch this site&#x27;s availability this month" in home
    assert "Backups are set up; the first one has not run yet" in home
    assert "No open security issues in our latest scan." in home
    assert "Last scanned 4 May 2026 04:00 CEST" in home


def test_staff_dashboard_lists_the_service_gaps(acme, globex, manager, tmp_path):
    serve_fully(globex.sites.get(), tmp_path)
    page = signed_in(manager).get("/staff/").text
    assert "Service gaps — agency action needed" in page
    section = page.split('id="gaps"')[1].split("</section>")[0]
    for title in ("No production uptime monitor", "No backup source", "No security scan in the last 48 h"):
        assert title in section
    assert "Acme GmbH website" in section
    assert "Globex" not in section
    assert "never scanned" in section
    site = acme.sites.get()
    assert f'<a href="/staff/monitoring/sites/{site.pk}/">No production uptime monitor</a>' in section


def test_staff_site_and_client_pages_show_the_sites_gaps(acme, engineer):
    site = acme.sites.get()
    http = signed_in(engineer)
    for url in (f"/staff/sites/{site.pk}/", "/staff/clients/acme/"):
        page = http.get(url).text
        assert "Service gaps — agency action needed" in page
        assert "no enabled production monitor watches this site: its uptime is not measured" in page
    Monitor.objects.create(site=site, url=site.url)
    page = http.get(f"/staff/sites/{site.pk}/").text
    assert "no enabled production monitor watches this site" not in page
    assert "No backup source" in page


def test_staff_dashboard_says_so_when_there_is_no_gap(acme, globex, manager, tmp_path):
    serve_fully(acme.sites.get(), tmp_path / "a")
    serve_fully(globex.sites.get(), tmp_path / "g")
    page = signed_in(manager).get("/staff/").text
    empty = "Every site in service has a production monitor, a backup source and a recent security scan."
    assert empty in page


# --- item 15: the contract's own credit rule, everywhere -------------------------------------------------
def test_portal_and_staff_pages_and_the_api_show_the_contracts_credit_rule(acme, owner, engineer):
    """The museum's case: an Enterprise contract with its own Schedule A table (15/30/60 %); the plan has
    none (its wording would be "not agreed"), and the pages once showed the plan's."""
    contract = acme.contract
    contract.plan = Plan.objects.get(slug="enterprise")
    contract.credit_table = MUSEUM_TABLE
    contract.save()
    rule = contract_credit_rule(Contract.objects.get(pk=contract.pk))
    assert rule.startswith("below 99.9 %: 15 % of the fee; below 99.5 %: 30 % of the fee")
    plan_rule = describe_credit(contract.plan)
    assert plan_rule != rule
    site = acme.sites.get()
    pages = [
        signed_in(owner).get("/portal/").text,
        signed_in(owner).get(f"/portal/sites/{site.pk}/").text,
        signed_in(engineer).get("/staff/clients/acme/").text,
        signed_in(engineer).get(f"/staff/sites/{site.pk}/").text,
    ]
    for page in pages:
        assert escape(rule) in page
        assert escape(plan_rule) not in page
    _token, key = ApiToken.issue(owner, "test")
    api = HttpClient(headers={"authorization": f"Bearer {key}"})
    assert api.get(f"/api/v1/contracts/{contract.pk}").json()["credit_rule"] == rule


# --- item 10: one minimum-term end -------------------------------------------------------------------------
def test_api_gives_the_minimum_term_end_and_the_effective_date_once_notice_is_given(acme, owner):
    contract = acme.contract
    _token, key = ApiToken.issue(owner, "test")
    api = HttpClient(headers={"authorization": f"Bearer {key}"})
    body = api.get(f"/api/v1/contracts/{contract.pk}").json()
    assert body["minimum_term_end"] == "2026-03-31"  # 3 months from 1 January: 31 March, not 1 April
    assert body["effective_date"] is None
    assert body["credit_basis"] == "fee_share"
    Contract.objects.filter(pk=contract.pk).update(
        notice_given_on=dt.date(2026, 5, 20), status=Contract.Status.CANCELLING
    )
    body = api.get(f"/api/v1/contracts/{contract.pk}").json()
    assert body["notice_given_on"] == "2026-05-20"
    assert body["effective_date"] == "2026-06-30"
    page = signed_in(owner).get("/portal/").text
    assert "Notice given on 20 May 2026: the service continues up to and including 30 Jun 2026" in page


# --- item 15: times in the contract calendar's zone, named --------------------------------------------------
def test_announced_maintenance_is_shown_in_the_contract_zone_with_the_zone_named(acme, owner, manager):
    contract = acme.contract
    MaintenanceAnnouncement.objects.create(
        contract=contract,
        start=dt.datetime(2026, 5, 5, 21, 0, tzinfo=dt.UTC),
        end=dt.datetime(2026, 5, 5, 22, 30, tzinfo=dt.UTC),
        max_minutes=90,
        announced_at=NOW - dt.timedelta(days=1),
        note="Database upgrade",
    )
    site = acme.sites.get()
    for page in (
        signed_in(owner).get("/portal/").text,
        signed_in(owner).get(f"/portal/sites/{site.pk}/").text,
        signed_in(manager).get(f"/staff/sites/{site.pk}/").text,
    ):
        assert "<strong>5 May 2026 23:00 CEST</strong> to 6 May 2026 00:30 CEST" in page
        assert "Database upgrade" in page


def test_maintenance_window_and_last_login_name_their_zone(acme, owner, manager):
    site = acme.sites.get()
    assert (
        "Tuesday 23:00–02:00 (max 30 min) Europe/Berlin"
        in signed_in(owner).get(f"/portal/sites/{site.pk}/").text
    )
    owner.last_login = dt.datetime(2026, 5, 1, 6, 30, tzinfo=dt.UTC)
    owner.save()
    assert "1 May 2026 08:30 CEST" in signed_in(manager).get("/staff/clients/acme/").text
