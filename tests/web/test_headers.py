"""Issue 14.4: the security headers and TLS settings, read off real responses.

The settings module is evaluated once per process, so the https deployment is computed the way production
computes it — a fresh Python importing sitekeeper.settings with SITEKEEPER_BASE_URL=https://… — and its
values are then applied with override_settings to a test client built inside that override (the middleware
reads its settings when the client loads it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client as HttpClient
from django.test import override_settings

from sitekeeper.access.models import User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

TLS_SETTINGS = (
    "HTTPS",
    "ALLOWED_HOSTS",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_PROXY_SSL_HEADER",
    "CSRF_TRUSTED_ORIGINS",
)
HOST = "desk.agency.example"


def deployment(tmp_path: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    """Import sitekeeper.settings in a new interpreter with these SITEKEEPER_* variables; print the TLS
    settings as JSON (or fail the way `sitekeeper` would, with the ConfigError on stderr)."""
    clean = {key: value for key, value in os.environ.items() if not key.startswith("SITEKEEPER_")}
    env = {**clean, "SITEKEEPER_HOME": str(tmp_path / "home"), **environment}
    script = (
        "import json\nfrom sitekeeper import settings as s\n"
        f"print(json.dumps({{name: getattr(s, name) for name in {TLS_SETTINGS!r}}}))"
    )
    return subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def settings_for(tmp_path: Path, **environment: str) -> dict[str, Any]:
    result = deployment(tmp_path, **environment)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    if values["SECURE_PROXY_SSL_HEADER"] is not None:
        values["SECURE_PROXY_SSL_HEADER"] = tuple(values["SECURE_PROXY_SSL_HEADER"])
    return values


def config_error(tmp_path: Path, **environment: str) -> str:
    result = deployment(tmp_path, **environment)
    assert result.returncode != 0, f"expected a configuration error, got {result.stdout}"
    return result.stderr.strip().splitlines()[-1]


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def assert_page_headers(response) -> None:
    """The headers every HTML page carries, on http and https alike."""
    assert response["Content-Type"].startswith("text/html")
    policy = csp_directives(response["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]  # no nonce was used on this page, so none is announced
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    permissions = dict(item.split("=", 1) for item in response["Permissions-Policy"].split(", "))
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert permissions[feature] == "()", feature


def log_in(http: HttpClient, user: User, **extra: Any):
    """A real password login (not force_login): the answer sets the session and CSRF cookies."""
    http.get("/login/", **extra)
    return http.post("/login/", {"username": user.username, "password": PASSWORD}, **extra)


# --- plain http (the default SITEKEEPER_BASE_URL) ------------------------------------------------------
def test_every_page_header_over_http(engineer, owner):
    anonymous = HttpClient().get("/login/")
    assert anonymous.status_code == 200
    assert_page_headers(anonymous)
    staff = HttpClient()
    staff.force_login(engineer)
    dashboard = staff.get("/staff/")
    assert dashboard.status_code == 200
    assert_page_headers(dashboard)
    client = HttpClient()
    client.force_login(owner)
    portal = client.get("/portal/")
    assert portal.status_code == 200
    assert_page_headers(portal)
    assert "Strict-Transport-Security" not in dashboard


def test_http_sends_no_hsts_and_plain_cookies_even_with_a_forged_proxy_header(engineer):
    http = HttpClient()
    response = log_in(http, engineer, HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 302
    assert "Strict-Transport-Security" not in response
    assert not response.cookies["sessionid"]["secure"]
    assert not response.cookies["csrftoken"]["secure"]
    assert response.cookies["sessionid"]["httponly"]
    # The forged header does not make Django think the request was https.
    page = http.get("/staff/", HTTP_X_FORWARDED_PROTO="https")
    assert page.wsgi_request.is_secure() is False


def test_headers_on_static_files_and_api_answers(engineer):
    static = HttpClient().get("/static/web/sitekeeper.css")
    assert static.status_code == 200
    assert static["X-Content-Type-Options"] == "nosniff"
    assert "Permissions-Policy" in static
    openapi = HttpClient().get("/api/v1/openapi.json")
    assert openapi.status_code == 200
    assert openapi["X-Content-Type-Options"] == "nosniff"
    assert openapi["Referrer-Policy"] == "same-origin"
    assert "Content-Security-Policy" in openapi


def test_the_api_docs_page_runs_under_the_site_wide_policy():
    """Swagger UI's assets come from this server (django-ninja ships them): no exception to the policy."""
    docs = HttpClient().get("/api/v1/docs")
    assert docs.status_code == 200
    assert_page_headers(docs)
    text = docs.text
    assert "/static/ninja/swagger-ui-bundle.js" in text
    assert "cdn" not in text.lower()


def test_a_nonce_used_by_a_page_is_announced_in_its_policy(rf):
    """The preamble's escape hatch, <style nonce="{{ request.csp_nonce }}">: django-csp adds the nonce to
    script-src and style-src only on a response whose rendering asked for it."""
    from csp.middleware import CSPMiddleware
    from django.http import HttpResponse

    def view(request):
        return HttpResponse(f'<style nonce="{request.csp_nonce}"></style>', content_type="text/html")

    request = rf.get("/")
    response = CSPMiddleware(view)(request)
    policy = csp_directives(response["Content-Security-Policy"])
    assert policy["style-src"] == ["'self'", f"'nonce-{request.csp_nonce}'"]


