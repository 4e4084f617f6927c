"""Vulnerability feeds and matching (sitekeeper.security.feeds / vulns): Wordfence v3 and OSV files the tests
write (no network), matching a site's inventory, incidents for new matches, resolution after an update."""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pymysql
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sitekeeper.backups.models import Source
from sitekeeper.security import feeds, vulns
from sitekeeper.security.inventory import scan_inventory
from sitekeeper.security.models import Component, Feed, Finding, Vulnerability
from tests.monitoring.test_wordpress import WordPress, wordpress  # noqa: F401 (the fixture)
from tests.security.test_inventory import wordpress_tree, write

T0 = dt.datetime(2026, 5, 4, 3, 0, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(days=1)


def wordfence_entry(slug: str = "akismet", to: str = "5.0.2", patched: str = "5.0.3", **extra: Any) -> dict:
    return {
        "id": f"wf-{slug}-1",
        "title": f"{slug} <= {to} - Stored Cross-Site Scripting",
        "software": [
            {
                "type": "plugin",
                "name": slug.title(),
                "slug": slug,
                "affected_versions": {
                    f"* - {to}": {
                        "from_version": "*",
                        "from_inclusive": True,
                        "to_version": to,
                        "to_inclusive": True,
                    }
                },
                "patched": True,
                "patched_versions": [patched],
            }
        ],
        "references": ["https://www.wordfence.com/threat-intel/vulnerabilities/id/x"],
        "cvss": {"vector": "CVSS:3.1/AV:N", "score": 6.4, "rating": "Medium"},
        **extra,
    }


def osv_record(
    ident: str, ecosystem: str, name: str, introduced: str, fixed: str, *, severity: str = "HIGH"
) -> dict:
    return {
        "id": ident,
        "summary": f"{name} prototype pollution",
        "affected": [
            {
                "package": {"ecosystem": ecosystem, "name": name},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": introduced}, {"fixed": fixed}]}],
            }
        ],
        "references": [{"type": "ADVISORY", "url": f"https://osv.dev/{ident}"}],
        "database_specific": {"severity": severity},
    }


def test_severity_and_priority() -> None:
    from decimal import Decimal

    assert feeds.severity_for(Decimal("9.8")) == "critical"
    assert feeds.severity_for(Decimal("7.0")) == "high"
    assert feeds.severity_for(None, "MODERATE") == "medium"
    assert feeds.severity_for(Decimal("0")) == "info"
    assert vulns.priority_for("critical", True) == "P1"
    assert vulns.priority_for("critical", False) == "P2"
    assert vulns.priority_for("high", True) == "P2"
    assert vulns.priority_for("medium", False) == "P3"
    assert vulns.priority_for("low", False) == "P4"
    assert vulns.priority_for("info", False) is None


@pytest.mark.django_db
def test_malformed_feeds_name_the_entry(tmp_path: Path) -> None:
    bad = tmp_path / "wf.json"
    entry = wordfence_entry()
    entry["software"][0]["affected_versions"]["* - 5.0.2"]["to_version"] = "soon"
    bad.write_text(json.dumps({"good": wordfence_entry("other"), "abc123": entry}))
    with pytest.raises(feeds.FeedError, match=r"entry abc123: software\[0\].*not a version: 'soon'"):
        feeds.import_feed("wf", "wordfence", str(bad))
    bad.write_text(json.dumps({"x": {"title": "no software"}}))
    with pytest.raises(feeds.FeedError, match="entry x: expected an object with a 'software' list"):
        feeds.import_feed("wf", "wordfence", str(bad))
    bad.write_text("[1, 2")
    with pytest.raises(feeds.FeedError, match="feed wf: not JSON"):
        feeds.import_feed("wf", "wordfence", str(bad))
    with pytest.raises(feeds.FeedError, match="cannot read"):
        feeds.import_feed("wf", "wordfence", str(tmp_path / "missing.json"))
    bad.write_text(json.dumps([{"id": "GHSA-1", "affected": [{"package": {"ecosystem": "npm"}}]}]))
    with pytest.raises(feeds.FeedError, match=r"GHSA-1: affected\[0\] has no package name"):
        feeds.import_feed("osv", "osv", str(bad))


@pytest.mark.django_db
def test_import_replaces_entries_atomically(tmp_path: Path) -> None:
    doc = tmp_path / "wf.json"
    doc.write_text(json.dumps({"a": wordfence_entry("akismet"), "b": wordfence_entry("jetpack")}))
    feed = feeds.import_feed("wordfence", "wordfence", str(doc), now=T0)
    assert (feed.entries, feed.imported_at, len(feed.sha256)) == (2, T0, 64)
    doc.write_text(json.dumps({"a": wordfence_entry("akismet")}))
    feeds.import_feed("wordfence", "wordfence", str(doc), now=T1)
    assert list(Vulnerability.objects.values_list("package", flat=True)) == ["akismet"]
    doc.write_text(json.dumps({"a": {"software": [{"type": "widget"}]}}))
    with pytest.raises(feeds.FeedError, match="must be core, plugin or theme"):
        feeds.import_feed("wordfence", "wordfence", str(doc), now=T1)
    assert Vulnerability.objects.count() == 1  # the failed import left the previous entries


@pytest.mark.django_db
def test_wordfence_match_opens_incident_and_update_resolves(acme, tmp_path: Path) -> None:
    site = acme.sites.get()
    wordpress_tree(tmp_path)
    scan_inventory(site, root=tmp_path, now=T0)
    feed_file = tmp_path / "wordfence.json"
    core = wordfence_entry(
        "wordpress", to="6.1.1", patched="6.1.2", id="wf-core", references=["https://www.exploit-db.com/x"]
    )
    core["software"][0]["type"] = "core"
    critical = wordfence_entry("old-one", to="2.3", patched="2.4", id="wf-crit")
    critical["cvss"] = {"score": 9.8, "rating": "Critical"}
    critical["references"] = ["https://www.exploit-db.com/exploits/12345"]
    feed_file.write_text(
        json.dumps({"wf-akismet-1": wordfence_entry(), "wf-core": core, "wf-crit": critical})
    )
    feeds.import_feed("wordfence", "wordfence", str(feed_file), now=T0)

    figures = vulns.match_site(site, now=T0)
    assert figures == {"matches": 2, "new": 2, "resolved": 0}  # core 6.1.9 is past 6.1.1: no match
    finding = Finding.objects.get(site=site, key="wf-akismet-1:wordpress-plugin:akismet")
    assert finding.kind == "vulnerability"
    assert finding.severity == "medium"
    assert finding.remediation == "update to 5.0.3"
    assert finding.details["installed"] == "5.0.2"
    assert finding.details["affected"] == "<= 5.0.2"
    assert finding.ticket is not None
    assert finding.ticket.priority == "P3"
    assert "update to 5.0.3" in finding.ticket.description
    crit = Finding.objects.get(site=site, key="wf-crit:wordpress-plugin:old-one")
    assert crit.ticket.priority == "P1"  # critical with a known exploit
    assert crit.details["exploit known"] == "yes"

    # matching again the next night: the same findings, no new incidents
    assert vulns.match_site(site, now=T1) == {"matches": 2, "new": 0, "resolved": 0}

    # the update pipeline updates akismet to the patched version: no match any more, finding resolved
    wordpress_tree(tmp_path, akismet="5.0.3")
    scan_inventory(site, root=tmp_path, now=T1)
    assert vulns.match_site(site, now=T1) == {"matches": 1, "new": 0, "resolved": 1}
    finding.refresh_from_db()
    assert (finding.status, finding.resolved_at) == ("resolved", T1)


@pytest.mark.django_db
def test_osv_npm_packagist_pypi(acme, tmp_path: Path) -> None:
    site = acme.sites.get()
    packages = {"node_modules/lodash": {"version": "4.17.20"}}
    packages["node_modules/a/node_modules/lodash"] = {"version": "4.17.21"}
    npm = {"lockfileVersion": 3, "packages": packages}
    write(tmp_path, "package-lock.json", json.dumps(npm))
    write(
        tmp_path,
        "composer.lock",
        json.dumps({"packages": [{"name": "guzzlehttp/guzzle", "version": "7.4.4"}]}),
    )
    write(tmp_path, "api/requirements.txt", "Django==4.2.1\nurllib3==2.0.7\n")
    write(tmp_path, "api/poetry.lock", '[[package]]\nname = "Jinja2"\nversion = "3.1.2"\n')
    scan_inventory(site, root=tmp_path, now=T0)

    records = [
        osv_record("GHSA-lodash", "npm", "lodash", "0", "4.17.21"),
        osv_record("GHSA-guzzle", "Packagist", "guzzlehttp/guzzle", "7.0.0", "7.4.5", severity="CRITICAL"),
        osv_record("PYSEC-django", "PyPI", "django", "4.2", "4.2.2", severity="MODERATE"),
        osv_record("PYSEC-urllib3", "PyPI", "urllib3", "2.0.0", "2.0.7"),  # fixed in what is installed
        osv_record("GHSA-jinja", "PyPI", "jinja2", "3.0", "3.1.3", severity="LOW"),
        osv_record("RUSTSEC-1", "crates.io", "serde", "0", "1.0"),  # ecosystem not tracked: skipped
    ]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        for record in records:
            zf.writestr(f"{record['id']}.json", json.dumps(record))
    (tmp_path / "osv.zip").write_bytes(archive.getvalue())
    feed = feeds.import_feed("osv", "osv", str(tmp_path / "osv.zip"), now=T0)
    assert feed.entries == 5

    assert vulns.match_site(site, now=T0)["matches"] == 4
    found = {f.key: f for f in Finding.objects.filter(site=site)}
    assert set(found) == {
        "GHSA-lodash:npm:lodash",
        "GHSA-guzzle:packagist:guzzlehttp/guzzle",
        "PYSEC-django:pypi:django",
        "GHSA-jinja:pypi:jinja2",
    }
    lodash = found["GHSA-lodash:npm:lodash"]
    assert lodash.details["installed"] == "4.17.20"  # the nested 4.17.21 copy is fixed
    assert lodash.remediation == "update to 4.17.21"
    assert found["GHSA-guzzle:packagist:guzzlehttp/guzzle"].ticket.priority == "P2"
    assert found["PYSEC-django:pypi:django"].ticket.priority == "P3"
    assert found["GHSA-jinja:pypi:jinja2"].ticket.priority == "P4"

    # a folder of records imports the same way
    folder = tmp_path / "osv-folder"
    folder.mkdir()
    (folder / "one.json").write_text(json.dumps(records[0]))
    assert feeds.import_feed("osv2", "osv", str(folder)).entries == 1


@pytest.mark.django_db
def test_cli_import_list_match(acme, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = acme.sites.get()
    wordpress_tree(tmp_path)
    scan_inventory(site, root=tmp_path)
    doc = tmp_path / "wf.json"
    doc.write_text(json.dumps({"wf-akismet-1": wordfence_entry()}))
    call_command("audit_feed", "import", "--name", "wordfence", "--format", "wordfence", str(doc))
    call_command("audit_feed", "list")
    call_command("audit_feed", "match", "--site", str(site.pk))
    out = capsys.readouterr().out
    assert "feed wordfence: 1 entries imported" in out
    assert "wordfence\twordfence\t1\t" in out
    assert "1 matches, 1 new, 0 resolved" in out
    assert Feed.objects.get().progress == {"phase": "done", "percent": 100}
    with pytest.raises(CommandError, match="cannot read"):
        call_command("audit_feed", "import", "--name", "x", "--format", "osv", str(tmp_path / "nope"))


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.django_db
def test_cli_import_draws_its_progress_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The feed reports through the job seam (jobs.report); the command's bar listens there."""
    doc = tmp_path / "wf.json"
    doc.write_text(json.dumps({"wf-akismet-1": wordfence_entry()}))
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    call_command("audit_feed", "import", "--name", "wordfence", "--format", "wordfence", str(doc))
    drawn = terminal.getvalue()
    assert "0.0%  0 B  reading /" in drawn
    assert "100.0%" in drawn
    assert "saving (1/1)" in drawn
    assert drawn.endswith("\r")  # and cleared at the end


# -- acceptance on the real WordPress test site (scripts/wordpress-test.sh) ---------------------------------
@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_wordpress_site_inventory_and_vulnerability(
    acme,
    wordpress: WordPress,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    site = acme.sites.get()
    root = wordpress.base / "site"
    port = wordpress.env["SITEKEEPER_WP_DB_PORT"]
    db_url = f"mysql://wordpress:wordpress-test-password@127.0.0.1:{port}/wordpress"
    Source.objects.create(site=site, name="code", layer="code", kind="files", path=str(root))
    Source.objects.create(site=site, name="db", layer="data", kind="mariadb", db_url=db_url)
    activate = "UPDATE wp_options SET option_value = %s WHERE option_name = 'active_plugins'"
    connection = pymysql.connect(
        host="127.0.0.1",
        port=int(port),
        user="wordpress",
        password="wordpress-test-password",
        database="wordpress",
    )
    main_file = root / "wp-content/plugins/akismet/akismet.php"
    original = main_file.read_text()
    try:
        with connection.cursor() as cursor:
            cursor.execute(activate, ['a:1:{i:0;s:19:"akismet/akismet.php";}'])
        connection.commit()

        result = scan_inventory(site, now=T0)
        assert result.database
        got = {(c.ecosystem, c.slug): (c.version, c.active) for c in Component.objects.filter(site=site)}
        assert got[("wordpress-core", "wordpress")] == ("6.1.9", True)
        assert got[("wordpress-plugin", "akismet")] == ("5.0.2", True)
        theme_version, theme_active = got[("wordpress-theme", "twentytwentythree")]
        assert theme_active is True
        style = (root / "wp-content/themes/twentytwentythree/style.css").read_text()
        assert f"Version: {theme_version}" in style

        feed = tmp_path / "wordfence.json"
        feed.write_text(json.dumps({"wf-akismet-1": wordfence_entry("akismet", to="5.0.2", patched="5.0.3")}))
        feeds.import_feed("wordfence", "wordfence", str(feed), now=T0)
        assert vulns.match_site(site, now=T0) == {"matches": 1, "new": 1, "resolved": 0}
        finding = Finding.objects.get(site=site, kind="vulnerability")
        assert finding.ticket is not None
        assert "5.0.3" in finding.remediation
        assert "5.0.3" in finding.ticket.description

        # the plugin updated to the patched version: rescan + rematch resolves the finding
        main_file.write_text(original.replace("Version: 5.0.2", "Version: 5.0.3"))
        scan_inventory(site, now=T1)
        assert Component.objects.get(site=site, slug="akismet").version == "5.0.3"
        assert vulns.match_site(site, now=T1) == {"matches": 0, "new": 0, "resolved": 1}
        finding.refresh_from_db()
        assert finding.status == "resolved"
    finally:
        main_file.write_text(original)
        with connection.cursor() as cursor:
            cursor.execute(activate, ["a:0:{}"])
        connection.commit()
        connection.close()


@pytest.mark.django_db
def test_import_from_url_and_refresh(acme, tmp_path: Path) -> None:
    """A feed URL is fetched through sitekeeper.http (a loopback server here: no network)."""
    body = json.dumps({"wf-akismet-1": wordfence_entry()}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status = 200 if self.path == "/feed.json" else 404
            self.send_response(status)
            self.send_header("Content-Length", str(len(body) if status == 200 else 0))
            self.end_headers()
            if status == 200:
                self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        feed = feeds.import_feed("wordfence", "wordfence", f"{base}/feed.json", now=T0)
        assert (feed.entries, feed.url) == (1, f"{base}/feed.json")
        with pytest.raises(feeds.FeedError, match=r"cannot download .*/missing\.json: .*404"):
            feeds.import_feed("wordfence", "wordfence", f"{base}/missing.json")
    finally:
        server.shutdown()
        server.server_close()
    site = acme.sites.get()
    wordpress_tree(tmp_path)
    Source.objects.create(site=site, name="code", layer="code", kind="files", path=str(tmp_path))
    assert vulns.refresh_site(site, now=T0) == {"matches": 1, "new": 1, "resolved": 0}
    wordpress_tree(tmp_path, akismet="5.0.3")
    assert vulns.refresh_site(site, now=T1) == {"matches": 0, "new": 0, "resolved": 1}
