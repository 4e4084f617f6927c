"""The console's edit pages: a client's contract, names and contacts, and a site, saved by `apply`'s path.

What is checked: an edit shows up in `sitekeeper export`; a bad value is refused with exactly the message a
contract file with the same value gets from `sitekeeper apply`, beside the field as the form labels it;
nothing is written when anything is wrong; the change is audited with the person as the actor; and only the
roles stated in views_console.py may edit.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from django.test import Client as HttpClient
from django.urls import reverse

from sitekeeper.access.models import AuditEntry
from sitekeeper.contracts.apply import ApplyError, apply_file
from sitekeeper.contracts.export import export_data, export_yaml
from sitekeeper.contracts.models import Contact, Contract, Environment, MaintenanceWindow, Site
from sitekeeper.monitoring.models import Monitor
from tests.contracts.apply_support import MODELS

pytestmark = pytest.mark.django_db


def _contract_post(client_obj, **changes: str) -> dict[str, str]:
    """The contract form as the page fills it, with `changes` typed over it."""
    contract = client_obj.contract
    data = {
        "plan": contract.plan.slug,
        "start": contract.start.isoformat(),
        "monthly_fee": f"{contract.monthly_fee:.2f}",
        "currency": contract.currency,
        "hourly_rate": f"{contract.hourly_rate:.2f}" if contract.hourly_rate else "",
        "calendar": contract.calendar.slug,
        "minimum_term_months": str(contract.minimum_term_months),
        "billing_unit_minutes": str(contract.billing_unit_minutes),
        "alert_minutes": str(contract.alert_minutes),
        "update_batch": contract.update_batch,
        "credit_rounding": contract.credit_rounding,
        "credit_basis": contract.credit_basis,
        "status": contract.status,
        "notice_days": str(contract.notice_days),
        "notice_given_on": "",
        "cancellation_reading": contract.cancellation_reading,
    }
    windows = list(contract.maintenance_windows.all())
    data |= {
        "windows-TOTAL_FORMS": str(len(windows) + 1),
        "windows-INITIAL_FORMS": str(len(windows)),
        "windows-MIN_NUM_FORMS": "0",
        "windows-MAX_NUM_FORMS": "1000",
    }
    for i, w in enumerate(windows):
        data |= {
            f"windows-{i}-weekday": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][w.weekday],
            f"windows-{i}-start": w.start.strftime("%H:%M"),
            f"windows-{i}-end": w.end.strftime("%H:%M"),
            f"windows-{i}-max_minutes": str(w.max_minutes),
            f"windows-{i}-notice_hours": str(w.notice_hours),
        }
    return data | changes


def _logged_in(user) -> HttpClient:
    browser = HttpClient()
    browser.force_login(user)
    return browser


def _counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def _apply_message(tmp_path: Path, key: str, value: str) -> str:
    """The message `sitekeeper apply` gives for the client's export with one contract key set to `value`."""
    data = export_data()
    data["clients"][0]["contract"][key] = value
    path = tmp_path / "edited.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(ApplyError) as raised:
        apply_file(path)
    (line,) = [line for line in raised.value.errors if f".contract.{key}:" in line]
    return line.split(f".contract.{key}: ", 1)[1]


def test_fee_edit_is_saved_exported_and_audited(acme, manager):
    url = reverse("staff_contract_edit", args=[acme.slug])
    browser = _logged_in(manager)
    page = browser.get(url)
    assert page.status_code == 200
    assert 'value="900.00"' in page.content.decode()

    response = browser.post(url, _contract_post(acme, monthly_fee="1250.50"))

    assert response.status_code == 302
    assert response["Location"] == reverse("staff_client_detail", args=[acme.slug])
    assert Contract.objects.get(client=acme).monthly_fee == Decimal("1250.50")
    assert 'monthly_fee: "1250.50"' in export_yaml() or "monthly_fee: '1250.50'" in export_yaml()
    entry = AuditEntry.objects.get(model="contracts.Contract", action="update")
    assert entry.actor == manager
    assert entry.actor_label == manager.username
    assert entry.before == {"monthly_fee": "900.00"}
    assert entry.after == {"monthly_fee": "1250.50"}
    assert entry.client == acme
    detail = browser.get(response["Location"]).content.decode()
    assert "1,250.50" in detail or "1250.50" in detail
    assert "update contract acme: monthly_fee: 900.00 → 1250.50" in detail


def test_unchanged_form_changes_nothing(acme, manager):
    before = _counts()
    browser = _logged_in(manager)
    response = browser.post(reverse("staff_contract_edit", args=[acme.slug]), _contract_post(acme))
    assert response.status_code == 302
    assert _counts() == before
    assert "Nothing changed." in browser.get(response["Location"]).content.decode()