# --- https: the settings follow SITEKEEPER_BASE_URL -----------------------------------------------------
def test_https_base_url_switches_tls_settings_on(tmp_path):
    values = settings_for(tmp_path, SITEKEEPER_BASE_URL=f"https://{HOST}")
    assert values["HTTPS"] is True
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_HSTS_SECONDS"] == 31_536_000
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is False
    assert values["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")
    assert values["CSRF_TRUSTED_ORIGINS"] == [f"https://{HOST}"]
    assert HOST in values["ALLOWED_HOSTS"]


def test_http_base_url_keeps_them_off(tmp_path):
    values = settings_for(
        tmp_path, SITEKEEPER_BASE_URL="http://127.0.0.1:8000", SITEKEEPER_HSTS_SECONDS="600"
    )
    assert values["HTTPS"] is False
    assert values["SESSION_COOKIE_SECURE"] is False
    assert values["CSRF_COOKIE_SECURE"] is False
    assert values["SECURE_HSTS_SECONDS"] == 0
    assert values["SECURE_PROXY_SSL_HEADER"] is None  # over http nothing may claim https
    assert values["CSRF_TRUSTED_ORIGINS"] == []


def test_hsts_age_subdomains_and_proxy_header_are_configurable(tmp_path):
    values = settings_for(
        tmp_path,
        SITEKEEPER_BASE_URL=f"https://{HOST}:8443/desk/",
        SITEKEEPER_HSTS_SECONDS="600",
        SITEKEEPER_HSTS_SUBDOMAINS="yes",
        SITEKEEPER_PROXY_SSL_HEADER="X-Forwarded-Ssl: on",
    )
    assert values["SECURE_HSTS_SECONDS"] == 600
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_SSL", "on")
    assert values["CSRF_TRUSTED_ORIGINS"] == [f"https://{HOST}:8443"]  # the origin, never the path
    no_proxy = settings_for(tmp_path, SITEKEEPER_BASE_URL=f"https://{HOST}", SITEKEEPER_PROXY_SSL_HEADER="")
    assert no_proxy["SECURE_PROXY_SSL_HEADER"] is None


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"SITEKEEPER_BASE_URL": HOST}, "SITEKEEPER_BASE_URL: expected http://host or https://host"),
        ({"SITEKEEPER_BASE_URL": "ftp://desk.example"}, "SITEKEEPER_BASE_URL: expected http://host"),
        (
            {"SITEKEEPER_PROXY_SSL_HEADER": "X Forwarded Proto"},
            "SITEKEEPER_PROXY_SSL_HEADER: 'X Forwarded Proto'",
        ),
        # Read over http too: the typo shows today, not on the day https is switched on.
        ({"SITEKEEPER_HSTS_SECONDS": "a year"}, "SITEKEEPER_HSTS_SECONDS: expected a whole number"),
        ({"SITEKEEPER_HSTS_SUBDOMAINS": "maybe"}, "SITEKEEPER_HSTS_SUBDOMAINS: expected one of"),
    ],
)
def test_bad_deployment_settings_name_the_variable(tmp_path, environment, message):
    assert message in config_error(tmp_path, **environment)


def test_https_responses_carry_hsts_and_secure_cookies(tmp_path, engineer):
    values = settings_for(tmp_path, SITEKEEPER_BASE_URL=f"https://{HOST}", SITEKEEPER_HSTS_SECONDS="600")
    behind_proxy = {"HTTP_HOST": HOST, "HTTP_X_FORWARDED_PROTO": "https"}
    with override_settings(**values):
        http = HttpClient()
        response = log_in(http, engineer, **behind_proxy)
        assert response.status_code == 302
        assert response["Strict-Transport-Security"] == "max-age=600"
        assert response.cookies["sessionid"]["secure"]
        assert response.cookies["sessionid"]["httponly"]
        assert response.cookies["csrftoken"]["secure"]
        http.force_login(engineer)  # with the second factor the console asks for after the password
        page = http.get("/staff/", **behind_proxy)
        assert page.status_code == 200
        assert page.wsgi_request.is_secure()
        assert page["Strict-Transport-Security"] == "max-age=600"
        assert_page_headers(page)
        # A request that reached the app without the proxy's header is not https: no HSTS on it.
        direct = HttpClient().get("/login/", HTTP_HOST=HOST)
        assert "Strict-Transport-Security" not in direct


def test_https_login_form_accepts_the_browsers_origin(tmp_path, engineer):
    """The CSRF check with cookies marked Secure, the Origin a browser sends and the proxy's header."""
    values = settings_for(tmp_path, SITEKEEPER_BASE_URL=f"https://{HOST}")
    with override_settings(**values):
        http = HttpClient(enforce_csrf_checks=True)
        headers = {"HTTP_HOST": HOST, "HTTP_X_FORWARDED_PROTO": "https", "HTTP_ORIGIN": f"https://{HOST}"}
        form = http.get("/login/", **headers)
        token = form.cookies["csrftoken"].value
        response = http.post(
            "/login/",
            {"username": engineer.username, "password": PASSWORD, "csrfmiddlewaretoken": token},
            **headers,
        )
        assert response.status_code == 302
        # The same form posted from another site (its own valid token and cookie): refused by the origin.
        forged = HttpClient(enforce_csrf_checks=True)
        own_token = forged.get("/login/", **headers).cookies["csrftoken"].value
        refused = forged.post(
            "/login/",
            {"username": engineer.username, "password": PASSWORD, "csrfmiddlewaretoken": own_token},
            **{**headers, "HTTP_ORIGIN": "https://evil.example"},
        )
        assert refused.status_code == 403
