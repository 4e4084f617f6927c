"""Restores someone asked for, and snapshots packed for the client to download.

A restore goes to stage unless production is asked for by name: the person must type the site's address and
the recovery point (`https://acme.test 1a2b3c4d`). Rolling production back loses what was written since, so
the restore records who decided and why. The destination is the Source with the same name in the target
environment (a stage folder, a stage database), so a restore never guesses where data goes.

An export streams the snapshot out of restic (`restic dump`, a tar) and repacks it on the fly as a tar or zip
with paths relative to the source (the site's folder layout, not this machine's absolute paths): nothing is
restored to disk first.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import os
import shutil
import sqlite3
import stat
import tarfile
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from django.conf import settings

from sitekeeper import jobs
from sitekeeper.access.models import User
from sitekeeper.backups.errors import JOB_ERRORS
from sitekeeper.backups.models import Export, Repository, Restore, Snapshot, Source
from sitekeeper.backups.restic import Restic
from sitekeeper.backups.sources import SourceError, module
from sitekeeper.backups.sources.files import TAR_NAME
from sitekeeper.files import private_dir

logger = logging.getLogger(__name__)

DATABASE_KINDS = {Source.Kind.MARIADB, Source.Kind.POSTGRES, Source.Kind.SQLITE}
RESTORE_ERRORS = (*JOB_ERRORS, sqlite3.Error, KeyError)
CHUNK = 1024 * 1024


class RestoreRefused(ValueError):  # noqa: N818 - a refusal, not a fault: the message says what to do instead
    """A restore or export that may not go ahead as asked; the message names what is wrong."""


# -- restores ----------------------------------------------------------------------------------------------
def confirmation_text(snapshot: Snapshot) -> str:
    """What a person types to restore production: the site and the recovery point."""
    return f"{snapshot.site.url} {snapshot.short_id}"


def _usable(snapshot: Snapshot) -> None:
    if snapshot.forgotten_at is not None:
        raise RestoreRefused(
            f"snapshot {snapshot.short_id} was let go on {snapshot.forgotten_at:%Y-%m-%d} (retention): "
            "choose a newer recovery point"
        )
    if snapshot.repository.status == Repository.Status.DELETED:
        raise RestoreRefused(f"repository {snapshot.repository} was deleted after the contract ended")


def request_restore(
    snapshot: Snapshot,
    *,
    target: str = Restore.Target.STAGE,
    user: User,
    paths: Sequence[str] = (),
    tables: Sequence[str] = (),
    confirmation: str = "",
    reason: str = "",
) -> Restore:
    """Record a restore request after checking it; `run_restore` carries it out."""
    if target not in Restore.Target.values:
        raise RestoreRefused(f"target must be one of {', '.join(Restore.Target.values)}, got {target!r}")
    if user is None or not getattr(user, "pk", None):
        raise RestoreRefused("a restore needs the person who decides it")
    _usable(snapshot)
    site = snapshot.site
    dest = Source.objects.filter(site=site, environment=target, name=snapshot.source_name).first()
    if dest is None:
        raise RestoreRefused(
            f"{site} has no {target} source named {snapshot.source_name!r} to restore into: "
            f"set one up (same name, environment {target}) first"
        )
    if dest.kind != snapshot.source_kind:
        raise RestoreRefused(
            f"the {target} source {dest.name!r} is {dest.get_kind_display()}, the snapshot holds "
            f"{snapshot.get_source_kind_display()}"
        )
    paths, tables = [str(p) for p in paths if str(p).strip()], [str(t) for t in tables if str(t).strip()]
    if paths and snapshot.source_kind in DATABASE_KINDS:
        raise RestoreRefused("a database snapshot has no file paths: choose tables instead")
    if tables and snapshot.source_kind not in DATABASE_KINDS:
        raise RestoreRefused("a files snapshot has no tables: choose paths instead")
    tables = _known_tables(snapshot, tables)
    for path in paths:
        if path.startswith("/") or ".." in Path(path).parts:
            raise RestoreRefused(f"path {path!r} must be relative to the source's folder (no '/', no '..')")
    if target == Restore.Target.PROD:
        expected = confirmation_text(snapshot)
        if confirmation != expected:
            raise RestoreRefused(
                "restoring production replaces everything written since the recovery point; "
                f"to confirm, type exactly: {expected}"
            )
    return Restore.objects.create(
        site=site,
        snapshot=snapshot,
        target=target,
        paths=paths,
        tables=tables,
        decided_by=user,
        confirmation=confirmation,
        reason=reason,
    )


def _known_tables(snapshot: Snapshot, tables: list[str]) -> list[str]:
    """Check the tables against the snapshot's manifest; a name without its schema ("orders") stands for the
    one table of that name ("public.orders")."""
    manifest = snapshot.manifest or {}
    known = set(manifest.get("tables", {})) | set(manifest.get("moving", {}))
    if not known:
        return tables
    resolved = []
    for table in tables:
        if table in known:
            resolved.append(table)
            continue
        matches = sorted(k for k in known if k.rsplit(".", 1)[-1] == table)
        if len(matches) > 1:
            raise RestoreRefused(
                f"snapshot {snapshot.short_id} has several tables named {table!r} "
                f"({', '.join(matches)}): name the schema"
            )
        if not matches:
            listed = ", ".join(sorted(known)[:30])
            raise RestoreRefused(f"snapshot {snapshot.short_id} has no table {table!r}; it has: {listed}")
        resolved.append(matches[0])
    return resolved


def _log(restore: Restore, line: str) -> None:
    restore.log = f"{restore.log}{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S} {line}\n"
    Restore.objects.filter(pk=restore.pk).update(log=restore.log)
    logger.info("restore %s: %s", restore.pk, line)


def _progress(restore: Restore, **fields: Any) -> None:
    restore.progress = fields
    jobs.report(Restore, restore.pk, fields)


def run_restore(restore: Restore) -> Restore:
    """Carry out a queued restore; one that is running or done is returned as it is."""
    now = dt.datetime.now(dt.UTC)
    taken = Restore.objects.filter(pk=restore.pk, status=Restore.Status.QUEUED).update(
        status=Restore.Status.RUNNING, started_at=now
    )
    restore.refresh_from_db()
    if not taken:
        return restore
    snapshot = restore.snapshot
    site = restore.site
    subset = restore.paths or restore.tables
    try:
        _usable(snapshot)
        dest = Source.objects.get(site=site, environment=restore.target, name=snapshot.source_name)
        _log(
            restore,
            f"restoring {snapshot.source_name} snapshot {snapshot.short_id} ({snapshot.time:%Y-%m-%d %H:%M} "
            f"UTC) to {restore.target}" + (f", only {', '.join(subset)}" if subset else "")
            + f"; decided by {restore.decided_by}",
        )  # fmt: skip
        _progress(restore, phase="restore", source=snapshot.source_name, target=restore.target)
        timeout = _timeout(site)
        with Restic(snapshot.repository, timeout=timeout) as restic:
            result = module(dest.kind).restore(
                snapshot.manifest,
                snapshot.restic_id,
                restic,
                dest,
                paths=restore.paths,
                tables=restore.tables,
            )
        _log(restore, f"restored: {_describe(result)}")
        if not subset:
            _progress(restore, phase="verify", source=snapshot.source_name, target=restore.target)
            _log_checks(restore, dest, snapshot)
        if restore.target == Restore.Target.PROD:
            _log(
                restore,
                f"production of {site} now holds {snapshot.source_name} as of {snapshot.time:%Y-%m-%d %H:%M} "
                f"UTC; data written after that was replaced. Decided by {restore.decided_by}"
                + (f": {restore.reason}" if restore.reason else ""),
            )
        status, error = Restore.Status.SUCCEEDED, ""
    except (*RESTORE_ERRORS, Source.DoesNotExist, RestoreRefused) as exc:
        error = str(exc) or exc.__class__.__name__
        _log(restore, f"FAILED: {error}")
        logger.warning("restore %s of %s to %s failed: %s", restore.pk, snapshot, restore.target, error)
        status = Restore.Status.FAILED
    Restore.objects.filter(pk=restore.pk).update(
        status=status, error=error, finished_at=dt.datetime.now(dt.UTC), progress={"phase": status}
    )
    restore.refresh_from_db()
    return restore


def _timeout(site: Any) -> float:
    config = getattr(site, "backup", None)
    return float(config.timeout_minutes * 60) if config else 7200.0


def _describe(result: dict[str, Any]) -> str:
    return ", ".join(
        f"{key} {', '.join(map(str, value)) if isinstance(value, list) else value}"
        for key, value in result.items()
    )


def _log_checks(restore: Restore, dest: Source, snapshot: Snapshot) -> None:
    """After a whole restore, compare the destination with the snapshot's manifest (recorded, not fatal:
    a destination may legitimately hold more, e.g. files the source leaves out)."""
    try:
        checks = module(dest.kind).verify(dest, snapshot.manifest)
    except RESTORE_ERRORS as exc:
        _log(restore, f"could not compare with the snapshot's figures: {exc}")
        return
    bad = [c for c in checks if not c.ok]
    _log(restore, f"compared with the snapshot's figures: {len(checks) - len(bad)}/{len(checks)} match")
    for check in bad[:20]:
        _log(restore, f"  differs: {check.name}: expected {check.expected}, found {check.actual}")


# -- exports -----------------------------------------------------------------------------------------------
def exports_root() -> Path:
    return Path(settings.HOME) / "exports"


def request_export(snapshot: Snapshot, *, user: User, format: str = Export.Format.TAR) -> Export:
    if format not in Export.Format.values:
        raise RestoreRefused(f"format must be one of {', '.join(Export.Format.values)}, got {format!r}")
    if user is None or not getattr(user, "pk", None):
        raise RestoreRefused("an export needs the person who asks for it")
    _usable(snapshot)
    return Export.objects.create(snapshot=snapshot, format=format, requested_by=user)


def run_export(export: Export) -> Export:
    """Pack the snapshot; one that is running or done is returned as it is."""
    taken = Export.objects.filter(pk=export.pk, status=Export.Status.QUEUED).update(
        status=Export.Status.RUNNING
    )
    export.refresh_from_db()
    if not taken:
        return export
    snapshot = export.snapshot
    relative = Path(snapshot.site.client.slug) / (
        f"{snapshot.site_id}-{snapshot.layer}-{snapshot.source_name}-{snapshot.short_id}-{export.pk}"
        f".{'tar' if export.format == Export.Format.TAR else 'zip'}"
    )
    path = exports_root() / relative
    try:
        _usable(snapshot)
        private_dir(path.parent)  # a client's snapshot, packed: owner-only like the file itself
        jobs.report(Export, export.pk, {"phase": "packing"})
        with Restic(snapshot.repository, timeout=_timeout(snapshot.site)) as restic, open(path, "wb") as out:
            os.chmod(path, 0o600)
            with (
                _snapshot_tar(restic, snapshot) as (stream, rename),
                tarfile.open(fileobj=stream, mode="r|") as members,
            ):
                if export.format == Export.Format.TAR:
                    count = _to_tar(members, rename, out)
                else:
                    count = _to_zip(members, rename, out)
                while stream.read(CHUNK):  # restic's trailing padding: let it finish writing
                    pass
        if count == 0:
            raise SourceError(f"snapshot {snapshot.short_id} holds no files to export")
        digest, size = _sha256(path)
        now = dt.datetime.now(dt.UTC)
        Export.objects.filter(pk=export.pk).update(
            status=Export.Status.READY,
            file=str(relative),
            size=size,
            sha256=digest,
            finished_at=now,
            expires_at=now + dt.timedelta(days=settings.SITEKEEPER_EXPORT_DAYS),
            progress={"phase": "ready", "members": count},
            error="",
        )
    except (*RESTORE_ERRORS, tarfile.TarError, zipfile.BadZipFile, RestoreRefused) as exc:
        path.unlink(missing_ok=True)
        error = str(exc) or exc.__class__.__name__
        logger.warning("export %s of %s failed: %s", export.pk, snapshot, error)
        Export.objects.filter(pk=export.pk).update(
            status=Export.Status.FAILED,
            error=error,
            finished_at=dt.datetime.now(dt.UTC),
            progress={"phase": "failed"},
        )
    export.refresh_from_db()
    return export


class _Renamer:
    """Member names inside the export: `<source>/<path relative to the source's folder>`."""

    def __init__(self, source_name: str, strip: str) -> None:
        self.source_name, self.strip = source_name, strip

    def __call__(self, name: str) -> str | None:
        name = name.lstrip("/")
        if name.startswith("./"):
            name = name[2:]
        if self.strip:
            if name.rstrip("/") == self.strip.rstrip("/"):
                name = ""
            elif name.startswith(self.strip):
                name = name[len(self.strip) :]
            else:
                return None  # outside the source's folder (restic's parent folders)
        name = name.strip("/")
        if name in {"", "."}:
            return self.source_name
        if ".." in Path(name).parts:
            return None
        return f"{self.source_name}/{name}"


@contextlib.contextmanager
def _snapshot_tar(restic: Restic, snapshot: Snapshot) -> Iterator[tuple[IO[bytes], _Renamer]]:
    """The snapshot as a tar stream out of `restic dump`, with the renamer for its member names."""
    manifest = snapshot.manifest or {}
    if snapshot.source_kind == Source.Kind.FILES and manifest.get("format") == "tar":
        # A folder read over SSH is stored as one tar: it already is the archive.
        with restic.dump(snapshot.restic_id, f"/{TAR_NAME}") as stream:
            yield stream, _Renamer(snapshot.source_name, "")
    elif snapshot.source_kind == Source.Kind.FILES:
        root = str(manifest["root"]).rstrip("/")
        with restic.dump(snapshot.restic_id, root) as stream:
            yield stream, _Renamer(snapshot.source_name, root.lstrip("/") + "/")
    else:
        # A database snapshot holds one file, the dump as stored: "/" gives it as a one-member tar.
        with restic.dump(snapshot.restic_id, "/") as stream:
            yield stream, _Renamer(snapshot.source_name, "")


def _to_tar(members: tarfile.TarFile, rename: _Renamer, out: IO[bytes]) -> int:
    count = 0
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as archive:
        for member in members:
            name = rename(member.name)
            if name is None or not (member.isreg() or member.isdir() or member.issym()):
                continue
            member.name = name
            archive.addfile(member, members.extractfile(member) if member.isreg() else None)
            count += member.isreg()
    return count


def _to_zip(members: tarfile.TarFile, rename: _Renamer, out: IO[bytes]) -> int:
    count = 0
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        for member in members:
            name = rename(member.name)
            if name is None:
                continue
            stamp = dt.datetime.fromtimestamp(max(member.mtime, 315532800), dt.UTC).timetuple()[:6]
            if member.isdir():
                info = zipfile.ZipInfo(name + "/", date_time=stamp)
                info.external_attr = (stat.S_IFDIR | (member.mode & 0o7777)) << 16 | 0x10
                archive.writestr(info, b"")
            elif member.issym():
                info = zipfile.ZipInfo(name, date_time=stamp)
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                archive.writestr(info, member.linkname)
            elif member.isreg():
                info = zipfile.ZipInfo(name, date_time=stamp)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = (stat.S_IFREG | (member.mode & 0o7777)) << 16
                source = members.extractfile(member)
                with archive.open(info, "w", force_zip64=True) as sink:
                    if source is not None:
                        shutil.copyfileobj(source, sink, CHUNK)
                count += 1
    return count


def _sha256(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def export_path(export: Export) -> Path:
    """The file of a ready export (for the download view)."""
    if not export.file:
        raise RestoreRefused(f"export {export.pk} has no file (status {export.status})")
    return exports_root() / export.file


def purge_expired_exports(now: dt.datetime | None = None) -> int:
    """Delete the files of exports past their expiry; the rows stay (who downloaded what, when)."""
    now = now or dt.datetime.now(dt.UTC)
    count = 0
    for export in Export.objects.filter(status=Export.Status.READY, expires_at__lte=now):
        if export.file:
            (exports_root() / export.file).unlink(missing_ok=True)
        Export.objects.filter(pk=export.pk).update(status=Export.Status.EXPIRED)
        count += 1
    return count
