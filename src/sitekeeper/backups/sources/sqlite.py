"""SQLite: a consistent copy through SQLite's online backup API, streamed into restic.

The backup API writes to a database file, so the copy goes to a file in a private temporary folder that lives
only while restic reads it (the one source that touches disk; SQLite files are site-sized, not server-sized).
The copy is taken while writers go on: the API restarts a step when the source changes under it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sitekeeper.backups.models import Source
from sitekeeper.backups.restic import Restic
from sitekeeper.backups.sources import database
from sitekeeper.backups.sources.base import Check, Progress, SourceError, Taken, summary_figures
from sitekeeper.files import site_dirs, site_umask

PAGES_PER_STEP = 1024
ROW_SUM_MODULUS = 1 << 128


def _path(source: Source) -> str:
    if source.over_ssh:
        raise SourceError(
            f"{source}: SQLite files are backed up on this machine only (over_ssh is not supported)"
        )
    if not source.path or not source.path.startswith("/"):
        raise SourceError(f"{source}: a SQLite source needs the absolute path of the database file")
    return source.path


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def figures_of(path: str) -> database.Figures:
    uri = f"file:{path}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                "ORDER BY name"
            )
        ]
        result: database.Figures = {}
        for table in tables:
            # Order-independent and in constant memory: the sum of the rows' digests modulo 2**128.
            rows = total = 0
            for row in conn.execute(f"SELECT * FROM {_ident(table)}"):  # noqa: S608 - from sqlite_master
                digest = hashlib.md5(repr(row).encode(), usedforsecurity=False).digest()
                total = (total + int.from_bytes(digest, "big")) % ROW_SUM_MODULUS
                rows += 1
            result[table] = {"rows": rows, "checksum": f"{total:032x}"}
    return result


def dump(
    source: Source, restic: Restic, tags: list[str], *, at: Any = None, progress: Progress | None = None
) -> Taken:
    path = _path(source)
    if not os.path.isfile(path):
        raise SourceError(f"{source}: database file {path} does not exist")
    with tempfile.TemporaryDirectory(prefix="sk-sqlite-") as folder:
        copy = os.path.join(folder, "copy.sqlite3")
        with (
            contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as live,
            contextlib.closing(sqlite3.connect(copy)) as target,
        ):
            live.backup(target, pages=PAGES_PER_STEP)
        # Figures of the copy itself: it is exactly what is stored, so nothing is "moving".
        tables = figures_of(copy)
        with open(copy, "rb") as stream:
            summary = restic.backup_stdin(f"{source.name}.sqlite3", tags, stream, at=at, progress=progress)
    manifest = database.manifest(tables, tables, os.path.basename(path), f"{source.name}.sqlite3")
    return Taken(**summary_figures(summary, at), manifest=manifest)


def restore(
    manifest: dict[str, Any],
    snapshot_id: str,
    restic: Restic,
    dest: Source,
    *,
    paths: Sequence[str] = (),
    tables: Sequence[str] = (),
) -> dict[str, Any]:
    """Write the stored copy beside the target, then swap it in with one rename (a reader never sees half a
    file). A table subset is copied into the existing database instead."""
    if paths:
        raise SourceError("a database snapshot has no file paths; choose tables")
    target = _path(dest)
    site_dirs(Path(target).parent)
    fresh = f"{target}.sk-restore"
    with restic.dump(snapshot_id, f"/{manifest['file']}") as stream, open(fresh, "wb") as out:
        shutil.copyfileobj(stream, out, 1024 * 1024)
    _keep_mode(target, fresh)
    if not tables:
        os.replace(fresh, target)
        return {"file": target, "tables": ["(all)"]}
    try:
        _copy_tables(fresh, target, tables)
    finally:
        os.unlink(fresh)
    return {"file": target, "tables": list(tables)}


def _keep_mode(target: str, fresh: str) -> None:
    """The restored file takes the database's mode (its web server may need group access), or the site's
    usual mode when there was none, never the owner-only mode this process creates files with."""
    try:
        shutil.copymode(target, fresh)
    except FileNotFoundError:
        os.chmod(fresh, 0o666 & ~site_umask())


def _copy_tables(source_file: str, target: str, tables: Sequence[str]) -> None:
    with contextlib.closing(sqlite3.connect(target)) as conn:
        conn.execute("ATTACH DATABASE ? AS restored", (source_file,))
        known = {
            row[0] for row in conn.execute("SELECT name FROM restored.sqlite_master WHERE type = 'table'")
        }
        missing = set(tables) - known
        if missing:
            raise SourceError(f"the snapshot has no table(s) {', '.join(sorted(missing))}")
        with conn:
            for table in tables:
                conn.execute(f"DELETE FROM main.{_ident(table)}")  # noqa: S608 - checked against sqlite_master
                conn.execute(f"INSERT INTO main.{_ident(table)} SELECT * FROM restored.{_ident(table)}")  # noqa: S608


def verify(dest: Source, manifest: dict[str, Any]) -> list[Check]:
    return database.compare(manifest, figures_of(_path(dest)))


@contextlib.contextmanager
def scratch(source: Source, folder: Path) -> Iterator[Source]:
    target = folder / f"sqlite-{source.name}.sqlite3"
    yield Source(
        site_id=source.site_id, name=source.name, layer=source.layer, kind=source.kind, path=str(target)
    )
    with contextlib.suppress(FileNotFoundError):
        target.unlink()
