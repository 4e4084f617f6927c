"""/api/v1/releases: a site's release records and one release, scoped like the portal (client tokens reach
their own client's sites only, without the log, check details or snapshot ids; another client's release is
a 404), and agency staff approving an on-demand release (audited as an API change)."""

from __future__ import annotations

import pytest

from sitekeeper.access.models import AuditEntry
from sitekeeper.releases.models import Release
from tests.http_clients import api
from tests.releases.releases_common import (
    LOG,
    URLS,
    Records,
    installed,
    package,
    packages_dir,
    records,
)

__all__ = ["installed", "package", "packages_dir", "records"]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(URLS)]


def test_staff_list_and_detail_with_log_and_restore_point(records: Records, engineer):
    http = api(engineer)
    response = http.get(f"/api/v1/releases/sites/{records.site.pk}")
    assert response.status_code == 200
    rows = response.json()
    assert [r["slot"] for r in rows] == ["manual-1", "batch-2026-05-12"]
    deployed = rows[1]
    assert deployed["status"] == "rolled_back"
    assert deployed["client"] == "acme"
    assert deployed["approved_by"] == "the agreement's update schedule"
    assert deployed["changes"] == [
        {"ecosystem": "wordpress-plugin", "slug": "akismet", "name": "Akismet Anti-spam",
         "from_version": "5.0.2", "to_version": "5.0.3"},
    ]  # fmt: skip
    assert deployed["checks_summary"] == {"ok": 2, "failed": 1, "skipped": 1}
    assert deployed["ticket"] == records.ticket.reference
    assert rows[0]["approved_by"] == ""  # on demand, not approved yet

    detail = http.get(f"/api/v1/releases/{records.deployed.pk}").json()
    assert detail["log"] == LOG
    assert detail["restore_point"] == [
        {"source": "code", "snapshot": records.snapshot.pk, "restic_id": records.snapshot.restic_id}
    ]
    assert [(c["environment"], c["name"], c["result"]) for c in detail["checks"]] == [
        ("stage", "home page 200", "ok"),
        ("stage", "no PHP fatal", "ok"),
        ("stage", "lighthouse", "skipped"),
        ("prod", "home page 200", "failed"),
    ]
    assert detail["checks"][3]["detail"] == "HTTP 500 from /srv/acme/secret-path"


def test_status_filter(records: Records, engineer):
    http = api(engineer)
    rows = http.get(f"/api/v1/releases/sites/{records.site.pk}?status=rolled_back").json()
    assert [r["id"] for r in rows] == [records.deployed.pk]
    response = http.get(f"/api/v1/releases/sites/{records.site.pk}?status=exploded")
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["loc"] == ["query", "status"]
    assert error["msg"].startswith("expected one of planned, staging")
    assert "expected one of" in response.json()["detail"]


def test_client_tokens_get_no_log_details_or_snapshots(records: Records, owner, member):
    for person in (owner, member):
        http = api(person)
        assert len(http.get(f"/api/v1/releases/sites/{records.site.pk}").json()) == 2
        detail = http.get(f"/api/v1/releases/{records.deployed.pk}").json()
        assert detail["log"] is None
        assert detail["restore_point"] is None
        assert {c["detail"] for c in detail["checks"]} == {None}
        assert "/srv/acme" not in str(detail)
        assert detail["outcome"] == "Production failed its checks and was rolled back."


def test_another_clients_token_gets_404(records: Records, outsider):
    http = api(outsider)
    assert http.get(f"/api/v1/releases/sites/{records.site.pk}").status_code == 404
    assert http.get(f"/api/v1/releases/{records.deployed.pk}").status_code == 404
    assert http.post(f"/api/v1/releases/{records.running.pk}/approve").status_code == 404


def test_no_token_is_401(records: Records, client):
    assert client.get(f"/api/v1/releases/{records.deployed.pk}").status_code == 401


def test_staff_approve_is_audited_and_client_people_are_refused(records: Records, engineer, owner):
    url = f"/api/v1/releases/{records.running.pk}/approve"
    response = api(owner).post(url)
    assert response.status_code == 403
    assert Release.objects.get(pk=records.running.pk).approved_by is None
    response = api(engineer).post(url)
    assert response.status_code == 200
    assert response.json()["approved_by"] == "engineer"
    entry = AuditEntry.objects.get(model="releases.Release", object_pk=str(records.running.pk))
    assert (entry.actor, entry.actor_label) == (engineer, "api:engineer")
    # A finished release has nothing to approve: a conflict, not a change.
    response = api(engineer).post(f"/api/v1/releases/{records.deployed.pk}/approve")
    assert response.status_code == 409
    assert "nothing to approve" in response.json()["detail"]
