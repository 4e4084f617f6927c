"""What a monitor checks must make sense for its kind: the target (URL or host[:port]), the status codes,
the keyword, the timings and the certificate thresholds. Monitor.clean() calls `target_errors`, so the
console form and the admin refuse the same things with the same words, each naming its field.

The HTTP URL rule is the contract file's site-URL rule (`apply`: "'…' is not an http(s) URL"), so a monitor
refuses exactly what a contract file refuses for a site's URL.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from sitekeeper.contracts.apply import url_problem
from sitekeeper.core.certdays import cert_state, days_left

__all__ = ["cert_state", "days_left", "http_url_problem", "target_errors"]

METHODS = ("GET", "HEAD", "POST")
_HOST = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)


def http_url_problem(url: str) -> str | None:
    """The contract file's site-URL check and message: apply's own function, so the console and a contract
    file refuse the same address with the same words."""
    return url_problem(url)


def _host_problem(host: str) -> str | None:
    if not host:
        return "no host name"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None if _HOST.match(host) else f"{host!r} is not a host name or IP address"
    return None


def _port(target: str) -> tuple[str, int | None] | str:
    """(host, port) of a "host[:port]" or URL target, or what is wrong with its shape."""
    parts = urlsplit(target if "://" in target else f"//{target}")
    shape = None
    if "://" in target and parts.scheme not in ("https", "http"):
        shape = f"give host:port (or an https:// address), not a {parts.scheme}:// address"
    elif parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        shape = "give only host:port, without a path, query or user"
    if shape:
        return shape
    try:
        port = parts.port
    except ValueError:
        return "the port must be a number from 1 to 65535"
    return parts.hostname or "", port


def host_port_problem(target: str, *, port_required: bool, port_allowed: bool = True) -> str | None:
    """A "host", "host:port" (or an https:// URL, whose port is implied) target; None when it is sound."""
    target = target.strip()
    if not target:
        return "Give the host to check, e.g. shop.example.com" + (":443" if port_required else "")
    parsed = _port(target)
    if isinstance(parsed, str):
        return f"{target!r}: {parsed}"
    host, port = parsed
    problem = _host_problem(host)
    if problem is None and port is not None and not port_allowed:
        problem = "a DNS monitor checks a host name; leave out the port"
    elif problem is None and port is None and port_required and "://" not in target:
        problem = f"give the port as well, e.g. {host}:443"
    elif problem is None and port == 0:
        problem = "the port must be a number from 1 to 65535"
    return None if problem is None else f"{target!r}: {problem}"


def _http_errors(monitor: Any, url: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    problem = http_url_problem(url) if url else "Give the address to check, e.g. https://shop.example.com/"
    if problem:
        errors["url"] = problem
    if (monitor.method or "GET").upper() not in METHODS:
        errors["method"] = f"{monitor.method!r}: the method is one of {', '.join(METHODS)}"
    bad = [c for c in monitor.expected_status or [] if not isinstance(c, int) or not 100 <= c <= 599]
    if bad:
        errors["expected_status"] = (
            f"{', '.join(map(str, bad))}: HTTP status codes are numbers from 100 to 599"
        )
    if monitor.keyword_regex and monitor.keyword:
        try:
            re.compile(monitor.keyword)
        except re.error as exc:
            errors["keyword"] = f"{monitor.keyword!r} is not a regular expression: {exc}"
    if monitor.keyword_absent and not monitor.keyword:
        errors["keyword"] = "Give the keyword that must not appear on the page"
    if monitor.max_response_ms is not None and monitor.max_response_ms < 1:
        errors["max_response_ms"] = "The slowest acceptable response is at least 1 ms"
    return errors


def _timing_errors(monitor: Any) -> dict[str, str]:
    errors: dict[str, str] = {}
    interval, timeout = monitor.interval_seconds, monitor.timeout_seconds
    if timeout is not None and timeout < 1:
        errors["timeout_seconds"] = "The timeout is at least 1 second"
    elif interval is not None and timeout is not None and timeout >= interval:
        errors["timeout_seconds"] = (
            f"The timeout ({timeout} s) must be shorter than the interval ({interval} s): a check must end "
            "before the next one starts"
        )
    if monitor.confirmations is not None and monitor.confirmations < 1:
        errors["confirmations"] = "At least 1 failed check confirms an outage"
    if monitor.quorum is not None and monitor.quorum < 1:
        errors["quorum"] = "At least 1 location must agree the site is down"
    bad_days = [d for d in monitor.cert_warn_days or [] if not isinstance(d, int) or not 1 <= d <= 365]
    if bad_days:
        errors["cert_warn_days"] = (
            f"{', '.join(map(str, bad_days))}: warning days are whole days from 1 to 365"
        )
    return errors


# kind → (port required, port allowed) for the host[:port] kinds
HOST_KINDS = {"tcp": (True, True), "tls": (False, True), "dns": (False, False)}


def target_errors(monitor: Any) -> dict[str, str]:
    """Field name → what is wrong, for the monitor's kind (empty: nothing)."""
    url = (monitor.url or "").strip()
    errors: dict[str, str] = {}
    if monitor.kind == "http":
        errors.update(_http_errors(monitor, url))
    elif monitor.kind in HOST_KINDS:
        required, allowed = HOST_KINDS[monitor.kind]
        problem = host_port_problem(url, port_required=required, port_allowed=allowed)
        if problem:
            errors["url"] = problem
    else:
        errors["kind"] = f"{monitor.kind!r} is not a kind of check the probe runs"
    errors.update(_timing_errors(monitor))
    return errors
