"""The data folder is owner-only: 0700 folders and 0600 files, for what sitekeeper keeps in it.

SITEKEEPER_HOME holds the database, the job queue, the secret key, attachments, exports, unfiled mail,
quarantined files, update packages and the restic cache: client data and the keys to every client's sites.
Three things keep it private:

- `restrict_umask()`, called first by the `sitekeeper` command and by the WSGI entry, makes everything the
  process and its children create owner-only, including files made by libraries (SQLite's journal, huey's
  queue, Django's file mail backend) that never pass through this module;
- `private_dir()` and `write_private()` create folders and files owner-only whatever the umask, for code
  that may run under a server that did not call `restrict_umask()`;
- `tighten()` brings a data folder made by an older version (0644 database, 0755 folders) to the same
  modes; `sitekeeper serve`, `worker` and `demo` run it once at start.

A client's site is not ours to change: files sitekeeper writes into a site's folder on this machine (a
restore, an update) get the umask the process started with (`site_umask()`, `site_dirs()`), as they did
before, so the web server can still read them. `tighten()` touches only the names listed below and never
follows a symbolic link.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

logger = logging.getLogger(__name__)

OWNER_ONLY_UMASK = 0o077
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
_DEFAULT_SITE_UMASK = 0o022

# Top-level files in the data folder; SQLite keeps a journal, a WAL and its index beside each database.
_SQLITE_COMPANIONS = ("", "-journal", "-wal", "-shm")
PRIVATE_FILES = (
    "secret_key",
    *(f"{db}{end}" for db in ("sitekeeper.sqlite3", "queue.sqlite3") for end in _SQLITE_COMPANIONS),
)
# Folders whose whole tree is private data (attachments, exports, mail, quarantined files, uploads in
# progress, update packages, restore-test scratch space): every file and folder in them is tightened.
PRIVATE_TREES = ("attachments", "exports", "mail", "quarantine", "uploads", "packages", "scratch")
# Folders made private at the top only: the restic cache (large; restic sets its own modes inside), the
# static files (public anyway) and the demo's backup repositories (restic's). Their contents cannot be
# reached by others once the folder itself is 0700.
PRIVATE_TOPS = ("cache", "static", "demo-backups")

_started: dict[str, int] = {}  # "umask": the process's umask before restrict_umask()


def restrict_umask() -> int:
    """Make what this process creates owner-only from now on; returns the umask it had before, which
    `site_umask()` keeps for files written into clients' sites."""
    previous = os.umask(OWNER_ONLY_UMASK)
    # A second call (a reloaded WSGI app, a command calling another) keeps the original.
    _started.setdefault("umask", previous if previous != OWNER_ONLY_UMASK else _DEFAULT_SITE_UMASK)
    return previous


def site_umask() -> int:
    """The umask for a client's site folder: the one the process started with (0022 unless the operator
    chose another), never the data folder's 0077."""
    return _started.get("umask", _DEFAULT_SITE_UMASK)


def private_dir(path: Path) -> Path:
    """Create `path` and any missing parents as 0700, and make `path` itself 0700 if it existed and is
    ours (a folder another user lent us, such as a mounted volume, is theirs to set)."""
    _make_dirs(path, PRIVATE_DIR_MODE)
    info = path.stat()
    if stat.S_IMODE(info.st_mode) != PRIVATE_DIR_MODE and info.st_uid == os.getuid():
        os.chmod(path, PRIVATE_DIR_MODE)
    return path


def site_dirs(path: Path) -> Path:
    """Create `path` and any missing parents in a client's site with the site's usual modes (0755 under
    the common umask), not the data folder's 0700; existing folders are left as they are."""
    _make_dirs(path, 0o777 & ~site_umask())
    return path


