"""`sitekeeper demo`: the demo agency loads (twice without harm) and the served app lets people log in."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.core.management import call_command

from sitekeeper.access.models import User
from sitekeeper.audits.models import Finding, LighthouseResult, LinkScan, Release, SecurityIncident
from sitekeeper.backups.models import BackupRun, RestoreTest, Snapshot
from sitekeeper.contracts.models import Client
from sitekeeper.demo.seed import DEMO_PASSWORD
from sitekeeper.desk.models import State, Ticket


@pytest.mark.django_db
def test_demo_loads_one_client_per_plan_and_is_idempotent(settings, tmp_path):
    settings.HOME = tmp_path  # the demo's restic repository and site trees
    call_command("demo", no_serve=True)
    plans = sorted(Client.objects.values_list("contracts__plan__slug", flat=True))
    assert plans == ["business", "enterprise", "professional", "starter"]
    assert all(client.sites.count() >= 1 for client in Client.objects.all())
    states = set(Ticket.objects.values_list("state", flat=True))
    assert states == {choice.value for choice in State}, "the demo shows requests in every state"
    assert Ticket.objects.filter(incomplete=True, channel="email").exists()
    # Backups made with the real restic: three days of the bakery, a passing restore test, a failed run.
    bakery = Snapshot.objects.filter(site__url="https://brot-und-butter.test", forgotten_at=None)
    assert set(bakery.values_list("layer", flat=True)) == {"data", "code", "config"}
    assert RestoreTest.objects.filter(site__url="https://brot-und-butter.test", status="passed").exists()
    assert BackupRun.objects.filter(status="failed", ticket__priority="P2").exists()
    # Security: the vulnerable demo plugin, the planted web shell and the altered file; the shell escalated.
    kinds = set(
        Finding.objects.filter(site__url="https://brot-und-butter.test").values_list("kind", flat=True)
    )
    assert kinds == {"vulnerability", "integrity", "malware", "performance"}
    assert SecurityIncident.objects.filter(finding__kind="malware").exists()
    # Health: six months of Lighthouse figures whose last month fell > 40 points (its P2), and the real
    # update pipeline: one release deployed, one rolled back from its restore point, one awaiting its window.
    bakery_results = LighthouseResult.objects.filter(site__url="https://brot-und-butter.test")
    assert bakery_results.count() == 6 * 2 * 2
    assert bakery_results.filter(ticket__priority="P2").count() == 1
    releases = Release.objects.filter(site__url="https://brot-und-butter.test")
    assert sorted(releases.values_list("status", flat=True)) == ["awaiting_window", "deployed", "rolled_back"]
    # Two monthly link scans by the real crawler: this month's diff has fixed, still broken and new links.
    scans = LinkScan.objects.filter(site__url="https://brot-und-butter.test", status="succeeded")
    latest = scans.order_by("-created_at").first()
    assert scans.count() == 2
    changes = dict(latest.defects.values_list("url", "change"))
    assert {"fixed", "still", "new"} <= set(changes.values()), changes
    assert any(url.endswith("/team/") for url, change in changes.items() if change == "new")
    rolled_back = releases.get(status="rolled_back")
    assert rolled_back.ticket is not None
    assert rolled_back.restore_point
    users, tickets = User.objects.count(), Ticket.objects.count()
    call_command("demo", no_serve=True)
    assert (User.objects.count(), Ticket.objects.count()) == (users, tickets)
    assert User.objects.get(username="bakery-owner").check_password(DEMO_PASSWORD)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _login(http: httpx.Client, username: str) -> httpx.Response:
    page = http.get("/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token, "login form has a CSRF token"
    return http.post(
        "/login/",
        data={"username": username, "password": DEMO_PASSWORD, "csrfmiddlewaretoken": token.group(1)},
        headers={"Referer": f"{http.base_url}login/"},
    )


@pytest.mark.slow
def test_demo_serves_and_staff_and_client_logins_work(tmp_path: Path):
    port = _free_port()
    env = {**os.environ, "SITEKEEPER_HOME": str(tmp_path / "home")}
    env.pop("SITEKEEPER_DATABASE_URL", None)
    sitekeeper = Path(sys.executable).with_name("sitekeeper")
    proc = subprocess.Popen(
        [str(sitekeeper), "demo", "--bind", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/login/", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        else:
            pytest.fail("demo did not start serving within 60 s")
        with httpx.Client(base_url=base, follow_redirects=True, timeout=10) as http:
            staff = _login(http, "engineer")
            assert staff.status_code == 200
            assert "/staff/" in str(staff.url)
            assert "Trailhead Outfitters" in http.get("/staff/clients/").text
        with httpx.Client(base_url=base, follow_redirects=True, timeout=10) as http:
            portal = _login(http, "outdoor-owner")
            assert portal.status_code == 200
            assert "/portal/" in str(portal.url)
            assert "Trailhead Outfitters" in portal.text
            assert "Business" in portal.text
            assert "Stadtmuseum Nord" not in portal.text
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        output, _ = proc.communicate(timeout=20)
    assert "bakery-owner" in output, output
