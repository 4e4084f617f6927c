# ruff: noqa: F811  (the sshd fixture is imported by name, then used as an argument)
"""The update pipeline's state machine on a plain "site" the test serves itself: two folders (prod, stage),
each behind a tiny HTTP server whose home page fails like PHP would when the plugin file says so. Real restic
restore points, real rollback, real inventory; no WordPress needed (that is test_updates_wordpress.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import http.server
import io
import sqlite3
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sitekeeper import jobs
from sitekeeper.backups.models import Layer, Repository, Restore, SiteBackup, Snapshot, Source
from sitekeeper.contracts.models import Contract, Environment, MaintenanceWindow, Plan, Site
from sitekeeper.desk import services
from sitekeeper.desk.models import Message as DeskMessage
from sitekeeper.desk.models import Ticket
from sitekeeper.health.models import HealthConfig, KeyPage
from sitekeeper.monitoring.models import MaintenanceAnnouncement
from sitekeeper.notify.models import Delivery
from sitekeeper.releases import smoke, updates
from sitekeeper.releases.models import Release, ReleaseStatus
from sitekeeper.releases.packages import add_package
from sitekeeper.security.models import Component
from sitekeeper.security.vulns import refresh_site
from tests.backups.services import SshServer, sshd  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

# acme's window: Tuesdays 23:00-02:00 Berlin. 2026-03-03 is a Tuesday (CET, UTC+1): 22:00-01:00 UTC.
BEFORE = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)  # Monday
INSIDE = dt.datetime(2026, 3, 3, 22, 30, tzinfo=dt.UTC)
AFTER = dt.datetime(2026, 3, 4, 2, 0, tzinfo=dt.UTC)
TITLE = "Acme Home"


def plugin_php(version: str, body: str = "") -> str:
    return f"<?php\n/*\nPlugin Name: Hello Test\nVersion: {version}\n*/\n{body}\n"


def plugin_zip(version: str, body: str = "", extra: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello/hello.php", plugin_php(version, body))
        archive.writestr("hello/readme.txt", f"=== Hello ===\nStable tag: {version}\n")
        if extra:
            archive.writestr(f"hello/{extra}", "new file")
    return buffer.getvalue()


class FakePhp(http.server.BaseHTTPRequestHandler):
    """'/' renders the page unless the plugin file asks for a fatal (always, or on one port only); a fatal
    also writes a 'PHP Fatal error' line to wp-content/debug.log, as WordPress with WP_DEBUG_LOG would."""

    root: Path

    def do_GET(self) -> None:
        plugin = self.root / "wp-content/plugins/hello/hello.php"
        code = plugin.read_text() if plugin.exists() else ""
        port = self.server.server_address[1]
        fatal = "FATAL_ALWAYS" in code or f"FATAL_ON_{port}" in code
        if self.path != "/":
            status, body = 404, "not found"
        elif fatal:
            with (self.root / "wp-content/debug.log").open("a") as log:
                log.write("[04-Mar-2026] PHP Fatal error:  Uncaught Error: Call to undefined function\n")
            status, body = 500, "<b>Fatal error</b>: Uncaught Error"
        else:
            status, body = 200, f"<html><title>{TITLE}</title><body>Welcome</body></html>"
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@dataclasses.dataclass
class Env:
    root: Path
    url: str
    port: int

    @property
    def plugin(self) -> Path:
        return self.root / "wp-content/plugins/hello/hello.php"


def make_root(root: Path) -> None:
    (root / "wp-includes").mkdir(parents=True)
    (root / "wp-includes/version.php").write_text("<?php\n$wp_version = '6.1.9';\n")
    (root / "wp-content/plugins/hello").mkdir(parents=True)
    (root / "wp-content/plugins/hello/hello.php").write_text(plugin_php("1.0"))
    (root / "index.php").write_text("<?php // front controller\n")
    with sqlite3.connect(root / "site.sqlite3") as conn:
        conn.execute("CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT)")
        conn.execute("INSERT INTO posts (title) VALUES ('hello')")
    conn.close()


@pytest.fixture
def envs(tmp_path: Path) -> Iterator[dict[str, Env]]:
    servers, found = [], {}
    for name in ("prod", "stage"):
        root = tmp_path / name
        make_root(root)
        handler = type(f"Php{name}", (FakePhp,), {"root": root})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        port = server.server_address[1]
        found[name] = Env(root, f"http://127.0.0.1:{port}", port)
    yield found
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def site(acme, envs: dict[str, Env], tmp_path: Path, settings) -> Site:
    settings.HOME = tmp_path / "home"
    settings.SITEKEEPER_PACKAGES_DIR = str(tmp_path / "packages")
    site = acme.sites.get()
    for name, env in envs.items():
        Environment.objects.filter(site=site, kind=name).update(url=env.url)
        Source.objects.create(
            site=site, environment=name, name="code", layer=Layer.CODE, kind="files", path=str(env.root),
            excludes=["site.sqlite3"],
        )  # fmt: skip
        Source.objects.create(
            site=site, environment=name, name="db", layer=Layer.DATA, kind="sqlite",
            path=str(env.root / "site.sqlite3"),
        )  # fmt: skip
    repo = Repository.objects.create(client=acme, name="main", kind="local", location=str(tmp_path / "repo"))
    SiteBackup.objects.create(site=site, repository=repo)
    HealthConfig.objects.create(site=site, smoke_lighthouse=False)
    KeyPage.objects.create(site=site, path="/", label="Home", kind="home", expected_text=TITLE)
    refresh_site(site, "prod", now=BEFORE)
    refresh_site(site, "stage", now=BEFORE)
    return site


def statuses(release: Release) -> list[tuple[str, str, bool]]:
    return [(c["environment"], c["name"], c["ok"]) for c in release.checks]


def test_nothing_pending_plans_nothing(site: Site) -> None:
    assert updates.plan_release(site, now=BEFORE) is None
    assert not Release.objects.exists()


def test_update_goes_stage_then_prod_in_the_window(site: Site, envs: dict[str, Env]) -> None:
    add_package(plugin_zip("1.1", extra="new.php"))
    release = updates.plan_release(site, slot="batch-2026-03-02", now=BEFORE)
    assert release is not None
    assert updates.plan_release(site, slot="batch-2026-03-02", now=BEFORE).pk == release.pk  # idempotent
    assert [(c.slug, c.from_version, c.to_version) for c in release.changes.all()] == [
        ("hello", "1.0", "1.1")
    ]
    assert release.window_start == dt.datetime(2026, 3, 3, 22, tzinfo=dt.UTC)
    assert release.window_end == dt.datetime(2026, 3, 4, 1, tzinfo=dt.UTC)
    assert "approved by the contract's update schedule" in release.log

    release = updates.advance(release, now=BEFORE)
    assert release.status == ReleaseStatus.AWAITING_WINDOW, release.log
    assert "Version: 1.1" in envs["stage"].plugin.read_text()
    assert "Version: 1.0" in envs["prod"].plugin.read_text()
    assert not (envs["stage"].root / "wp-content/plugins/.sitekeeper-1-1").exists()  # work folder removed
    assert updates.advance(release, now=BEFORE).status == ReleaseStatus.AWAITING_WINDOW  # not yet

    release = updates.advance(release, now=INSIDE)
    assert release.status == ReleaseStatus.DEPLOYED, release.log
    assert "Version: 1.1" in envs["prod"].plugin.read_text()
    assert (envs["prod"].root / "wp-content/plugins/hello/new.php").exists()
    assert all(c["ok"] for c in release.checks), release.checks
    assert {c["environment"] for c in release.checks} == {"stage", "prod"}
    assert ("prod", "page /", True) in statuses(release)
    assert {p["source"] for p in release.restore_point} == {"code", "db"}
    assert Snapshot.objects.filter(pk__in=[p["snapshot"] for p in release.restore_point]).count() == 2
    versions = set(Component.objects.filter(site=site, slug="hello").values_list("environment", "version"))
    assert versions == {("prod", "1.1"), ("stage", "1.1")}
    assert release.prod_finished_at is not None
    assert release.owner == ""
    assert release.progress == {"phase": "deployed"}
    assert updates.advance(release, now=INSIDE).status == ReleaseStatus.DEPLOYED  # nothing left to do
    assert updates.plan_release(site, now=AFTER) is None  # nothing pending any more


def test_broken_update_is_caught_on_stage(site: Site, envs: dict[str, Env]) -> None:
    add_package(plugin_zip("1.1", body="// FATAL_ALWAYS"))
    prod_before = envs["prod"].plugin.read_bytes()
    release = updates.advance(updates.plan_release(site, now=BEFORE), now=INSIDE)
    assert release.status == ReleaseStatus.STAGE_FAILED, release.log
    failed = {name for env, name, ok in statuses(release) if not ok}
    assert failed == {
        "page /",
        "no PHP fatal on /",
        f"PHP error log {envs['stage'].root}/wp-content/debug.log",
    }
    assert envs["prod"].plugin.read_bytes() == prod_before
    assert release.restore_point == []
    assert "production was not touched" in release.outcome
    assert updates.advance(release, now=INSIDE).status == ReleaseStatus.STAGE_FAILED


def test_prod_failure_is_rolled_back(site: Site, envs: dict[str, Env]) -> None:
    add_package(plugin_zip("1.1", body=f"// FATAL_ON_{envs['prod'].port}", extra="added-by-update.php"))
    prod_before = envs["prod"].plugin.read_bytes()
    release = updates.advance(updates.plan_release(site, now=BEFORE), now=BEFORE)
    assert release.status == ReleaseStatus.AWAITING_WINDOW, release.log
    release = updates.advance(release, now=INSIDE)
    assert release.status == ReleaseStatus.ROLLED_BACK, release.log
    assert envs["prod"].plugin.read_bytes() == prod_before
    assert not (envs["prod"].root / "wp-content/plugins/hello/added-by-update.php").exists()
    assert Restore.objects.filter(target="prod", status="succeeded").count() == 2
    after = [(n, ok) for env, n, ok in statuses(release) if n.startswith("after rollback")]
    assert ("after rollback: page /", True) in after
    assert all(ok for _, ok in after), after
    assert release.ticket is not None
    assert release.ticket.type == "incident"
    assert release.ticket.priority == "P2"
    assert "rolled back automatically" in release.outcome
    assert Component.objects.get(site=site, environment="prod", slug="hello").version == "1.0"


def test_manual_release_needs_an_agency_approval(site: Site, owner, engineer) -> None:
    add_package(plugin_zip("1.1"))
    release = updates.plan_release(site, kind="manual", user=engineer, now=BEFORE)
    release = updates.advance(release, now=INSIDE)
    assert release.status == ReleaseStatus.AWAITING_WINDOW
    with pytest.raises(updates.UpdateError, match="agency staff"):
        updates.approve(release, owner)
    updates.approve(release, engineer)
    assert updates.advance(release, now=INSIDE).status == ReleaseStatus.DEPLOYED


def test_window_passed_moves_to_the_next(site: Site) -> None:
    add_package(plugin_zip("1.1"))
    release = updates.plan_release(site, kind="manual", now=BEFORE)
    release = updates.advance(release, now=AFTER)
    assert release.status == ReleaseStatus.AWAITING_WINDOW
    assert release.window_start == dt.datetime(2026, 3, 10, 22, tzinfo=dt.UTC)
    assert "the window passed (it was not approved in time)" in release.log


def test_cancel_only_before_prod(site: Site, engineer) -> None:
    add_package(plugin_zip("1.1"))
    release = updates.plan_release(site, now=BEFORE)
    with pytest.raises(updates.UpdateError, match="say why"):
        updates.cancel(release, engineer, " ")
    updates.cancel(release, engineer, "client asked to wait")
    assert release.status == ReleaseStatus.CANCELLED
    assert updates.advance(release, now=INSIDE).status == ReleaseStatus.CANCELLED
    Release.objects.filter(pk=release.pk).update(status=ReleaseStatus.DEPLOYING)
    with pytest.raises(updates.UpdateError, match="has not started on production"):
        updates.cancel(release, engineer, "too late")


def test_a_live_lease_is_respected_and_a_dead_one_taken_over(site: Site) -> None:
    add_package(plugin_zip("1.1"))
    release = updates.plan_release(site, now=BEFORE)
    Release.objects.filter(pk=release.pk).update(
        status=ReleaseStatus.STAGING, owner="elsewhere:1", lease_until=BEFORE + dt.timedelta(minutes=5)
    )
    assert not updates.is_due(Release.objects.get(pk=release.pk), BEFORE)
    assert updates.advance(release, now=BEFORE).status == ReleaseStatus.STAGING  # someone else's
    later = BEFORE + dt.timedelta(minutes=10)
    assert updates.is_due(Release.objects.get(pk=release.pk), later)
    release = updates.advance(release, now=later)
    assert release.status == ReleaseStatus.AWAITING_WINDOW, release.log
    assert "taken over from elsewhere:1" in release.log


def test_a_second_worker_cannot_take_a_release_whose_lease_is_held(site: Site, monkeypatch) -> None:
    """The release's lease is held across its steps: the worker holding it claims it again (reentrant),
    another worker gets nothing while the holder lives, and takes it once the holder lets go."""
    add_package(plugin_zip("1.1"))
    release = updates.plan_release(site, now=BEFORE)
    me = jobs.owner_id()
    assert updates._claim(release, BEFORE)
    assert updates._claim(release, BEFORE)  # this worker's next step: its own lease, claimed again
    monkeypatch.setattr(jobs, "owner_id", lambda: "worker-2:1")
    assert not updates._claim(release, BEFORE)
    assert updates.advance(release, now=BEFORE).status == ReleaseStatus.PLANNED  # not staged by worker 2
    assert Release.objects.get(pk=release.pk).owner == me
    monkeypatch.undo()
    updates._release_claim(release)
    monkeypatch.setattr(jobs, "owner_id", lambda: "worker-2:1")
    assert updates._claim(release, BEFORE)
    assert "taken over" not in Release.objects.get(pk=release.pk).log  # let go, not abandoned


def test_a_worker_whose_release_was_taken_over_stops_before_production(
    site: Site, envs: dict[str, Env], monkeypatch
) -> None:
    """This worker stalled past its lease while taking the restore point and another one took the release
    over: it does not touch production, and leaves the other worker's lease alone."""
    add_package(plugin_zip("1.1"))
    release = updates.advance(updates.plan_release(site, now=BEFORE), now=BEFORE)
    assert release.status == ReleaseStatus.AWAITING_WINDOW, release.log
    prod_before = envs["prod"].plugin.read_text()
    held = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30)

    def stalled_restore_point(stalled: Release) -> list[dict]:
        Release.objects.filter(pk=stalled.pk).update(owner="worker-2:1", lease_until=held)
        return [{"source": "code", "layer": "code", "snapshot": 0, "restic_id": "0123456789"}]

    monkeypatch.setattr(updates, "_restore_point", stalled_restore_point)
    release = updates.advance(release, now=INSIDE)
    assert release.status == ReleaseStatus.DEPLOYING
    assert envs["prod"].plugin.read_text() == prod_before
    assert not [check for check in release.checks if check["environment"] == "prod"]
    assert (release.owner, release.lease_until) == ("worker-2:1", held)


