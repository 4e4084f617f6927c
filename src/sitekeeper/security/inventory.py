"""Component inventory: what a site runs, read from its own files (not guessed from its home page).

WordPress: core from `wp-includes/version.php`; every plugin from the header of its main PHP file (falling
back to `readme.txt`'s Stable tag), every theme from its `style.css` header; active or not from the
database (`active_plugins`, `template`, `stylesheet` in the options table) when the site has a MariaDB
backup source — otherwise `active` stays unknown. Other stacks: composer.lock, package-lock.json (v1-v3),
yarn.lock (v1), requirements*.txt (pinned `==` lines) and poetry.lock, found near the root.

The files are read locally or over SSH (the site's code backup source says where), so the same scan works
for a folder on this machine and a client's server. Run daily and after each update (`scan_inventory`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from django.db import transaction

from sitekeeper import proc
from sitekeeper.backups.models import Source
from sitekeeper.backups.sources import SourceError, shell_for
from sitekeeper.contracts.models import Site
from sitekeeper.security.models import Component, ComponentVersion, Ecosystem
from sitekeeper.security.phpserial import php_unserialize
from sitekeeper.security.tree import Tree, TreeError, tree_for

log = logging.getLogger(__name__)

HEADER_BYTES = 8192  # WordPress itself reads only the first 8 kB of a file for its headers
LOCK_DEPTH = 3  # lock files this deep under the root (a project in a subfolder), not deeper
# Folders that hold other people's dependencies or user content, never the site's own lock files.
SKIP_DIRS = frozenset(
    {".git", "node_modules", "vendor", "wp-admin", "wp-includes", "wp-content", "cache", "uploads"}
)
_LOCK_NAMES = re.compile(
    r"^(composer\.lock|package-lock\.json|yarn\.lock|poetry\.lock|requirements[\w.-]*\.txt)$"
)
_HEADER = re.compile(
    rb"^[ \t/*#@]*(Plugin Name|Theme Name|Version|Stable tag):[ \t]*(.*?)[ \t]*(?:\*/)?[ \t]*\r?$",
    re.M | re.I,
)
_WP_VERSION = re.compile(rb"""\$wp_version\s*=\s*['"]([^'"]+)['"]""")
_TABLE_PREFIX = re.compile(rb"""\$table_prefix\s*=\s*['"]([A-Za-z0-9_]+)['"]""")


class InventoryError(TreeError):
    """The site's files cannot be found or read; the message names the site and what is missing."""


@dataclass
class Found:
    ecosystem: str
    slug: str
    version: str
    path: str
    name: str = ""
    active: bool | None = None


@dataclass(frozen=True)
class Inventory:
    components: list[Found]
    database: bool  # whether active states came from the database
    added: int
    changed: int
    removed: int


# -- where the files are ------------------------------------------------------------------------------------
# -- WordPress ----------------------------------------------------------------------------------------------
def headers(data: bytes) -> dict[str, str]:
    """WordPress-style file headers ("Plugin Name: …", "Version: …"): the first value of each, keys in
    lower case."""
    found: dict[str, str] = {}
    for match in _HEADER.finditer(data[:HEADER_BYTES]):
        name = match.group(1).decode().lower()
        found.setdefault(name, match.group(2).decode("utf-8", "replace").strip())
    return found


def _wordpress(tree: Tree) -> list[Found]:
    data = tree.read("wp-includes/version.php")
    if data is None:
        return []
    match = _WP_VERSION.search(data)
    if not match:
        raise InventoryError("wp-includes/version.php has no $wp_version: not a WordPress version file")
    found = [Found(Ecosystem.WORDPRESS_CORE, "wordpress", match.group(1).decode(), "wp-includes/version.php",
                   "WordPress", True)]  # fmt: skip
    found += _plugins(tree)
    found += _themes(tree)
    return found


def _plugins(tree: Tree) -> list[Found]:
    by_slug: dict[str, list[str]] = {}
    for rel in tree.files("wp-content/plugins", 2, SKIP_DIRS):
        parts = PurePosixPath(rel).parts[2:]
        if len(parts) == 1 and parts[0].endswith(".php"):
            by_slug.setdefault(parts[0], []).append(rel)  # a single-file plugin (hello.php)
        elif len(parts) == 2 and (parts[1].endswith(".php") or parts[1].lower() == "readme.txt"):
            by_slug.setdefault(parts[0], []).append(rel)
    plugins = []
    for slug, rels in sorted(by_slug.items()):
        main, version, name = "", "", ""
        # WordPress's own rule: the plugin file is the top-level PHP file with a Plugin Name header.
        for rel in sorted(r for r in rels if r.endswith(".php")):
            head = headers(tree.read(rel, HEADER_BYTES) or b"")
            if head.get("plugin name"):
                main, name, version = rel, head["plugin name"], head.get("version", "")
                break
        if not main:
            continue  # index.php and other stray files are not plugins
        if not version:
            readme = next((r for r in rels if r.lower().endswith("readme.txt")), None)
            version = headers(tree.read(readme, HEADER_BYTES) or b"").get("stable tag", "") if readme else ""
        plugin_file = str(PurePosixPath(main).relative_to("wp-content/plugins"))
        plugins.append(Found(Ecosystem.WORDPRESS_PLUGIN, slug.removesuffix(".php") if slug == plugin_file
                             else slug, version, plugin_file, name))  # fmt: skip
    return plugins


