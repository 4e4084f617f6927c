"""Where a data source's commands run: on this machine, or on the site's host over SSH (`remote.SshShell`).

Both shells offer the same four things, so a source module never cares where it runs: run a command, read a
command's output as a stream (a dump going into restic), write a stream into a command (a restore), and a
short-lived private file for a secret (a database password is never an argument).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from typing import IO, Protocol

from sitekeeper import proc
from sitekeeper.files import site_umask


class Shell(Protocol):
    def run(
        self, argv: Sequence[str], *, input: bytes | None = None, timeout: float | None = None
    ) -> bytes: ...

    def reader(self, argv: Sequence[str]) -> contextlib.AbstractContextManager[IO[bytes]]: ...

    def writer(self, argv: Sequence[str]) -> contextlib.AbstractContextManager[IO[bytes]]: ...

    def secret_file(self, content: str) -> contextlib.AbstractContextManager[str]: ...


class LocalShell:
    """Commands on a site on this machine. What they create in the site's folder (a restore's files, an
    update's folders) gets the site's usual modes (site_umask), not the data folder's owner-only ones,
    so the web server can still read it."""

    def run(self, argv: Sequence[str], *, input: bytes | None = None, timeout: float | None = None) -> bytes:
        what = os.path.basename(argv[0])
        return proc.run(argv, input=input, timeout=timeout, what=what, umask=site_umask()).stdout

    @contextlib.contextmanager
    def reader(self, argv: Sequence[str]) -> Iterator[IO[bytes]]:
        """The command's stdout as a file; leaving the block waits for it and raises if it failed — which is
        how a dump that died half-way is told apart from a complete one."""
        with proc.spawn(argv, umask=site_umask()) as child:
            yield child.stdout  # type: ignore[misc]
            child.stdout.close()  # type: ignore[union-attr]
            proc.finish(child, what=os.path.basename(argv[0]))

    @contextlib.contextmanager
    def writer(self, argv: Sequence[str]) -> Iterator[IO[bytes]]:
        with proc.spawn(argv, stdin=proc.PIPE, stdout=proc.DEVNULL, umask=site_umask()) as child:
            yield child.stdin  # type: ignore[misc]
            child.stdin.close()  # type: ignore[union-attr]
            child.stdin = None
            proc.finish(child, what=os.path.basename(argv[0]))

    @contextlib.contextmanager
    def secret_file(self, content: str) -> Iterator[str]:
        fd, path = tempfile.mkstemp(prefix="sk-secret-")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(content)
            yield path
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