def _make_dirs(path: Path, mode: int) -> None:
    """mkdir -p, each folder it creates getting exactly `mode` (a umask would otherwise narrow it)."""
    missing: list[Path] = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=mode)
        except FileExistsError:  # made meanwhile by another process: theirs to keep
            continue
        os.chmod(folder, mode)
    if not path.is_dir():
        raise NotADirectoryError(f"{path} exists and is not a folder")


def write_private(path: Path, content: bytes) -> Path:
    """Write `content` to `path` as a 0600 file (its folder made 0700 first), replacing a file that was
    there; a symbolic link at `path` is refused rather than followed."""
    private_dir(path.parent)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    descriptor = os.open(path, flags, PRIVATE_FILE_MODE)
    with os.fdopen(descriptor, "wb") as handle:
        os.fchmod(handle.fileno(), PRIVATE_FILE_MODE)  # O_CREAT's mode does not apply to an existing file
        handle.write(content)
    return path


def tighten(home: Path, also: Iterable[Path] = ()) -> int:
    """Bring sitekeeper's files in the data folder to 0600 and its folders to 0700; returns how many
    changed. `also`: owned files kept elsewhere (a SQLite database or queue outside the data folder, and
    their journals), and private folders kept elsewhere (SITEKEEPER_PACKAGES_DIR, the quarantine)."""
    changed = _tighten_one(home, deep=False)
    for name in PRIVATE_FILES:
        changed += _tighten_one(home / name, deep=False)
    for name in PRIVATE_TOPS:
        changed += _tighten_one(home / name, deep=False)
    for name in PRIVATE_TREES:
        changed += _tighten_one(home / name, deep=True)
    for path in also:
        changed += _tighten_one(path, deep=True)
    return changed


def _tighten_one(path: Path, *, deep: bool) -> int:
    changed = 0
    for entry, info in _entries(path, deep=deep):
        wanted = PRIVATE_DIR_MODE if stat.S_ISDIR(info.st_mode) else PRIVATE_FILE_MODE
        if stat.S_IMODE(info.st_mode) == wanted or info.st_uid != os.getuid():
            continue  # already private, or not ours (changing another user's file is not ours to do)
        os.chmod(entry, wanted)
        changed += 1
    return changed


def _entries(path: Path, *, deep: bool) -> Iterator[tuple[Path, os.stat_result]]:
    """`path` and, when `deep`, everything under it: regular files and folders only, links never followed."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
        return  # a symbolic link (to anywhere), a socket or a pipe: left alone
    yield path, info
    if deep and stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid():
        with os.scandir(path) as children:
            for child in children:
                yield from _entries(Path(child.path), deep=True)


def owned_elsewhere(settings: object) -> list[Path]:
    """sitekeeper's files and private folders as settings name them, wherever they are: the SQLite
    database and queue (with their journals), update packages, quarantine and file-backend mail."""
    paths: list[Path] = []
    database = getattr(settings, "DATABASES", {}).get("default", {})
    if str(database.get("ENGINE", "")).endswith("sqlite3"):
        paths.extend(Path(f"{database['NAME']}{end}") for end in _SQLITE_COMPANIONS)
    queue = getattr(settings, "HUEY", {}).get("filename")
    if queue:
        paths.extend(Path(f"{queue}{end}") for end in _SQLITE_COMPANIONS)
    for name in ("SITEKEEPER_PACKAGES_DIR", "SITEKEEPER_QUARANTINE_DIR", "EMAIL_FILE_PATH"):
        value = getattr(settings, name, "")
        if value:
            paths.append(Path(value))
    return paths


def tighten_data_folder(settings: object) -> int:
    """`tighten()` for the configured data folder and what settings keep elsewhere; logs one line."""
    home = Path(settings.HOME)  # type: ignore[attr-defined]
    changed = tighten(home, owned_elsewhere(settings))
    if changed:
        logger.info("data folder %s: %d files and folders made owner-only (0600/0700)", home, changed)
    else:
        logger.info("data folder %s: owner-only (0600 files, 0700 folders)", home)
    return changed
