"""Commands on a site's host over SSH (asyncssh): the same four things as `shell.LocalShell` — run a command,
read its output as a stream, write a stream into it, a short-lived private file for a secret.

asyncssh is asynchronous and sitekeeper's jobs are not, so one event loop runs in a daemon thread for the
whole process and every SshShell hands its work to it. A stream reaches the synchronous caller through a
real OS pipe (the loop copies between the SSH channel and the pipe in chunks, with flow control both ways),
so it can be the stdin of a local `restic backup --stdin` and memory stays flat whatever the size of a dump.

Host keys are always checked against the site's known_hosts; the client key is the site's own; nothing is
read from ~/.ssh, the SSH agent or an OpenSSH config file. A shell keeps its connection for the commands that
follow (a dump takes several: figures, the dump, figures again) and closes it after a minute without use.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import os
import secrets
import shlex
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator, Sequence
from concurrent.futures import Future
from typing import IO, Any, TypeVar

import asyncssh

from sitekeeper import proc
from sitekeeper.backups.models import SiteBackup
from sitekeeper.backups.sources.base import SourceError

CHUNK = 1024 * 1024  # bytes copied at a time from a pipe into the channel
# Read from the channel in pieces larger than its 2 MiB window, so each read empties asyncssh's buffer. With
# smaller reads, a slow local reader makes asyncssh (2.24) pause and resume the channel so that it re-opens
# the window for data it has buffered but nobody has read: measured, 800 MB through a pipe grew the process
# by 280 MB with 1 MiB reads; with these reads it stays flat.
READ_ALL = 8 * 1024 * 1024
CONNECT_TIMEOUT = 30.0  # seconds for TCP connect + SSH handshake + authentication
KEEPALIVE = 30.0  # seconds between keepalives; 3 unanswered ones end a dead connection
IDLE_CLOSE = 60.0  # seconds a connection stays open with nothing running on it
ABORT_WAIT = 10.0  # seconds to wait for a stream's channel to close after the caller gave up
REMOTE_TMP = "/tmp"  # noqa: S108 - on the remote host; a private 0700 folder with a random name is made in it

T = TypeVar("T")


class SshError(ConnectionError):
    """The site's host cannot be reached over SSH, or refused us; the message names the host and why.
    A ConnectionError (an OSError), so backup jobs treat it like any other failure of the source."""


# -- the event loop -----------------------------------------------------------------------------------------
_loop_lock = threading.Lock()
_loop_state: dict[str, Any] = {"loop": None, "pid": None}


def _loop() -> asyncio.AbstractEventLoop:
    """The process's SSH event loop, started on first use (and again in a forked child: a thread does not
    survive fork, and neither do the connections it held)."""
    with _loop_lock:
        if _loop_state["loop"] is None or _loop_state["pid"] != os.getpid():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="sitekeeper-ssh", daemon=True)
            thread.start()
            _loop_state.update(loop=loop, pid=os.getpid())
            with _shells_lock:
                _shells.clear()
        return _loop_state["loop"]


def _submit(coro: Coroutine[Any, Any, T]) -> Future[T]:
    return asyncio.run_coroutine_threadsafe(coro, _loop())


def _call(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on the SSH loop and wait for it (its own timeouts bound the wait)."""
    return _submit(coro).result()


# -- pipes between the loop and the caller ------------------------------------------------------------------
class _ToPipe(asyncio.BaseProtocol):
    """Write side of a pipe the caller reads: `drain()` waits while the pipe is full (the caller is slow),
    `lost` tells that the caller closed its end."""

    def __init__(self) -> None:
        self._writable = asyncio.Event()
        self._writable.set()
        self.lost = False
        self.closed = asyncio.Event()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._writable.set()
        self.closed.set()

    async def drain(self) -> None:
        await self._writable.wait()


def _status(process: asyncssh.SSHClientProcess[bytes]) -> int:
    """The remote command's exit status; 255 (as ssh(1) reports) when none came — the connection broke or
    the command was killed by a signal."""
    status = process.exit_status
    return 255 if status is None or status < 0 else status


