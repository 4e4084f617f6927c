"""A small restic REST server (protocol v1) on loopback, for the tests of the `rest` repository kind: Debian
has no rest-server package. Files live in a folder; HTTP basic auth is required; Range reads are honoured.
See restic's doc "REST backend" for the protocol: /config, /<type>/ listings, /<type>/<name> blobs."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

TYPES = {"data", "keys", "locks", "snapshots", "index"}


def _handler(root: Path, user: str, password: str) -> type[BaseHTTPRequestHandler]:
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def _target(self) -> Path | None:
            """The file a path names, or None for a listing / bad path (answered by the caller)."""
            parts = [p for p in self.path.split("?")[0].split("/") if p]
            if parts == ["config"]:
                return root / "config"
            if len(parts) == 2 and parts[0] in TYPES and all(c in "0123456789abcdef" for c in parts[1]):
                return root / parts[0] / parts[1]
            return None

        def _authorised(self) -> bool:
            if self.headers.get("Authorization") == expected:
                return True
            self.send_response(HTTPStatus.UNAUTHORIZED)
            self.send_header("WWW-Authenticate", 'Basic realm="restic"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return False

        def _reply(
            self, status: int, body: bytes = b"", content_type: str = "application/octet-stream"
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_HEAD(self) -> None:
            if not self._authorised():
                return
            target = self._target()
            if target is None or not target.is_file():
                self._reply(HTTPStatus.NOT_FOUND)
                return
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Length", str(target.stat().st_size))
            self.end_headers()

        def do_GET(self) -> None:
            if not self._authorised():
                return
            parts = [p for p in self.path.split("?")[0].split("/") if p]
            if len(parts) == 1 and parts[0] in TYPES:
                folder = root / parts[0]
                names = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
                self._reply(HTTPStatus.OK, json.dumps(names).encode(), "application/vnd.x.restic.rest.v1")
                return
            target = self._target()
            if target is None or not target.is_file():
                self._reply(HTTPStatus.NOT_FOUND)
                return
            data = target.read_bytes()
            wanted = self.headers.get("Range", "")
            if wanted.startswith("bytes="):
                start_text, _, end_text = wanted[6:].partition("-")
                start = int(start_text)
                end = int(end_text) if end_text else len(data) - 1
                self._reply(HTTPStatus.PARTIAL_CONTENT, data[start : end + 1])
                return
            self._reply(HTTPStatus.OK, data)

        def do_POST(self) -> None:
            if not self._authorised():
                return
            if self.path.startswith("/?create=true"):
                for kind in TYPES:
                    (root / kind).mkdir(parents=True, exist_ok=True)
                self._reply(HTTPStatus.OK)
                return
            target = self._target()
            if target is None:
                self._reply(HTTPStatus.BAD_REQUEST)
                return
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)
            self._reply(HTTPStatus.OK)

        def do_DELETE(self) -> None:
            if not self._authorised():
                return
            target = self._target()
            if target is None or not target.is_file():
                self._reply(HTTPStatus.NOT_FOUND)
                return
            target.unlink()
            self._reply(HTTPStatus.OK)

    return Handler


@contextlib.contextmanager
def rest_server(root: Path, user: str, password: str) -> Iterator[str]:
    """Serve `root` on a free loopback port; yields the base URL (without credentials)."""
    root.mkdir(parents=True, exist_ok=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(root, user, password))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
