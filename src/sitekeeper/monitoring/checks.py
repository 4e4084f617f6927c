"""The check kinds as pure async functions: a CheckSpec in, a CheckOutcome out, no database.

Every failure carries the priority the agreement's examples give it: P1 when visitors cannot use the site
(unreachable, 5xx, a TLS failure browsers block), P2 when it works but wrongly (keyword, slow, odd status).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import re
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cryptography import x509

from sitekeeper import http

if TYPE_CHECKING:
    import httpx

    from sitekeeper.monitoring.models import Monitor

P1, P2 = "P1", "P2"
WEAK_PROTOCOLS = {"SSLv2", "SSLv3", "TLSv1", "TLSv1.1"}  # browsers refuse these: the site is unusable
ERROR_MAX = 300  # CheckResult.error's length


@dataclass(frozen=True)
class CheckSpec:
    """What to check: the Monitor's fields a probe needs, copied so checks never touch the ORM."""

    kind: str
    url: str
    method: str = "GET"
    expected_status: tuple[int, ...] = ()
    keyword: str = ""
    keyword_absent: bool = False
    keyword_regex: bool = False
    max_response_ms: int | None = None
    follow_redirects: bool = True
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float = 10.0

    @classmethod
    def from_monitor(cls, monitor: Monitor) -> CheckSpec:
        return cls(
            kind=monitor.kind,
            url=monitor.url,
            method=(monitor.method or "GET").upper(),
            expected_status=tuple(int(code) for code in monitor.expected_status or ()),
            keyword=monitor.keyword,
            keyword_absent=monitor.keyword_absent,
            keyword_regex=monitor.keyword_regex,
            max_response_ms=monitor.max_response_ms,
            follow_redirects=monitor.follow_redirects,
            headers={str(k): str(v) for k, v in (monitor.headers or {}).items()},
            timeout=float(monitor.timeout_seconds),
        )

    @functools.cached_property
    def host_port(self) -> tuple[str, int]:
        """host and port for TCP/TLS/DNS monitors ("host:port", or a URL); parsed once per spec (the probe
        asks for every check's host)."""
        parts = urlsplit(self.url if "://" in self.url else f"//{self.url}")
        default = 443 if self.kind == "tls" or parts.scheme == "https" else 80
        return parts.hostname or "", parts.port or default


@dataclass(frozen=True)
class CheckOutcome:
    ok: bool
    error: str = ""
    priority: str = ""  # for a failure: the incident's priority
    status_code: int | None = None
    response_ms: int | None = None
    cert_expires_at: dt.datetime | None = None
    cert_issuer: str = ""


def _fail(error: str, priority: str = P1, **extra: Any) -> CheckOutcome:
    return CheckOutcome(ok=False, error=error[:ERROR_MAX], priority=priority, **extra)


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


async def run_check(
    spec: CheckSpec, client: httpx.AsyncClient, ssl_context: ssl.SSLContext | None = None
) -> CheckOutcome:
    """Run one check; never raises for what the network does (that is the outcome)."""
    if spec.kind == "http":
        return await check_http(spec, client)
    if spec.kind == "tcp":
        return await check_tcp(spec)
    if spec.kind == "tls":
        return await check_tls(spec, ssl_context)
    if spec.kind == "dns":
        return await check_dns(spec)
    return _fail(f"unknown check kind {spec.kind!r}", P2)


async def check_http(spec: CheckSpec, client: httpx.AsyncClient) -> CheckOutcome:
    started = time.perf_counter()
    try:
        response = await client.request(
            spec.method,
            spec.url,
            headers=spec.headers or None,
            timeout=spec.timeout,
            follow_redirects=spec.follow_redirects,
        )
    except http.TimeoutException:
        return _fail(f"timeout after {spec.timeout:g} s", response_ms=_elapsed_ms(started))
    except (http.HTTPError, http.InvalidURL, ssl.SSLError, OSError) as exc:
        return _fail(_describe(exc), response_ms=_elapsed_ms(started))
    return judge_response(spec, response.status_code, response.text, _elapsed_ms(started))


def _describe(exc: BaseException) -> str:
    # httpx wraps the ssl/socket error; the cause says what a person needs ("certificate verify failed").
    cause = exc.__cause__ or exc.__context__
    detail = str(exc) or type(exc).__name__
    if cause is not None and str(cause) and str(cause) not in detail:
        detail = f"{detail}: {cause}"
    return detail


