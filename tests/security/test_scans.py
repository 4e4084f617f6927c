"""The security pass over a site, as the nightly task and `sitekeeper audit scan` run it: every step on a
copy of the real WordPress core tree; a step that cannot run is reported, never hides the others."""

from __future__ import annotations

import io
import json
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sitekeeper.backups.models import Layer, Source
from sitekeeper.contracts.models import Client
from sitekeeper.demo.security_seed import FEED
from sitekeeper.security import scans, tasks
from sitekeeper.security.models import Component, Feed, Finding, Vulnerability

pytestmark = pytest.mark.slow

WORDPRESS = Path("/usr/share/wordpress")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    if not (WORDPRESS / "wp-includes" / "version.php").exists():
        pytest.fail("Debian package 'wordpress' is not installed (scripts/bootstrap.sh installs it)")
    root = tmp_path / "site"
    shutil.copytree(WORDPRESS, root, symlinks=False, ignore_dangling_symlinks=True)
    return root


def test_scan_runs_every_step_and_reports_what_it_could_not(acme: Client, tree: Path) -> None:
    site = acme.sites.get()
    with pytest.raises(CommandError, match="no code source"):
        call_command("audit", "scan", "--site", str(site.pk), stdout=io.StringIO())
    Source.objects.create(site=site, name="code", layer=Layer.CODE, kind="files", path=str(tree))
    results = scans.scan_site(site)
    assert results["inventory"].startswith("ok")
    assert results["integrity"].startswith("ok")
    assert results["malware"].startswith("ok")
    assert results["suspicious"] == "ok: skipped (no database source to read)"
    assert Component.objects.filter(site=site, ecosystem="wordpress-core").exists()
    assert not Finding.objects.filter(site=site).exists()  # a clean core, first scan = baseline

    (tree / "wp-content" / "uploads").mkdir(parents=True, exist_ok=True)
    (tree / "wp-content" / "uploads" / "x.php").write_text("<?php @eval($_POST['c']); ?>\n")
    out = io.StringIO()
    call_command("audit", "scan", "--site", site.url, stdout=out)
    assert "malware" in out.getvalue()
    kinds = set(Finding.objects.filter(site=site).values_list("kind", flat=True))
    assert kinds == {"integrity", "malware"}
    with pytest.raises(ValueError, match="unknown scan step"):
        scans.scan_site(site, only=["antivirus"])


def test_feeds_configured_by_url_are_refreshed_nightly_and_a_failure_keeps_the_old_entries(
    db, tmp_path
) -> None:
    (tmp_path / "feed.json").write_text(FEED.read_text())

    class Quiet(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, directory=str(tmp_path), **kwargs)

        def log_message(self, *args) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/feed.json"
        Feed.objects.create(name="agency-wordfence", format="wordfence", url=url)
        tasks.feeds_nightly.call_local()
        assert Vulnerability.objects.filter(feed__name="agency-wordfence").count() == 1
        (tmp_path / "feed.json").write_text(json.dumps({"broken": {"software": "not a list"}}))
        tasks.feeds_nightly.call_local()  # logged, not raised
        assert Vulnerability.objects.filter(feed__name="agency-wordfence").count() == 1
    finally:
        server.shutdown()
        server.server_close()