@pytest.mark.parametrize(
    "case",
    [
        ("monthly_fee", "Monthly fee", "12.345"),
        ("monthly_fee", "Monthly fee", "nine hundred"),
        ("currency", "Currency", "eur"),
        ("start", "Start date", "2026-02-30"),
        ("update_batch", "Monthly update batch", "5th tue"),
        ("plan", "Plan", "platinum"),
    ],
)
def test_bad_value_gets_applys_message_and_writes_nothing(acme, manager, tmp_path, case):
    key, label, value = case
    field = key  # the form's fields are named as the file's keys
    expected = _apply_message(tmp_path, key, value)
    before = _counts()

    response = _logged_in(manager).post(
        reverse("staff_contract_edit", args=[acme.slug]),
        _contract_post(acme, **{field: value}, **{"windows-1-weekday": "fri", "windows-1-start": "22:00"}),
    )

    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors[field] == [expected]
    assert f"{label}: {expected}" in response.context["summary"]
    page = response.content.decode()
    assert "Nothing was saved" in page
    assert 'aria-invalid="true"' in page
    assert _counts() == before  # not the fee, not the new window, not an audit entry
    assert MaintenanceWindow.objects.count() == 1


def test_integer_field_reads_as_the_file_would(acme, manager, tmp_path):
    data = export_data()
    data["clients"][0]["contract"]["alert_minutes"] = "soon"
    path = tmp_path / "f.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False).replace("'soon'", "soon"), encoding="utf-8")
    with pytest.raises(ApplyError) as raised:
        apply_file(path)
    expected = raised.value.errors[0].split(".contract.alert_minutes: ", 1)[1]

    response = _logged_in(manager).post(
        reverse("staff_contract_edit", args=[acme.slug]), _contract_post(acme, alert_minutes="soon")
    )

    assert response.context["form"].errors["alert_minutes"] == [expected]
    assert expected == "expected a whole number, got text 'soon'"


def test_required_value_left_blank_is_applys_missing_key(acme, manager):
    response = _logged_in(manager).post(
        reverse("staff_contract_edit", args=[acme.slug]), _contract_post(acme, monthly_fee="")
    )
    assert response.context["form"].errors["monthly_fee"] == ["missing required key 'monthly_fee'"]
    assert Contract.objects.get(client=acme).monthly_fee == Decimal("900.00")


def test_error_in_one_part_writes_no_other_part(acme, manager):
    """A good fee and a window that ends when it starts: neither is saved."""
    response = _logged_in(manager).post(
        reverse("staff_contract_edit", args=[acme.slug]),
        _contract_post(acme, monthly_fee="999.00", **{"windows-0-end": "23:00"}),
    )
    assert response.status_code == 200
    windows = response.context["windows"]
    assert windows.forms[0].errors["end"] == ["the window ends when it starts"]
    assert "Maintenance window 1 — Ends: the window ends when it starts" in response.context["summary"]
    assert Contract.objects.get(client=acme).monthly_fee == Decimal("900.00")
    assert not AuditEntry.objects.exists()


def test_database_refusal_rolls_everything_back(acme, manager, monkeypatch):
    """A failure after some rows were written (here: the windows' sync) leaves none of them."""
    from sitekeeper.contracts import apply

    def refuse(*args, **kwargs):
        raise apply.DatabaseError("disk full")

    monkeypatch.setattr(apply, "sync_rows", refuse)
    before = _counts()
    response = _logged_in(manager).post(
        reverse("staff_contract_edit", args=[acme.slug]), _contract_post(acme, monthly_fee="999.00")
    )
    assert response.status_code == 200
    assert any("the database refused the change: disk full" in line for line in response.context["summary"])
    assert _counts() == before
    assert Contract.objects.get(client=acme).monthly_fee == Decimal("900.00")


def test_windows_added_and_removed(acme, manager):
    data = _contract_post(
        acme,
        **{
            "windows-0-DELETE": "on",
            "windows-1-weekday": "thu",
            "windows-1-start": "22:00",
            "windows-1-end": "23:30",
            "windows-1-max_minutes": "45",
        },
    )
    response = _logged_in(manager).post(reverse("staff_contract_edit", args=[acme.slug]), data)
    assert response.status_code == 302
    (window,) = Contract.objects.get(client=acme).maintenance_windows.all()
    assert (window.weekday, window.start, window.end, window.max_minutes) == (
        3,
        dt.time(22),
        dt.time(23, 30),
        45,
    )
    assert window.notice_hours == 48  # left blank: the file's default


