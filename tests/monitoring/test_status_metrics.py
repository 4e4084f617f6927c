"""Public status page (opt-in) and the Prometheus /metrics endpoint (token or agency login)."""

from __future__ import annotations

from django.test import Client as HttpClient

from sitekeeper.desk import services
from sitekeeper.monitoring.models import CheckResult, StatusPage
from tests.monitoring.conftest import outage, utc, watch

TOKEN = "metrics-secret-0123456789"


def test_status_page_is_404_unless_enabled(acme, monitor):
    page = StatusPage.objects.create(client=acme, slug="acme", title="Acme status")
    assert HttpClient().get("/status/acme/").status_code == 404
    page.enabled = True
    page.save()
    watch(utc(2020, 1, 1), utc(2030, 1, 1))
    outage(monitor, utc(2020, 1, 2), None, cause="HTTP 500 from wp-login with secret path")
    monitor.state = "down"
    monitor.save()
    response = HttpClient().get("/status/acme/")
    text = response.content.decode()
    assert response.status_code == 200
    assert "Acme GmbH website" in text
    assert "state-down" in text
    assert "secret path" not in text
    assert "owner@acme.test" not in text
    assert HttpClient().get("/status/nobody/").status_code == 404


def test_metrics_needs_the_token_or_an_agency_login(monkeypatch, monitor, owner, engineer):
    monkeypatch.setenv("SITEKEEPER_METRICS_TOKEN", TOKEN)
    assert HttpClient().get("/metrics").status_code == 401
    wrong = HttpClient(headers={"authorization": "Bearer nope"})
    assert wrong.get("/metrics").status_code == 401
    client_person = HttpClient()
    client_person.force_login(owner)
    assert client_person.get("/metrics").status_code == 403
    staff = HttpClient()
    staff.force_login(engineer)
    assert staff.get("/metrics").status_code == 200
    response = HttpClient(headers={"authorization": f"Bearer {TOKEN}"}).get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")


def test_metrics_without_a_configured_token_refuses_every_token(monkeypatch, monitor):
    monkeypatch.delenv("SITEKEEPER_METRICS_TOKEN", raising=False)
    assert HttpClient(headers={"authorization": "Bearer "}).get("/metrics").status_code == 401


def test_metrics_content(monkeypatch, acme, monitor):
    monkeypatch.setenv("SITEKEEPER_METRICS_TOKEN", TOKEN)
    monitor.state = "down"
    monitor.save()
    CheckResult.objects.create(monitor=monitor, location="fra", at=utc(2026, 1, 1), ok=False, response_ms=812)
    outage(monitor, utc(2026, 1, 1), None)
    services.file_request(
        acme, channel="portal", type="incident", priority="P1", subject="Site down", description="503"
    )
    text = HttpClient(headers={"authorization": f"Bearer {TOKEN}"}).get("/metrics").content.decode()
    labels = f'monitor="{monitor.pk}",client="acme",site="https://acme.test",environment="prod"'
    assert f"sitekeeper_monitor_up{{{labels}" in text
    assert "} 0\n" in text.split("sitekeeper_monitor_up{")[1]
    assert "sitekeeper_monitor_last_response_ms{" in text
    assert " 812\n" in text
    assert 'sitekeeper_outages_open{client="acme"} 1' in text
    assert 'sitekeeper_tickets_open{priority="P1"} 1' in text
    assert 'sitekeeper_tickets_open{priority="P4"} 0' in text
