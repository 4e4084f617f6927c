"""What every source module shares, one floor below them all: the error a source raises, what a dump took
(`Taken`), one comparison of a restore test (`Check`), a database URL taken apart (`DbUrl`) and the figures
restic's backup summary gives. The source modules import these from here, never from the package, so the
package (which picks a module per kind) sits above them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

Progress = Callable[[dict[str, Any]], None]


class SourceError(ValueError):
    """A source is set up wrongly or cannot be read; the message names the source and what is wrong."""


@dataclass(frozen=True)
class Taken:
    restic_id: str
    time: dt.datetime
    bytes_processed: int
    bytes_added: int
    files: int
    duration_seconds: float
    manifest: dict[str, Any]


@dataclass(frozen=True)
class Check:
    name: str
    expected: Any
    actual: Any
    ok: bool
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DbUrl:
    scheme: str
    user: str
    password: str
    host: str
    port: int | None
    name: str
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, url: str, what: str = "database URL") -> DbUrl:
        parts = urlsplit(url)
        if parts.scheme not in {"mysql", "mariadb", "postgres", "postgresql"}:
            raise SourceError(
                f"{what}: scheme must be mysql://, mariadb:// or postgres://, got {parts.scheme!r}"
            )
        name = unquote(parts.path.lstrip("/"))
        return cls(
            scheme="postgres" if parts.scheme.startswith("postgres") else "mysql",
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            host=parts.hostname or "127.0.0.1",
            port=parts.port,
            name=name,
        )

    def with_name(self, name: str) -> DbUrl:
        return DbUrl(self.scheme, self.user, self.password, self.host, self.port, name)

    def url(self) -> str:
        auth = self.user + (f":{self.password}" if self.password else "")
        port = f":{self.port}" if self.port else ""
        return f"{self.scheme}://{auth}@{self.host}{port}/{self.name}"


def summary_figures(summary: dict[str, Any], at: dt.datetime | None) -> dict[str, Any]:
    """The fields of a Taken that come from restic's backup summary."""
    return {
        "restic_id": summary["snapshot_id"],
        "time": at or dt.datetime.now(dt.UTC),
        "bytes_processed": int(summary.get("total_bytes_processed", 0)),
        "bytes_added": int(summary.get("data_added", 0)),
        "files": int(summary.get("total_files_processed", 0)),
        "duration_seconds": float(summary.get("total_duration", 0.0)),
    }
