"""What the console and portal pages show (who may open them is tests/web/test_persona_matrix.py's job)."""

from __future__ import annotations

import pytest
from django.contrib import admin as django_admin
from django.test import Client as HttpClient

from sitekeeper.access.models import ApiToken, AuditEntry
from sitekeeper.contracts.models import Plan
from sitekeeper.core.credits import NO_REMEDY
from tests.conftest import PASSWORD
from tests.web.world import World


def signed_in(user) -> HttpClient:
    http = HttpClient()
    http.force_login(user)
    return http


def test_login_sends_a_client_person_to_their_portal(world: World):
    http = HttpClient()
    response = http.post("/login/", {"username": "owner", "password": PASSWORD}, follow=True)
    assert response.redirect_chain == [("/", 302), ("/portal/", 302)]
    assert "Acme GmbH" in response.text


def test_login_sends_staff_to_the_console_and_refuses_a_wrong_password(world: World):
    http = HttpClient()
    refused = http.post("/login/", {"username": "engineer", "password": "wrong"})
    assert refused.status_code == 200
    assert "Please enter a correct username and password" in refused.text
    response = http.post("/login/", {"username": "engineer", "password": PASSWORD}, follow=True)
    # The password alone does not reach the console: staff set up a second factor first (test_twofactor.py).
    assert response.redirect_chain[-1] == ("/account/two-factor/enrol/?next=%2F", 302)
    assert http.post("/logout/").url == "/login/"
    assert http.get("/staff/").status_code == 302


def test_top_bar_names_the_person_their_role_and_client(world: World):
    page = signed_in(world.users["member"]).get("/portal/").text
    assert "member" in page
    assert "Client member" in page
    assert 'class="client-name">Acme GmbH<' in page
    assert 'action="/logout/"' in page
    staff_page = signed_in(world.users["manager"]).get("/staff/").text
    assert "Account manager" in staff_page
    assert "client-name" not in staff_page


def test_portal_shows_the_own_contract_plan_values_and_sites(world: World):
    page = signed_in(world.users["owner"]).get("/portal/").text
    for text in (
        "Business",  # plan
        "1 Jan 2026",  # start (sitekeeper_time's one date format)
        "EUR 900.00",  # monthly fee
        "3 months, up to and including 31 Mar 2026",  # minimum term (core.term), as the agreement says
        "4 hours (24/7)",  # P1 response
        "8 business hours",  # P2
        "2 business days",  # P3
        "3 business days",  # P4
        "99.9 %",  # uptime SLA
        "90 days",  # retention
        "4 hrs",  # content hours
        "Acme GmbH website",  # its card (environments are on the site page)
        "New request",
        "Tuesday",  # the maintenance window
    ):
        assert text in page, text
    assert "Globex" not in page


def test_portal_site_page_shows_the_site_and_its_environments(world: World):
    site = world.acme.sites.get()
    page = signed_in(world.users["member"]).get(f"/portal/sites/{site.pk}/").text
    assert "Acme GmbH website" in page
    assert "WordPress" in page
    assert "https://stage.acme.test" in page
    assert "Stage" in page
    assert "Tuesday 23:00–02:00 (max 30 min)" in page  # covered by acme's contract
    assert "4 hours (24/7)" in page


def test_agency_person_is_sent_from_portal_pages_to_the_console(world: World):
    site = world.acme.sites.get()
    http = signed_in(world.users["engineer"])
    assert http.get("/portal/").url == "/staff/"
    assert http.get(f"/portal/sites/{site.pk}/").url == f"/staff/sites/{site.pk}/"


def test_business_page_counts_and_fees(world: World):
    """Revenue and the book are the manager's page; the engineers' home is the operations console."""
    page = signed_in(world.users["manager"]).get("/staff/business/").text
    assert "EUR 1,150.00" in page  # 900 (acme) + 250 (globex)
    assert "Recent changes" in page  # managers read the audit log
    engineer = signed_in(world.users["engineer"])
    assert engineer.get("/staff/business/").status_code == 403
    assert "EUR 1,150.00" not in engineer.get("/staff/").text


def test_client_list_and_its_htmx_search(world: World):
    http = signed_in(world.users["engineer"])
    page = http.get("/staff/clients/").text
    assert page.index("Acme GmbH") < page.index("Globex Inc")
    assert 'hx-get="/staff/clients/"' in page
    rows = http.get("/staff/clients/", {"q": "glob"}, headers={"HX-Request": "true"})
    assert "Globex Inc" in rows.text
    assert "Acme GmbH" not in rows.text
    assert "<html" not in rows.text  # a fragment for htmx to swap in, not a page


