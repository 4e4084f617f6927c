"""Update packages: zips of a newer WordPress plugin, theme or core that the agency uploads or fetches,
checked and stored once under SITEKEEPER_PACKAGES_DIR (default SITEKEEPER_HOME/packages), and which of them
a site is waiting for.

What a zip is comes from inside it, never from its file name — the same rules WordPress applies:
- core: `wordpress/wp-includes/version.php` with `$wp_version`;
- theme: `<slug>/style.css` with a `Theme Name:` header (version from its `Version:`);
- plugin: a PHP file directly under `<slug>/` with a `Plugin Name:` header and a `Version:`.
Anything else is refused with a PackageError naming the reason: paths that would leave the folder they are
unpacked into (zip slip), links, more than one top folder, no recognisable header, a zip bomb.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import re
import stat
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction

from sitekeeper import http
from sitekeeper.contracts.models import Site
from sitekeeper.core import versions
from sitekeeper.files import private_dir
from sitekeeper.releases.models import UpdatePackage
from sitekeeper.security.inventory import headers
from sitekeeper.security.models import Component, Ecosystem

MAX_ZIP_BYTES = 200 * 1024 * 1024  # WordPress core is ~25 MB zipped; far above any plugin
MAX_UNPACKED_BYTES = 1024 * 1024 * 1024  # a zip bomb stops here, before anything is written
MAX_MEMBERS = 50_000
_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,99}$")
_SLUG = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,199}$")
_WP_VERSION = re.compile(rb"""\$wp_version\s*=\s*['"]([^'"]+)['"]""")
WORDPRESS_ECOSYSTEMS = (Ecosystem.WORDPRESS_CORE, Ecosystem.WORDPRESS_PLUGIN, Ecosystem.WORDPRESS_THEME)


class PackageError(ValueError):
    """A zip that is not a usable update package; the message says why."""


@dataclasses.dataclass(frozen=True)
class Identity:
    ecosystem: str
    slug: str
    version: str
    name: str = ""


@dataclasses.dataclass(frozen=True)
class Pending:
    component: Component
    package: UpdatePackage


def packages_dir() -> Path:
    return Path(settings.SITEKEEPER_PACKAGES_DIR or Path(settings.HOME) / "packages")


# -- reading a zip ------------------------------------------------------------------------------------------
def _check_members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    infos = archive.infolist()
    if not infos:
        raise PackageError("the zip is empty")
    if len(infos) > MAX_MEMBERS:
        raise PackageError(f"the zip has {len(infos)} entries (at most {MAX_MEMBERS})")
    total = 0
    for info in infos:
        name = info.filename
        parts = PurePosixPath(name).parts
        if name.startswith("/") or "\\" in name or ".." in parts or (parts and parts[0].endswith(":")):
            raise PackageError(f"unsafe path in the zip: {name!r} would be written outside its folder")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise PackageError(f"the zip holds a symbolic link ({name}); packages must hold plain files")
        total += info.file_size
    if total > MAX_UNPACKED_BYTES:
        raise PackageError(f"the zip unpacks to {total} bytes (at most {MAX_UNPACKED_BYTES})")
    return [i for i in infos if PurePosixPath(i.filename).parts[0] != "__MACOSX"]


def top_folder(archive: zipfile.ZipFile) -> str:
    """The one folder everything in the zip is under (a WordPress package unpacks into `<slug>/`)."""
    infos = _check_members(archive)
    tops = {PurePosixPath(i.filename).parts[0] for i in infos}
    if len(tops) != 1:
        shown = ", ".join(sorted(tops)[:5])
        raise PackageError(
            f"the zip must hold exactly one top folder (the plugin/theme slug); it holds {shown}"
        )
    top = tops.pop()
    if not any(len(PurePosixPath(i.filename).parts) > 1 for i in infos):
        raise PackageError(f"{top} is a file, not a folder: a plugin zip unpacks into <slug>/")
    return top


def _read(archive: zipfile.ZipFile, name: str, limit: int = 8192) -> bytes | None:
    try:
        with archive.open(name) as handle:
            return handle.read(limit)
    except KeyError:
        return None


def identify(archive: zipfile.ZipFile) -> Identity:
    """Ecosystem, slug and version of a package, from the files inside it."""
    top = top_folder(archive)
    if not _SLUG.match(top):
        raise PackageError(f"top folder {top!r} is not a plugin/theme slug")
    if top == "wordpress" and (data := _read(archive, "wordpress/wp-includes/version.php", 1 << 16)):
        match = _WP_VERSION.search(data)
        if not match:
            raise PackageError("wordpress/wp-includes/version.php has no $wp_version")
        return _checked(Identity(Ecosystem.WORDPRESS_CORE, "wordpress", match.group(1).decode(), "WordPress"))
    style = headers(_read(archive, f"{top}/style.css") or b"")
    if style.get("theme name"):
        return _checked(
            Identity(Ecosystem.WORDPRESS_THEME, top, style.get("version", ""), style["theme name"])
        )
    mains = sorted(
        i.filename
        for i in archive.infolist()
        if len(PurePosixPath(i.filename).parts) == 2 and i.filename.endswith(".php")
    )
    for name in mains:
        head = headers(_read(archive, name) or b"")
        if head.get("plugin name"):
            return _checked(
                Identity(Ecosystem.WORDPRESS_PLUGIN, top, head.get("version", ""), head["plugin name"])
            )
    raise PackageError(
        f"{top}/ is not a WordPress package: no plugin file with a 'Plugin Name:' header, no style.css with "
        "'Theme Name:', no wp-includes/version.php"
    )


def _checked(found: Identity) -> Identity:
    if not found.version:
        raise PackageError(f"{found.slug}: the header has no 'Version:'")
    if not _VERSION.match(found.version) or not versions.is_valid(found.version):
        raise PackageError(f"{found.slug}: version {found.version!r} is not a version number")
    return found


def open_zip(data: bytes | Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes) else Path(data))
    except (zipfile.BadZipFile, OSError) as exc:
        raise PackageError(f"not a zip file: {exc}") from exc


# -- storing ------------------------------------------------------------------------------------------------
def add_package(
    data: bytes | Path,
    *,
    filename: str = "",
    security: bool = False,
    user: object | None = None,
    source_url: str = "",
    notes: str = "",
) -> UpdatePackage:
    """Check a zip and store it; the same version again with the same content is the stored package (marked
    security if asked now), with different content it is refused — a version number names one content."""
    raw = data if isinstance(data, bytes) else Path(data).read_bytes()
    what = filename or (Path(data).name if isinstance(data, Path) else "the zip")
    if len(raw) > MAX_ZIP_BYTES:
        raise PackageError(f"{what} is {len(raw)} bytes (at most {MAX_ZIP_BYTES})")
    with open_zip(raw) as archive:
        try:
            found = identify(archive)
        except PackageError as exc:
            raise PackageError(f"{what}: {exc}") from exc
    digest = hashlib.sha256(raw).hexdigest()
    existing = UpdatePackage.objects.filter(ecosystem=found.ecosystem, slug=found.slug, version=found.version)
    if (package := existing.first()) is not None:
        return _same(package, digest, security)
    path = packages_dir() / found.ecosystem / found.slug / f"{found.version}.zip"
    _write(path, raw)
    try:
        with transaction.atomic():
            return UpdatePackage.objects.create(
                ecosystem=found.ecosystem,
                slug=found.slug,
                version=found.version,
                file=str(path),
                sha256=digest,
                size=len(raw),
                source_url=source_url,
                security=security,
                notes=notes or found.name,
                added_by=user,
            )
    except IntegrityError:  # added at the same moment by someone else: theirs stands, if it is the same
        return _same(existing.get(), digest, security)


def _same(package: UpdatePackage, digest: str, security: bool) -> UpdatePackage:
    if package.sha256 != digest:
        raise PackageError(
            f"{package.slug} {package.version} is already stored with different content "
            f"(sha256 {package.sha256[:12]}…): a version number must name one release"
        )
    if security and not package.security:
        package.security = True
        package.save(update_fields=["security"])
    return package


def _write(path: Path, raw: bytes) -> None:
    """Write atomically (a half-written zip must never be taken for a package)."""
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fetch_package(url: str, *, security: bool = False, user: object | None = None) -> UpdatePackage:
    """Download a zip (e.g. https://downloads.wordpress.org/plugin/akismet.5.0.3.zip) and add it."""
    if urlsplit(url).scheme not in {"http", "https"}:
        raise PackageError(f"{url}: only http(s) URLs can be fetched")
    chunks, size = [], 0
    try:
        with (
            http.client(timeout=60, follow_redirects=True) as session,
            session.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise PackageError(f"{url}: HTTP {response.status_code}")
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_ZIP_BYTES:
                    raise PackageError(f"{url}: larger than {MAX_ZIP_BYTES} bytes")
                chunks.append(chunk)
    except (http.HTTPError, http.InvalidURL) as exc:
        raise PackageError(f"{url}: {exc}") from exc
    name = PurePosixPath(urlsplit(url).path).name
    return add_package(b"".join(chunks), filename=name, security=security, user=user, source_url=url)


# -- what a site is waiting for -----------------------------------------------------------------------------
def _newer(candidate: str, installed: str) -> bool:
    try:
        return versions.compare(candidate, installed) > 0
    except versions.VersionError:
        return False  # an unreadable installed version is shown in the inventory, never "updated" blindly


def newest(packages: Iterable[UpdatePackage]) -> UpdatePackage | None:
    best = None
    for package in packages:
        if best is None or _newer(package.version, best.version):
            best = package
    return best


def pending(site: Site, environment: str = "prod") -> list[Pending]:
    """For each installed WordPress component, the newest stored package newer than what is installed."""
    components = list(
        Component.objects.filter(
            site=site, environment=environment, removed_at__isnull=True, ecosystem__in=WORDPRESS_ECOSYSTEMS
        ).exclude(version="")
    )
    keys = {(c.ecosystem, c.slug) for c in components}
    by_key: dict[tuple[str, str], list[UpdatePackage]] = {}
    for package in UpdatePackage.objects.filter(slug__in={k[1] for k in keys}):
        by_key.setdefault((package.ecosystem, package.slug), []).append(package)
    found = []
    for component in components:
        candidates = [
            p
            for p in by_key.get((component.ecosystem, component.slug), [])
            if _newer(p.version, component.version)
        ]
        if (best := newest(candidates)) is not None:
            found.append(Pending(component, best))
    return found
