"""`sitekeeper update …`: packages (add, fetch errors, list), a site's pending updates, planning, approving,
cancelling and advancing a release (progress bar, exit code 3 when it fails), listing; every bad input is a
CommandError that names it, and the help documents the exit codes."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sitekeeper import jobs
from sitekeeper.access.models import AuditEntry
from sitekeeper.health.models import HealthConfig
from sitekeeper.releases.management.commands.update import Command, render_bar
from sitekeeper.releases.models import Release, UpdatePackage
from tests.releases.releases_common import (
    Records,
    installed,
    package,
    packages_dir,
    plugin_zip,
    records,
)

__all__ = ["installed", "package", "packages_dir", "records"]

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("update", *args, stdout=out)
    return out.getvalue()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_package_add_list_and_pending(packages_dir, installed, acme, tmp_path: Path):
    zip_path = tmp_path / "akismet.5.0.3.zip"
    zip_path.write_bytes(plugin_zip())
    out = run("package", "add", str(zip_path), "--security", "--notes", "Fixes XSS")
    stored = UpdatePackage.objects.get()
    assert f"package {stored.pk}: wordpress-plugin akismet 5.0.3 [security]" in out
    assert stored.sha256 in out
    assert (stored.notes, stored.security) == ("Fixes XSS", True)
    # The same zip again is the stored package; the CLI's change is in the audit log under cli:<user>.
    assert f"package {stored.pk}:" in run("package", "add", str(zip_path))
    entry = AuditEntry.objects.get(model="releases.UpdatePackage")
    assert entry.actor_label.startswith("cli:")
    assert "akismet" in run("package", "list")
    site = acme.sites.get()
    assert f"wordpress-plugin akismet: 5.0.2 -> 5.0.3 (package {stored.pk}) [security]" in run(
        "pending", str(site.pk)
    )
    assert "up to date" in run("pending", site.url, "--environment", "stage")


def test_package_add_refuses_what_is_not_a_package(packages_dir, tmp_path: Path):
    with pytest.raises(CommandError, match="no such file"):
        run("package", "add", str(tmp_path / "missing.zip"))
    bad = tmp_path / "notes.zip"
    bad.write_bytes(b"not a zip at all")
    with pytest.raises(CommandError, match="not a zip"):
        run("package", "add", str(bad))
    with pytest.raises(CommandError, match="only http"):
        run("package", "fetch", "ftp://example.test/a.zip")
    assert not UpdatePackage.objects.exists()


def test_unknown_site_release_or_user(records: Records):
    with pytest.raises(CommandError, match=r"no site 'https://nowhere\.test'"):
        run("pending", "https://nowhere.test")
    with pytest.raises(CommandError, match="no release '999999'"):
        run("advance", "999999")
    with pytest.raises(CommandError, match="no release 'abc'"):
        run("advance", "abc")
    with pytest.raises(CommandError, match="no user 'nobody'"):
        run("approve", str(records.running.pk), "--user", "nobody")
    with pytest.raises(CommandError, match="no package 424242"):
        run("plan", str(records.site.pk), "--package", "424242")


def test_plan_approve_cancel_and_list(package, acme, engineer, owner):
    site = acme.sites.get()
    out = run("plan", str(site.pk), "--kind", "manual", "--package", str(package.pk))
    release = Release.objects.get(site=site)
    assert f"release {release.pk} of {site}" in out
    assert "akismet: 5.0.2 -> 5.0.3" in out
    assert "window" in out
    with pytest.raises(CommandError, match="not agency staff"):
        run("approve", str(release.pk), "--user", owner.username)
    assert "approved by engineer" in run("approve", str(release.pk), "--user", "engineer")
    release.refresh_from_db()
    assert release.approved_by == engineer
    assert AuditEntry.objects.filter(model="releases.Release", actor=engineer, action="update").exists()
    listed = run("list", "--site", site.url)
    assert f"{release.pk:>5}" in listed
    assert "akismet 5.0.2->5.0.3" in listed
    with pytest.raises(CommandError, match="say why"):
        run("cancel", str(release.pk), "--user", "engineer", "--reason", " ")
    assert "cancelled" in run("cancel", str(release.pk), "--user", "engineer", "--reason", "client asked")
    release.refresh_from_db()
    assert release.status == "cancelled"


def test_plan_with_nothing_pending(acme, packages_dir):
    assert "nothing to release" in run("plan", str(acme.sites.get().pk))


def _fake_advance(status: str, log: str = "") -> Any:
    def advance(release: Release, *, now: Any = None) -> Release:
        for done in range(3):
            jobs.report(
                Release, release.pk, {"phase": "stage", "step": "apply akismet", "done": done, "total": 2}
            )
        Release.objects.filter(pk=release.pk).update(status=status, log=log, outcome=f"ended {status}")
        release.refresh_from_db()
        return release

    return advance


def test_advance_draws_progress_and_reports_the_outcome(records: Records, monkeypatch):
    monkeypatch.setattr("sitekeeper.releases.updates.advance", _fake_advance("awaiting_window"))
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    out = run("advance", str(records.running.pk))
    assert "[###############...............]  50.0%  stage · apply akismet 1/2" in terminal.getvalue()
    assert f"release {records.running.pk}" in out
    assert "awaiting_window" in out
    assert "ended awaiting_window" in out


def test_advance_exits_3_when_the_release_failed(records: Records, monkeypatch):
    monkeypatch.setattr(
        "sitekeeper.releases.updates.advance", _fake_advance("rolled_back", "restored prod from ab12cd34\n")
    )
    out = io.StringIO()
    with pytest.raises(CommandError, match="rolled back") as failed:
        call_command("update", "advance", str(records.running.pk), stdout=out)
    assert failed.value.returncode == 3
    assert "restored prod from ab12cd34" in out.getvalue()


def test_advance_with_the_real_pipeline_stops_on_stage_without_a_code_folder(package, acme, engineer):
    """The real updates.advance: acme's site has no stage code source, so applying fails on stage, prod is
    untouched and the command exits 3 with the release's log."""
    site = acme.sites.get()
    HealthConfig.objects.create(site=site, smoke_lighthouse=False)
    run("plan", str(site.pk))
    release = Release.objects.get(site=site)
    out = io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("update", "advance", str(release.pk), stdout=out)
    assert failed.value.returncode == 3
    release.refresh_from_db()
    assert release.status == "stage_failed"
    assert release.prod_started_at is None
    assert "no stage code folder" in out.getvalue()


def test_help_documents_the_exit_codes():
    text = Command().create_parser("sitekeeper", "update").format_help()
    assert "exit codes:" in text
    assert "3  advance: the release failed" in text


def test_render_bar_without_counts():
    assert render_bar({"phase": "prod", "step": "restore point (code)"}).endswith(
        "prod · restore point (code)"
    )
    assert render_bar({"percent": 100, "phase": "prod"}).startswith("[" + "#" * 30 + "] 100.0%")
