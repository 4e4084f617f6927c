"""Data sources: one small module per kind, each with the same functions.

dump(source, restic, tags, *, at=None, progress=None) -> Taken
    back up the source (a dump streams into `restic backup --stdin`), with the manifest a restore test
    compares against;
restore(snapshot_manifest, snapshot_id, restic, dest, *, paths=(), tables=()) -> dict
    put a snapshot into `dest` (a scratch space, or the stage/prod source), whole or a subset;
verify(dest, manifest) -> list[Check]
    compare what is in `dest` now with the manifest;
scratch(source, folder) -> Source / discard(dest)
    an unsaved Source pointing at fresh scratch space, and its removal.
"""

from __future__ import annotations

from types import ModuleType

from sitekeeper.backups.sources.base import Check, DbUrl, Progress, SourceError, Taken, summary_figures
from sitekeeper.backups.sources.shells import shell_for

__all__ = ["Check", "DbUrl", "Progress", "SourceError", "Taken", "module", "shell_for", "summary_figures"]


def module(kind: str) -> ModuleType:
    from sitekeeper.backups.sources import files, mariadb, postgres, sqlite

    modules = {"files": files, "mariadb": mariadb, "postgres": postgres, "sqlite": sqlite}
    try:
        return modules[kind]
    except KeyError:
        raise SourceError(f"unknown source kind {kind!r}") from None
