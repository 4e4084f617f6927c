"""Real servers on 127.0.0.1 for the probe tests (their modules import these fixtures): HTTP, HTTPS with
certificates made here, a closed port.

Each server runs in a thread of this process and is shut down by the fixture that started it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sitekeeper.contracts.models import Client
from sitekeeper.monitoring.models import Monitor


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.server.connections.add(self.connection)  # type: ignore[attr-defined]

    def do_GET(self) -> None:
        path = self.path
        if path == "/slow":
            time.sleep(0.3)
        if path == "/500":
            self._send(500, "broken")
        elif path == "/redirect":
            self._send(302, "", {"Location": "/"})
        elif path == "/header":
            self._send(200, f"X-Test={self.headers.get('X-Test', '')}")
        else:
            self._send(200, "<html>Hello world, all systems go</html>")

    def do_HEAD(self) -> None:
        self.do_GET()

    def _send(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
        data = body.encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        pass


class Server:
    """A ThreadingHTTPServer that can be stopped and started again on the same port (an outage)."""

    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        self.context = context
        self.port = 0
        self.httpd: http.server.ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> Server:
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        httpd.daemon_threads = True
        httpd.connections = set()  # type: ignore[attr-defined]
        if self.context is not None:
            httpd.socket = self.context.wrap_socket(httpd.socket, server_side=True)
        self.port = httpd.server_address[1]
        self.httpd = httpd
        self.thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            # Keep-alive connections would go on being served by their threads: a stopped site drops them.
            for open_connection in list(self.httpd.connections):  # type: ignore[attr-defined]
                with contextlib.suppress(OSError):
                    open_connection.shutdown(socket.SHUT_RDWR)
            self.thread.join(5)
            self.httpd = None

    @property
    def url(self) -> str:
        scheme = "https" if self.context else "http"
        return f"{scheme}://127.0.0.1:{self.port}"


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server().start()
    yield running
    running.stop()


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Certs:
    ca_file: Path
    valid: tuple[Path, Path]  # signed by the CA for 127.0.0.1/localhost, 90 days
    expiring: tuple[Path, Path]  # signed by the CA, expires in 5 days
    wrong_host: tuple[Path, Path]  # signed by the CA for another name
    self_signed: tuple[Path, Path]


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write(
    tmp: Path, label: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> tuple[Path, Path]:
    cert_path, key_path = tmp / f"{label}.pem", tmp / f"{label}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def _certificate(
    subject: str,
    issuer: x509.Name,
    signer: ec.EllipticCurvePrivateKey,
    key: ec.EllipticCurvePrivateKey,
    days: float,
    *,
    ca: bool = False,
    hosts: bool = True,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if hosts:
        names = [x509.DNSName(subject)]
        if subject == "localhost":
            names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(signer, hashes.SHA256())


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    tmp = tmp_path_factory.mktemp("certs")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate(
        "Sitekeeper Test CA", _name("Sitekeeper Test CA"), ca_key, ca_key, 365, ca=True, hosts=False
    )
    ca_file, _ = _write(tmp, "ca", ca, ca_key)

    def leaf(label: str, subject: str, days: float) -> tuple[Path, Path]:
        key = ec.generate_private_key(ec.SECP256R1())
        return _write(tmp, label, _certificate(subject, ca.subject, ca_key, key, days), key)

    own_key = ec.generate_private_key(ec.SECP256R1())
    self_signed = _certificate("localhost", _name("localhost"), own_key, own_key, 90)
    return Certs(
        ca_file=ca_file,
        valid=leaf("valid", "localhost", 90),
        expiring=leaf("expiring", "localhost", 5),
        wrong_host=leaf("wrong", "wrong.example", 90),
        self_signed=_write(tmp, "self", self_signed, own_key),
    )


def server_context(pair: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*pair)
    return context


@pytest.fixture
def https_server() -> Iterator[callable]:
    started: list[Server] = []

    def start(pair: tuple[Path, Path]) -> Server:
        running = Server(server_context(pair)).start()
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


def make_monitor(client: Client, url: str, **fields: object) -> Monitor:
    return Monitor.objects.create(site=client.sites.first(), url=url, **fields)
