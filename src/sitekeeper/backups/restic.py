"""The restic driver: argument tuples for restic 0.14, run through `sitekeeper.proc`.

Secrets never reach a command line: the repository (which may carry REST credentials), the password, S3 keys
and SFTP keys go through environment variables and files in a private temporary folder that lives as long as
the `with Restic(repo) as r:` block.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shlex
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sitekeeper import proc
from sitekeeper.backups.models import Repository
from sitekeeper.files import private_dir

HOST = "sitekeeper"  # the --host of every snapshot: restic groups and finds parents by it
Progress = Callable[[dict[str, Any]], None]


class ResticError(RuntimeError):
    pass


@dataclass(frozen=True)
class CheckOutcome:
    ok: bool
    output: str


def tags(*, site: int, layer: str, source: str, run: int | None = None) -> list[str]:
    """The tags of a snapshot: restic tags may not contain commas; these never do."""
    out = [f"site-{site}", f"layer-{layer}", f"source-{source}"]
    if run is not None:
        out.append(f"run-{run}")
    return out


def restic_time(at: dt.datetime) -> str:
    """restic's --time format in UTC: restic reads it as local time, and runs here with TZ=UTC."""
    return at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def parse_time(text: str) -> dt.datetime:
    """restic prints RFC 3339 with nanoseconds, which fromisoformat cannot take: trim to microseconds."""
    head, _, rest = text.partition(".")
    if rest:
        digits = "".join(ch for ch in rest if ch.isdigit())
        zone = rest[len(digits) :]
        text = f"{head}.{digits[:6]}{zone}"
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.astimezone(dt.UTC)


