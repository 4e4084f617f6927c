"""Demo site health and updates on the bakery's shop front (the tree the backups demo made):

- key pages (home, the order form) with expected text and a performance budget, and six months of monthly
  Lighthouse figures, the last of which fell by more than 40 points on mobile — stored and judged by the
  real code, so the month's P2 (agreement 2.1) is opened as it would be;
- two monthly link scans of the shop front served by PHP's built-in server (the real crawler): last month's
  broken links, this month's diff (fixed, still broken, new);
- the real update pipeline, with PHP's built-in server serving prod and stage: a plugin update staged and
  deployed in the Tuesday-night window with a restic restore point; an update that breaks only production
  (it calls a missing function when WP_ENVIRONMENT_TYPE is "production") passes stage, fails on prod and is
  rolled back from the restore point, with its incident; and the security fix for the demo feed's
  Contact Form 7 entry staged and waiting for the next window.

The Lighthouse history is made-up demo data (a real run takes ~15 s per page and needs Chromium); the
releases are real runs. Call `seed_health(now)` after `seed_security`. Safe to call twice: a site with
releases is left alone. Without php-cli or restic it seeds the Lighthouse history only and says why.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import shutil
import socket
import subprocess
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.test import override_settings

from sitekeeper import proc
from sitekeeper.access.models import User
from sitekeeper.backups.models import Source
from sitekeeper.contracts.models import Environment, Site
from sitekeeper.contracts.presenters import contract_zone
from sitekeeper.demo import clock
from sitekeeper.desk import services
from sitekeeper.health import lighthouse, linkscan, performance
from sitekeeper.health.models import HealthConfig, KeyPage, PerformanceAudit
from sitekeeper.releases import packages, updates
from sitekeeper.releases.models import Release
from sitekeeper.security import vulns

logger = logging.getLogger(__name__)

BAKERY = "https://brot-und-butter.test"
HOME_TEXT = "Fresh bread since 1962"
ORDER_TEXT = "Pre-order form"
# WordPress's front controller (index.php) loads wp-blog-header.php; the demo's stands in for WordPress:
# it loads the active plugin and renders the page, so a plugin's PHP fatal is a real HTTP 500.
LOADER = """<?php
$plugin = __DIR__ . '/wp-content/plugins/bakery-hours/bakery-hours.php';
if (is_file($plugin)) { include $plugin; }
$path = rtrim(parse_url($_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH), '/') . '/';
$pages = include __DIR__ . '/wp-content/demo-pages.php';
if (!isset($pages[$path])) { http_response_code(404); echo '<h1>Not found</h1>'; return; }
?><!doctype html><html lang="de"><head><meta charset="utf-8"><title>Brot &amp; Butter</title></head>
<body><h1>Brot &amp; Butter</h1><p>Fresh bread since 1962.</p>
<?php echo $pages[$path]; ?>
<?php if (function_exists('bakery_hours')) { echo bakery_hours(); } ?>
</body></html>
"""
# The pages of the demo shop front, path -> body (wp-content/demo-pages.php, read by LOADER). Last month's
# broken links: a recipes page that did not exist yet, a #zahlung anchor the order page lacked, a missing
# Stollen photo; this month the first two are fixed and the about page gained a link to a missing team page.
HOME = (
    '<nav><a href="/bestellen/">Bestellen</a> <a href="/ueber-uns/">Über uns</a>'
    ' <a href="/rezepte/">Rezepte</a> <a href="/bestellen/#zahlung">Zahlung</a>'
    ' <a href="mailto:berta@bakery.test">E-Mail</a></nav>'
    '<img src="/wp-content/uploads/2026/11/bread-0.jpg" alt="Brot">'
    '<img src="/wp-content/uploads/2026/11/stollen.jpg" alt="Stollen">'
)
PAGES_BEFORE = {
    "/": HOME,
    "/bestellen/": "<h2>Pre-order form</h2><form><input name='item'></form><a href='/'>Start</a>",
    "/ueber-uns/": "<h2>Über uns</h2><a href='/'>Start</a>",
}
PAGES_AFTER = {
    **PAGES_BEFORE,
    "/bestellen/": PAGES_BEFORE["/bestellen/"] + "<h3 id='zahlung'>Zahlung</h3>",
    "/rezepte/": "<h2>Rezepte</h2><a href='/'>Start</a>",
    "/ueber-uns/": "<h2>Über uns</h2><a href='/'>Start</a> <a href='/team/'>Team</a>",
}


def _write_pages(root: Path, pages: dict[str, str]) -> None:
    entries = "".join(f"  {json.dumps(path)} => {json.dumps(body)},\n" for path, body in pages.items())
    (root / "wp-content" / "demo-pages.php").write_text(f"<?php\nreturn [\n{entries}];\n")


def plugin_source(version: str, body: str = "") -> str:
    return (
        "<?php\n/*\nPlugin Name: Bakery Opening Hours\nVersion: " + version + "\n*/\n"
        "function bakery_hours() { return '<p>Mon–Sat 6:00–18:00</p>'; }\n" + body
    )


PROD_ONLY_BUG = (
    "if (getenv('WP_ENVIRONMENT_TYPE') === 'production') { bakery_hours_warm_cache(); }  "
    "// calls a function this version forgot to ship\n"
)
CF7_FIXED = "<?php\n/*\nPlugin Name: Contact Form 7\nVersion: 5.7.2\n*/\n"


@dataclass(frozen=True)
class HealthSeed:
    results: int
    releases: dict[str, str]  # slot -> status


def seed_health(now: dt.datetime) -> HealthSeed:
    site = Site.objects.filter(url=BAKERY).first()
    if site is None or Release.objects.filter(site=site).exists():
        return HealthSeed(0, {})
    _key_pages(site)
    results = _lighthouse_history(site, now)
    releases = _releases(site, now)
    return HealthSeed(results, releases)


def _key_pages(site: Site) -> None:
    KeyPage.objects.get_or_create(
        site=site, path="/", defaults={"label": "Home", "kind": KeyPage.Kind.HOME, "expected_text": HOME_TEXT}
    )
    KeyPage.objects.get_or_create(
        site=site,
        path="/bestellen/",
        defaults={"label": "Order form", "kind": KeyPage.Kind.FORM, "expected_text": ORDER_TEXT,
                  "position": 1, "budget": {"performance": 80, "lcp_ms": 2500}},
    )  # fmt: skip


# -- Lighthouse history -------------------------------------------------------------------------------------
# (months ago, page) -> mobile performance, LCP ms; desktop is a little better. The last month's home page
# fell from ~86 to 38 on mobile: a new slider script (the story a newcomer can read in the P2).
# Desktop stays within the allowance (a faster CPU hides most of the script's cost): one P2, for mobile.
HISTORY = {
    "/": [(86, 2100), (88, 2000), (85, 2200), (87, 2050), (86, 2150), (38, 7400)],
    "/bestellen/": [(79, 2600), (81, 2500), (82, 2450), (80, 2550), (83, 2400), (82, 2450)],
}
DESKTOP_BONUS = {38: 20}  # mobile score -> desktop's lead over it (default 8)


def _measurement(url: str, form_factor: str, score: int, lcp: int) -> lighthouse.Measurement:
    bonus = DESKTOP_BONUS.get(score, 8) if form_factor == "desktop" else 0
    perf = min(100, score + bonus)
    metrics = {
        "lcp_ms": lcp if not bonus else lcp // 2, "fcp_ms": lcp // 2, "tbt_ms": max(0, (90 - perf) * 25),
        "speed_index_ms": int(lcp * 0.9), "ttfb_ms": 180, "cls": 0.02, "page_weight_bytes": 1_450_000,
    }  # fmt: skip
    return lighthouse.Measurement(
        url=url, form_factor=form_factor,
        scores={"performance": perf, "accessibility": 94, "best_practices": 96, "seo": 91},
        run_scores=[perf - 1, perf, perf + 1], metrics=metrics, lighthouse_version="12.8.2", report_json=b"",
    )  # fmt: skip


def _lighthouse_history(site: Site, now: dt.datetime) -> int:
    config = HealthConfig.for_site(site)
    zone = contract_zone(site.client.contract)
    stored = 0
    months = len(HISTORY["/"])
    for index in range(months):
        at = (now - dt.timedelta(days=30 * (months - 1 - index))).replace(hour=4, minute=10)
        # This month's is the month's scheduled audit (its slot as the schedule names it), so the worker does
        # not audit the bakery again at the demo's start; the earlier months keep slots of their own.
        slot = f"{now.astimezone(zone):%Y-%m}" if index == months - 1 else f"demo-{at:%Y-%m}"
        audit = PerformanceAudit.objects.create(
            site=site, slot=slot, trigger="schedule", status="succeeded", runs=3,
            started_at=at, finished_at=at + dt.timedelta(minutes=3), lighthouse_version="12.8.2",
        )  # fmt: skip
        for target in performance.targets(site):
            score, lcp = HISTORY[target.path][index]
            for form_factor in lighthouse.FORM_FACTORS:
                m = _measurement(performance.page_url(site, target.path), form_factor, score, lcp)
                result = performance.store_measurement(audit, target, m, now=at)
                performance.check_drop(result, config, label=target.label)
                stored += 1
    return stored


# -- the update pipeline ------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _serving(root: Path, environment: str) -> Iterator[str]:
    """php -S on a free loopback port for the block; PHP errors to wp-content/debug.log as WP_DEBUG_LOG."""
    port = _free_port()
    # No OPcache: it would serve a replaced plugin's old code for up to revalidate_freq seconds.
    argv = ("php", "-S", f"127.0.0.1:{port}", "-t", str(root), "-d", "display_errors=1", "-d", "log_errors=1",
            "-d", f"error_log={root / 'wp-content' / 'debug.log'}", "-d", "opcache.enable=0")  # fmt: skip
    kind = "production" if environment == "prod" else "staging"
    with proc.spawn(argv, env={"WP_ENVIRONMENT_TYPE": kind}, stdout=subprocess.DEVNULL) as server:
        deadline = time.monotonic() + 10
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"php -S for the demo {environment} did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"


def _zip(top: str, files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(f"{top}/{name}", text)
    return buffer.getvalue()


def _prepare_trees(site: Site) -> tuple[Path, Path]:
    prod = Path(site.backup_sources.get(environment="prod", name="code").path)
    stage = Path(site.backup_sources.get(environment="stage", name="code").path)
    (prod / "wp-blog-header.php").write_text(LOADER)
    _write_pages(prod, PAGES_BEFORE)
    plugin = prod / "wp-content" / "plugins" / "bakery-hours"
    plugin.mkdir(parents=True, exist_ok=True)
    (plugin / "bakery-hours.php").write_text(plugin_source("1.0.0"))
    shutil.copytree(prod, stage, dirs_exist_ok=True)  # stage is a copy of production, as it should be
    return prod, stage


def _releases(site: Site, now: dt.datetime) -> dict[str, str]:
    missing = [name for name in ("php", "restic") if shutil.which(name) is None]
    if missing or not Source.objects.filter(site=site, environment="stage", layer="code").exists():
        logger.warning("demo: no update releases (%s)", f"missing {', '.join(missing)}" if missing else
                       "the backups demo made no stage tree")  # fmt: skip
        return {}
    config = HealthConfig.for_site(site)
    config.smoke_lighthouse = False  # the demo runs in seconds; real sites keep the Lighthouse smoke check
    config.save()
    prod, stage = _prepare_trees(site)
    saved = {e.kind: e.url for e in site.environments.all()}
    try:
        with _serving(prod, "prod") as prod_url, _serving(stage, "stage") as stage_url:
            for kind, url in (("prod", prod_url), ("stage", stage_url)):
                Environment.objects.update_or_create(site=site, kind=kind, defaults={"url": url})
            for environment in ("prod", "stage"):
                vulns.refresh_site(site, environment, now=now)
            last_month = now - dt.timedelta(days=30)
            with clock.at(last_month):
                linkscan.run_scan(site, slot=f"{last_month:%Y-%m}", trigger="schedule")
            # The demo's php -S runs without OPcache: no need to wait before the smoke checks.
            with override_settings(SITEKEEPER_UPDATE_SETTLE_SECONDS=0):
                done = _run_releases(site, now)
            _write_pages(prod, PAGES_AFTER)
            linkscan.run_scan(site, slot=f"{now:%Y-%m}", trigger="schedule")
            return done
    finally:
        Environment.objects.filter(site=site, kind="prod").delete()
        for kind, url in saved.items():
            Environment.objects.update_or_create(site=site, kind=kind, defaults={"url": url})


def _handled(release: Release) -> None:
    """The rolled-back release's incident, as the engineer handled it that night: taken, answered, resolved
    (the rollback had already brought the site back; the faulty version is left out of later batches)."""
    engineer = User.objects.filter(username="engineer").first()
    ticket = release.ticket
    at = (release.prod_finished_at or release.window_start) + dt.timedelta(minutes=12)
    services.assign([ticket], engineer, actor=engineer, at=at)
    services.add_message(
        ticket,
        "The automatic rollback worked: the shop answers again and the opening hours show. Version 1.2.0 "
        "calls a function it does not ship; we have told the vendor and skip it until they fix it.",
        channel="staff",
        author=engineer,
        at=at + dt.timedelta(minutes=3),
    )
    services.resolve(
        ticket, actor=engineer, at=at + dt.timedelta(minutes=5), note="Rolled back; site checked."
    )


def _run_releases(site: Site, now: dt.datetime) -> dict[str, str]:
    done: dict[str, str] = {}
    good = packages.add_package(
        _zip("bakery-hours", {"bakery-hours.php": plugin_source("1.1.0")}),
        filename="bakery-hours-1.1.0.zip", notes="Holiday opening hours.",
    )  # fmt: skip
    bad = packages.add_package(
        _zip("bakery-hours", {"bakery-hours.php": plugin_source("1.2.0", PROD_ONLY_BUG)}),
        filename="bakery-hours-1.2.0.zip", notes="Caches the opening hours.",
    )  # fmt: skip
    fix = packages.add_package(_zip("contact-form-7", {"wp-contact-form-7.php": CF7_FIXED}),
                               filename="contact-form-7.5.7.2.zip", security=True,
                               notes="Fixes demo-cf7-2026-0001 (unauthenticated file upload).")  # fmt: skip
    # Three weeks ago: 1.1.0 staged, then deployed in that week's Tuesday-night window; nine days ago 1.2.0,
    # rolled back in its window. Each step runs at its moment (demo/clock.py), so the release's stage and
    # production times, its checks and its restore point fall inside the window the pipeline chose.
    for days, package in ((21, good), (9, bad)):
        planned_at = now - dt.timedelta(days=days)
        with clock.at(planned_at):
            release = updates.plan_release(site, packages=[package], slot=f"batch-{planned_at:%Y-%m-%d}",
                                           now=planned_at)  # fmt: skip
            if release is None:
                continue
            release = updates.advance(release, now=planned_at)
        if release.window_start is not None:
            opens = release.window_start + dt.timedelta(minutes=1)
            with clock.at(opens):
                release = updates.advance(release, now=opens)
        done[release.slot] = release.status
        if release.ticket is not None:
            _handled(release)
    # Today: the security fix, staged now, waits for the next window.
    release = updates.plan_release(site, packages=[fix], slot=f"batch-{now:%Y-%m-%d}", now=now)
    if release is not None:
        done[release.slot] = updates.advance(release, now=now).status
    return done
