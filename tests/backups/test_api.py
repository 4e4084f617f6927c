# ruff: noqa: F811
"""/api/v1/backups: summaries, snapshots, runs and restore tests scoped by client; staff start jobs; no
secret in any response; the OpenAPI document still builds."""

from __future__ import annotations

import json

import pytest

from sitekeeper.access.models import AuditEntry, User
from sitekeeper.backups import views
from tests.backups.test_views import SECRETS, Catalogue, catalogue  # noqa: F401
from tests.http_clients import api

BASE = "/api/v1/backups/sites"


@pytest.fixture
def queued(monkeypatch) -> list:
    calls: list = []
    monkeypatch.setattr(views, "enqueue", lambda kind, **kwargs: calls.append((kind, kwargs)))
    return calls


def assert_no_secret(response) -> None:
    body = response.content.decode()
    for secret in SECRETS:
        assert secret not in body


def test_list_is_scoped_by_client(catalogue: Catalogue, owner: User, outsider: User, engineer: User):
    mine = api(owner).get(BASE)
    assert mine.status_code == 200
    assert [row["client"] for row in mine.json()] == ["acme"]
    assert [row["client"] for row in api(outsider).get(BASE).json()] == ["globex"]
    staff = api(engineer).get(BASE)
    assert {row["client"] for row in staff.json()} == {"acme", "globex"}
    # globex's site has no backup set up: the API says so rather than leaving it to "configured" (12.1)
    assert {row["client"]: row["backup_source"] for row in staff.json()} == {"acme": True, "globex": False}
    assert_no_secret(staff)


def test_site_summary(catalogue: Catalogue, member: User):
    response = api(member).get(f"{BASE}/{catalogue.site.pk}")
    assert response.status_code == 200
    data = response.json()
    assert data["configured"] is True
    assert data["backup_source"] is True
    assert data["off_site"] is False  # a local folder on the site's own machine
    assert data["repository"]["location"] == "/var/backups/acme"
    assert data["last_verified"].startswith(f"{catalogue.passed.finished_at:%Y-%m-%dT%H:%M}")
    assert data["retention"] == {
        "days": 90,
        "kept": 5,
        "forgotten": 1,
        "oldest_kept": data["retention"]["oldest_kept"],
    }
    layers = {row["layer"]: row for row in data["layers"]}
    assert layers["code"]["stale"] is True
    assert layers["code"]["failed"] is True
    assert layers["data"]["stale"] is False
    assert_no_secret(response)


def test_outsider_gets_404(catalogue: Catalogue, outsider: User, queued):
    http = api(outsider)
    for path in ("", "/snapshots", "/runs", "/restore-tests"):
        response = http.get(f"{BASE}/{catalogue.site.pk}{path}")
        assert response.status_code == 404, path
        assert "acme" not in response.content.decode().lower()
    assert (
        http.post(f"{BASE}/{catalogue.site.pk}/runs", {"layer": "data"}, "application/json").status_code
        == 404
    )
    assert queued == []


def test_snapshots_by_layer(catalogue: Catalogue, owner: User):
    http = api(owner)
    every = http.get(f"{BASE}/{catalogue.site.pk}/snapshots").json()
    assert len(every) == 5
    code = http.get(f"{BASE}/{catalogue.site.pk}/snapshots?layer=code").json()
    assert [s["restic_id"] for s in code] == [catalogue.snapshots[4].restic_id]
    with_forgotten = http.get(f"{BASE}/{catalogue.site.pk}/snapshots?include_forgotten=true").json()
    assert len(with_forgotten) == 6
    bad = http.get(f"{BASE}/{catalogue.site.pk}/snapshots?layer=everything")
    assert bad.status_code == 422
    assert "expected one of data, code, config" in bad.json()["detail"]


def test_runs_and_tests_hide_logs_from_clients(catalogue: Catalogue, owner: User, engineer: User):
    client_runs = api(owner).get(f"{BASE}/{catalogue.site.pk}/runs").json()
    assert {r["status"] for r in client_runs} == {"succeeded", "failed", "running"}
    assert all(r["log"] is None and r["error"] is None for r in client_runs)
    staff_runs = api(engineer).get(f"{BASE}/{catalogue.site.pk}/runs").json()
    failed = next(r for r in staff_runs if r["status"] == "failed")
    assert "unable to open repository" in failed["log"]
    running = next(r for r in staff_runs if r["status"] == "running")
    assert running["progress"]["source"] == "wordpress"
    client_tests = api(owner).get(f"{BASE}/{catalogue.site.pk}/restore-tests").json()
    assert [t["status"] for t in client_tests] == ["failed", "passed"]
    assert client_tests[1]["evidence"][0]["checks"][0]["expected"] == 42
    assert all(t["check_output"] is None for t in client_tests)
    staff_tests = api(engineer).get(f"{BASE}/{catalogue.site.pk}/restore-tests").json()
    assert "ciphertext verification failed" in staff_tests[0]["check_output"]


def test_staff_start_jobs(catalogue: Catalogue, engineer: User, queued, django_capture_on_commit_callbacks):
    http = api(engineer)
    with django_capture_on_commit_callbacks(execute=True):
        response = http.post(f"{BASE}/{catalogue.site.pk}/runs", {"layer": "data"}, "application/json")
    assert response.status_code == 202
    assert response.json() == {"queued": "backup", "site": catalogue.site.pk, "layer": "data"}
    with django_capture_on_commit_callbacks(execute=True):
        response = http.post(f"{BASE}/{catalogue.site.pk}/restore-tests")
    assert response.status_code == 202
    assert queued == [
        ("backup", {"site": catalogue.site, "layer": "data", "user": engineer}),
        ("restore_test", {"site": catalogue.site, "user": engineer}),
    ]
    entries = AuditEntry.objects.filter(
        actor=engineer, model__in=["backups.BackupRun", "backups.RestoreTest"]
    )
    assert entries.count() == 2
    assert {e.actor_label for e in entries} == {"api:engineer"}


def test_clients_cannot_start_jobs_and_bad_input_is_named(
    catalogue: Catalogue, owner: User, engineer: User, acme, queued
):
    response = api(owner).post(f"{BASE}/{catalogue.site.pk}/runs", {"layer": "data"}, "application/json")
    assert response.status_code == 403
    assert api(owner).post(f"{BASE}/{catalogue.site.pk}/restore-tests").status_code == 403
    bad = api(engineer).post(f"{BASE}/{catalogue.site.pk}/runs", {"layer": "all"}, "application/json")
    assert bad.status_code == 422
    assert "layer" in bad.content.decode()
    # A site without a backup configuration: 409 naming the site.
    unconfigured = acme.sites.create(url="https://shop.acme.test", name="Acme shop")
    response = api(engineer).post(f"{BASE}/{unconfigured.pk}/runs", {"layer": "data"}, "application/json")
    assert response.status_code == 409
    assert f"site {unconfigured.pk} has no backup configuration" in response.json()["detail"]
    assert queued == []


def test_openapi_builds_with_the_backup_routes(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    paths = json.loads(response.content)["paths"]
    assert {
        "/api/v1/backups/sites",
        "/api/v1/backups/sites/{site_id}",
        "/api/v1/backups/sites/{site_id}/snapshots",
        "/api/v1/backups/sites/{site_id}/runs",
        "/api/v1/backups/sites/{site_id}/restore-tests",
    } <= set(paths)
    assert "post" in paths["/api/v1/backups/sites/{site_id}/runs"]
