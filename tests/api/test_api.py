"""REST API /api/v1: token auth, scoping to the client, exact decimals, and the OpenAPI document."""

from __future__ import annotations

import datetime as dt

from django.test import Client as HttpClient

from sitekeeper.access.models import ApiToken
from sitekeeper.contracts.models import Contract, Plan
from tests.web.world import World


def as_persona(world: World, persona: str) -> HttpClient:
    return HttpClient(headers={"authorization": f"Bearer {world.keys[persona]}"})


def test_no_token_or_a_wrong_one_is_401(world: World):
    assert HttpClient().get("/api/v1/sites").status_code == 401
    for header in (
        "Bearer sk_not-a-real-token",
        "Bearer ",
        "Token " + world.keys["owner"],
        world.keys["owner"],
    ):
        response = HttpClient(headers={"authorization": header}).get("/api/v1/sites")
        assert response.status_code == 401, header


def test_a_session_is_not_enough(world: World):
    http = HttpClient()
    http.force_login(world.users["admin"])
    assert http.get("/api/v1/plans").status_code == 401


def test_a_deactivated_persons_token_stops_working(world: World):
    owner = world.users["owner"]
    owner.is_active = False
    owner.save()
    assert as_persona(world, "owner").get("/api/v1/plans").status_code == 401


def test_using_a_token_records_when(world: World):
    token = ApiToken.find(world.keys["member"])
    assert token.last_used_at is None
    assert as_persona(world, "member").get("/api/v1/plans").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert dt.datetime.now(dt.UTC) - token.last_used_at < dt.timedelta(minutes=1)


def test_outsider_lists_only_globex(world: World):
    http = as_persona(world, "outsider")
    sites = http.get("/api/v1/sites").json()
    assert [s["client"] for s in sites] == ["globex"]
    assert [s["url"] for s in sites] == ["https://globex.test"]
    assert [c["slug"] for c in http.get("/api/v1/clients").json()] == ["globex"]
    assert [c["client"] for c in http.get("/api/v1/contracts").json()] == ["globex"]


def test_outsider_gets_404_for_acme_objects(world: World):
    http = as_persona(world, "outsider")
    contract = world.acme.contract
    site = world.acme.sites.get()
    for url in ("/api/v1/clients/acme", f"/api/v1/contracts/{contract.pk}", f"/api/v1/sites/{site.pk}"):
        response = http.get(url)
        assert response.status_code == 404, url
        assert "acme" not in response.text.lower()


def test_agency_staff_see_every_client(world: World):
    http = as_persona(world, "engineer")
    assert sorted(s["client"] for s in http.get("/api/v1/sites").json()) == ["acme", "globex"]
    assert [c["slug"] for c in http.get("/api/v1/clients").json()] == ["acme", "globex"]


def test_client_detail_carries_contacts_contract_and_sites(world: World):
    data = as_persona(world, "member").get("/api/v1/clients/acme").json()
    assert data["name"] == "Acme GmbH"
    assert {c["role"] for c in data["contacts"]} == {"product_owner", "emergency"}
    contract = data["contract"]
    assert (contract["plan"], contract["monthly_fee"], contract["currency"]) == ("business", "900.00", "EUR")
    assert contract["start"] == "2026-01-01"
    assert contract["maintenance_windows"] == [
        {
            "weekday": 1,
            "start": "23:00:00",
            "end": "02:00:00",
            "time_zone": "Europe/Berlin",
            "max_minutes": 30,
            "notice_hours": 48,
        }
    ]
    assert data["sites"][0]["environments"] == [
        {"kind": "prod", "url": "https://acme.test"},
        {"kind": "stage", "url": "https://stage.acme.test"},
    ]


def test_plan_decimals_are_strings(world: World):
    data = as_persona(world, "owner").get("/api/v1/plans/business").json()
    assert data["uptime_sla"] == "99.900"
    assert data["content_hours"] == "4.00"
    assert (data["credit_rate"], data["credit_step"]) == ("20.00", "0.100")
    assert data["response_targets"] == {"P1": "4h", "P2": "8bh", "P3": "2bd", "P4": "3bd"}
    assert data["credit_rule"] == Plan.objects.get(slug="business").credit_rule().describe()
    enterprise = as_persona(world, "owner").get("/api/v1/plans/enterprise").json()
    assert enterprise["credit_rate"] is None
    # Enterprise's remedy is "per Schedule A": no made-up table ships with the plan (12.14).
    assert enterprise["credit_table"] == []
    assert enterprise["credit_rule"] == "remedy per Schedule A — not agreed in this contract"


def test_a_custom_plan_is_seen_only_by_its_client_and_staff(world: World):
    custom = Plan.objects.get(slug="business")
    custom.pk = None
    custom.slug, custom.name, custom.builtin = "acme-special", "Acme special", False
    custom.save()
    Contract.objects.filter(client=world.acme).update(plan=custom)
    assert "acme-special" in [p["slug"] for p in as_persona(world, "owner").get("/api/v1/plans").json()]
    assert "acme-special" in [p["slug"] for p in as_persona(world, "engineer").get("/api/v1/plans").json()]
    outsider = as_persona(world, "outsider")
    assert [p["slug"] for p in outsider.get("/api/v1/plans").json()] == [
        "starter",
        "professional",
        "business",
        "enterprise",
    ]
    assert outsider.get("/api/v1/plans/acme-special").status_code == 404


def test_openapi_and_docs_need_no_token(world: World):
    schema = HttpClient().get("/api/v1/openapi.json").json()
    assert {"/api/v1/plans", "/api/v1/sites/{site_id}", "/api/v1/contracts/{contract_id}"} <= set(
        schema["paths"]
    )
    assert schema["components"]["securitySchemes"]["TokenAuth"]["scheme"] == "bearer"
    assert schema["components"]["schemas"]["PlanOut"]["properties"]["uptime_sla"]["type"] == "string"
    docs = HttpClient().get("/api/v1/docs")
    assert docs.status_code == 200
    assert "/api/v1/openapi.json" in docs.text