def _themes(tree: Tree) -> list[Found]:
    themes = []
    for rel in sorted(tree.files("wp-content/themes", 2, SKIP_DIRS)):
        parts = PurePosixPath(rel).parts
        if len(parts) != 4 or parts[3] != "style.css":
            continue
        head = headers(tree.read(rel, HEADER_BYTES) or b"")
        if head.get("theme name"):
            themes.append(Found(Ecosystem.WORDPRESS_THEME, parts[2], head.get("version", ""), parts[2],
                                head["theme name"]))  # fmt: skip
    return themes


def _unescape_batch(text: str) -> str:
    # `mariadb -B` escapes tab, newline, NUL and backslash in values.
    return re.sub(r"\\(.)", lambda m: {"t": "\t", "n": "\n", "0": "\0"}.get(m.group(1), m.group(1)), text)


def wordpress_active(site: Site, environment: str, tree: Tree) -> dict[str, Any] | None:
    """{"plugins": [plugin files], "template": …, "stylesheet": …} from the database, or None when the site
    has no MariaDB source or the database cannot be reached (the caller keeps `active` unknown)."""
    from sitekeeper.backups.sources import mariadb

    source = Source.objects.filter(site=site, environment=environment, kind=Source.Kind.MARIADB).first()
    if source is None:
        return None
    config = tree.read("wp-config.php", 65536) or b""
    prefix_match = _TABLE_PREFIX.search(config)
    prefix = prefix_match.group(1).decode() if prefix_match else "wp_"
    try:
        db = mariadb._db(source)
        # The prefix matched [A-Za-z0-9_]+ and is quoted: no outside input reaches the SQL unchecked.
        sql = (f"SELECT option_name, option_value FROM `{prefix}options` "  # noqa: S608
               "WHERE option_name IN ('active_plugins', 'template', 'stylesheet')")  # fmt: skip
        rows = mariadb._query(shell_for(source), mariadb._options(db), db.name, sql)
    except (SourceError, proc.ProcError, proc.MissingProgramError, OSError) as exc:
        log.warning(
            "inventory %s [%s]: database not readable, active state unknown: %s", site, environment, exc
        )
        return None
    options = {row[0]: _unescape_batch(row[1]) for row in rows if len(row) == 2}
    try:
        plugins = php_unserialize(options.get("active_plugins", "a:0:{}").encode())
    except (ValueError, IndexError) as exc:
        log.warning("inventory %s: active_plugins is not a serialized array: %s", site, exc)
        return None
    return {
        "plugins": sorted(str(p) for p in (plugins.values() if isinstance(plugins, dict) else [])),
        "template": options.get("template", ""),
        "stylesheet": options.get("stylesheet", ""),
    }


# -- lock files ---------------------------------------------------------------------------------------------
def _pypi_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503 normalised, as OSV names PyPI packages


def parse_lock(name: str, data: bytes, path: str) -> list[Found]:
    """Packages in one lock file; `name` is the file name. Errors name the file."""
    try:
        if name == "composer.lock":
            doc = json.loads(data)
            return [Found(Ecosystem.PACKAGIST, p["name"].lower(), str(p["version"]).removeprefix("v"), path)
                    for p in [*doc.get("packages", []), *(doc.get("packages-dev") or [])]]  # fmt: skip
        if name == "package-lock.json":
            return list(_npm_lock(json.loads(data), path))
        if name == "yarn.lock":
            return list(_yarn_lock(data.decode("utf-8", "replace"), path))
        if name == "poetry.lock":
            doc = tomllib.loads(data.decode("utf-8", "replace"))
            return [Found(Ecosystem.PYPI, _pypi_name(p["name"]), str(p["version"]), path)
                    for p in doc.get("package", [])]  # fmt: skip
        return list(_requirements(data.decode("utf-8", "replace"), path))
    except (ValueError, KeyError, TypeError, tomllib.TOMLDecodeError) as exc:
        raise InventoryError(f"{path}: not a readable {name}: {exc}") from exc


