"""sitekeeper.http: the one HTTP client — our User-Agent, finite timeouts, no proxy or redirect surprises."""

from __future__ import annotations

import asyncio

import httpx

from sitekeeper import __version__, http


def test_client_sends_our_user_agent_and_has_finite_timeouts(sink):
    with http.client() as client:
        response = client.post(sink.url("/ua"), content=b"x")
        assert client.timeout.connect == 5.0
        assert client.timeout.read == 10.0
    assert response.status_code == 200
    assert sink.requests[0].headers["user-agent"] == f"sitekeeper/{__version__}"


def test_proxy_variables_in_the_environment_are_ignored(sink, closed_port, monkeypatch):
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{closed_port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with http.client() as client:
        assert client.post(sink.url(), content=b"x").status_code == 200


def test_redirects_are_not_followed_unless_asked():
    def redirect(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/start":
            return httpx.Response(302, headers={"Location": "/end"})
        return httpx.Response(200)

    with http.client(transport=httpx.MockTransport(redirect)) as client:
        assert client.get("http://site.test/start").status_code == 302
    with http.client(transport=httpx.MockTransport(redirect), follow_redirects=True) as client:
        assert client.get("http://site.test/start").status_code == 200


def test_callers_can_add_headers_and_shorter_timeouts(sink):
    with http.client(timeout=2.0, headers={"X-Probe": "1"}) as client:
        client.post(sink.url(), content=b"x")
        assert client.timeout.read == 2.0
    assert sink.requests[0].headers["x-probe"] == "1"
    assert sink.requests[0].headers["user-agent"].startswith("sitekeeper/")


def test_async_client_behaves_the_same(sink):
    async def fetch() -> int:
        async with http.async_client() as client:
            response = await client.post(sink.url("/async"), content=b"x")
            return response.status_code

    assert asyncio.run(fetch()) == 200
    assert sink.requests[0].headers["user-agent"] == f"sitekeeper/{__version__}"