def test_contract_for_a_client_without_one(acme, manager):
    Contract.objects.filter(client=acme).delete()
    url = reverse("staff_contract_edit", args=[acme.slug])
    assert "New contract for Acme GmbH" in _logged_in(manager).get(url).content.decode()
    data = {
        "plan": "starter",
        "start": "2026-03-01",
        "monthly_fee": "300",
        "currency": "EUR",
        "calendar": "hq",
        "windows-TOTAL_FORMS": "1",
        "windows-INITIAL_FORMS": "0",
        "windows-MIN_NUM_FORMS": "0",
        "windows-MAX_NUM_FORMS": "1000",
    }
    assert _logged_in(manager).post(url, data).status_code == 302
    contract = Contract.objects.get(client=acme)
    assert (contract.plan.slug, contract.monthly_fee, contract.minimum_term_months) == (
        "starter",
        Decimal("300"),
        3,
    )


def _client_post(client_obj, **changes: str) -> dict[str, str]:
    contacts = sorted(client_obj.contacts.all(), key=lambda c: (c.role != "product_owner", c.email))
    data = {
        "name": client_obj.name,
        "legal_name": client_obj.legal_name,
        "address": client_obj.address,
        "contacts-TOTAL_FORMS": str(len(contacts) + 1),
        "contacts-INITIAL_FORMS": str(len(contacts)),
        "contacts-MIN_NUM_FORMS": "0",
        "contacts-MAX_NUM_FORMS": "1000",
    }
    for i, c in enumerate(contacts):
        data |= {
            f"contacts-{i}-id": str(c.pk),
            f"contacts-{i}-name": c.name,
            f"contacts-{i}-email": c.email,
            f"contacts-{i}-role": c.role,
            f"contacts-{i}-phone": c.phone,
            f"contacts-{i}-availability": c.availability,
        }
    return data | changes


def test_client_and_contacts_edit(acme, admin):
    owner = acme.contacts.get(role="product_owner")
    url = reverse("staff_client_edit", args=[acme.slug])
    assert _logged_in(admin).get(url).status_code == 200
    data = _client_post(
        acme,
        name="Acme Holding GmbH",
        **{
            "contacts-0-email": "ada@acme.test",  # the owner's new address: the same row, renamed
            "contacts-1-DELETE": "on",
            "contacts-2-name": "Bea Billing",
            "contacts-2-email": "billing@acme.test",
            "contacts-2-role": "billing",
        },
    )
    response = _logged_in(admin).post(url, data)
    assert response.status_code == 302, response.context and response.context["summary"]
    acme.refresh_from_db()
    assert acme.name == "Acme Holding GmbH"
    assert set(acme.contacts.values_list("email", "role")) == {
        ("ada@acme.test", "product_owner"),
        ("billing@acme.test", "billing"),
    }
    assert acme.contacts.get(role="product_owner").pk == owner.pk  # renamed in place, links kept
    exported = export_data()["clients"][0]
    assert exported["name"] == "Acme Holding GmbH"
    assert [c["email"] for c in exported["contacts"]] == ["ada@acme.test", "billing@acme.test"]
    actions = set(AuditEntry.objects.filter(actor=admin).values_list("model", "action"))
    assert {("contracts.Client", "update"), ("contracts.Contact", "update")} <= actions
    assert {("contracts.Contact", "delete"), ("contracts.Contact", "create")} <= actions


def test_contact_rules_are_applys(acme, admin):
    """No product owner, and an emergency contact without a phone: apply's messages, at the right rows."""
    data = _client_post(acme, **{"contacts-0-role": "member", "contacts-1-phone": ""})
    before = _counts()
    response = _logged_in(admin).post(reverse("staff_client_edit", args=[acme.slug]), data)
    assert response.status_code == 200
    summary = response.context["summary"]
    assert "Contacts: no contact has role product_owner; exactly one is required" in summary
    emergency = response.context["formset"].forms[1]
    assert emergency.errors["__all__"] == ["an emergency contact needs a phone number"]
    assert "Contact 2: an emergency contact needs a phone number" in summary
    assert _counts() == before


def test_blank_client_name_is_refused(acme, admin):
    response = _logged_in(admin).post(
        reverse("staff_client_edit", args=[acme.slug]), _client_post(acme, name="")
    )
    assert response.context["form"].errors["name"] == ["missing required key 'name'"]
    assert "Name: missing required key 'name'" in response.context["summary"]


def _site_post(site: Site, **changes: str) -> dict[str, str]:
    envs = {env.kind: env.url for env in site.environments.all()}
    data = {
        "name": site.name,
        "url": site.url,
        "platform": site.platform,
        "hosting": site.hosting,
        "prod": "" if envs.get("prod") == site.url else envs.get("prod", ""),
        "stage": envs.get("stage", ""),
        "dev": envs.get("dev", ""),
        "link_max_pages": "",
        "link_max_depth": "",
        "notes": site.notes,
    }
    return data | changes