def test_client_detail_shows_contacts_contract_windows_and_sites(world: World):
    page = signed_in(world.users["engineer"]).get("/staff/clients/acme/").text
    for text in (
        "Acme GmbH Owner",
        "Product owner",
        "Emergency contact",
        "+49 30 1234567",
        "Business",
        "1 Jan 2026",
        "EUR 900.00",
        "EUR",
        "Berlin office",
        "Europe/Berlin",
        "23:00",
        "02:00",
        "Acme GmbH website",
        "https://stage.acme.test",
        "owner",  # the portal account
    ):
        assert text in page, text


def test_contracts_and_sites_lists(world: World):
    http = signed_in(world.users["engineer"])
    contracts = http.get("/staff/contracts/").text
    assert "Acme GmbH" in contracts
    assert "EUR 250.00" in contracts
    assert "31 Mar 2026" in contracts  # the last day of the minimum term (core.term)
    sites = http.get("/staff/sites/").text
    assert "https://acme.test" in sites
    assert "https://stage.globex.test" in sites


def test_plans_page_compares_every_value_of_the_four_tiers(world: World):
    page = signed_in(world.users["engineer"]).get("/staff/plans/").text
    plans = list(Plan.objects.order_by("rank"))
    assert [p.name for p in plans] == ["Starter", "Professional", "Business", "Enterprise"]
    for plan in plans:
        rule = plan.credit_rule()
        assert (rule.describe() if rule else NO_REMEDY) in page  # Enterprise: no Schedule A table agreed
        assert plan.content_hours_label in page
        assert plan.channels_label in page
    for text in (
        "30 days",
        "365 days",
        "Monthly batch",
        "Weekly + emergency",
        "8+ hrs",
        "Advanced + WAF + scheduling",
        "Email + Chat + Phone",
        "per Schedule A",
        "next business day",
        "same business day",
        "next monthly cycle",
        "1 hour (24/7)",
        "4 business hours",
        "99.95 %",
        "Quarterly review",
        "30 min",
        "Yes, P1 counted 24/7",
    ):
        assert text in page, text
    head = page.split("<thead>")[1].split("</thead>")[0]
    positions = [head.index(name) for name in ("Starter", "Professional", "Business", "Enterprise")]
    assert positions == sorted(positions), "tiers side by side, Starter first"
    for label in ("P1 response", "P2 response", "P3 response", "P4 response", "Uptime SLA", "Service credit"):
        assert label in page, label


def test_audit_log_page_lists_and_filters_changes(world: World):
    http = signed_in(world.users["admin"])
    page = http.get("/staff/audit/").text
    assert "contracts.Client" in page
    assert "Acme GmbH" in page
    assert "Acme GmbH" in http.get("/staff/audit/", {"model": "contracts.Client"}).text
    assert "No changes recorded yet" in http.get("/staff/audit/", {"model": "access.ApiToken"}).text


def test_token_key_is_shown_once_and_issuing_is_audited(world: World):
    http = signed_in(world.users["member"])
    response = http.post("/account/tokens/", {"name": "reporting script"})
    assert response.status_code == 200
    token = world.users["member"].api_tokens.get(name="reporting script")
    key = response.text.split('<code id="new-key">')[1].split("</code>")[0]
    assert ApiToken.find(key) == token
    again = http.get("/account/tokens/").text
    assert key not in again
    assert f"sk_{token.prefix}…" in again
    entry = AuditEntry.objects.get(model="access.ApiToken", object_pk=str(token.pk))
    assert (entry.action, entry.actor, entry.client) == ("create", world.users["member"], None)
    assert key not in str(entry.after)  # only the digest is ever stored


def test_token_name_is_required(world: World):
    response = signed_in(world.users["member"]).post("/account/tokens/", {"name": ""})
    assert "This field is required." in response.text
    assert not world.users["member"].api_tokens.exclude(name="member's script").exists()


