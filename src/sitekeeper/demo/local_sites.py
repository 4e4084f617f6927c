"""Point the demo at its own sites: the page list the demo's site server (demo/sites.py) answers from, its
certificate, and the demo monitors' addresses on it.

`prepare(home, port)` runs at each `sitekeeper demo` start, after the seed: it writes
SITEKEEPER_HOME/demo-sites/served.json (every demo site with a contract; the one deliberately down answers
503), makes the TLS files, and moves each demo monitor to `https://127.0.0.1:PORT/<host>/` (HTTP) or
`127.0.0.1:PORT` (certificate) — the port is new on each start. Monitors of other hosts are not touched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sitekeeper.access.audit import acting_as
from sitekeeper.contracts.models import Site
from sitekeeper.demo import sites as server
from sitekeeper.demo.monitoring_seed import DOWN_URL
from sitekeeper.monitoring.models import Monitor

LOCAL = "127.0.0.1"


@dataclass(frozen=True)
class LocalSites:
    port: int
    pages: Path  # served.json
    tls: server.Tls
    served: dict[str, int]  # host → HTTP status it answers with


def host_of(url: str) -> str:
    return urlsplit(url).hostname or ""


def local_url(site: Site, port: int) -> str:
    return f"https://{LOCAL}:{port}/{host_of(site.url)}/"


def _is_demo_target(monitor: Monitor) -> bool:
    """A monitor the demo made: aimed at its site's own host (as seeded) or at the local site server."""
    target = monitor.url if "://" in monitor.url else f"//{monitor.url}"
    return host_of(target) in {host_of(monitor.site.url), LOCAL}


def prepare(home: Path, port: int) -> LocalSites:
    folder = home / "demo-sites"
    folder.mkdir(parents=True, exist_ok=True)
    sites = list(Site.objects.filter(client__contracts__isnull=False).distinct().order_by("pk"))
    served = {host_of(site.url): (503 if site.url == DOWN_URL else 200) for site in sites}
    pages = folder / "served.json"
    names = {host_of(site.url): site.name for site in sites}
    listing = {host: {"name": names[host], "status": status} for host, status in served.items()}
    pages.write_text(json.dumps(listing, indent=1))
    tls = server.ensure_tls(folder / "tls")
    with acting_as(label="demo"):  # audited like any change of a monitor, by "demo"
        for monitor in Monitor.objects.filter(site__in=sites).select_related("site"):
            if not _is_demo_target(monitor):
                continue
            url = f"{LOCAL}:{port}" if monitor.kind in {"tls", "tcp"} else local_url(monitor.site, port)
            if monitor.url != url:
                monitor.url, monitor.next_check_at, monitor.claimed_until = url, None, None
                monitor.save(update_fields=["url", "next_check_at", "claimed_until"])
    return LocalSites(port, pages, tls, served)
