"""The demo's sites, served on the loopback: the fourth program of `sitekeeper demo`, so its probe checks real
pages instead of *.test names nobody can reach.

One HTTPS server (`python -m sitekeeper.demo.sites --bind 127.0.0.1:PORT --pages FILE --tls DIR
[--http-bind 127.0.0.1:PORT2]`) answers `/<host>/` with a small site for each demo site listed in FILE (JSON,
written by the demo at start: host → {"name", "status", "pages", "broken"}), and `/` with the list of them. A
site is a home page and the pages of its "pages" (path under `/<host>/` → title), each linking to the others;
a site with a "broken" path links to it too, and that path answers 404 (the demo's one broken link, for its
link scans to find). A site whose status is not 200 answers with it on every path (the demo's one site that
is down answers 503 for as long as the demo runs). Anything else is a 404.

--http-bind serves the same pages over plain HTTP on a second loopback port, for what does not trust the
demo's certificate authority and has no setting to: the link scanner (its crawler uses the public CA
bundle) and Lighthouse (Chromium). The demo points its sites' prod environments there
(demo/local_sites.py); the monitors stay on HTTPS, so the certificate check has a certificate to check.

The demo's monitors point at these pages (`https://127.0.0.1:PORT/<host>/`, and `127.0.0.1:PORT` for the
certificate monitor); the probe trusts the demo's own certificate authority through
SITEKEEPER_PROBE_CA_FILE, its ordinary setting for a private CA — no name resolution is bent anywhere.

The certificate authority and the server certificate (for 127.0.0.1, 90 days) are made on first use under
SITEKEEPER_HOME/demo-sites/tls and renewed when fewer than 30 days are left. No Django here: the program
starts in a fraction of a second.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import html
import ipaddress
import json
import ssl
import sys
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HOST = "127.0.0.1"
CERT_DAYS = 90
RENEW_DAYS = 30  # a certificate with fewer days left is made afresh at start


@dataclass(frozen=True)
class Tls:
    ca: Path  # the demo CA's certificate: what the probe trusts (SITEKEEPER_PROBE_CA_FILE)
    cert: Path
    key: Path


def tls_files(folder: Path) -> Tls:
    return Tls(folder / "ca.pem", folder / "server.pem", folder / "server-key.pem")


def _name(common: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sitekeeper demo"),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def ensure_tls(folder: Path, now: dt.datetime | None = None) -> Tls:
    """The demo CA and a server certificate for 127.0.0.1 signed by it; made again when missing or when the
    certificate has fewer than RENEW_DAYS left. Files are owner-only (the keys never leave the folder)."""
    now = now or dt.datetime.now(dt.UTC)
    files = tls_files(folder)
    if files.cert.exists() and files.ca.exists() and files.key.exists():
        current = x509.load_pem_x509_certificate(files.cert.read_bytes())
        if current.not_valid_after_utc - now > dt.timedelta(days=RENEW_DAYS):
            return files
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    start = now - dt.timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("sitekeeper demo CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=CERT_DAYS + 1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(HOST))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=CERT_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(HOST)), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    files.key.write_bytes(_pem_key(key))
    files.key.chmod(0o600)
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return files


HOME = ""


def page(name: str, host: str, path: str = HOME, site: dict[str, Any] | None = None) -> str:
    """A page of a demo site: its name (what the demo's monitors look for) and the site's navigation, which
    links the home page, each of its pages and its broken link if it has one. Light on purpose (no script,
    no style sheet, no image: one line of style for the links' touch targets) so Lighthouse measures it in
    seconds and finds nothing to fault."""
    site = site or {}
    pages = {HOME: "Home", **{str(p): str(t) for p, t in (site.get("pages") or {}).items()}}
    links = dict(pages)
    if site.get("broken"):
        links[str(site["broken"])] = str(site.get("broken_title") or "Old page")
    prefix = f"/{html.escape(host)}/"
    nav = "".join(
        f'<li><a href="{prefix}{html.escape(target)}">{html.escape(label)}</a></li>'
        for target, label in links.items()
    )
    title, section = html.escape(name), html.escape(pages.get(path, ""))
    heading = title if path == HOME else f"{section} · {title}"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="description" content="{title}: a demo site served by the sitekeeper demo.">'
        f'<link rel="icon" href="data:,"><title>{heading}</title>'
        # Touch targets of 24 px and more (Lighthouse's accessibility audit): the only style of the page.
        "<style>nav a{display:inline-block;padding:.6em 0}</style></head>"
        f'<body><header><h1>{title}</h1><nav aria-label="Site"><ul>{nav}</ul></nav></header>'
        f"<main><h2>{section}</h2><p>{html.escape(host)} — served on this machine by "
        "the sitekeeper demo, so that its probe, its link scans and Lighthouse have a real site to check.</p>"
        "</main></body></html>\n"
    )


def index(listing: dict[str, dict[str, Any]]) -> str:
    """`/`: the demo's sites, each with what it answers."""
    rows = "".join(
        f'<li><a href="/{html.escape(host)}/">{html.escape(str(site["name"]))}</a> ({html.escape(host)}): '
        f"answers {int(site.get('status', 200))}</li>"
        for host, site in sorted(listing.items())
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>The demo\'s sites</title></head>'
        f"<body><h1>The demo's sites</h1><p>What the demo's probe checks.</p><ul>{rows}</ul></body></html>\n"
    )


def answer(listing: dict[str, dict[str, Any]], target: str) -> tuple[HTTPStatus, str]:
    """The status and page for a request path: `/` the index, `/<host>/<page>` a site's page."""
    path = target.split("?", 1)[0].split("#", 1)[0]
    host, _sep, rest = path.lstrip("/").partition("/")
    site = listing.get(host) if host else None
    if not host:
        return HTTPStatus.OK, index(listing)
    if site is None:
        return HTTPStatus.NOT_FOUND, "<h1>Not a demo site</h1>\n"
    status = HTTPStatus(int(site.get("status", 200)))
    if status != HTTPStatus.OK:
        return status, f"<h1>{status.phrase}</h1>\n"
    if rest != HOME and rest not in (site.get("pages") or {}):
        return (
            HTTPStatus.NOT_FOUND,
            f"<h1>Not found</h1><p>{html.escape(site['name'])} has no such page.</p>\n",
        )
    return HTTPStatus.OK, page(str(site["name"]), host, rest, site)


def load_pages(path: Path) -> dict[str, dict[str, Any]]:
    """host → {"name": str, "status": int}; read on every request, so a change shows at once."""
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise TypeError(f"{path}: expected an object of host → {{name, status}}")
    return data


class _Handler(BaseHTTPRequestHandler):
    server_version = "sitekeeper-demo-sites"
    pages_file: Path

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_GET(self) -> None:
        self._answer(body=True)

    def _answer(self, body: bool) -> None:
        status, text = answer(load_pages(self.pages_file), self.path)
        payload = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if body:
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: one line per probe check would drown the demo's terminal."""


def _server(bind: str, pages: Path) -> ThreadingHTTPServer:
    host, _sep, port = bind.rpartition(":")
    handler = type("Handler", (_Handler,), {"pages_file": pages})
    return ThreadingHTTPServer((host.strip("[]"), int(port)), handler)


def serve(bind: str, pages: Path, tls: Tls, http_bind: str = "") -> None:
    """HTTPS on `bind`; and, when `http_bind` is given, the same pages over plain HTTP there (a thread)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.cert, tls.key)
    with contextlib.ExitStack() as stack:
        if http_bind:
            plain = stack.enter_context(_server(http_bind, pages))
            threading.Thread(target=plain.serve_forever, name="demo sites (http)", daemon=True).start()
            stack.callback(plain.shutdown)
        server = stack.enter_context(_server(bind, pages))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sitekeeper.demo.sites", description="The demo's sites.")
    parser.add_argument("--bind", required=True, help="HOST:PORT")
    parser.add_argument("--pages", required=True, type=Path, help="JSON: host → {name, status}")
    parser.add_argument(
        "--tls", required=True, type=Path, help="folder of ca.pem, server.pem, server-key.pem"
    )
    parser.add_argument(
        "--http-bind", default="", help="HOST:PORT to serve the same pages on over plain HTTP as well"
    )
    options = parser.parse_args(argv)
    load_pages(options.pages)  # a broken file is an error at start, not on the first request
    with contextlib.suppress(KeyboardInterrupt):
        serve(options.bind, options.pages, tls_files(options.tls), options.http_bind)
    return 0


if __name__ == "__main__":
    sys.exit(main())