def _npm_lock(doc: dict[str, Any], path: str) -> Iterator[Found]:
    packages = doc.get("packages")
    if isinstance(packages, dict):  # lockfileVersion 2 and 3
        for location, meta in packages.items():
            if not location or meta.get("link") or "version" not in meta:
                continue
            name = meta.get("name") or location.rsplit("node_modules/", 1)[-1]
            nested = location.count("node_modules/") > 1
            yield Found(Ecosystem.NPM, name, meta["version"], f"{path}:{location}" if nested else path)
        return

    def walk(deps: dict[str, Any], trail: str) -> Iterator[Found]:  # lockfileVersion 1
        for name, meta in deps.items():
            here = f"{trail}node_modules/{name}"
            yield Found(Ecosystem.NPM, name, meta["version"], f"{path}:{here}" if trail else path)
            yield from walk(meta.get("dependencies") or {}, here + "/")

    yield from walk(doc.get("dependencies") or {}, "")


def _yarn_lock(text: str, path: str) -> Iterator[Found]:
    names: list[str] = []
    seen: set[tuple[str, str]] = set()
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" ") and line.rstrip().endswith(":"):
            specs = [s.strip().strip('"') for s in line.rstrip()[:-1].split(",")]
            names = [spec[: spec.rindex("@")] if spec.rfind("@") > 0 else spec for spec in specs]
        elif line.startswith("  version ") and names:
            version = line.split(None, 1)[1].strip().strip('"')
            for name in dict.fromkeys(names):
                if (name, version) not in seen:
                    seen.add((name, version))
                    yield Found(Ecosystem.NPM, name, version, path)
            names = []


def _requirements(text: str, path: str) -> Iterator[Found]:
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*===?\s*([^\s,]+)$", line)
        if match:  # only pinned lines: a range says nothing about what is installed
            yield Found(Ecosystem.PYPI, _pypi_name(match.group(1)), match.group(2), path)


def _lock_files(tree: Tree) -> list[Found]:
    found: list[Found] = []
    for rel in sorted(tree.files("", LOCK_DEPTH, SKIP_DIRS)):
        name = PurePosixPath(rel).name
        if _LOCK_NAMES.match(name):
            data = tree.read(rel)
            if data is not None:
                found += parse_lock(name, data, rel)
    return found


# -- the scan -----------------------------------------------------------------------------------------------
def _dedupe(found: Iterable[Found]) -> list[Found]:
    # One row per (ecosystem, slug, path): the same package twice in one lock file (yarn ranges resolving to
    # two versions) is kept apart by version in the path.
    out: dict[tuple[str, str, str], Found] = {}
    for item in found:
        k = (item.ecosystem, item.slug, item.path)
        if k in out and out[k].version != item.version:
            item.path = f"{item.path}@{item.version}"
            k = (item.ecosystem, item.slug, item.path)
        out.setdefault(k, item)
    return list(out.values())


def scan_inventory(
    site: Site,
    environment: str = "prod",
    *,
    root: str | os.PathLike[str] | None = None,
    now: dt.datetime | None = None,
) -> Inventory:
    """Read what the site runs and update its inventory: new components added, version changes written to
    the history, components no longer found marked removed (and revived if they come back)."""
    now = now or dt.datetime.now(dt.UTC)
    tree = tree_for(site, environment, root)
    found = _wordpress(tree)
    active = wordpress_active(site, environment, tree) if found else None
    if active is not None:
        for item in found:
            if item.ecosystem == Ecosystem.WORDPRESS_PLUGIN:
                item.active = item.path in active["plugins"]
            elif item.ecosystem == Ecosystem.WORDPRESS_THEME:
                item.active = item.slug in {active["template"], active["stylesheet"]}
    found = _dedupe(found + _lock_files(tree))
    added = changed = 0
    with transaction.atomic():
        existing = {
            (c.ecosystem, c.slug, c.path): c
            for c in Component.objects.select_for_update().filter(site=site, environment=environment)
        }
        for item in found:
            component = existing.pop((item.ecosystem, item.slug, item.path), None)
            if component is None:
                component = Component.objects.create(
                    site=site, environment=environment, ecosystem=item.ecosystem, slug=item.slug,
                    name=item.name, version=item.version, active=item.active, path=item.path,
                    first_seen=now, last_seen=now,
                )  # fmt: skip
                ComponentVersion.objects.create(component=component, version=item.version, seen_at=now)
                added += 1
                continue
            if component.version != item.version or component.removed_at is not None:
                ComponentVersion.objects.create(component=component, version=item.version, seen_at=now)
                changed += component.version != item.version
            component.version, component.name, component.active = item.version, item.name, item.active
            component.last_seen, component.removed_at = now, None
            component.save()
        gone = [c.pk for c in existing.values() if c.removed_at is None]
        Component.objects.filter(pk__in=gone).update(removed_at=now)
    return Inventory(found, active is not None, added, changed, len(gone))
