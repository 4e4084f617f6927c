"""A site's files, wherever they are: a folder on this machine or on the site's host over SSH. The one way
the security scans (inventory, integrity, malware) and the update pipeline list, hash and read a site's
files; `tree_for` finds the folder from the site's code-layer backup source (the folder the backups read)."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import stat
import tarfile
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from sitekeeper import proc
from sitekeeper.backups.models import Layer, Source
from sitekeeper.backups.shell import Shell
from sitekeeper.backups.sources import SourceError, shell_for
from sitekeeper.contracts.models import Site

BATCH = 500  # paths per remote sha256sum/md5sum/tar call


class TreeError(RuntimeError):
    """The site's files cannot be reached: no folder set up, a folder missing, the host unreachable."""


@dataclasses.dataclass(frozen=True, slots=True)
class Entry:
    size: int
    mtime_ns: int
    inode: int
    mode: int


class Tree(Protocol):
    root: str

    def entries(self) -> dict[str, Entry]: ...

    def hashes(self, paths: Iterable[str]) -> Iterator[tuple[str, str, str]]: ...

    def contents(self, paths: Iterable[str], limit: int) -> Iterator[tuple[str, bytes]]: ...

    def move(self, source: str, target: str) -> None: ...

    def close(self) -> None: ...

    def files(self, under: str, depth: int, skip: frozenset[str] = frozenset()) -> list[str]: ...

    def read(self, rel: str, limit: int | None = None) -> bytes | None: ...


class LocalTree:
    """A site folder on this machine, walked with scandir (no stat call beyond the one scandir caches)."""

    def __init__(self, root: str | Path) -> None:
        self.root = str(root)
        if not os.path.isdir(self.root):
            raise TreeError(f"site folder {self.root} does not exist or is not a folder")

    def entries(self) -> dict[str, Entry]:
        found: dict[str, Entry] = {}
        stack = [""]
        while stack:
            rel = stack.pop()
            with os.scandir(os.path.join(self.root, rel)) as it:
                for item in it:
                    path = f"{rel}{item.name}"
                    # Symlinks are neither followed nor hashed: a link out of the tree is not the site's file.
                    if item.is_dir(follow_symlinks=False):
                        stack.append(path + "/")
                    elif item.is_file(follow_symlinks=False):
                        st = item.stat(follow_symlinks=False)
                        found[path] = Entry(st.st_size, st.st_mtime_ns, st.st_ino, stat.S_IMODE(st.st_mode))
        return found

    def hashes(self, paths: Iterable[str]) -> Iterator[tuple[str, str, str]]:
        for rel in paths:
            sha, md5 = hashlib.sha256(), hashlib.md5()  # noqa: S324 - md5 only to compare WordPress's checksums
            try:
                with open(os.path.join(self.root, rel), "rb") as handle:
                    while chunk := handle.read(1 << 20):
                        sha.update(chunk)
                        md5.update(chunk)
            except FileNotFoundError:
                continue  # removed since the walk: the next scan reports it
            yield rel, sha.hexdigest(), md5.hexdigest()

    def contents(self, paths: Iterable[str], limit: int) -> Iterator[tuple[str, bytes]]:
        for rel in paths:
            full = os.path.join(self.root, rel)
            try:
                if os.path.getsize(full) > limit:
                    continue
                yield rel, Path(full).read_bytes()
            except FileNotFoundError:
                continue

    def files(self, under: str, depth: int, skip: frozenset[str] = frozenset()) -> list[str]:
        """Files at most `depth` levels below `under` (relative to the root), not descending into `skip`."""
        base = Path(self.root) / under
        out: list[str] = []
        for folder, dirs, names in os.walk(base):
            level = len(Path(folder).relative_to(base).parts)
            dirs[:] = [] if level + 1 >= depth else [d for d in dirs if d not in skip]
            out += [str(Path(folder, n).relative_to(self.root)) for n in names]
        return out

    def read(self, rel: str, limit: int | None = None) -> bytes | None:
        try:
            with (Path(self.root) / rel).open("rb") as handle:
                return handle.read(limit) if limit else handle.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    def move(self, source: str, target: str) -> None:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.rename(source, target)

    def close(self) -> None:
        pass


