# ruff: noqa: F811
"""Integrity, malware and inventory scans of a site reached over SSH (the loopback sshd of the backups tests):
the same findings as for a local tree, read with find/sha256sum/cat on the host."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sitekeeper.backups.models import Layer, Repository, SiteBackup, Source
from sitekeeper.contracts.models import Client, Site
from sitekeeper.security import integrity, malware
from sitekeeper.security.inventory import scan_inventory
from sitekeeper.security.models import Component, Finding
from tests.backups.services import SshServer, sshd  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow

SHELL = "<?php @eval(base64_decode($_POST['x'])); ?>\n"


@pytest.fixture
def remote_tree(acme: Client, tmp_path: Path, sshd: SshServer) -> tuple[Site, Path]:
    site = acme.sites.get()
    repo = Repository.objects.create(client=acme, name="r", kind="local", location=str(tmp_path / "repo"))
    SiteBackup.objects.create(
        site=site, repository=repo, site_host=sshd.host, ssh_port=sshd.port, ssh_user=sshd.user,
        ssh_key=sshd.private_key, known_hosts=sshd.known_hosts,
    )  # fmt: skip
    root = tmp_path / "remote-site"
    shutil.copytree("/usr/share/wordpress/wp-includes", root / "wp-includes", symlinks=False)
    plugin = root / "wp-content" / "plugins" / "hello"
    plugin.mkdir(parents=True)
    (plugin / "hello.php").write_text("<?php\n/*\nPlugin Name: Hello\nVersion: 1.7.2\n*/\n")
    (root / "index.php").write_text("<?php require __DIR__ . '/wp-blog-header.php';\n")
    Source.objects.create(
        site=site, name="code", layer=Layer.CODE, kind="files", path=str(root), over_ssh=True
    )
    return site, root


def test_scans_over_ssh_find_a_web_shell_and_a_changed_file(remote_tree: tuple[Site, Path]) -> None:
    site, root = remote_tree
    first = integrity.scan(site)
    assert first.files > 100
    assert not Finding.objects.filter(site=site).exists()  # the baseline
    malware.scan(site)
    assert not Finding.objects.filter(site=site, kind="malware").exists()
    scan_inventory(site)
    assert Component.objects.get(site=site, slug="hello").version == "1.7.2"

    (root / "wp-content" / "uploads").mkdir(parents=True)
    (root / "wp-content" / "uploads" / "x.php").write_text(SHELL)
    (root / "index.php").write_text("<?php /* changed */ require __DIR__ . '/wp-blog-header.php';\n")
    integrity.scan(site)
    malware.scan(site)
    paths = {f.key: f for f in Finding.objects.filter(site=site, kind="integrity")}
    assert {"wp-content/uploads/x.php", "index.php"} <= set(paths)
    assert "changed" in str(paths["index.php"].details)  # the diff, read from the host
    assert Finding.objects.filter(site=site, kind="malware", severity="critical").exists()
