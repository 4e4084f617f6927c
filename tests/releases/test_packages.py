"""Update packages: what a zip is (from inside it), what is refused, storage, and what a site waits for."""

from __future__ import annotations

import datetime as dt
import hashlib
import http.server
import io
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sitekeeper.releases.models import UpdatePackage
from sitekeeper.releases.packages import PackageError, add_package, fetch_package, pending
from sitekeeper.security.models import Component, Ecosystem
from tests.releases.data import zips

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def needs_wordpress_tree() -> None:
    if not zips.AKISMET.is_dir():
        pytest.skip("Debian package 'wordpress' is not installed (/usr/share/wordpress)")


@pytest.fixture(autouse=True)
def package_dir(settings, tmp_path: Path) -> Path:
    settings.SITEKEEPER_PACKAGES_DIR = str(tmp_path / "packages")
    return tmp_path / "packages"


def small_zip(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


PLUGIN = "<?php\n/*\nPlugin Name: Hello Test\nVersion: 1.2.0\n*/\n"


def test_plugin_from_the_debian_tree(package_dir: Path) -> None:
    needs_wordpress_tree()
    data = zips.akismet("5.0.3")
    package = add_package(data, filename="akismet.5.0.3.zip", security=True)
    assert (package.ecosystem, package.slug, package.version) == (
        Ecosystem.WORDPRESS_PLUGIN,
        "akismet",
        "5.0.3",
    )
    assert package.security
    assert package.size == len(data)
    assert package.sha256 == hashlib.sha256(data).hexdigest()
    assert Path(package.file) == package_dir / "wordpress-plugin" / "akismet" / "5.0.3.zip"
    assert Path(package.file).read_bytes() == data


def test_theme_and_core() -> None:
    needs_wordpress_tree()

    def bump(rel: str, data: bytes) -> bytes:
        return zips.set_version(data, "9.9") if rel == "style.css" else data

    theme = add_package(zips.zip_folder(zips.THEME, "twentytwentythree", edit=bump))
    assert (theme.ecosystem, theme.slug, theme.version) == (
        Ecosystem.WORDPRESS_THEME,
        "twentytwentythree",
        "9.9",
    )
    core = add_package(
        small_zip(
            {
                "wordpress/wp-includes/version.php": "<?php\n$wp_version = '6.1.10';\n",
                "wordpress/index.php": "",
            }
        )
    )
    assert (core.ecosystem, core.slug, core.version) == (Ecosystem.WORDPRESS_CORE, "wordpress", "6.1.10")


def test_same_version_same_content_is_a_no_op_different_content_refused() -> None:
    first = add_package(small_zip({"hello/hello.php": PLUGIN}))
    again = add_package(small_zip({"hello/hello.php": PLUGIN}), security=True)
    assert again.pk == first.pk
    assert again.security
    assert UpdatePackage.objects.count() == 1
    with pytest.raises(PackageError, match="already stored with different content"):
        add_package(small_zip({"hello/hello.php": PLUGIN + "// changed\n"}))


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"../evil/evil.php": PLUGIN}, "unsafe path"),
        ({"/abs/hello.php": PLUGIN}, "unsafe path"),
        ({"hello/../../x.php": PLUGIN}, "unsafe path"),
        ({"hello/hello.php": PLUGIN, "other/other.php": PLUGIN}, "exactly one top folder"),
        ({"hello/hello.php": "<?php echo 1;"}, "not a WordPress package"),
        ({"hello/hello.php": PLUGIN.replace("Version: 1.2.0\n", "")}, "no 'Version:'"),
        ({"hello/sub/hello.php": PLUGIN}, "not a WordPress package"),
        ({"hello.php": PLUGIN}, "is a file, not a folder"),
    ],
)
def test_refused(files: dict[str, str], message: str) -> None:
    with pytest.raises(PackageError, match=message):
        add_package(small_zip(files), filename="bad.zip")
    assert not UpdatePackage.objects.exists()


def test_not_a_zip_and_links_refused() -> None:
    with pytest.raises(PackageError, match="not a zip"):
        add_package(b"hello")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello/hello.php", PLUGIN)
        link = zipfile.ZipInfo("hello/link.php")
        link.external_attr = (0o120777) << 16
        archive.writestr(link, "/etc/passwd")
    with pytest.raises(PackageError, match="symbolic link"):
        add_package(buffer.getvalue())
    assert issubclass(PackageError, ValueError)


@pytest.fixture
def zip_server() -> Iterator[str]:
    body = small_zip({"hello/hello.php": PLUGIN})

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            ok = self.path == "/hello.1.2.0.zip"
            self.send_response(200 if ok else 404)
            self.send_header("Content-Length", str(len(body) if ok else 0))
            self.end_headers()
            if ok:
                self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_fetch(zip_server: str) -> None:
    package = fetch_package(f"{zip_server}/hello.1.2.0.zip", security=True)
    assert (package.slug, package.version, package.security) == ("hello", "1.2.0", True)
    assert package.source_url.endswith("/hello.1.2.0.zip")
    with pytest.raises(PackageError, match="HTTP 404"):
        fetch_package(f"{zip_server}/missing.zip")
    with pytest.raises(PackageError, match="only http"):
        fetch_package("file:///etc/passwd")


def component(
    site, slug: str, version: str, ecosystem: str = Ecosystem.WORDPRESS_PLUGIN, **extra
) -> Component:
    return Component.objects.create(
        site=site, ecosystem=ecosystem, slug=slug, version=version, path=f"{slug}/{slug}.php",
        first_seen=NOW, last_seen=NOW, **extra,
    )  # fmt: skip


def stored(slug: str, version: str, ecosystem: str = Ecosystem.WORDPRESS_PLUGIN) -> UpdatePackage:
    return UpdatePackage.objects.create(
        ecosystem=ecosystem, slug=slug, version=version, file=f"/x/{slug}/{version}.zip", sha256="0" * 64
    )


def test_pending_picks_the_newest_newer_package(acme) -> None:
    site = acme.sites.get()
    component(site, "akismet", "5.0.2")
    component(site, "hello", "1.0")
    component(site, "gone", "1.0", removed_at=NOW)
    component(site, "twentytwentythree", "1.0", ecosystem=Ecosystem.WORDPRESS_THEME)
    component(site, "akismet", "5.0.2", environment="stage")
    stored("akismet", "5.0.1")
    stored("akismet", "5.0.10")
    newest = stored("akismet", "5.0.3")
    newest.version = "5.0.10"  # make sure the numeric order (10 > 3) wins, not the text order
    UpdatePackage.objects.filter(version="5.0.10").delete()
    newest.save()
    stored("hello", "1.0")  # same version: nothing to do
    stored("gone", "2.0")  # removed from the site
    stored("twentytwentythree", "1.1", ecosystem=Ecosystem.WORDPRESS_PLUGIN)  # another ecosystem's slug
    found = pending(site)
    assert [(p.component.slug, p.component.environment, p.package.version) for p in found] == [
        ("akismet", "prod", "5.0.10")
    ]
    assert [p.component.environment for p in pending(site, "stage")] == ["stage"]
