"""`sitekeeper serve`: the web app under waitress, static files through whitenoise.

Why waitress and not gunicorn's sync workers: a sync worker is held by a connection from its first byte to
its last, so two clients that send half a request and wait (a slow phone, or a slowloris) blocked both
workers and the site stopped answering. Waitress reads requests in one I/O loop and hands a request to a
worker thread only once it has fully arrived, so idle or half-sent connections hold no thread; bodies over
`inbuf_overflow` are buffered in a temporary file, not memory, and a body over SITEKEEPER_MAX_REQUEST_MB is
answered 413 as soon as its Content-Length (or, chunked, its running size) says so — before it is read.
Downloads (FileResponse, whitenoise) are streamed from their files through wsgi.file_wrapper.

TLS is the proxy's job: the proxy in front (SITEKEEPER_TRUSTED_PROXY) is the only peer whose X-Forwarded-Proto
and X-Forwarded-For are believed; waitress strips them from everyone else (docs/security.md, "Deployment").
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

import waitress
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from sitekeeper.wsgi import application

access_log = logging.getLogger("sitekeeper.access")

# host:port, [ipv6]:port; several separated by spaces (waitress's `listen`).
_ADDRESS = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$")

# Seconds a connection may stay silent (no byte in either direction) before it is closed: long enough for a
# phone on a bad network between two chunks of an upload, short enough that idle sockets do not pile up.
CHANNEL_TIMEOUT = 60
# How often those idle connections are looked for.
CLEANUP_INTERVAL = 10
# Open connections at most (idle ones cost a socket and a small buffer, no thread); poll() instead of
# select() so the process is not bound by select's 1024-descriptor limit.
CONNECTION_LIMIT = 500

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class Command(BaseCommand):
    help = "Serve the staff console, client portal and API with waitress (put a TLS proxy in front)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--bind",
            default="127.0.0.1:8000",
            help="address:port to listen on, several separated by spaces (default 127.0.0.1:8000)",
        )
        parser.add_argument(
            "--threads",
            "--workers",  # the gunicorn-era name; waitress runs one process with worker threads
            dest="threads",
            type=int,
            default=8,
            help="requests handled at the same time (default 8); --workers is the same option",
        )
        parser.add_argument(
            "--trusted-proxy",
            default=None,
            help="address of the TLS proxy whose X-Forwarded-Proto/-For are believed "
            "(default: SITEKEEPER_TRUSTED_PROXY, 127.0.0.1; '' for none)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        listen = check_bind(options["bind"])
        if options["threads"] < 1:
            raise CommandError(f"--threads: must be at least 1, got {options['threads']}")
        proxy = options["trusted_proxy"]
        proxy = settings.SITEKEEPER_TRUSTED_PROXY if proxy is None else proxy.strip()
        server = waitress.create_server(
            logged(application), **server_options(listen, options["threads"], proxy)
        )
        self.stdout.write(
            f"Serving on {describe(server)} with {options['threads']} threads; "
            f"requests over {settings.SITEKEEPER_MAX_REQUEST_MB} MB refused; "
            f"proxy trusted: {proxy or 'none'}"
        )
        self.stdout.flush()
        try:
            server.run()
        except KeyboardInterrupt:
            pass
        finally:
            server.close()


def check_bind(bind: str) -> str:
    addresses = bind.split()
    if not addresses:
        raise CommandError("--bind: give an address:port, e.g. 127.0.0.1:8000")
    for address in addresses:
        match = _ADDRESS.match(address)
        if match is None or not 0 <= int(match.group(2)) <= 65535:
            raise CommandError(f"--bind: {address!r} is not address:port (e.g. 127.0.0.1:8000 or [::1]:8000)")
    return " ".join(addresses)


def server_options(listen: str, threads: int, proxy: str) -> dict[str, Any]:
    """waitress's adjustments (waitress.adjustments.Adjustments) for sitekeeper."""
    return {
        "listen": listen,
        "threads": threads,
        "channel_timeout": CHANNEL_TIMEOUT,
        "cleanup_interval": CLEANUP_INTERVAL,
        "connection_limit": CONNECTION_LIMIT,
        "asyncore_use_poll": True,
        # waitress refuses a body of max_request_body_size bytes or more; Django's limit (RequestBodyLimit
        # middleware) refuses more than SITEKEEPER_MAX_REQUEST_BYTES: the same boundary.
        "max_request_body_size": settings.SITEKEEPER_MAX_REQUEST_BYTES + 1,
        # Bodies larger than Django would keep in memory go to a temporary file already while they arrive.
        "inbuf_overflow": settings.FILE_UPLOAD_MAX_MEMORY_SIZE,
        "trusted_proxy": proxy or None,
        "trusted_proxy_count": 1,
        "trusted_proxy_headers": {"x-forwarded-proto", "x-forwarded-for"},
        "clear_untrusted_proxy_headers": True,
        "ident": "sitekeeper",
    }


def describe(server: Any) -> str:
    """The addresses actually bound (port 0 is a real port by now)."""
    servers = getattr(server, "effective_listen", None) or [(server.effective_host, server.effective_port)]
    return ", ".join(f"http://{host}:{port}" for host, port in servers)


def logged(app: WSGIApp) -> WSGIApp:
    """One access-log line per request once its answer starts: peer, method, path (no query string: it may
    hold search words or codes), status, declared size and the time to the first byte. The response
    iterable is passed on untouched, so wsgi.file_wrapper keeps streaming files."""

    def wrapper(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.monotonic()

        def logging_start_response(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            size = next((value for name, value in headers if name.lower() == "content-length"), "-")
            access_log.info(
                '%s "%s %s" %s %s %.3fs',
                environ.get("REMOTE_ADDR", "-"),
                environ.get("REQUEST_METHOD", "-"),
                environ.get("PATH_INFO", "").encode("unicode_escape").decode("ascii"),
                status.split(" ", 1)[0],
                size,
                time.monotonic() - started,
            )
            return start_response(status, headers, *args)

        return app(environ, logging_start_response)

    return wrapper