def test_engineer_changes_a_sites_url_keeping_its_history(acme, engineer):
    site = acme.sites.get()
    monitor = Monitor.objects.create(site=site, kind="http", url=site.url)
    url = reverse("staff_site_edit", args=[site.pk])
    response = _logged_in(engineer).post(
        url, _site_post(site, url="https://www.acme.test", dev="https://dev.acme.test", link_max_pages="900")
    )
    assert response.status_code == 302, response.context and response.context["summary"]
    site.refresh_from_db()
    assert site.url == "https://www.acme.test"
    assert dict(site.environments.values_list("kind", "url")) == {
        "prod": "https://www.acme.test",
        "stage": "https://stage.acme.test",
        "dev": "https://dev.acme.test",
    }
    assert site.health.link_max_pages == 900
    assert Monitor.objects.filter(pk=monitor.pk, site=site).exists()  # the same site, renamed in place
    exported = export_data()["clients"][0]["sites"][0]
    assert exported["url"] == "https://www.acme.test"
    assert exported["environments"] == {"stage": "https://stage.acme.test", "dev": "https://dev.acme.test"}
    assert AuditEntry.objects.filter(actor=engineer, model="contracts.Site", action="update").exists()
    assert not AuditEntry.objects.filter(model="contracts.Site", action="delete").exists()


def test_bad_site_url_is_applys_message(acme, engineer):
    site = acme.sites.get()
    response = _logged_in(engineer).post(
        reverse("staff_site_edit", args=[site.pk]), _site_post(site, url="ftp://acme.test", stage="nope")
    )
    form = response.context["form"]
    assert form.errors["url"] == ["'ftp://acme.test' is not an http(s) URL"]
    assert form.errors["stage"] == ["'nope' is not an http(s) URL"]
    assert "URL: 'ftp://acme.test' is not an http(s) URL" in response.context["summary"]
    assert Site.objects.get(pk=site.pk).url == "https://acme.test"
    assert Environment.objects.filter(site=site).count() == 2


@pytest.mark.parametrize("role_user", ["engineer", "owner", "outsider"])
def test_commercial_edits_are_admin_and_account_manager_only(acme, role_user, request):
    user = request.getfixturevalue(role_user)
    for name in ("staff_client_edit", "staff_contract_edit"):
        url = reverse(name, args=[acme.slug])
        assert _logged_in(user).get(url).status_code == 403
        assert _logged_in(user).post(url, _contract_post(acme, monthly_fee="1.00")).status_code == 403
    assert Contract.objects.get(client=acme).monthly_fee == Decimal("900.00")


@pytest.mark.parametrize("role_user", ["owner", "outsider"])
def test_site_edits_are_agency_only(acme, role_user, request):
    user = request.getfixturevalue(role_user)
    site = acme.sites.get()
    url = reverse("staff_site_edit", args=[site.pk])
    assert _logged_in(user).get(url).status_code == 403
    assert _logged_in(user).post(url, _site_post(site, name="Hacked")).status_code == 403
    assert Site.objects.get(pk=site.pk).name == "Acme GmbH website"


def test_anonymous_is_sent_to_login(acme):
    response = HttpClient().get(reverse("staff_contract_edit", args=[acme.slug]))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_edit_links_follow_the_roles(acme, engineer, manager):
    detail = reverse("staff_client_detail", args=[acme.slug])
    assert (
        reverse("staff_contract_edit", args=[acme.slug]) in _logged_in(manager).get(detail).content.decode()
    )
    assert (
        reverse("staff_contract_edit", args=[acme.slug])
        not in _logged_in(engineer).get(detail).content.decode()
    )
    site = acme.sites.get()
    page = _logged_in(engineer).get(reverse("staff_site_detail", args=[site.pk])).content.decode()
    assert reverse("staff_site_edit", args=[site.pk]) in page


def test_pages_have_no_inline_styles_or_scripts(acme, admin):
    site = acme.sites.get()
    for url in (
        reverse("staff_client_edit", args=[acme.slug]),
        reverse("staff_contract_edit", args=[acme.slug]),
        reverse("staff_site_edit", args=[site.pk]),
    ):
        page = _logged_in(admin).get(url).content.decode()
        assert not re.search(r"<style|style=|<script(?![^>]*src=)|\son[a-z]+=", page), url


def test_unknown_objects_are_404(manager, db):
    assert _logged_in(manager).get(reverse("staff_contract_edit", args=["nobody"])).status_code == 404
    assert _logged_in(manager).get(reverse("staff_site_edit", args=[999999])).status_code == 404


def test_contact_ids_of_another_client_are_ignored(acme, globex, admin):
    stranger = globex.contacts.get(role="product_owner")
    data = _client_post(acme, **{"contacts-2-id": str(stranger.pk), "contacts-2-DELETE": "on"})
    assert _logged_in(admin).post(reverse("staff_client_edit", args=[acme.slug]), data).status_code == 302
    assert Contact.objects.filter(pk=stranger.pk).exists()