class _Tail:
    """The end of a remote command's stderr, read as it comes so a chatty command never stalls the channel."""

    def __init__(self) -> None:
        self.data = b""

    async def read_from(self, stream: asyncssh.SSHReader[bytes]) -> None:
        with contextlib.suppress(asyncssh.Error, OSError):
            while chunk := await stream.read(READ_ALL):
                self.data = (self.data + chunk)[-proc.STDERR_KEEP :]

    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


# -- the shell ----------------------------------------------------------------------------------------------
_shells_lock = threading.Lock()
_shells: dict[tuple[Any, ...], SshShell] = {}


class SshShell:
    """Commands on one host as one user over SSH. Use it as a context manager (or call `close()`) to close its
    connection at once; otherwise the connection closes itself after IDLE_CLOSE seconds unused."""

    def __init__(
        self,
        host: str,
        *,
        port: int = 22,
        user: str,
        private_key: str,
        known_hosts: str,
        connect_timeout: float = CONNECT_TIMEOUT,
        idle_close: float = IDLE_CLOSE,
    ) -> None:
        if not host:
            raise SourceError("SSH: no host given")
        if not user:
            raise SourceError(f"SSH to {host}: no user given")
        self.host, self.port, self.user = host, int(port), user
        self.label = f"{user}@{host}:{self.port}"
        try:
            self._key = asyncssh.import_private_key(private_key)
        except (asyncssh.KeyImportError, ValueError) as exc:
            # The exception text never contains the key itself.
            raise SourceError(f"SSH to {self.label}: the private key cannot be read ({exc})") from exc
        try:
            self._known_hosts = asyncssh.import_known_hosts(known_hosts)
        except (ValueError, asyncssh.Error) as exc:
            raise SourceError(f"SSH to {self.label}: known_hosts cannot be read ({exc})") from exc
        trusted = self._known_hosts.match(host, host, self.port)
        if not (trusted[0] or trusted[1] or trusted[3]):  # host keys, CA keys, X.509 certificates
            where = host if self.port == 22 else f"[{host}]:{self.port}"
            raise SourceError(
                f"SSH to {self.label}: known_hosts has no key for {where} — add the host's key line "
                "(host key checking is never turned off)"
            )
        self.connect_timeout = connect_timeout
        self.idle_close = idle_close
        self._conn: asyncssh.SSHClientConnection | None = None
        self._lock: asyncio.Lock | None = None
        self._busy = 0
        self._idle: asyncio.TimerHandle | None = None
        self._cache_key: tuple[Any, ...] | None = None

    @classmethod
    def for_site(cls, config: SiteBackup) -> SshShell:
        """The shell for a site's host, shared by every source of the site while its settings stay the same
        (so a backup's several commands share one connection)."""
        missing = [
            label
            for label, value in (
                ("site host", config.site_host),
                ("SSH user", config.ssh_user),
                ("SSH key", config.ssh_key),
                ("known_hosts", config.known_hosts),
            )
            if not value
        ]
        if missing:
            raise SourceError(f"{config}: reached over SSH, but {', '.join(missing)} not set")
        fingerprint = hashlib.sha256(f"{config.ssh_key}\0{config.known_hosts}".encode()).hexdigest()
        key = (config.pk, config.site_host, config.ssh_port, config.ssh_user, fingerprint)
        _loop()  # a forked child clears the shells of its parent first
        with _shells_lock:
            shell = _shells.get(key)
            if shell is None:
                shell = cls(
                    config.site_host,
                    port=config.ssh_port,
                    user=config.ssh_user,
                    private_key=config.ssh_key,
                    known_hosts=config.known_hosts,
                )
                shell._cache_key = key
                _shells[key] = shell
            return shell

    def __repr__(self) -> str:
        return f"<SshShell {self.label}>"

    def __enter__(self) -> SshShell:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection now (commands still running on it end with it)."""
        if self._cache_key is not None:
            with _shells_lock:
                if _shells.get(self._cache_key) is self:
                    del _shells[self._cache_key]
        if self._conn is not None:
            _call(self._close())

    # -- connection --------------------------------------------------------------------------------------
    async def _close(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
            with contextlib.suppress(asyncssh.Error, OSError):
                await conn.wait_closed()

    async def _connect(self) -> asyncssh.SSHClientConnection:
        try:
            return await asyncssh.connect(
                self.host,
                self.port,
                username=self.user,
                client_keys=[self._key],
                known_hosts=self._known_hosts,
                config=None,  # not ~/.ssh/config: only what the site's settings say
                agent_path=None,
                password=None,
                kbdint_auth=False,
                gss_auth=False,
                host_based_auth=False,
                x509_trusted_certs=None,
                preferred_auth="publickey",
                connect_timeout=self.connect_timeout,
                keepalive_interval=KEEPALIVE,
                keepalive_count_max=3,
            )
        except asyncssh.HostKeyNotVerifiable as exc:
            raise SshError(
                f"SSH to {self.label} refused: the host's key does not match the site's known_hosts "
                f"({exc.reason}) — if the host was reinstalled, update known_hosts after checking the new key"
            ) from exc
        except asyncssh.PermissionDenied as exc:
            raise SshError(f"SSH to {self.label}: the site's key was not accepted ({exc.reason})") from exc
        except asyncssh.Error as exc:
            raise SshError(f"SSH to {self.label} failed: {exc.reason}") from exc
        except (OSError, TimeoutError) as exc:
            raise SshError(f"cannot connect to {self.label}: {exc or 'timed out'}") from exc

    @contextlib.asynccontextmanager
    async def _using(self) -> AsyncIterator[asyncssh.SSHClientConnection]:
        """The open connection (made or remade as needed) for the length of one operation; the idle timer
        starts when the last operation ends."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        self._busy += 1
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        try:
            async with self._lock:
                if self._conn is None or self._conn.is_closed():
                    self._conn = await self._connect()
                conn = self._conn
            yield conn
        finally:
            self._busy -= 1
            if self._busy == 0 and self._conn is not None:
                loop = asyncio.get_running_loop()
                self._idle = loop.call_later(self.idle_close, self._close_if_idle)

    def _close_if_idle(self) -> None:
        self._idle = None
        if self._busy == 0 and self._conn is not None:
            self._conn.close()
            self._conn = None

    def _what(self, argv: Sequence[str]) -> str:
        return f"{os.path.basename(argv[0])} on {self.host}"

    @staticmethod
    def _command(argv: Sequence[str]) -> str:
        if isinstance(argv, str) or not argv or not all(isinstance(a, str) for a in argv):
            raise SourceError(f"a remote command is a non-empty list of strings, got {argv!r}")
        # The remote side always runs a command line through the user's shell: quote every argument.
        return shlex.join(argv)

    async def _start(self, conn: asyncssh.SSHClientConnection, argv: Sequence[str]) -> Any:
        try:
            return await conn.create_process(self._command(argv), encoding=None)
        except asyncssh.Error as exc:
            raise SshError(f"SSH to {self.label}: could not start {self._what(argv)}: {exc.reason}") from exc

    # -- run -----------------------------------------------------------------------------------------------
    def run(self, argv: Sequence[str], *, input: bytes | None = None, timeout: float | None = None) -> bytes:
        """Run a command to completion; its stdout (kept in memory: for short outputs only)."""
        self._command(argv)
        return _call(self._run(argv, input, timeout))

    async def _run(self, argv: Sequence[str], data: bytes | None, timeout: float | None) -> bytes:
        async with self._using() as conn:
            process = await self._start(conn, argv)
            try:
                stdout, stderr = await asyncio.wait_for(process.communicate(data), timeout)
            except TimeoutError as exc:
                raise proc.ProcError(argv, None, "", self._what(argv)) from exc
            except (asyncssh.Error, OSError) as exc:
                raise proc.ProcError(argv, 255, f"SSH connection lost: {exc}", self._what(argv)) from exc
            finally:
                process.close()
            status = _status(process)
            if status != 0:
                raise proc.ProcError(
                    argv, status, (stderr or b"").decode("utf-8", "replace"), self._what(argv)
                )
            return stdout or b""

    # -- streams -------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def reader(self, argv: Sequence[str]) -> Iterator[IO[bytes]]:
        """The remote command's stdout as a pipe (usable as a local process's stdin). Leaving the block waits
        for the command and raises ProcError if it failed — a dump that died half-way is not complete."""
        self._command(argv)
        read_fd, write_fd = os.pipe()
        stream = os.fdopen(read_fd, "rb")
        finished = threading.Event()
        started: Future[None] = Future()
        future = _submit(self._pump_out(argv, write_fd, started, finished))
        try:
            started.result()  # a connection failure raises here, before anyone reads an empty stream
        except BaseException:
            stream.close()
            finished.wait(ABORT_WAIT)
            raise
        try:
            yield stream
        except BaseException as exc:
            stream.close()
            self._abort(future, finished, exc)
            raise
        stream.close()
        future.result()

    async def _pump_out(
        self, argv: Sequence[str], fd: int, started: Future[None], finished: threading.Event
    ) -> None:
        pipe = os.fdopen(fd, "wb", buffering=0)
        try:
            async with self._using() as conn:
                process = await self._start(conn, argv)
                started.set_result(None)
                tail = _Tail()
                errors = asyncio.create_task(tail.read_from(process.stderr))
                loop = asyncio.get_running_loop()
                transport, sink = await loop.connect_write_pipe(_ToPipe, pipe)
                try:
                    while chunk := await process.stdout.read(READ_ALL):
                        if sink.lost:
                            raise proc.ProcError(
                                argv, 255, "its output was not read to the end", self._what(argv)
                            )
                        transport.write(chunk)
                        await sink.drain()
                    # End of file for the reader — once the transport's buffer is flushed: closing the pipe
                    # before that (the `finally` below) would cut off the last buffered chunk.
                    transport.close()
                    await sink.closed.wait()
                    await process.wait_closed()
                    await errors
                finally:
                    transport.close()
                    errors.cancel()
                    with contextlib.suppress(asyncssh.Error, OSError):
                        process.terminate()  # does nothing once the command has ended
                    process.close()
                self._check(argv, process, tail)
        except BaseException as exc:
            if not started.done():
                started.set_exception(exc)
            raise
        finally:
            pipe.close()
            finished.set()

    @contextlib.contextmanager
    def writer(self, argv: Sequence[str]) -> Iterator[IO[bytes]]:
        """A pipe into the remote command's stdin. Leaving the block ends its input, waits for it and raises
        ProcError if it failed; a command that ends early makes writes fail (BrokenPipeError), and then its
        own error is raised instead."""
        self._command(argv)
        read_fd, write_fd = os.pipe()
        sink = os.fdopen(write_fd, "wb")
        finished = threading.Event()
        started: Future[None] = Future()
        future = _submit(self._pump_in(argv, read_fd, started, finished))
        try:
            started.result()
        except BaseException:
            sink.close()
            finished.wait(ABORT_WAIT)
            raise
        try:
            yield sink
            sink.close()  # end of input for the remote command
        except BaseException as exc:
            with contextlib.suppress(OSError):
                sink.close()
            self._abort(future, finished, exc)
            raise
        future.result()

    async def _pump_in(
        self, argv: Sequence[str], fd: int, started: Future[None], finished: threading.Event
    ) -> None:
        pipe = os.fdopen(fd, "rb", buffering=0)
        try:
            async with self._using() as conn:
                process = await self._start(conn, argv)
                started.set_result(None)
                tail = _Tail()
                errors = asyncio.create_task(tail.read_from(process.stderr))
                output = asyncio.create_task(_discard(process.stdout))
                loop = asyncio.get_running_loop()
                source = asyncio.StreamReader(limit=CHUNK)
                transport, _ = await loop.connect_read_pipe(
                    lambda: asyncio.StreamReaderProtocol(source), pipe
                )
                try:
                    while chunk := await source.read(CHUNK):
                        process.stdin.write(chunk)
                        await process.stdin.drain()
                    process.stdin.write_eof()
                    await process.wait_closed()
                    await errors
                except (asyncssh.Error, OSError) as exc:
                    # The command ended (or the connection broke) before taking all its input: closing our
                    # end of the pipe makes the caller's next write fail instead of blocking for ever.
                    transport.close()
                    await process.wait_closed()
                    await errors
                    status = _status(process)
                    raise proc.ProcError(
                        argv,
                        status if status else 255,
                        tail.text() or f"input not taken: {exc}",
                        self._what(argv),
                    ) from exc
                finally:
                    transport.close()
                    errors.cancel()
                    output.cancel()
                    with contextlib.suppress(asyncssh.Error, OSError):
                        process.terminate()
                    process.close()
                self._check(argv, process, tail)
        except BaseException as exc:
            if not started.done():
                started.set_exception(exc)
            raise
        finally:
            pipe.close()
            finished.set()

    def _check(self, argv: Sequence[str], process: Any, tail: _Tail) -> None:
        status = _status(process)
        if status != 0:
            raise proc.ProcError(argv, status, tail.text(), self._what(argv))

    def _abort(self, future: Future[None], finished: threading.Event, exc: BaseException) -> None:
        """The caller's block failed: end the remote command and wait for its channel to close. When the
        command itself failed first (the usual cause of a broken pipe), its error is the one raised."""
        if isinstance(exc, OSError):
            # Most likely the remote command ended and its pump closed the pipe: let its error arrive. Wait
            # on the future itself: `finished` is set in the pump's `finally`, just before the future is done.
            concurrent.futures.wait([future], timeout=ABORT_WAIT)
        if not future.done():
            future.cancel()  # cancels the pump's task on the loop, which ends the remote command
        finished.wait(ABORT_WAIT)
        if future.done() and not future.cancelled():
            failure = future.exception()
            if isinstance(failure, proc.ProcError) and isinstance(exc, OSError):
                raise failure from exc

    # -- secrets -------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def secret_file(self, content: str) -> Iterator[str]:
        """A 0600 file in a fresh 0700 folder on the remote host, written over SFTP (never on a command
        line), removed with its folder when the block ends."""
        folder = f"{REMOTE_TMP}/sk-secret-{secrets.token_hex(8)}"
        path = f"{folder}/secret"
        _call(self._put_secret(folder, path, content.encode()))
        try:
            yield path
        finally:
            _call(self._remove_secret(folder, path))

    async def _put_secret(self, folder: str, path: str, data: bytes) -> None:
        async with self._using() as conn:
            try:
                async with conn.start_sftp_client() as sftp:
                    # mkdir fails on an existing name (never follows a planted link); 0700 keeps others out.
                    await sftp.mkdir(folder, asyncssh.SFTPAttrs(permissions=0o700))
                    try:
                        async with sftp.open(path, "xb", asyncssh.SFTPAttrs(permissions=0o600)) as handle:
                            await handle.write(data)
                        await sftp.chmod(path, 0o600)
                    except BaseException:
                        with contextlib.suppress(asyncssh.Error, OSError):
                            await sftp.remove(path)
                        with contextlib.suppress(asyncssh.Error, OSError):
                            await sftp.rmdir(folder)
                        raise
            except (asyncssh.Error, OSError) as exc:
                raise SshError(
                    f"SSH to {self.label}: could not write a private file in {REMOTE_TMP}: {exc}"
                ) from exc

    async def _remove_secret(self, folder: str, path: str) -> None:
        async with self._using() as conn:
            try:
                async with conn.start_sftp_client() as sftp:
                    with contextlib.suppress(asyncssh.SFTPNoSuchFile):
                        await sftp.remove(path)
                    with contextlib.suppress(asyncssh.SFTPNoSuchFile):
                        await sftp.rmdir(folder)
            except (asyncssh.Error, OSError) as exc:
                raise SshError(
                    f"SSH to {self.label}: could not remove the private file {path}: {exc}"
                ) from exc


async def _discard(stream: asyncssh.SSHReader[bytes]) -> None:
    """Read and drop a command's stdout (a loading client's chatter) so it never stalls the channel."""
    with contextlib.suppress(asyncssh.Error, OSError):
        while await stream.read(READ_ALL):
            pass