def judge_response(spec: CheckSpec, status: int, body: str, elapsed_ms: int) -> CheckOutcome:
    """The HTTP verdict from status, body and time: the first problem found, worst first."""
    seen = {"status_code": status, "response_ms": elapsed_ms}
    if status >= 500 and status not in spec.expected_status:
        return _fail(f"HTTP {status}", P1, **seen)
    if spec.expected_status and status not in spec.expected_status:
        expected = ", ".join(map(str, spec.expected_status))
        return _fail(f"HTTP {status}, expected {expected}", P2, **seen)
    if not spec.expected_status and not 200 <= status < 400:
        return _fail(f"HTTP {status}", P2, **seen)
    if spec.keyword and (problem := _keyword_problem(spec, body)):
        return _fail(problem, P2, **seen)
    if spec.max_response_ms is not None and elapsed_ms > spec.max_response_ms:
        return _fail(f"slow: {elapsed_ms} ms > {spec.max_response_ms} ms", P2, **seen)
    return CheckOutcome(ok=True, **seen)


def _keyword_problem(spec: CheckSpec, body: str) -> str:
    found = bool(re.search(spec.keyword, body)) if spec.keyword_regex else spec.keyword in body
    if found and spec.keyword_absent:
        return f"keyword {spec.keyword!r} present"
    if not found and not spec.keyword_absent:
        return f"keyword {spec.keyword!r} missing"
    return ""


async def check_tcp(spec: CheckSpec) -> CheckOutcome:
    host, port = spec.host_port
    started = time.perf_counter()
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), spec.timeout)
    except TimeoutError:
        return _fail(f"timeout connecting to {host}:{port}", response_ms=_elapsed_ms(started))
    except OSError as exc:
        return _fail(f"{host}:{port}: {exc.strerror or exc}", response_ms=_elapsed_ms(started))
    elapsed = _elapsed_ms(started)
    writer.close()
    await _closed(writer)
    return CheckOutcome(ok=True, response_ms=elapsed)


async def _closed(writer: asyncio.StreamWriter) -> None:
    # A peer that resets on close is not a failed check: we already connected.
    with contextlib.suppress(OSError):
        await writer.wait_closed()


async def check_dns(spec: CheckSpec) -> CheckOutcome:
    host, _ = spec.host_port
    started = time.perf_counter()
    loop = asyncio.get_running_loop()
    try:
        found = await asyncio.wait_for(loop.getaddrinfo(host, None, type=socket.SOCK_STREAM), spec.timeout)
    except TimeoutError:
        return _fail(f"DNS timeout for {host}", response_ms=_elapsed_ms(started))
    except OSError as exc:
        return _fail(f"{host} does not resolve: {exc}", response_ms=_elapsed_ms(started))
    if not found:
        return _fail(f"{host} has no address", response_ms=_elapsed_ms(started))
    return CheckOutcome(ok=True, response_ms=_elapsed_ms(started))


async def check_tls(spec: CheckSpec, context: ssl.SSLContext | None = None) -> CheckOutcome:
    """Chain and hostname (a verifying handshake), protocol version, and the leaf's expiry and issuer.

    The certificate is read on a second, non-verifying handshake when the first fails, so an expired or
    mismatched certificate still reports its dates (the expiry warnings and the incident need them).
    """
    host, port = spec.host_port
    started = time.perf_counter()
    try:
        version, der = await _handshake(host, port, context or ssl.create_default_context(), spec.timeout)
    except ssl.SSLError as exc:
        info = await _certificate_anyway(host, port, spec.timeout)
        # verify_message says which check failed ("Hostname mismatch…", "self-signed certificate").
        detail = getattr(exc, "verify_message", "") or exc.reason or str(exc)
        return _fail(f"TLS: {detail}", P1, response_ms=_elapsed_ms(started), **info)
    except (TimeoutError, OSError) as exc:
        return _fail(f"TLS connect {host}:{port}: {exc or 'timeout'}", response_ms=_elapsed_ms(started))
    info = certificate_info(der)
    elapsed = _elapsed_ms(started)
    if version in WEAK_PROTOCOLS:
        return _fail(f"weak protocol {version}", P1, response_ms=elapsed, **info)
    expires = info.get("cert_expires_at")
    if expires is not None and expires <= dt.datetime.now(dt.UTC):
        return _fail("certificate expired", P1, response_ms=elapsed, **info)
    return CheckOutcome(ok=True, response_ms=elapsed, **info)


async def _handshake(host: str, port: int, context: ssl.SSLContext, timeout: float) -> tuple[str, bytes]:
    _, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=context, server_hostname=host), timeout
    )
    try:
        tls = writer.get_extra_info("ssl_object")
        return tls.version() or "", tls.getpeercert(binary_form=True) or b""
    finally:
        writer.close()
        await _closed(writer)


async def _certificate_anyway(host: str, port: int, timeout: float) -> dict[str, Any]:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # only to read the dates of a certificate already judged invalid
    try:
        _, der = await _handshake(host, port, context, timeout)
    except (ssl.SSLError, TimeoutError, OSError):
        return {}
    return certificate_info(der)


def certificate_info(der: bytes) -> dict[str, Any]:
    if not der:
        return {}
    certificate = x509.load_der_x509_certificate(der)
    return {
        "cert_expires_at": certificate.not_valid_after_utc,
        "cert_issuer": certificate.issuer.rfc4514_string()[:300],
    }
