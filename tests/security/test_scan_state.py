"""Issue 12.1 (security): "Nothing found" is only true of a scan that ran. A site never scanned reads "Never
scanned" under every security heading, on the staff page, the portal and the API; no scan in the last 48 h
is the agency's problem, flagged to staff; the client never reads an all-clear without a scan. Each step of
a pass records its run; `scans.last_scan_at(site)` is the one answer to "when was it last scanned"."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import time_machine
from django.test import Client as HttpClient

from sitekeeper.access.models import ApiToken
from sitekeeper.backups.models import Layer, Source
from sitekeeper.security import scans
from sitekeeper.security.models import ScanStepRun
from tests.http_clients import browser

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)
HEADINGS = ("findings-vulnerability", "findings-integrity", "findings-malware", "findings-suspicious")


def section(page: str, anchor: str) -> str:
    start = page.index(f'id="{anchor}"')
    end = page.find("<article", start)
    return page[start : end if end > 0 else len(page)]


@pytest.fixture
def code(acme, tmp_path: Path) -> Path:
    """A small site folder as the site's code source: what the security pass reads."""
    root = tmp_path / "site"
    (root / "wp-includes").mkdir(parents=True)
    (root / "index.php").write_text("<?php\nrequire __DIR__ . '/wp-blog-header.php';\n")
    (root / "wp-includes" / "version.php").write_text("<?php\n$wp_version = '6.4.3';\n")
    Source.objects.create(site=acme.sites.get(), name="code", layer=Layer.CODE, kind="files", path=str(root))
    return root


@time_machine.travel(NOW, tick=False)
def test_a_site_never_scanned_reads_never_scanned_not_nothing_found(acme, engineer, owner):
    site = acme.sites.get()
    assert scans.last_scan_at(site) is None
    staff = browser(engineer).get(f"/staff/security/site/{site.pk}/").content.decode()
    portal = browser(owner).get(f"/portal/security/site/{site.pk}/").content.decode()
    for page in (staff, portal):
        assert "Nothing found" not in page
        for anchor in HEADINGS:
            assert "Never scanned" in section(page, anchor), anchor
    assert "Agency action needed" in staff
    assert "has no code folder to read" in staff  # why: nothing set up for the scanner
    assert "Agency action needed" not in portal
    assert "has not been scanned for security problems yet" in portal
    overview = browser(engineer).get("/staff/security/").content.decode()
    assert "Never scanned" in section(overview, f"site-{site.pk}")
    assert "action needed" in section(overview, f"site-{site.pk}")


def test_each_step_of_a_pass_is_recorded_and_the_page_then_says_when(acme, code, engineer, owner):
    site = acme.sites.get()
    results = scans.scan_site(site, now=NOW)
    assert results["suspicious"] == "ok: skipped (no database source to read)"
    runs = {run.step: run.outcome for run in ScanStepRun.objects.filter(site=site)}
    assert runs == {"inventory": "ok", "integrity": "ok", "malware": "ok", "suspicious": "skipped"}
    last = scans.last_scan_at(site)
    assert NOW <= last < NOW + dt.timedelta(minutes=5)
    with time_machine.travel(NOW + dt.timedelta(hours=1), tick=False):
        assert not scans.scan_overdue(site)
        staff = browser(engineer).get(f"/staff/security/site/{site.pk}/").content.decode()
        portal = browser(owner).get(f"/portal/security/site/{site.pk}/").content.decode()
    for page in (staff, portal):
        for anchor in ("findings-vulnerability", "findings-integrity", "findings-malware"):
            part = section(page, anchor)
            assert "Last scanned 20 Nov 2026 09:00 CET" in part, anchor  # the contract's zone
            assert "Nothing found at the last scan." in part, anchor
        # The database step had nothing to read: not scanned, so not "nothing found" either.
        suspicious = section(page, "findings-suspicious")
        assert "Not scanned" in suspicious
        assert "Nothing found" not in suspicious
    assert "no database source to read" in section(staff, "findings-suspicious")
    assert "Agency action needed" not in staff


def test_no_scan_in_48_hours_is_flagged_to_staff(acme, engineer, owner):
    site = acme.sites.get()
    for step in scans.STEPS:
        ScanStepRun.objects.create(site=site, step=step, started_at=NOW, finished_at=NOW, outcome="ok")
    # A failed attempt later is no scan: the last scan stays the good one.
    ScanStepRun.objects.create(site=site, step="malware", started_at=NOW + dt.timedelta(days=1),
                               finished_at=NOW + dt.timedelta(days=1), outcome="failed",
                               summary="ssh: connection refused")  # fmt: skip
    assert scans.last_scan_at(site) == NOW
    assert not scans.scan_overdue(site, NOW + dt.timedelta(hours=47))
    assert scans.scan_overdue(site, NOW + dt.timedelta(hours=49))
    with time_machine.travel(NOW + dt.timedelta(hours=49), tick=False):
        staff = browser(engineer).get(f"/staff/security/site/{site.pk}/").content.decode()
        portal = browser(owner).get(f"/portal/security/site/{site.pk}/").content.decode()
        api = HttpClient(headers={"authorization": f"Bearer {ApiToken.issue(owner, 'test')[1]}"})
        body = api.get(f"/api/v1/security/sites/{site.pk}/scans").json()
    assert "no security scan in the last 48 h" in staff
    assert "ssh: connection refused" in section(staff, "findings-malware")
    assert "more than 48 hours old" in portal
    assert "connection refused" not in portal
    assert body["state"] == "overdue"
    assert body["last_scan_at"].startswith("2026-11-20T08:00")
    assert {s["step"]: s["latest_outcome"] for s in body["steps"]}["malware"] == "failed"


def test_api_says_never_scanned_beside_an_empty_findings_list(acme, owner):
    site = acme.sites.get()
    api = HttpClient(headers={"authorization": f"Bearer {ApiToken.issue(owner, 'test')[1]}"})
    assert api.get(f"/api/v1/security/sites/{site.pk}/findings").json() == []
    body = api.get(f"/api/v1/security/sites/{site.pk}/scans").json()
    assert (body["state"], body["last_scan_at"]) == ("never_scanned", None)
    assert {s["state"] for s in body["steps"]} == {"never"}