def rolled_back(site: Site) -> Release:
    """A release as the pipeline leaves it after an automatic rollback, before its incident is opened."""
    add_package(plugin_zip("1.1"))
    release = updates.plan_release(site, now=BEFORE)
    Release.objects.filter(pk=release.pk).update(
        status=ReleaseStatus.ROLLED_BACK, prod_started_at=INSIDE,
        outcome="Rolled back: the site serves again.",
        checks=[{"environment": "prod", "name": "page /", "ok": False, "detail": "HTTP 500", "at": "x"}],
        log=release.log + "2026-03-03 22:31:00 rolled_back: the site serves again.\n",
    )  # fmt: skip
    return Release.objects.get(pk=release.pk)


def test_a_failed_release_opens_one_incident_and_tells_once(site: Site, admin) -> None:
    release = rolled_back(site)
    log = release.log  # the staff note: the release's log as it stood when the incident was opened
    updates._open_incident(release, "P2")
    updates._open_incident(release, "P2")  # a retry of the same release: the same request, nobody told again
    ticket = Ticket.objects.get()
    assert ticket.detection_key == f"release:{release.pk}"
    assert (ticket.type, ticket.priority, ticket.received_at) == ("incident", "P2", INSIDE)
    assert ticket.subject == f"Update {release.slot} failed in production (Rolled back)"
    assert ticket.steps == "Automated smoke checks of sitekeeper's update pipeline; see the release page."
    assert "- [prod] page /: HTTP 500" in ticket.description
    assert DeskMessage.objects.get(ticket=ticket, kind=DeskMessage.Kind.NOTE).body == log[-4000:]
    release.refresh_from_db()
    assert release.ticket == ticket
    assert release.log.count(f"incident {ticket.reference} opened (P2)") == 1
    (told,) = Delivery.objects.filter(key=f"release:{release.pk}:rolled_back")
    assert (
        told.message["subject"]
        == f"Update release {release.slot} of {site}: rolled back; incident {ticket.reference}"
    )


