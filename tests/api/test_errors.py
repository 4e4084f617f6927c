"""Bad input to the API gets a clear JSON error of one shape, never a 500 or an HTML page (issue 14.5/14.9).

Every error under /api/v1 is `{"detail": str, "errors": [{"loc", "msg", "type"}]}`; a 422 names each bad
parameter in `errors`. Unknown paths, wrong methods, bad tokens, throttled addresses and server errors
answer in the same shape, and the OpenAPI document says so for every operation.
"""

from __future__ import annotations

import logging

import pytest
from django.test import Client as HttpClient

from sitekeeper.api import views
from tests.web.world import World

BIGGEST_ID = 2**63 - 1
SHARED_ERRORS = {"400", "401", "403", "404", "422", "429"}


def as_persona(world: World, persona: str = "engineer") -> HttpClient:
    return HttpClient(headers={"authorization": f"Bearer {world.keys[persona]}"})


def assert_error_shape(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert set(body) >= {"detail", "errors"}
    assert isinstance(body["detail"], str)
    assert body["detail"]
    for item in body["errors"]:
        assert set(item) == {"loc", "msg", "type"}
    return body


def test_an_offset_past_64_bits_is_a_422_naming_it_not_a_500(world: World):
    response = as_persona(world).get("/api/v1/tickets?offset=9223372036854775808")
    body = assert_error_shape(response, 422)
    (error,) = body["errors"]
    assert error["loc"] == ["query", "offset"]
    assert "1000000" in error["msg"]
    assert body["detail"].startswith("Invalid request: query.offset:")


@pytest.mark.parametrize(
    ("url", "loc"),
    [
        ("/api/v1/tickets?limit=0", ["query", "limit"]),
        ("/api/v1/tickets?limit=501", ["query", "limit"]),
        ("/api/v1/tickets?state=exploded", ["query", "state"]),
        ("/api/v1/tickets?client=no%20such%20slug", ["query", "client"]),
        ("/api/v1/sites/{site}/uptime?month=2026-13", ["query", "month"]),
        ("/api/v1/sites/{site}/uptime?month=9999-12", ["query", "month"]),
        ("/api/v1/sites/9223372036854775808", ["path", "site_id"]),
        ("/api/v1/sites/0", ["path", "site_id"]),
        ("/api/v1/plans/not%20a%20slug", ["path", "slug"]),
        ("/api/v1/performance/sites/{site}/results?limit=501", ["query", "limit"]),
        ("/api/v1/performance/sites/{site}/results?form_factor=tablet", ["query", "form_factor"]),
        ("/api/v1/performance/sites/{site}/trend?url=https://acme.test&months=37", ["query", "months"]),
        ("/api/v1/performance/sites/{site}/trend", ["query", "url"]),
        ("/api/v1/backups/sites/{site}/snapshots?include_forgotten=perhaps", ["query", "include_forgotten"]),
        ("/api/v1/security/sites/{site}/findings?status=fixed", ["query", "status"]),
    ],
)
def test_each_bad_parameter_is_named(world: World, url: str, loc: list[str]):
    response = as_persona(world).get(url.format(site=world.objects["site_pk"]))
    body = assert_error_shape(response, 422)
    assert [error["loc"] for error in body["errors"]] == [loc]


def test_an_enum_answer_lists_the_allowed_values(world: World):
    url = f"/api/v1/backups/sites/{world.objects['site_pk']}/snapshots?layer=database"
    (error,) = assert_error_shape(as_persona(world).get(url), 422)["errors"]
    assert error == {"loc": ["query", "layer"], "msg": "expected one of data, code, config", "type": "enum"}


def test_the_largest_id_is_a_plain_404(world: World):
    http = as_persona(world)
    for url in (
        f"/api/v1/sites/{BIGGEST_ID}",
        f"/api/v1/tickets/{BIGGEST_ID}/messages",
        f"/api/v1/tickets/{world.objects['ticket_pk']}/attachments/{BIGGEST_ID}",
        f"/api/v1/releases/{BIGGEST_ID}",
    ):
        body = assert_error_shape(http.get(url), 404)
        assert body == {"detail": "Not Found", "errors": []}, url


@pytest.mark.parametrize("method", ["get", "post", "delete"])
@pytest.mark.parametrize(
    "path", ["/api/v1/", "/api/v1/nothing", "/api/v1/sites/-1", "/api/v1/plans/", "/api/v1/x/y/z"]
)
def test_a_path_no_route_has_is_a_json_404_with_or_without_a_token(world: World, method: str, path: str):
    for http in (HttpClient(), as_persona(world)):
        body = assert_error_shape(getattr(http, method)(path), 404)
        assert body["errors"] == []


def test_a_method_a_path_does_not_take_is_a_json_405_with_allow(world: World):
    response = as_persona(world).delete("/api/v1/plans")
    body = assert_error_shape(response, 405)
    assert response["Allow"] == "GET"
    assert "DELETE" in body["detail"]


def test_no_token_is_a_json_401_saying_how_to_authenticate():
    response = HttpClient().get("/api/v1/sites")
    body = assert_error_shape(response, 401)
    assert body == {"detail": "Unauthorized", "errors": []}
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_too_many_wrong_tokens_is_a_json_429_with_retry_after(world: World, settings):
    settings.SITEKEEPER_API_TOKEN_FAILURE_LIMIT = 2
    wrong = HttpClient(headers={"authorization": "Bearer sk_wrong"})
    answers = [wrong.get("/api/v1/plans") for _ in range(3)]
    assert answers[0].status_code == 401
    throttled = answers[-1]
    body = assert_error_shape(throttled, 429)
    assert body["errors"] == []
    assert int(throttled["Retry-After"]) > 0


def test_a_body_that_is_not_json_is_a_400(world: World):
    response = as_persona(world).post("/api/v1/tickets", "{not json", content_type="application/json")
    assert assert_error_shape(response, 400) == {"detail": "Cannot parse request body", "errors": []}


def test_a_body_is_taken_as_its_schema_says_never_coerced(world: World):
    url = f"/api/v1/tickets/{world.objects['ticket_pk']}/messages"
    response = as_persona(world).post(url, {"body": "Hello", "internal": 0}, content_type="application/json")
    body = assert_error_shape(response, 422)
    assert [error["loc"][-1] for error in body["errors"]] == ["internal"]


def test_missing_contract_fields_keep_their_list_and_are_named_in_errors(world: World):
    response = as_persona(world, "owner").post(
        "/api/v1/tickets", {"subject": "Broken"}, content_type="application/json"
    )
    body = assert_error_shape(response, 422)
    assert body["missing"] == ["type", "priority", "site", "environment", "description"]
    assert [error["loc"] for error in body["errors"]] == [["body", name] for name in body["missing"]]


def test_a_server_error_is_json_without_internals_and_logged(world: World, monkeypatch, caplog):
    def broken(user: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(views, "visible_plans", broken)
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = as_persona(world).get("/api/v1/plans")
    body = assert_error_shape(response, 500)
    assert body == {"detail": "Internal server error", "errors": []}
    assert "secret" not in response.content.decode()
    (record,) = [r for r in caplog.records if r.name == "django.request" and r.levelno == logging.ERROR]
    assert record.exc_info is not None
    assert "secret internals" in str(record.exc_info[1])


def test_an_attachment_download_is_never_cached(world: World):
    url = f"/api/v1/tickets/{world.objects['ticket_pk']}/attachments/{world.objects['attachment_id']}"
    response = as_persona(world, "owner").get(url)
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_document_names_every_error_with_its_shape_and_headers(db):
    document = HttpClient().get("/api/v1/openapi.json").json()
    operations = [(path, op) for path, methods in document["paths"].items() for op in methods.values()]
    assert len(operations) >= 36
    for path, operation in operations:
        responses = operation["responses"]
        assert set(responses) >= SHARED_ERRORS, path
        for status in SHARED_ERRORS:
            schema = responses[status]["content"]["application/json"]["schema"]
            assert schema["$ref"].endswith(("/ErrorOut", "/MissingFieldsOut")), (path, status)
        assert "WWW-Authenticate" in responses["401"]["headers"], path
        assert "Retry-After" in responses["429"]["headers"], path
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path" and parameter["schema"].get("type") == "integer":
                assert parameter["schema"]["minimum"] == 1, (path, parameter["name"])
                assert parameter["schema"]["maximum"] == BIGGEST_ID, (path, parameter["name"])
    error = document["components"]["schemas"]["ErrorOut"]
    assert set(error["properties"]) == {"detail", "errors"}


def test_the_document_lists_enums_and_instants(db):
    document = HttpClient().get("/api/v1/openapi.json").json()
    schemas = document["components"]["schemas"]
    ticket = schemas["TicketOut"]["properties"]
    assert ticket["state"]["enum"][:2] == ["new", "open"]
    assert ticket["received_at"]["format"] == "date-time"
    uptime = schemas["UptimeOut"]["properties"]
    assert uptime["month_start"]["format"] == "date-time"
    download = document["paths"]["/api/v1/tickets/{ticket_id}/attachments/{attachment_id}"]["get"]
    assert list(download["responses"]["200"]["content"]) == ["*/*"]
