"""Component inventory (sitekeeper.security.inventory): WordPress headers, lock files, history; the PHP
unserializer; a site reached through its code backup source."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from sitekeeper.backups.models import Source
from sitekeeper.backups.shell import LocalShell
from sitekeeper.security.inventory import (
    LOCK_DEPTH,
    SKIP_DIRS,
    InventoryError,
    headers,
    parse_lock,
    scan_inventory,
)
from sitekeeper.security.models import Component, ComponentVersion
from sitekeeper.security.tree import LocalTree, RemoteTree, TreeError

T0 = dt.datetime(2026, 5, 4, 3, 0, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(days=1)


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def wordpress_tree(root: Path, *, akismet: str = "5.0.2") -> None:
    write(root, "wp-includes/version.php", "<?php\n$wp_version = '6.1.9';\n$wp_db_version = 53496;\n")
    write(root, "wp-config.php", "<?php\n$table_prefix = 'wp_';\n")
    write(root, "wp-content/plugins/index.php", "<?php // Silence is golden.")
    write(
        root,
        "wp-content/plugins/akismet/akismet.php",
        f"<?php\n/**\n * @package Akismet\n */\n/*\nPlugin Name: Akismet Anti-Spam\nVersion: {akismet}\n*/\n",
    )
    write(root, "wp-content/plugins/akismet/class.akismet.php", "<?php class Akismet {}")
    write(
        root, "wp-content/plugins/hello.php", "<?php\n/*\n * Plugin Name: Hello Dolly\n * Version: 1.7.2\n */"
    )
    # no Version header: the readme's Stable tag is used
    write(root, "wp-content/plugins/old-one/old-one.php", "<?php\n/*\nPlugin Name: Old One\n*/\n")
    write(root, "wp-content/plugins/old-one/readme.txt", "=== Old One ===\nStable tag: 2.3\n")
    write(
        root,
        "wp-content/themes/twentytwentythree/style.css",
        "/*\nTheme Name: Twenty Twenty-Three\nVersion: 1.0\n*/",
    )
    write(root, "wp-content/themes/broken/index.php", "<?php")  # no style.css: not a theme


def test_headers_first_value_wins() -> None:
    data = b"<?php\n/**\n * Plugin Name: X\n * Version:   1.2.3  \n */\n// Version: 9\n"
    assert headers(data) == {"plugin name": "X", "version": "1.2.3"}


def test_lock_files() -> None:
    composer = {"packages": [{"name": "Monolog/Monolog", "version": "v2.9.1"}], "packages-dev": None}
    assert [(f.slug, f.version) for f in parse_lock("composer.lock", json.dumps(composer).encode(), "c")] == [
        ("monolog/monolog", "2.9.1")
    ]
    npm = {
        "lockfileVersion": 3,
        "packages": {
            "": {"name": "app", "version": "1.0.0"},
            "node_modules/lodash": {"version": "4.17.20"},
            "node_modules/a/node_modules/lodash": {"version": "3.10.1"},
            "node_modules/@scope/pkg": {"version": "1.0.0"},
            "node_modules/linked": {"link": True, "resolved": "../x"},
        },
    }
    found = parse_lock("package-lock.json", json.dumps(npm).encode(), "package-lock.json")
    assert [(f.slug, f.version, f.path) for f in found] == [
        ("lodash", "4.17.20", "package-lock.json"),
        ("lodash", "3.10.1", "package-lock.json:node_modules/a/node_modules/lodash"),
        ("@scope/pkg", "1.0.0", "package-lock.json"),
    ]
    v1 = {
        "lockfileVersion": 1,
        "dependencies": {"a": {"version": "1.0.0", "dependencies": {"b": {"version": "2.0.0"}}}},
    }
    assert [(f.slug, f.path) for f in parse_lock("package-lock.json", json.dumps(v1).encode(), "p")] == [
        ("a", "p"),
        ("b", "p:node_modules/a/node_modules/b"),
    ]
    yarn = (
        "# yarn lockfile v1\n\n"
        '"@babel/core@^7.0.0", "@babel/core@^7.1.0":\n  version "7.2.0"\n  resolved "https://x"\n\n'
        'minimist@^1.2.0:\n  version "1.2.5"\n'
    )
    assert [(f.slug, f.version) for f in parse_lock("yarn.lock", yarn.encode(), "y")] == [
        ("@babel/core", "7.2.0"),
        ("minimist", "1.2.5"),
    ]
    reqs = "Django==4.2.1  # pinned\nrequests>=2\nPyYAML[extra] == 5.3 ; python_version > '3'\n-r other.txt\n"
    assert [(f.slug, f.version) for f in parse_lock("requirements.txt", reqs.encode(), "r")] == [
        ("django", "4.2.1"),
        ("pyyaml", "5.3"),
    ]
    poetry = (
        '[[package]]\nname = "Jinja2"\nversion = "2.10"\n\n[[package]]\nname = "zipp"\nversion = "3.1.0"\n'
    )
    assert [(f.slug, f.version) for f in parse_lock("poetry.lock", poetry.encode(), "p")] == [
        ("jinja2", "2.10"),
        ("zipp", "3.1.0"),
    ]
    with pytest.raises(InventoryError, match=r"app/composer\.lock: not a readable composer\.lock"):
        parse_lock("composer.lock", b"{not json", "app/composer.lock")


@pytest.mark.django_db
def test_scan_wordpress_and_history(acme, tmp_path: Path) -> None:
    site = acme.sites.get()
    wordpress_tree(tmp_path)
    write(
        tmp_path,
        "tools/package-lock.json",
        json.dumps({"packages": {"node_modules/x": {"version": "1.0.0"}}}),
    )
    write(tmp_path, "wp-content/plugins/akismet/vendor/composer.lock", "{broken")  # deps of a plugin: skipped
    result = scan_inventory(site, root=tmp_path, now=T0)
    assert not result.database  # no MariaDB source: active stays unknown
    got = {(c.ecosystem, c.slug): (c.version, c.active, c.path) for c in Component.objects.filter(site=site)}
    assert got == {
        ("wordpress-core", "wordpress"): ("6.1.9", True, "wp-includes/version.php"),
        ("wordpress-plugin", "akismet"): ("5.0.2", None, "akismet/akismet.php"),
        ("wordpress-plugin", "hello"): ("1.7.2", None, "hello.php"),
        ("wordpress-plugin", "old-one"): ("2.3", None, "old-one/old-one.php"),
        ("wordpress-theme", "twentytwentythree"): ("1.0", None, "twentytwentythree"),
        ("npm", "x"): ("1.0.0", None, "tools/package-lock.json"),
    }
    assert result.added == 6

    # an update and a removal the next day: history grows, the removed plugin is kept but marked
    wordpress_tree(tmp_path, akismet="5.0.3")
    (tmp_path / "wp-content/plugins/hello.php").unlink()
    result = scan_inventory(site, root=tmp_path, now=T1)
    assert (result.added, result.changed, result.removed) == (0, 1, 1)
    akismet = Component.objects.get(site=site, slug="akismet")
    assert akismet.version == "5.0.3"
    assert list(ComponentVersion.objects.filter(component=akismet).values_list("version", "seen_at")) == [
        ("5.0.2", T0),
        ("5.0.3", T1),
    ]
    assert Component.objects.get(site=site, slug="hello").removed_at == T1
    assert akismet.first_seen == T0
    assert akismet.last_seen == T1


@pytest.mark.django_db
def test_scan_finds_files_through_the_code_source(acme, tmp_path: Path) -> None:
    site = acme.sites.get()
    with pytest.raises(TreeError, match="no folder to scan"):
        scan_inventory(site)
    wordpress_tree(tmp_path)
    Source.objects.create(site=site, name="code", layer="code", kind="files", path=str(tmp_path))
    assert {f.slug for f in scan_inventory(site).components} >= {"wordpress", "akismet"}


def test_shell_tree_reads_like_local_tree(tmp_path: Path) -> None:
    """RemoteTree's find/head/cat command lines, run through a LocalShell (over SSH they run unchanged)."""
    wordpress_tree(tmp_path)
    write(tmp_path, "node_modules/x/package-lock.json", "{}")  # pruned
    write(tmp_path, "app/composer.lock", "{}")
    local, remote = LocalTree(tmp_path), RemoteTree(LocalShell(), str(tmp_path))
    for under, depth in (("", LOCK_DEPTH), ("wp-content/plugins", 2), ("wp-content/themes", 2)):
        assert sorted(remote.files(under, depth, SKIP_DIRS)) == sorted(local.files(under, depth, SKIP_DIRS))
    assert "app/composer.lock" in remote.files("", LOCK_DEPTH, SKIP_DIRS)
    assert not any("node_modules" in f for f in remote.files("", LOCK_DEPTH, SKIP_DIRS))
    assert remote.files("wp-content/nothing-here", 2, SKIP_DIRS) == []
    assert remote.read("wp-includes/version.php") == local.read("wp-includes/version.php")
    assert remote.read("wp-includes/version.php", 10) == b"<?php\n$wp_"
    assert remote.read("missing.php") is None
