"""What MariaDB and PostgreSQL sources share: table figures taken before and after a dump, the manifest, the
restore-test comparison, and the streaming of a dump into restic and back out.

Figures are row counts and a checksum per table. They are read in a moment of their own, not inside the dump's
transaction, so they are read twice — before and after the dump — and a table whose figures moved in between
(a live site wrote to it) is listed as "moving": its restored row count must lie between the two readings,
its checksum is not compared. On a quiet site every table is compared exactly.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO, Any

from sitekeeper.backups.restic import Restic
from sitekeeper.backups.shell import Shell
from sitekeeper.backups.sources.base import Check, Progress, Taken, summary_figures

Figures = dict[str, dict[str, Any]]  # table -> {"rows": int, "checksum": str}


def manifest(before: Figures, after: Figures, database: str, filename: str) -> dict[str, Any]:
    moving = sorted(t for t in set(before) | set(after) if before.get(t) != after.get(t))
    tables = {t: after[t] for t in sorted(after) if t not in moving}
    ranges = {
        t: [min(_rows(before, t), _rows(after, t)), max(_rows(before, t), _rows(after, t))] for t in moving
    }
    return {"database": database, "file": filename, "tables": tables, "moving": ranges}


def _rows(figures: Figures, table: str) -> int:
    return int(figures.get(table, {}).get("rows", 0))


def compare(expected: dict[str, Any], actual: Figures) -> list[Check]:
    """The restore test's checks: every table present, row counts and checksums as recorded."""
    want = set(expected.get("tables", {})) | set(expected.get("moving", {}))
    checks = [Check("tables", len(want), len(set(actual) & want), want <= set(actual))]
    for table, figures in sorted(expected.get("tables", {}).items()):
        got = actual.get(table, {})
        checks.append(
            Check(f"rows {table}", figures["rows"], got.get("rows"), got.get("rows") == figures["rows"])
        )
        checks.append(
            Check(
                f"checksum {table}",
                figures["checksum"],
                got.get("checksum"),
                got.get("checksum") == figures["checksum"],
            )
        )
    for table, (low, high) in sorted(expected.get("moving", {}).items()):
        rows = actual.get(table, {}).get("rows")
        ok = rows is not None and low <= rows <= high
        checks.append(Check(f"rows {table}", f"{low}..{high}", rows, ok, "written to during the dump"))
    return checks


def take(
    *,
    shell: Shell,
    restic: Restic,
    dump_argv: Sequence[str],
    figures: Callable[[], Figures],
    database: str,
    filename: str,
    tags: list[str],
    at: Any,
    progress: Progress | None,
) -> Taken:
    """Figures, then the dump streamed into restic (never staged on disk), then figures again. A dump that
    fails half-way raises when its reader closes — after restic saved a truncated file; the caller forgets
    the snapshot restic made (it has no catalogue row)."""
    before = figures()
    with shell.reader(dump_argv) as stream:
        summary = restic.backup_stdin(filename, tags, stream, at=at, progress=progress)
    after = figures()
    return Taken(**summary_figures(summary, at), manifest=manifest(before, after, database, filename))


def load(
    restic: Restic,
    snapshot_id: str,
    filename: str,
    sink: IO[bytes],
    keep: Callable[[Iterable[bytes]], Iterator[bytes]] | None = None,
) -> None:
    """Stream a dump out of restic into a loading client, filtered when only some tables are wanted."""
    with restic.dump(snapshot_id, f"/{filename}") as stream:
        if keep is None:
            shutil.copyfileobj(stream, sink, 1024 * 1024)
        else:
            for chunk in keep(stream):
                sink.write(chunk)
