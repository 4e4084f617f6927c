"""PostgreSQL: `pg_dump --format=custom` streamed into restic; restored with `pg_restore` from the stream
(whole, or chosen tables with `-t`). The password goes in a PGPASSFILE that exists only while the command
runs."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from django.conf import settings

from sitekeeper.backups.models import Source
from sitekeeper.backups.restic import Restic
from sitekeeper.backups.shell import Shell
from sitekeeper.backups.sources import database
from sitekeeper.backups.sources.base import Check, DbUrl, Progress, SourceError, Taken
from sitekeeper.backups.sources.shells import shell_for

_TABLES = (
    "SELECT schemaname || '.' || tablename FROM pg_tables "
    "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
)


def _db(source: Source) -> DbUrl:
    if not source.db_url:
        raise SourceError(
            f"{source}: a PostgreSQL source needs a database URL (postgres://user:pass@host:port/db)"
        )
    db = DbUrl.parse(source.db_url, f"{source}: database URL")
    if not db.name:
        raise SourceError(f"{source}: the database URL names no database")
    return db


def _passfile(db: DbUrl) -> str:
    def esc(value: str) -> str:
        return value.replace("\\", "\\\\").replace(":", "\\:")

    return f"*:*:*:{esc(db.user or 'postgres')}:{esc(db.password)}\n"


def _connection(db: DbUrl) -> list[str]:
    args = ["-h", db.host, "-U", db.user or "postgres", "-w"]
    if db.port:
        args += ["-p", str(db.port)]
    return args


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _qualified(table: str) -> str:
    schema, _, name = table.partition(".")
    return f"{_ident(schema)}.{_ident(name)}"


def _query(shell: Shell, db: DbUrl, sql: str) -> list[list[str]]:
    with shell.secret_file(_passfile(db)) as passfile:
        argv = ["env", f"PGPASSFILE={passfile}", "psql", *_connection(db), "-d", db.name, "-X", "-A", "-t"]
        out = shell.run([*argv, "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql])
    return [line.split("\t") for line in out.decode("utf-8", "replace").splitlines() if line]


def figures(shell: Shell, db: DbUrl) -> database.Figures:
    tables = [row[0] for row in _query(shell, db, _TABLES)]
    if not tables:
        return {}
    # Order-independent content hash: md5 of each row's text form, sorted, hashed again.
    # Table names come from pg_tables and are quoted: no outside input reaches the SQL.
    select = "SELECT {}, count(*), md5(coalesce(string_agg(h, '' ORDER BY h), '')) FROM "
    parts = [
        f"{select.format(i)}(SELECT md5(t::text) AS h FROM {_qualified(table)} t) s"  # noqa: S608
        for i, table in enumerate(tables)
    ]
    rows = _query(shell, db, " UNION ALL ".join(parts))
    return {tables[int(i)]: {"rows": int(n), "checksum": digest} for i, n, digest in rows}


def dump(
    source: Source, restic: Restic, tags: list[str], *, at: Any = None, progress: Progress | None = None
) -> Taken:
    db = _db(source)
    shell = shell_for(source)
    with shell.secret_file(_passfile(db)) as passfile:
        argv = [
            "env",
            f"PGPASSFILE={passfile}",
            "pg_dump",
            *_connection(db),
            "--format=custom",
            "--no-owner",
            db.name,
        ]
        return database.take(
            shell=shell,
            restic=restic,
            dump_argv=argv,
            figures=lambda: figures(shell, db),
            database=db.name,
            filename=f"{source.name}.pgdump",
            tags=tags,
            at=at,
            progress=progress,
        )


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
    known = set(manifest.get("tables", {})) | set(manifest.get("moving", {}))
    unknown = set(tables) - known
    if unknown:
        raise SourceError(f"the snapshot has no table(s) {', '.join(sorted(unknown))}")
    db = _db(dest)
    shell = shell_for(dest)
    selection: list[str] = []
    for table in tables:
        schema, _, name = table.partition(".")
        selection += ["-n", schema, "-t", name]
    if tables:
        # pg_restore -t restores the table, not its schema: an empty target (a scratch database) needs it.
        schemas = sorted({t.partition(".")[0] for t in tables})
        _query(shell, db, "; ".join(f"CREATE SCHEMA IF NOT EXISTS {_ident(s)}" for s in schemas))
    with shell.secret_file(_passfile(db)) as passfile:
        argv = ["env", f"PGPASSFILE={passfile}", "pg_restore", *_connection(db), "-d", db.name]
        argv += ["--no-owner", "--no-privileges", "--clean", "--if-exists", "--exit-on-error", *selection]
        with shell.writer(argv) as sink:
            database.load(restic, snapshot_id, manifest["file"], sink)
    return {"database": db.name, "host": db.host, "tables": list(tables) or ["(all)"]}


def verify(dest: Source, manifest: dict[str, Any]) -> list[Check]:
    return database.compare(manifest, figures(shell_for(dest), _db(dest)))


@contextlib.contextmanager
def scratch(source: Source, folder: Path) -> Iterator[Source]:
    """A new, empty database on the scratch server (SITEKEEPER_SCRATCH_POSTGRES_URL)."""
    server = DbUrl.parse(settings.SITEKEEPER_SCRATCH_POSTGRES_URL, "SITEKEEPER_SCRATCH_POSTGRES_URL")
    name = f"sk_scratch_{secrets.token_hex(6)}"
    shell = shell_for(Source())
    _query(shell, server, f"CREATE DATABASE {_ident(name)}")
    try:
        yield Source(
            site_id=source.site_id,
            name=source.name,
            layer=source.layer,
            kind=source.kind,
            db_url=server.with_name(name).url(),
        )
    finally:
        _query(shell, server, f"DROP DATABASE IF EXISTS {_ident(name)} WITH (FORCE)")
