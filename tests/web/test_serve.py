"""Issue 14.7: requests and uploads are bounded before they are read.

Against a real `sitekeeper serve` (waitress) on a port of this worker's own: half-sent requests hold no
worker, an oversized body is refused with 413 while it streams (the server's memory does not grow by it);
in process: Django's own limit, uploads spilled to temporary files in the data folder, and attachments
checked before they are read.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.files.uploadedfile import (
    InMemoryUploadedFile,
    SimpleUploadedFile,
    TemporaryUploadedFile,
)
from django.test import Client as HttpClient
from django.test import RequestFactory, override_settings

from sitekeeper.desk import attachments
from sitekeeper.desk.attachments import AttachmentError
from sitekeeper.web.management.commands.serve import check_bind
from tests.serving import dies_with_us, free_port, listening, tail, wait_until

MB = 1024 * 1024
FORM = b"Content-Type: application/x-www-form-urlencoded\r\n"  # so Django would read the body
THREADS = 2  # as many as gunicorn's two sync workers, which two idle connections used to block


@dataclass
class Server:
    url: str
    port: int
    process: subprocess.Popen
    log: Path

    def rss_kib(self) -> int:
        """The server's resident memory (the pid is the program's own: setpriv execs it)."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
        return int(line.split()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("serve-home")
    port = free_port()
    log = home / "serve.log"
    # Its own SQLite data folder: nothing here reaches the database, and the test database is not its to use.
    env = {key: value for key, value in os.environ.items() if not key.startswith("SITEKEEPER_")}
    env |= {"SITEKEEPER_HOME": str(home), "SITEKEEPER_MAX_REQUEST_MB": "12", "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "sitekeeper.cli", "serve", "--bind", f"127.0.0.1:{port}"]
    command += ["--threads", str(THREADS)]
    with log.open("w") as output:
        process = subprocess.Popen(
            dies_with_us([*command, "--threads", str(THREADS)]),
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: listening(port), f"sitekeeper serve on 127.0.0.1:{port}", log=log, process=process)
        yield Server(f"http://127.0.0.1:{port}", port, process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def get(url: str, timeout: float = 10) -> tuple[int, float]:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    return status, time.monotonic() - started


def half_sent(server: Server, request: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(request)
    return sock


def read_answer(sock: socket.socket) -> bytes:
    sock.settimeout(10)
    answer = b""
    try:
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    except (ConnectionResetError, TimeoutError):
        pass
    return answer


def send_until_refused(sock: socket.socket, total: int) -> int:
    """Send zeros until `total` bytes or until the server closes; how many were sent."""
    block, sent = b"\0" * MB, 0
    try:
        while sent < total:
            sock.sendall(block)
            sent += len(block)
    except (BrokenPipeError, ConnectionResetError):
        pass
    return sent


def test_the_server_answers_beside_half_sent_requests(server):
    host = f"Host: 127.0.0.1:{server.port}\r\n".encode()
    body_never_comes = b"POST /login/ HTTP/1.1\r\n" + host + FORM + b"Content-Length: 1000\r\n\r\nusername="
    idle = [
        # Headers promising a body that never comes, and headers that never end.
        half_sent(server, body_never_comes),
        half_sent(server, body_never_comes),
        half_sent(server, b"GET /login/ HTTP/1.1\r\n" + host + b"User-Agent: slow"),
        half_sent(server, b"GET /login/ HTTP/1.1\r\n"),
    ]
    try:
        time.sleep(0.5)  # let the server take them in
        assert len(idle) > THREADS
        for path in ("/static/web/sitekeeper.css", "/no-such-page/"):
            status, seconds = get(server.url + path)
            assert status in {200, 404}
            assert seconds < 5, f"{path} took {seconds:.1f} s beside {len(idle)} half-sent requests"
    finally:
        for sock in idle:
            sock.close()


def test_a_60_mb_body_is_refused_before_it_is_read(server):
    before = server.rss_kib()
    sock = half_sent(
        server,
        f"POST /portal/requests/new/ HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: {60 * MB}\r\n\r\n".encode(),
    )
    with sock:
        # The answer comes from the headers alone: nothing of the body has been sent yet.
        answer = read_answer(sock)
        assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
        assert b"Connection: close" in answer
        sent = send_until_refused(sock, 60 * MB)
    assert sent < 60 * MB, "the server kept reading after its 413"
    growth = server.rss_kib() - before
    assert growth < 20 * 1024, f"the server's memory grew by {growth} KiB{tail(server.log)}"
    assert get(server.url + "/static/web/sitekeeper.css")[0] == 200


def test_a_chunked_body_is_refused_once_it_passes_the_limit(server):
    """No Content-Length to go by: waitress counts while it reads, spilling what it read to a temporary
    file (inbuf_overflow), and stops at SITEKEEPER_MAX_REQUEST_MB."""
    before = server.rss_kib()
    sock = half_sent(
        server,
        f"POST /portal/requests/new/ HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n".encode(),
    )
    with sock:
        chunk = f"{MB:x}\r\n".encode() + b"\0" * MB + b"\r\n"
        sent = 0
        try:
            while sent < 60:
                sock.sendall(chunk)
                sent += 1
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert sent < 60, "the server read 60 MB of a chunked body"
        answer = read_answer(sock)
    # The answer may be lost to the reset of a connection still sending; when it arrives it is a 413.
    assert answer == b"" or answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    growth = server.rss_kib() - before
    assert growth < 20 * 1024, f"the server's memory grew by {growth} KiB{tail(server.log)}"
    assert get(server.url + "/static/web/sitekeeper.css")[0] == 200


def test_every_request_is_one_access_log_line(server):
    assert get(server.url + "/static/web/htmx-indicator.css?secret=1")[0] == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = [
            line for line in server.log.read_text().splitlines() if "/static/web/htmx-indicator.css" in line
        ]
        if lines:
            break
        time.sleep(0.1)
    assert lines, tail(server.log)
    assert lines[0].startswith('127.0.0.1 "GET /static/web/htmx-indicator.css" 200 ')
    assert "secret" not in server.log.read_text()  # the query string is not logged


@pytest.mark.parametrize("bind", ["8000", "localhost", "127.0.0.1:99999", "127.0.0.1:80 nohost", ""])
def test_serve_refuses_a_bad_bind_address(bind):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--bind"):
        check_bind(bind)


def test_serve_accepts_addresses_waitress_can_listen_on():
    assert check_bind("127.0.0.1:8000") == "127.0.0.1:8000"
    assert check_bind("[::1]:8000  0.0.0.0:8080") == "[::1]:8000 0.0.0.0:8080"


# --- in process: Django's own limit, temporary upload files, attachments -------------------------------
@pytest.mark.django_db
def test_django_refuses_a_declared_body_over_the_limit_before_reading_it():
    """Under any other WSGI server: RequestBodyLimitMiddleware answers from Content-Length alone."""
    with override_settings(SITEKEEPER_MAX_REQUEST_BYTES=MB):
        http = HttpClient()
        body = b"x" * (2 * MB)
        page = http.post("/portal/requests/new/", data=body, content_type="application/octet-stream")
        assert page.status_code == 413
        assert page["Content-Type"].startswith("text/plain")
        assert page.content.decode() == (
            "The request is 2.0 MB; at most 1 MB is accepted. Send fewer or smaller files."
        )
        api = http.post("/api/v1/tickets", data=body, content_type="application/json")
        assert api.status_code == 413
        assert api.json() == {"detail": page.content.decode(), "errors": []}
        # Under the limit, the request goes on to its view.
        assert http.post("/login/", {"username": "nobody", "password": "x"}).status_code == 200


def multipart_request(size: int):
    body = SimpleUploadedFile("log.txt", b"a" * size, content_type="text/plain")
    return RequestFactory().post("/portal/requests/new/", {"attachments": body})


def test_a_large_upload_lands_in_a_temporary_file_in_the_data_folder(settings):
    upload = multipart_request(settings.FILE_UPLOAD_MAX_MEMORY_SIZE + 1).FILES["attachments"]
    assert isinstance(upload, TemporaryUploadedFile)
    assert Path(upload.temporary_file_path()).parent == Path(settings.FILE_UPLOAD_TEMP_DIR)
    assert Path(settings.FILE_UPLOAD_TEMP_DIR).is_relative_to(settings.HOME)
    assert os.stat(upload.temporary_file_path()).st_mode & 0o777 == 0o600
    small = multipart_request(1000).FILES["attachments"]
    assert isinstance(small, InMemoryUploadedFile)


class CountingFile(TemporaryUploadedFile):
    """A temporary upload that records how much was read at once: a whole-file read would show here."""

    def __init__(self, content: bytes) -> None:
        super().__init__("big.log", "text/plain", len(content), "utf-8")
        self.file.write(content)
        self.file.seek(0)
        self.largest_read = 0

    def read(self, size: int = -1) -> bytes:
        data = self.file.read(size)
        self.largest_read = max(self.largest_read, len(data))
        return data

    def chunks(self, chunk_size: int | None = None) -> Iterator[bytes]:
        self.seek(0)
        while data := self.read(chunk_size or self.DEFAULT_CHUNK_SIZE):
            yield data


@pytest.mark.django_db
def test_an_attachment_over_the_limit_is_refused_unread(world):
    from sitekeeper.desk.models import Ticket

    ticket = Ticket.objects.filter(client=world.acme).first()
    upload = CountingFile(b"a" * (attachments.MAX_BYTES + 1))
    with pytest.raises(AttachmentError, match=r"big\.log: 10485761 bytes is over the 10 MB limit"):
        attachments.store(ticket, upload.name, upload)
    assert upload.largest_read == 0


@pytest.mark.django_db
def test_an_attachment_is_streamed_to_an_owner_only_file(world):
    from sitekeeper.desk.models import Ticket

    ticket = Ticket.objects.filter(client=world.acme).first()
    # A text log of 3 MB with a two-byte character across the 64 KiB sniffing boundary.
    content = b"a" * (attachments.SNIFF_BYTES - 1) + "é".encode() + b"b" * (3 * MB)
    upload = CountingFile(content)
    stored = attachments.store(ticket, upload.name, upload)
    assert stored.content_type == "text/plain"
    assert stored.size == len(content)
    assert upload.largest_read <= attachments.CHUNK_BYTES
    path = attachments.root() / stored.path
    assert path.read_bytes() == content
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(path.parent).st_mode & 0o777 == 0o700
    import hashlib

    assert stored.sha256 == hashlib.sha256(content).hexdigest()
    with attachments.open_stored(stored) as handle:
        assert handle.read(5) == b"aaaaa"


@pytest.mark.django_db
def test_mail_part_bytes_are_still_accepted_and_checked(world):
    from sitekeeper.desk.models import Ticket

    ticket = Ticket.objects.filter(client=world.acme).first()
    stored = attachments.store(ticket, "shot.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    assert stored.content_type == "image/png"
    with pytest.raises(AttachmentError, match="only images, PDF, ZIP and text files"):
        attachments.store(ticket, "tool.exe", b"MZ\x90\x00\xff\xfe" + bytes(range(256)))
    with pytest.raises(AttachmentError, match="the file is empty"):
        attachments.store(ticket, "empty.txt", io.BytesIO().getvalue())
