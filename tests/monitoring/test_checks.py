# ruff: noqa: F811  (the fixtures of tests/monitoring/servers.py are imported by name, then used as arguments)
"""Each check kind against real servers on 127.0.0.1: passes and fails, with the failure's priority."""

from __future__ import annotations

import asyncio
import ssl

from sitekeeper import http
from sitekeeper.monitoring.checks import CheckOutcome, CheckSpec, run_check
from tests.monitoring.servers import certs, closed_port, https_server, server  # noqa: F401 (fixtures)


def check(spec: CheckSpec, context: ssl.SSLContext | None = None) -> CheckOutcome:
    async def go() -> CheckOutcome:
        async with http.async_client(verify=context or True) as client:
            return await run_check(spec, client, context)

    return asyncio.run(go())


def test_http_ok_and_status(server) -> None:
    assert check(CheckSpec("http", server.url + "/")).ok
    outcome = check(CheckSpec("http", server.url + "/500"))
    assert (outcome.ok, outcome.priority, outcome.status_code) == (False, "P1", 500)
    wrong = check(CheckSpec("http", server.url + "/", expected_status=(204,)))
    assert (wrong.ok, wrong.priority, wrong.error) == (False, "P2", "HTTP 200, expected 204")


def test_http_method_and_headers(server) -> None:
    assert check(CheckSpec("http", server.url + "/", method="HEAD")).ok
    spec = CheckSpec("http", server.url + "/header", headers={"X-Test": "abc"}, keyword="X-Test=abc")
    assert check(spec).ok


def test_http_keyword_present_absent_regex(server) -> None:
    assert check(CheckSpec("http", server.url + "/", keyword="Hello world")).ok
    missing = check(CheckSpec("http", server.url + "/", keyword="Checkout"))
    assert (missing.ok, missing.priority, missing.error) == (False, "P2", "keyword 'Checkout' missing")
    assert check(CheckSpec("http", server.url + "/", keyword="Fatal error", keyword_absent=True)).ok
    assert not check(CheckSpec("http", server.url + "/", keyword="Hello", keyword_absent=True)).ok
    assert check(CheckSpec("http", server.url + "/", keyword=r"systems\s+go", keyword_regex=True)).ok
    assert not check(CheckSpec("http", server.url + "/", keyword=r"^systems", keyword_regex=True)).ok


def test_http_max_response_time(server) -> None:
    slow = check(CheckSpec("http", server.url + "/slow", max_response_ms=100))
    assert (slow.ok, slow.priority) == (False, "P2")
    assert slow.response_ms >= 300
    assert check(CheckSpec("http", server.url + "/slow", max_response_ms=5000)).ok


def test_http_redirects(server) -> None:
    followed = check(CheckSpec("http", server.url + "/redirect", expected_status=(200,)))
    assert followed.ok
    not_followed = check(
        CheckSpec("http", server.url + "/redirect", expected_status=(200,), follow_redirects=False)
    )
    assert (not_followed.ok, not_followed.status_code) == (False, 302)
    # With no expected status, a redirect not followed is still "up" (any 2xx/3xx).
    assert check(CheckSpec("http", server.url + "/redirect", follow_redirects=False)).ok


def test_http_unreachable_is_p1(closed_port) -> None:
    outcome = check(CheckSpec("http", f"http://127.0.0.1:{closed_port}/", timeout=2))
    assert (outcome.ok, outcome.priority) == (False, "P1")


def test_http_tls_failure_browsers_block_is_p1(certs, https_server) -> None:
    running = https_server(certs.self_signed)
    outcome = check(CheckSpec("http", running.url + "/", timeout=2))
    assert (outcome.ok, outcome.priority) == (False, "P1")
    assert "certificate" in outcome.error.lower()


def test_tcp(server, closed_port) -> None:
    assert check(CheckSpec("tcp", f"127.0.0.1:{server.port}")).ok
    refused = check(CheckSpec("tcp", f"127.0.0.1:{closed_port}", timeout=2))
    assert (refused.ok, refused.priority) == (False, "P1")


def test_dns() -> None:
    assert check(CheckSpec("dns", "localhost")).ok
    assert not check(CheckSpec("dns", "no-such-host.invalid", timeout=3)).ok


def test_tls_valid_chain_reports_expiry(certs, https_server) -> None:
    running = https_server(certs.valid)
    context = ssl.create_default_context(cafile=str(certs.ca_file))
    outcome = check(CheckSpec("tls", f"localhost:{running.port}"), context)
    assert outcome.ok, outcome.error
    assert (
        89
        <= (outcome.cert_expires_at - outcome.cert_expires_at.now(outcome.cert_expires_at.tzinfo)).days
        <= 90
    )
    assert "Sitekeeper Test CA" in outcome.cert_issuer


def test_tls_chain_invalid_and_hostname_mismatch_are_p1(certs, https_server) -> None:
    context = ssl.create_default_context(cafile=str(certs.ca_file))
    self_signed = check(CheckSpec("tls", f"localhost:{https_server(certs.self_signed).port}"), context)
    assert (self_signed.ok, self_signed.priority) == (False, "P1")
    assert self_signed.cert_expires_at is not None  # read anyway, for the expiry warnings
    wrong = check(CheckSpec("tls", f"localhost:{https_server(certs.wrong_host).port}"), context)
    assert (wrong.ok, wrong.priority) == (False, "P1")
    assert "mismatch" in wrong.error.lower() or "hostname" in wrong.error.lower()


def test_tls_weak_protocol_is_p1(certs, https_server, monkeypatch) -> None:
    # The platform's OpenSSL refuses TLS 1.1 on both sides, so the version the handshake reports is faked.
    from sitekeeper.monitoring import checks

    async def old_handshake(host, port, context, timeout):
        return "TLSv1.1", b""

    monkeypatch.setattr(checks, "_handshake", old_handshake)
    outcome = check(CheckSpec("tls", "localhost:1"))
    assert (outcome.ok, outcome.priority, outcome.error) == (False, "P1", "weak protocol TLSv1.1")
