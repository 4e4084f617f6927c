"""Files: a folder (or chosen paths in it), local or on the site's host over SSH.

Local folders go to restic as paths (deduplicated file by file, restorable file by file). A folder on another
host streams as a tar over SSH into `restic backup --stdin` and comes back the same way.
The manifest: file count and bytes as restic counted them, and SHA-256 of a spread sample of files.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import os
import random
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sitekeeper.backups.models import Source
from sitekeeper.backups.restic import Restic
from sitekeeper.backups.sources.base import Check, Progress, SourceError, Taken, summary_figures
from sitekeeper.backups.sources.shells import shell_for
from sitekeeper.files import site_dirs

SAMPLE = 16  # files hashed per snapshot for the restore test
TAR_NAME = "files.tar"


def _root(source: Source) -> str:
    if not source.path or not source.path.startswith("/"):
        raise SourceError(f"{source}: a files source needs an absolute folder path, got {source.path!r}")
    return source.path.rstrip("/") or "/"


def _relative(includes: Sequence[str]) -> list[str]:
    for item in includes:
        if item.startswith("/") or ".." in Path(item).parts:
            raise SourceError(f"include {item!r} must be a path inside the folder")
    return list(includes)


def dump(
    source: Source, restic: Restic, tags: list[str], *, at: Any = None, progress: Progress | None = None
) -> Taken:
    root = _root(source)
    includes = _relative(source.includes)
    if source.over_ssh:
        return _dump_remote(source, root, includes, restic=restic, tags=tags, at=at, progress=progress)
    if not os.path.isdir(root):
        raise SourceError(f"{source}: folder {root} does not exist")
    for item in includes:
        if not os.path.lexists(os.path.join(root, item)):
            raise SourceError(f"{source}: {item} does not exist in {root}")  # restic would skip it silently
    paths = [os.path.join(root, item) for item in includes] or [root]
    candidates = _pick_sample(paths, source.excludes, seed=root)
    summary = restic.backup_paths(paths, tags, excludes=source.excludes, at=at, progress=progress)
    manifest = {"format": "tree", "root": root, "includes": includes, "excludes": list(source.excludes)}
    manifest.update(_tree_figures(summary))
    manifest["sample"] = _hash_unchanged(root, candidates)
    return Taken(**summary_figures(summary, at), manifest=manifest)


def _stored_path(root: str, includes: Sequence[str], relative: str) -> str:
    """The path restic stores for a path relative to the site root (restic keeps absolute paths)."""
    relative = os.path.normpath(relative)
    if includes and not any(relative == i or relative.startswith(i.rstrip("/") + "/") for i in includes):
        raise SourceError(f"{relative} is not in this snapshot (it holds {', '.join(includes)})")
    return os.path.join(root, relative)


def _tree_figures(summary: dict[str, Any]) -> dict[str, int]:
    return {
        "files": int(summary.get("total_files_processed", 0)),
        "bytes": int(summary.get("total_bytes_processed", 0)),
    }


def _excluded(path: str, patterns: Sequence[str]) -> bool:
    """restic's exclude rule, closely enough for choosing a sample: a pattern with a slash matches the path
    (or a folder above it), one without matches any single path component."""
    for pattern in patterns:
        bare = pattern.rstrip("/")
        if "/" in bare:
            if fnmatch.fnmatchcase(path, bare) or fnmatch.fnmatchcase(path, bare + "/*"):
                return True
        elif any(fnmatch.fnmatchcase(part, bare) for part in path.split("/")):
            return True
    return False


def _pick_sample(paths: Sequence[str], excludes: Sequence[str], *, seed: str) -> list[tuple[str, int, int]]:
    """A spread of files (reservoir sampling, constant memory), each with its size and mtime before the
    backup: a file still the same after it is one whose content the snapshot holds."""
    chooser = random.Random(seed)  # noqa: S311 - choosing files to hash, not a secret
    chosen: list[tuple[str, int, int]] = []
    seen = 0
    for top in paths:
        walker = (
            [(os.path.dirname(top), [], [os.path.basename(top)])] if os.path.isfile(top) else os.walk(top)
        )
        for folder, dirs, names in walker:
            dirs[:] = [d for d in dirs if not _excluded(os.path.join(folder, d), excludes)]
            for name in names:
                path = os.path.join(folder, name)
                if _excluded(path, excludes) or os.path.islink(path):
                    continue
                seen += 1
                slot = len(chosen) if len(chosen) < SAMPLE else chooser.randrange(seen)
                if slot < SAMPLE:
                    with contextlib.suppress(OSError):
                        stat = os.stat(path)
                        entry = (path, stat.st_size, stat.st_mtime_ns)
                        chosen[slot : slot + 1] = [entry]
    return chosen


def _hash_unchanged(root: str, candidates: list[tuple[str, int, int]]) -> dict[str, str]:
    sample: dict[str, str] = {}
    for path, size, mtime in candidates:
        with contextlib.suppress(OSError):
            stat = os.stat(path)
            if (stat.st_size, stat.st_mtime_ns) == (size, mtime):
                sample[os.path.relpath(path, root)] = _sha256(path)
    return sample


def _dump_remote(
    source: Source,
    root: str,
    includes: list[str],
    *,
    restic: Restic,
    tags: list[str],
    at: Any,
    progress: Progress | None,
) -> Taken:
    if source.excludes:
        raise SourceError(f"{source}: exclude patterns work for local folders only; list includes instead")
    shell = shell_for(source)
    members = includes or ["."]
    with shell.reader(["tar", "-C", root, "-cf", "-", *members]) as stream:
        summary = restic.backup_stdin(TAR_NAME, tags, stream, at=at, progress=progress)
    listing = shell.run(
        ["find", *[os.path.join(root, m) for m in members], "-type", "f", "-printf", "%s %p\\n"]
    )
    sizes = {}
    for line in listing.decode("utf-8", "replace").splitlines():
        size, _, path = line.partition(" ")
        sizes[os.path.normpath(os.path.relpath(path, root))] = int(size)
    chosen = sorted(sizes)[:: max(1, len(sizes) // SAMPLE)][:SAMPLE]
    sample = {}
    if chosen:
        out = shell.run(["sha256sum", "--", *[os.path.join(root, c) for c in chosen]]).decode()
        for line in out.splitlines():
            digest, _, path = line.partition("  ")
            sample[os.path.relpath(path, root)] = digest
    manifest = {
        "format": "tar",
        "root": root,
        "includes": includes,
        "files": len(sizes),
        "bytes": sum(sizes.values()),
        "sample": sample,
    }
    return Taken(**summary_figures(summary, at), manifest=manifest)


def fingerprint(source: Source) -> str:
    """A hash of the source's current content (paths, sizes, SHA-256): equal while nothing changed. Meant for
    small trees — the configuration layer (wp-config.php, .htaccess, …) is checked this way every tick."""
    root = _root(source)
    members = _relative(source.includes) or ["."]
    paths = [os.path.join(root, m) for m in members]
    if source.over_ssh:
        listing = shell_for(source).run(["find", *paths, "-type", "f", "-exec", "sha256sum", "{}", "+"])
        return hashlib.sha256(b"\n".join(sorted(listing.splitlines()))).hexdigest()
    digest = hashlib.sha256()
    for path in paths:
        found = (
            [path] if os.path.isfile(path) else sorted(str(p) for p in Path(path).rglob("*") if p.is_file())
        )
        for name in found:
            digest.update(f"{os.path.relpath(name, root)}\0{_sha256(name)}\n".encode())
    return digest.hexdigest()


def restore(
    manifest: dict[str, Any],
    snapshot_id: str,
    restic: Restic,
    dest: Source,
    *,
    paths: Sequence[str] = (),
    tables: Sequence[str] = (),
) -> dict[str, Any]:
    """Put the snapshot's files into dest.path. A whole restore mirrors the snapshot (files added since are
    removed: this is a rollback); a subset only writes the chosen paths."""
    if tables:
        raise SourceError("a files snapshot has no tables")
    target = _root(dest)
    chosen = _relative(paths)
    if manifest.get("format") == "tar":
        return _restore_tar(snapshot_id, restic, dest, target, chosen)
    root, includes = manifest["root"], manifest.get("includes", [])
    with tempfile.TemporaryDirectory(prefix="sk-restore-") as scratch:
        restic.restore(snapshot_id, scratch, includes=[_stored_path(root, includes, p) for p in chosen])
        staged = Path(scratch) / root.lstrip("/")
        if not staged.exists():
            raise SourceError(f"snapshot {snapshot_id[:8]} holds none of {chosen or [root]}")
        excludes = manifest.get("excludes", [])
        mirror = not chosen and not includes
        if dest.over_ssh:
            # Over SSH a mirror is "remove, then unpack": only when nothing was left out of the backup.
            _push_remote(staged, dest, target, mirror=mirror and not excludes)
        else:
            _sync_local(
                staged,
                Path(target),
                mirror=mirror,
                spare=lambda rel: _excluded(os.path.join(root, rel), excludes),
            )
    return {"folder": target, "paths": chosen or ["(all)"]}


def _restore_tar(
    snapshot_id: str, restic: Restic, dest: Source, target: str, chosen: list[str]
) -> dict[str, Any]:
    shell = shell_for(dest)
    if not chosen:
        shell.run(["rm", "-rf", "--", target])
    shell.run(["mkdir", "-p", "--", target])
    members = [f"./{p}" for p in chosen]
    with (
        restic.dump(snapshot_id, f"/{TAR_NAME}") as stream,
        shell.writer(["tar", "-C", target, "-xf", "-", *members]) as sink,
    ):
        shutil.copyfileobj(stream, sink, 1024 * 1024)
    return {"folder": target, "paths": chosen or ["(all)"]}


def _push_remote(restored: Path, dest: Source, target: str, *, mirror: bool) -> None:
    shell = shell_for(dest)
    if mirror:
        shell.run(["rm", "-rf", "--", target])
    shell.run(["mkdir", "-p", "--", target])
    with shell.writer(["tar", "-C", target, "-xf", "-"]) as sink:
        import tarfile

        with tarfile.open(fileobj=sink, mode="w|") as archive:
            for entry in sorted(restored.iterdir()):
                archive.add(entry, arcname=entry.name)


def _sync_local(restored: Path, target: Path, *, mirror: bool, spare: Callable[[str], bool]) -> None:
    """Copy the restored tree over the target; a mirror also removes what the snapshot does not hold —
    except what the backup deliberately left out (`spare`: uploads excluded from the code layer stay)."""
    site_dirs(target)  # the site's folder: its usual modes, not the data folder's owner-only ones
    if mirror:
        keep = {p.relative_to(restored) for p in restored.rglob("*")}
        for path in sorted(target.rglob("*"), reverse=True):
            relative = path.relative_to(target)
            if relative in keep or spare(str(relative)) or not path.exists():
                continue
            if path.is_dir() and not path.is_symlink():
                if not any(spare(str(p.relative_to(target))) for p in path.rglob("*")):
                    shutil.rmtree(path)
            else:
                path.unlink()
    shutil.copytree(restored, target, dirs_exist_ok=True, symlinks=True)


def verify(dest: Source, manifest: dict[str, Any]) -> list[Check]:
    root = _root(dest)
    count, total, digests = (
        _remote_figures(dest, root, manifest) if dest.over_ssh else _local_figures(root, manifest)
    )
    checks = [
        Check("file count", manifest.get("files"), count, manifest.get("files") == count),
        Check("total bytes", manifest.get("bytes"), total, manifest.get("bytes") == total),
    ]
    for relative, digest in sorted(manifest.get("sample", {}).items()):
        actual = digests.get(relative, "(missing)")
        checks.append(Check(f"sha256 {relative}", digest, actual, actual == digest))
    return checks


def _local_figures(root: str, manifest: dict[str, Any]) -> tuple[int, int, dict[str, str]]:
    count = total = 0
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                count += 1
                total += path.stat().st_size
    digests = {}
    for relative in manifest.get("sample", {}):
        path = Path(root) / relative
        if path.is_file():
            digests[relative] = _sha256(str(path))
    return count, total, digests


def _remote_figures(dest: Source, root: str, manifest: dict[str, Any]) -> tuple[int, int, dict[str, str]]:
    """The same figures read on the site's host: sizes by `find`, the sample by `sha256sum`."""
    shell = shell_for(dest)
    sizes = shell.run(["find", root, "-type", "f", "-printf", "%s\\n"]).split()
    digests = {}
    sample = sorted(manifest.get("sample", {}))
    if sample:
        # sha256sum goes on past a missing file (exit 1): what it printed is what exists.
        out = shell.run(
            [
                "sh",
                "-c",
                'sha256sum -- "$@" 2>/dev/null; true',
                "sh",
                *[os.path.join(root, r) for r in sample],
            ]
        )
        for line in out.decode("utf-8", "replace").splitlines():
            digest, _, path = line.partition("  ")
            digests[os.path.relpath(path, root)] = digest
    return len(sizes), sum(int(size) for size in sizes), digests


@contextlib.contextmanager
def scratch(source: Source, folder: Path) -> Iterator[Source]:
    target = folder / f"files-{source.name}"
    yield Source(
        site_id=source.site_id, name=source.name, layer=source.layer, kind=source.kind, path=str(target)
    )
    shutil.rmtree(target, ignore_errors=True)


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()