class Restic:
    def __init__(self, repo: Repository, *, timeout: float | None = None) -> None:
        self.repo = repo
        self.timeout = timeout
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self.env: dict[str, str] = {}
        self.options: list[str] = []

    # -- session -------------------------------------------------------------------------------------------
    def __enter__(self) -> Restic:
        self._dir = tempfile.TemporaryDirectory(prefix="sk-restic-")
        folder = Path(self._dir.name)
        os.chmod(folder, 0o700)
        self.env = {
            "RESTIC_REPOSITORY": self._repository(),
            "RESTIC_PASSWORD_FILE": str(_secret_file(folder / "password", self.repo.password)),
            "RESTIC_CACHE_DIR": str(_cache_dir()),
            "TZ": "UTC",
        }
        if self.repo.kind == Repository.Kind.S3:
            self.env["AWS_ACCESS_KEY_ID"] = self.repo.access_key
            self.env["AWS_SECRET_ACCESS_KEY"] = self.repo.secret_key
            if self.repo.region:
                self.env["AWS_DEFAULT_REGION"] = self.repo.region
        if self.repo.kind == Repository.Kind.SFTP:
            self.options = ["-o", f"sftp.command={self._sftp_command(folder)}"]
        return self

    def __exit__(self, *exc: object) -> None:
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def _repository(self) -> str:
        kind, location = self.repo.kind, self.repo.location
        if kind == Repository.Kind.LOCAL:
            return location
        if kind == Repository.Kind.REST and self.repo.access_key:
            scheme, _, rest = location.partition("://")
            return f"rest:{scheme}://{self.repo.access_key}:{self.repo.secret_key}@{rest}"
        return f"{kind}:{location}"

    def _sftp_command(self, folder: Path) -> str:
        target = self.repo.location.split(":", 1)[0]
        argv = ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"]
        if self.repo.port:
            argv += ["-p", str(self.repo.port)]
        if self.repo.ssh_key:
            key = self.repo.ssh_key if self.repo.ssh_key.endswith("\n") else self.repo.ssh_key + "\n"
            argv += ["-i", str(_secret_file(folder / "id", key)), "-o", "IdentitiesOnly=yes"]
        if self.repo.known_hosts:
            known = _secret_file(folder / "known_hosts", self.repo.known_hosts + "\n")
            argv += ["-o", f"UserKnownHostsFile={known}"]
        argv += [target, "-s", "sftp"]
        return shlex.join(argv)

    def argv(self, *args: str) -> list[str]:
        if self._dir is None:
            raise ResticError("use `with Restic(repo) as restic:`")
        return [proc.require("restic", "restic"), *self.options, *args]

    def run(self, *args: str, ok_codes: Sequence[int] = (0,), timeout: float | None = None) -> proc.Result:
        return proc.run(
            self.argv(*args), env=self.env, timeout=timeout or self.timeout, ok_codes=ok_codes, what="restic"
        )

    # -- repository ------------------------------------------------------------------------------------------
    def init(self) -> bool:
        """Create the repository; False when it already exists (idempotent)."""
        result = self.run("init", ok_codes=(0, 1))
        if result.returncode == 0:
            return True
        if "already exists" in result.stderr or "already initialized" in result.stderr:
            return False
        raise proc.ProcError(result.args, result.returncode, result.stderr, "restic init")

    def unlock(self) -> None:
        """Remove stale locks (a killed run's): restic only removes locks whose process is gone or old."""
        self.run("unlock")

    def snapshots(self, tag_filter: Sequence[str] = ()) -> list[dict[str, Any]]:
        args = ["snapshots", "--json"]
        if tag_filter:
            args += ["--tag", ",".join(tag_filter)]  # comma = all of these tags
        return json.loads(self.run(*args).text or "[]")

    def forget(self, snapshot_ids: Sequence[str]) -> None:
        if snapshot_ids:
            self.run("forget", *snapshot_ids)

    def prune(self) -> str:
        return self.run("prune").text

    def check(self, subset: str | None = None) -> CheckOutcome:
        args = ["check"] + ([f"--read-data-subset={subset}"] if subset else [])
        result = self.run(*args, ok_codes=(0, 1))
        return CheckOutcome(result.returncode == 0, (result.text + result.stderr).strip())

    def stats(self, mode: str = "raw-data") -> dict[str, Any]:
        return json.loads(self.run("stats", "--json", "--mode", mode).text)

    def ls(self, snapshot_id: str) -> list[dict[str, Any]]:
        lines = self.run("ls", "--json", snapshot_id).text.splitlines()
        return [node for node in map(json.loads, lines) if node.get("struct_type") == "node"]

    # -- backup ----------------------------------------------------------------------------------------------
    def backup_paths(
        self,
        paths: Sequence[str],
        tag_list: Sequence[str],
        *,
        excludes: Sequence[str] = (),
        at: dt.datetime | None = None,
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        args = self._backup_args(tag_list, at)
        for pattern in excludes:
            args += ["--exclude", pattern]
        return self._backup([*args, "--", *paths], stdin=None, progress=progress)

    def backup_stdin(
        self,
        filename: str,
        tag_list: Sequence[str],
        stdin: IO[bytes] | int,
        *,
        at: dt.datetime | None = None,
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """Back up what arrives on `stdin` (a dump's stdout, a pipe we feed) as one file, streamed."""
        args = [*self._backup_args(tag_list, at), "--stdin", "--stdin-filename", filename]
        return self._backup(args, stdin=stdin, progress=progress)

    def _backup_args(self, tag_list: Sequence[str], at: dt.datetime | None) -> list[str]:
        args = ["backup", "--json", "--host", HOST]
        for tag in tag_list:
            args += ["--tag", tag]
        if at is not None:
            args += ["--time", restic_time(at)]
        return args

    def _backup(self, args: list[str], stdin: IO[bytes] | int | None, progress: Progress | None) -> dict:
        summary: dict[str, Any] = {}
        with proc.spawn(self.argv(*args), env=self.env, stdin=stdin) as child:
            # stderr is drained by a thread so a chatty restic never blocks on a full pipe.
            errors: list[bytes] = []
            drain = threading.Thread(target=lambda: errors.append(child.stderr.read()), daemon=True)  # type: ignore[union-attr]
            drain.start()
            for raw in child.stdout:  # type: ignore[union-attr]
                message = _json_line(raw)
                if message.get("message_type") == "summary":
                    summary = message
                elif message.get("message_type") == "status" and progress is not None:
                    progress(message)
            child.wait(timeout=self.timeout)
            drain.join()
            stderr = b"".join(errors).decode("utf-8", "replace")
            if child.returncode != 0 or not summary.get("snapshot_id"):
                raise proc.ProcError(child.args, child.returncode, stderr, "restic backup")  # type: ignore[arg-type]
        return summary

    # -- restore ---------------------------------------------------------------------------------------------
    def restore(self, snapshot_id: str, target: str, includes: Sequence[str] = ()) -> None:
        args = ["restore", snapshot_id, "--target", target]
        for path in includes:
            args += ["--include", path]
        self.run(*args)

    @contextlib.contextmanager
    def dump(self, snapshot_id: str, path: str) -> Iterator[IO[bytes]]:
        """Stream one file of a snapshot (a database dump, a tar of a remote folder)."""
        with proc.spawn(self.argv("dump", snapshot_id, path), env=self.env) as child:
            yield child.stdout  # type: ignore[misc]
            proc.finish(child, timeout=self.timeout, what="restic dump")


def _json_line(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _secret_file(path: Path, content: str) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
    return path


def _cache_dir() -> Path:
    from django.conf import settings

    return private_dir(Path(settings.HOME) / "cache" / "restic")