def test_the_release_record_stands_when_the_desk_refuses(site: Site, admin, monkeypatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the desk is closed")

    monkeypatch.setattr(services, "file_request", refuse)
    release = rolled_back(site)
    updates._open_incident(release, "P1")
    release.refresh_from_db()
    assert release.ticket is None
    assert not Ticket.objects.exists()
    assert release.status == ReleaseStatus.ROLLED_BACK
    assert "incident ticket not opened: the desk is closed" in release.log
    (told,) = Delivery.objects.filter(key=f"release:{release.pk}:rolled_back")
    assert told.message["subject"].endswith(": rolled back (no ticket: the desk is closed)")


def test_explicit_packages_must_fit_the_site(site: Site) -> None:
    older = add_package(plugin_zip("0.9"))
    with pytest.raises(updates.UpdateError, match="not an update"):
        updates.plan_release(site, packages=[older], now=BEFORE)


def test_due_pass_plans_the_batch_once(site: Site) -> None:
    add_package(plugin_zip("1.1"))
    contract = site.client.contract
    Contract.objects.filter(pk=contract.pk).update(update_batch="1st mon")
    # acme is on Business: weekly, on the batch rule's weekday (Monday). 2026-03-02 is a Monday.
    touched = updates.due_pass(now=BEFORE)
    release = Release.objects.get()
    assert release.slot == "batch-2026-03-02"
    assert touched == [release.pk]
    assert release.status == ReleaseStatus.AWAITING_WINDOW
    assert updates.due_pass(now=BEFORE) == []
    updates.due_pass(now=INSIDE)
    assert Release.objects.get().status == ReleaseStatus.DEPLOYED


def test_emergency_security_update_goes_out_at_once(site: Site) -> None:
    Plan.objects.filter(pk=site.client.contract.plan_id).update(update_cadence="weekly_emergency")
    # Started today (Monday 2 March, in service); its first weekly batch is tomorrow: no batch yet.
    Contract.objects.filter(pk=site.client.contract.pk).update(start=dt.date(2026, 3, 2))
    add_package(plugin_zip("1.1"), security=True)
    updates.due_pass(now=BEFORE)
    release = Release.objects.get()
    assert release.kind == "emergency"
    assert release.slot == "emergency-hello-1.1"
    assert release.status == ReleaseStatus.DEPLOYED, release.log
    assert release.client_notified_at == BEFORE
    announcement = MaintenanceAnnouncement.objects.get()
    assert announcement.kind == "emergency_security"
    assert list(announcement.sites.all()) == [site]
    assert updates.due_pass(now=BEFORE) == []


def test_no_window_agreed_uses_the_next_business_opening(site: Site) -> None:
    MaintenanceWindow.objects.all().delete()
    start, end, why = updates.next_window(site.client.contract, BEFORE)  # Monday 11:00 Berlin
    assert start == dt.datetime(2026, 3, 3, 8, tzinfo=dt.UTC)  # Tuesday 09:00 Berlin
    assert end - start == dt.timedelta(hours=2)
    assert "no maintenance window" in why


def test_missing_stage_folder_fails_on_stage(site: Site, envs: dict[str, Env]) -> None:
    Source.objects.filter(environment="stage", layer=Layer.CODE).delete()
    add_package(plugin_zip("1.1"))
    release = updates.advance(updates.plan_release(site, now=BEFORE), now=INSIDE)
    assert release.status == ReleaseStatus.STAGE_FAILED
    assert "no stage code folder" in release.log
    assert "Version: 1.0" in envs["prod"].plugin.read_text()
    assert not updates.has_update_sources(site)


# -- smoke checks on their own ------------------------------------------------------------------------------
def test_smoke_lighthouse_missing_is_skipped_not_failed(site: Site, monkeypatch) -> None:
    from sitekeeper import proc
    from sitekeeper.health import lighthouse

    def missing(*args: object, **kwargs: object) -> None:
        raise proc.MissingProgramError("lighthouse is not installed")

    monkeypatch.setattr(lighthouse, "measure", missing)
    HealthConfig.objects.filter(site=site).update(smoke_lighthouse=True)
    checks = smoke.check(site, "prod", baseline=smoke.baseline(site, "prod"))
    light = [c for c in checks if c.name.startswith("Lighthouse")]
    assert len(light) == 1
    assert light[0].ok
    assert light[0].skipped
    assert "not installed" in light[0].detail
    assert all(c.ok for c in checks)


def test_smoke_lighthouse_collapse_fails(site: Site, monkeypatch) -> None:
    scores = iter([(95, ""), (40, "")])
    monkeypatch.setattr(smoke, "lighthouse_score", lambda url: next(scores))
    HealthConfig.objects.filter(site=site).update(smoke_lighthouse=True)
    before = smoke.baseline(site, "prod")
    checks = smoke.check(site, "prod", baseline=before)
    light = next(c for c in checks if c.name == "Lighthouse /")
    assert not light.ok
    assert "performance 40, before 95" in light.detail


def test_smoke_expected_text_and_no_baseline(site: Site) -> None:
    KeyPage.objects.filter(site=site).update(expected_text="Not on the page")
    checks = smoke.check(site, "prod")
    page = next(c for c in checks if c.name == "page /")
    assert not page.ok
    assert "does not show 'Not on the page'" in page.detail
    log = next(c for c in checks if c.name == "PHP error log")
    assert log.skipped


def test_similarity() -> None:
    from PIL import Image

    def png(colour: int, size: tuple[int, int] = (40, 30)) -> bytes:
        out = io.BytesIO()
        Image.new("RGB", size, (colour, colour, colour)).save(out, "PNG")
        return out.getvalue()

    assert smoke.similarity(png(200), png(200)) == 1.0
    assert smoke.similarity(png(0), png(255)) == 0.0
    assert abs(smoke.similarity(png(100), png(151, (80, 60))) - 0.8) < 1e-9


@pytest.mark.slow
def test_over_ssh_apply_check_and_roll_back(site: Site, envs: dict[str, Env], sshd: SshServer) -> None:
    """The same pipeline when the site's folders are reached over SSH (the loopback sshd): the package is
    streamed through `tar -x` on the host, logs are read there, and the rollback pushes the files back."""
    SiteBackup.objects.filter(site=site).update(
        site_host=sshd.host, ssh_port=sshd.port, ssh_user=sshd.user, ssh_key=sshd.private_key,
        known_hosts=sshd.known_hosts,
    )  # fmt: skip
    # Over SSH the backups take includes, not excludes: the code backup holds the SQLite file too.
    Source.objects.filter(site=site, layer=Layer.CODE).update(over_ssh=True, excludes=[])
    prod_before = envs["prod"].plugin.read_bytes()
    add_package(plugin_zip("1.1", body=f"// FATAL_ON_{envs['prod'].port}", extra="added-by-update.php"))
    release = updates.advance(updates.plan_release(site, now=BEFORE), now=BEFORE)
    assert release.status == ReleaseStatus.AWAITING_WINDOW, release.log
    assert "Version: 1.1" in envs["stage"].plugin.read_text()
    release = updates.advance(release, now=INSIDE)
    assert release.status == ReleaseStatus.ROLLED_BACK, release.log
    failed = {n for env, n, ok in statuses(release) if not ok and env == "prod"}
    assert f"PHP error log {envs['prod'].root}/wp-content/debug.log" in failed
    assert envs["prod"].plugin.read_bytes() == prod_before
    assert not (envs["prod"].root / "wp-content/plugins/hello/added-by-update.php").exists()
