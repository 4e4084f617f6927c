"""MariaDB / MySQL: `mariadb-dump --single-transaction` streamed into restic; restored with the `mariadb`
client. The password goes in a `--defaults-extra-file` that exists only while the command runs."""

from __future__ import annotations

import contextlib
import re
import secrets
import shutil
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from django.conf import settings

from sitekeeper.backups.models import Source
from sitekeeper.backups.restic import Restic
from sitekeeper.backups.shell import LocalShell, Shell
from sitekeeper.backups.sources import database
from sitekeeper.backups.sources.base import Check, DbUrl, Progress, SourceError, Taken
from sitekeeper.backups.sources.shells import shell_for

_TABLE_MARK = re.compile(
    rb"^-- (?:Table structure|Dumping data|Dumping events|Dumping routines) for table `((?:[^`]|``)+)`"
)
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_$-]{1,64}$")


def _db(source: Source) -> DbUrl:
    if not source.db_url:
        raise SourceError(f"{source}: a MariaDB source needs a database URL (mysql://user:pass@host:port/db)")
    db = DbUrl.parse(source.db_url, f"{source}: database URL")
    if not db.name:
        raise SourceError(f"{source}: the database URL names no database")
    return db


def _options(db: DbUrl) -> str:
    lines = ["[client]", f"user={db.user or 'root'}", f"host={db.host}"]
    if db.port:
        lines.append(f"port={db.port}")
    if db.password:
        escaped = db.password.replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'password="{escaped}"')
    return "\n".join(lines) + "\n"


def _quote(table: str) -> str:
    return "`" + table.replace("`", "``") + "`"


def _program(shell: Shell, *names: str) -> str:
    # Locally, the first installed name; on another host, the last (the oldest, most widely present name).
    if isinstance(shell, LocalShell):
        for name in names:
            if shutil.which(name):
                return name
        raise SourceError(
            f"none of {', '.join(names)} is installed: install the Debian package 'mariadb-client'"
        )
    return names[-1]


def _query(shell: Shell, options: str, db: str, sql: str) -> list[list[str]]:
    with shell.secret_file(options) as path:
        out = shell.run(
            [
                _program(shell, "mariadb", "mysql"),
                f"--defaults-extra-file={path}",
                "-N",
                "-B",
                "-e",
                sql,
                *([db] if db else []),
            ]
        )
    return [line.split("\t") for line in out.decode("utf-8", "replace").splitlines() if line]


def figures(shell: Shell, db: DbUrl) -> database.Figures:
    options = _options(db)
    tables = [
        row[0]
        for row in _query(
            shell,
            options,
            db.name,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() "
            "AND table_type = 'BASE TABLE' ORDER BY table_name",
        )
    ]
    if not tables:
        return {}
    # Table names come from information_schema and are quoted: no outside input reaches the SQL.
    counts = " UNION ALL ".join(f"SELECT {i}, COUNT(*) FROM {_quote(t)}" for i, t in enumerate(tables))  # noqa: S608
    rows = {tables[int(i)]: int(n) for i, n in _query(shell, options, db.name, counts)}
    sums = _query(shell, options, db.name, "CHECKSUM TABLE " + ", ".join(_quote(t) for t in tables))
    checksums = {name.split(".", 1)[1]: value for name, value in sums}
    return {t: {"rows": rows[t], "checksum": checksums.get(t, "")} for t in tables}


def dump(
    source: Source, restic: Restic, tags: list[str], *, at: Any = None, progress: Progress | None = None
) -> Taken:
    db = _db(source)
    shell = shell_for(source)
    with shell.secret_file(_options(db)) as path:
        argv = [
            _program(shell, "mariadb-dump", "mysqldump"),
            f"--defaults-extra-file={path}",
            "--single-transaction",
            "--quick",
            "--routines",
            "--triggers",
            "--hex-blob",
            "--no-tablespaces",
            db.name,
        ]
        return database.take(
            shell=shell,
            restic=restic,
            dump_argv=argv,
            figures=lambda: figures(shell, db),
            database=db.name,
            filename=f"{source.name}.sql",
            tags=tags,
            at=at,
            progress=progress,
        )


def only_tables(tables: Sequence[str]) -> Any:
    wanted = {t.encode() for t in tables}

    def keep(stream: Iterable[bytes]) -> Iterator[bytes]:
        current: bytes | None = None  # None: the dump's header and footer (SET statements), always kept
        for line in stream:
            mark = _TABLE_MARK.match(line)
            if mark:
                current = mark.group(1).replace(b"``", b"`")
            elif line.startswith((b"-- Dumping routines", b"/*!40103 SET TIME_ZONE=@OLD")):
                current = None
            if current is None or current in wanted:
                yield line

    return keep


def restore(
    manifest: dict[str, Any],
    snapshot_id: str,
    restic: Restic,
    dest: Source,
    *,
    paths: Sequence[str] = (),
    tables: Sequence[str] = (),
) -> dict[str, Any]:
    if paths:
        raise SourceError("a database snapshot has no file paths; choose tables")
    unknown = set(tables) - set(manifest.get("tables", {})) - set(manifest.get("moving", {}))
    if unknown:
        raise SourceError(f"the snapshot has no table(s) {', '.join(sorted(unknown))}")
    db = _db(dest)
    shell = shell_for(dest)
    with (
        shell.secret_file(_options(db)) as path,
        shell.writer([_program(shell, "mariadb", "mysql"), f"--defaults-extra-file={path}", db.name]) as sink,
    ):
        database.load(restic, snapshot_id, manifest["file"], sink, only_tables(tables) if tables else None)
    return {"database": db.name, "host": db.host, "tables": list(tables) or ["(all)"]}


def verify(dest: Source, manifest: dict[str, Any]) -> list[Check]:
    return database.compare(manifest, figures(shell_for(dest), _db(dest)))


@contextlib.contextmanager
def scratch(source: Source, folder: Path) -> Iterator[Source]:
    """A new, empty database on the scratch server (SITEKEEPER_SCRATCH_MARIADB_URL)."""
    server = DbUrl.parse(settings.SITEKEEPER_SCRATCH_MARIADB_URL, "SITEKEEPER_SCRATCH_MARIADB_URL")
    name = f"sk_scratch_{secrets.token_hex(6)}"
    if not _SAFE_NAME.match(name):  # pragma: no cover - token_hex is always safe
        raise SourceError(name)
    shell = shell_for(Source())
    _query(shell, _options(server), "", f"CREATE DATABASE {_quote(name)}")
    try:
        yield Source(
            site_id=source.site_id,
            name=source.name,
            layer=source.layer,
            kind=source.kind,
            db_url=server.with_name(name).url(),
        )
    finally:
        _query(shell, _options(server), "", f"DROP DATABASE IF EXISTS {_quote(name)}")