def test_revoking_a_token_with_htmx_removes_the_row_and_is_audited(world: World):
    token = world.users["owner"].api_tokens.get()
    http = signed_in(world.users["owner"])
    response = http.post(f"/account/tokens/{token.pk}/revoke/", headers={"HX-Request": "true"})
    assert (response.status_code, response.content) == (200, b"")
    assert not ApiToken.objects.filter(pk=token.pk).exists()
    assert AuditEntry.objects.filter(
        model="access.ApiToken", action="delete", object_pk=str(token.pk)
    ).exists()


def test_nobody_revokes_another_persons_token(world: World):
    token = world.users["owner"].api_tokens.get()
    response = signed_in(world.users["admin"]).post(f"/account/tokens/{token.pk}/revoke/")
    assert response.status_code == 404
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_forbidden_page_is_styled_and_explains(world: World):
    response = signed_in(world.users["owner"]).get("/staff/")
    assert response.status_code == 403
    assert "Not allowed" in response.text
    assert "pico.min.css" in response.text


def test_vendored_assets_are_served(world: World):
    http = HttpClient()
    for path in (
        "/static/web/vendor/htmx.min.js",
        "/static/web/vendor/pico.min.css",
        "/static/web/sitekeeper.css",
    ):
        response = http.get(path)
        assert response.status_code == 200, path


@pytest.mark.parametrize(
    ("start", "months", "last_day", "iso"),
    [
        ("2026-01-01", 3, "31 Mar 2026", "2026-03-31"),  # issue 12.10: not "until 1 April"
        ("2026-01-31", 1, "28 Feb 2026", "2026-02-28"),
        ("2025-11-30", 3, "28 Feb 2026", "2026-02-28"),
    ],
)
def test_minimum_term_end_is_the_agreements_on_portal_and_staff_pages(
    world: World, start, months, last_day, iso
):
    import datetime as dt

    from sitekeeper.contracts.models import Contract

    Contract.objects.filter(client=world.acme).update(
        start=dt.date.fromisoformat(start), minimum_term_months=months
    )
    portal = signed_in(world.users["owner"]).get("/portal/").text
    assert f"{months} months, up to and including {last_day}, then month to month" in portal
    staff = signed_in(world.users["manager"])
    assert f"up to and including {last_day}" in staff.get("/staff/clients/acme/").text
    assert f'<td class="nowrap">{last_day}</td>' in staff.get("/staff/contracts/").text


def test_admin_registers_the_configuration_and_keeps_the_audit_log_read_only(world: World):
    registry = {model._meta.label for model in django_admin.site._registry}
    assert {
        "contracts.Plan",
        "contracts.Calendar",
        "contracts.Client",
        "contracts.Contract",
        "contracts.Site",
        "access.User",
        "access.ApiToken",
        "access.AuditEntry",
    } <= registry
    http = signed_in(world.users["admin"])
    contract = world.acme.contract
    page = http.get(f"/admin/contracts/contract/{contract.pk}/change/").text
    assert "Maintenance windows" in page
    client_page = http.get(f"/admin/contracts/client/{world.acme.pk}/change/").text
    assert "Acme GmbH Owner" in client_page  # the Contact inline
    entry = AuditEntry.objects.first()
    entry_page = http.get(f"/admin/access/auditentry/{entry.pk}/change/").text
    assert 'name="_save"' not in entry_page
    token = world.users["owner"].api_tokens.get()
    token_page = http.get(f"/admin/access/apitoken/{token.pk}/change/").text
    assert token.digest in token_page
    assert 'name="digest"' not in token_page


def test_resolution_targets_appear_once_a_plan_sets_them(world: World):
    http = signed_in(world.users["owner"])
    assert "Resolution" not in http.get("/portal/").text
    plan = world.acme.contract.plan
    plan.resolution_targets = {"P1": "8bh", "P2": "3bd"}
    plan.save()
    page = http.get("/portal/").text
    assert "Resolution" in page
    assert "Recovery" not in page
    assert "8 business hours" in page


def test_admin_login_is_our_login_and_keeps_only_local_next_urls(world: World):
    anonymous = HttpClient().get("/admin/login/", {"next": "/admin/contracts/plan/"})
    assert anonymous.url == "/login/?next=/admin/contracts/plan/"
    admin = signed_in(world.users["admin"])
    assert admin.get("/admin/login/", {"next": "/admin/contracts/plan/"}).url == "/admin/contracts/plan/"
    assert admin.get("/admin/login/", {"next": "https://evil.test/"}).url == "/admin/"
    assert signed_in(world.users["manager"]).get("/admin/login/").status_code == 403