class RemoteTree:
    """A site folder on the site's host: one `find` lists it, `sha256sum`/`md5sum` hash only what changed,
    `tar` streams the contents the diff and the malware rules need."""

    def __init__(self, shell: Shell, root: str) -> None:
        self.shell, self.root = shell, root.rstrip("/") or "/"

    def _abs(self, rel: str) -> str:
        return f"{self.root}/{rel}"

    def entries(self) -> dict[str, Entry]:
        out = self.shell.run(["find", self.root, "-type", "f", "-printf", r"%P\0%s\0%T@\0%i\0%m\0"])
        fields = out.split(b"\0")
        found: dict[str, Entry] = {}
        for i in range(0, len(fields) - 4, 5):
            path, size, mtime, inode, mode = fields[i : i + 5]
            found[path.decode("utf-8", "surrogateescape")] = Entry(
                int(size), int(Decimal(mtime.decode()) * 1_000_000_000), int(inode), int(mode, 8)
            )
        return found

    def _sums(self, program: str, paths: list[str]) -> dict[str, str]:
        out = self.shell.run([program, "-z", "--", *(self._abs(p) for p in paths)])
        sums = {}
        for line in out.split(b"\0"):
            if line:
                digest, name = line[:64].split(b" ")[0].decode(), line.split(b" ", 2)[-1].lstrip(b"*")
                sums[name.decode("utf-8", "surrogateescape")[len(self.root) + 1 :]] = digest
        return sums

    def hashes(self, paths: Iterable[str]) -> Iterator[tuple[str, str, str]]:
        for batch in batched(paths, BATCH):
            sha, md5 = self._sums("sha256sum", batch), self._sums("md5sum", batch)
            for rel in batch:
                if rel in sha and rel in md5:
                    yield rel, sha[rel], md5[rel]

    def contents(self, paths: Iterable[str], limit: int) -> Iterator[tuple[str, bytes]]:
        for batch in batched(paths, BATCH):
            argv = ["tar", "-C", self.root, "--ignore-failed-read", "-cf", "-", "--", *batch]
            with self.shell.reader(argv) as stream, tarfile.open(fileobj=stream, mode="r|") as archive:
                for member in archive:
                    handle = archive.extractfile(member) if member.size <= limit else None
                    if handle is not None:
                        yield member.name, handle.read()

    def files(self, under: str, depth: int, skip: frozenset[str] = frozenset()) -> list[str]:
        base = f"{self.root}/{under}".rstrip("/")
        prune: list[str] = []
        for name in sorted(skip):
            prune += [*(["-o"] if prune else []), "-name", name]
        pruning = ["-type", "d", "(", *prune, ")", "-prune", "-o"] if prune else []
        argv = ["find", base, "-mindepth", "1", "-maxdepth", str(depth), *pruning, "-type", "f", "-print0"]
        try:
            out = self.shell.run(argv, timeout=300)
        except proc.ProcError as exc:
            if "No such file" in exc.stderr:  # e.g. no wp-content/plugins: not WordPress, or no plugins
                return []
            raise TreeError(f"cannot list {base} on the site's host: {exc}") from exc
        prefix = self.root + "/"
        return [p.decode("utf-8", "replace").removeprefix(prefix) for p in out.split(b"\0") if p]

    def read(self, rel: str, limit: int | None = None) -> bytes | None:
        path = self._abs(rel)
        argv = ["head", "-c", str(limit), "--", path] if limit else ["cat", "--", path]
        try:
            return self.shell.run(argv, timeout=120)
        except proc.ProcError:
            return None

    def move(self, source: str, target: str) -> None:
        self.shell.run(["mkdir", "-p", "--", os.path.dirname(target)])
        self.shell.run(["mv", "-n", "--", source, target])

    def close(self) -> None:
        close = getattr(self.shell, "close", None)
        if close is not None:
            close()


def batched(paths: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for path in paths:
        batch.append(path)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def code_source(site: Site, environment: str) -> Source | None:
    return Source.objects.filter(
        site=site, environment=environment, layer=Layer.CODE, kind=Source.Kind.FILES
    ).first()


def tree_for(site: Site, environment: str = "prod", root: str | Path | None = None) -> Tree:
    """The site's files: `root` if given (a local folder), else the folder of its code-layer backup source."""
    if root is not None:
        return LocalTree(root)
    source = code_source(site, environment)
    if source is None or not source.path:
        raise TreeError(
            f"{site} [{environment}]: no folder to scan — add a backup source of layer 'code' (kind files) "
            "with the site's path, or pass a root"
        )
    if source.over_ssh:
        try:
            return RemoteTree(shell_for(source), source.path)
        except SourceError as exc:
            raise TreeError(str(exc)) from exc
    return LocalTree(source.path)
