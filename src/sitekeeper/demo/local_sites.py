"""Point the demo at its own sites: the page list the demo's site server (demo/sites.py) answers from, its
certificate, the demo monitors' addresses on it and the sites' prod environments.

`prepare(home, port, http_port)` runs at each `sitekeeper demo` start, after the seed: it writes
SITEKEEPER_HOME/demo-sites/served.json (every demo site with a contract, its pages — home, About us,
Contact and the site's key pages — and the one broken link, on the web shop; the one site deliberately down
answers 503), makes the TLS files, and moves
- each demo monitor to `https://127.0.0.1:PORT/<host>/` (HTTP) or `127.0.0.1:PORT` (certificate);
- each site's prod environment to `http://127.0.0.1:HTTP_PORT/<host>/`: what "Scan now" (link scan) and
  "Run Lighthouse" load. Plain HTTP because neither the crawler nor Chromium has a setting to trust the
  demo's certificate authority, and the demo does not weaken their TLS checks to make it so.
The ports are those of the previous start when both are still free (demo-sites/ports.json), so the pages'
addresses — and with them the link scans' and Lighthouse's page series — stay the same from start to start;
otherwise new ones. Monitors and environments aimed elsewhere (changed by a person) are not
touched. Every move is audited, by "demo". The site's own address (site.url, what the client portal shows
as "your site") stays as the contract file says; staff see the environment's local address.

`restore()` puts the prod environments back on the site's address before the seed applies the contract
file again, so that the file's apply finds nothing to change ("contracts already loaded").
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from django.db import transaction
from django.db.models import Q, Value
from django.db.models.functions import Concat, Substr

from sitekeeper.access.audit import acting_as
from sitekeeper.contracts.models import Environment, Site
from sitekeeper.demo import sites as server
from sitekeeper.demo.monitoring_seed import DOWN_URL
from sitekeeper.health.models import KeyPage, LighthouseResult
from sitekeeper.monitoring.models import Monitor

LOCAL = "127.0.0.1"
# Every demo site has these pages besides its home page and its key pages (path under /<host>/ → title).
PAGES = {"about/": "About us", "contact/": "Contact"}
# The demo's one broken link: the web shop's navigation links a size guide that answers 404.
BROKEN_HOST, BROKEN_PATH, BROKEN_TITLE = "shop.trailhead.test", "size-guide/", "Size guide"


@dataclass(frozen=True)
class LocalSites:
    port: int
    http_port: int
    pages: Path  # served.json
    tls: server.Tls
    served: dict[str, int]  # host → HTTP status it answers with


def _free(port: int) -> bool:
    """Bindable as the site server binds it (SO_REUSEADDR, like http.server): connections of the previous
    start still in TIME_WAIT do not make the port taken."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOCAL, port))
        except OSError:
            return False
    return True


def _new_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOCAL, 0))
        return int(sock.getsockname()[1])


def ports(home: Path) -> tuple[int, int]:
    """(HTTPS port, HTTP port) for the site server: the previous start's when both are free, else new."""
    saved = home / "demo-sites" / "ports.json"
    try:
        port, http_port = (int(value) for value in json.loads(saved.read_text()))
    except (OSError, ValueError, TypeError):
        port = http_port = 0
    if not (port and http_port and port != http_port and _free(port) and _free(http_port)):
        port, http_port = _new_port(), _new_port()
        while http_port == port:  # the kernel may hand out a port again once its socket is closed
            http_port = _new_port()
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps([port, http_port]))
    return port, http_port


def host_of(url: str) -> str:
    return urlsplit(url).hostname or ""


def local_url(site: Site, port: int, scheme: str = "https") -> str:
    return f"{scheme}://{LOCAL}:{port}/{host_of(site.url)}/"


def _pages(site: Site) -> dict[str, str]:
    keys = KeyPage.objects.filter(site=site).exclude(path="/").order_by("position", "path")
    return {**PAGES, **{key.path.strip("/") + "/": key.label for key in keys}}


def listing(sites: list[Site]) -> dict[str, dict[str, object]]:
    """What served.json holds for each site (demo/sites.py reads it on every request)."""
    served: dict[str, dict[str, object]] = {}
    for site in sites:
        host = host_of(site.url)
        entry: dict[str, object] = {"name": site.name, "status": 503 if site.url == DOWN_URL else 200}
        entry["pages"] = _pages(site)
        if host == BROKEN_HOST:
            entry |= {"broken": BROKEN_PATH, "broken_title": BROKEN_TITLE}
        served[host] = entry
    return served


def _is_demo_target(monitor: Monitor) -> bool:
    """A monitor the demo made: aimed at its site's own host (as seeded) or at the local site server."""
    target = monitor.url if "://" in monitor.url else f"//{monitor.url}"
    return host_of(target) in {host_of(monitor.site.url), LOCAL}


def _demo_sites() -> list[Site]:
    return list(Site.objects.filter(client__contracts__isnull=False).distinct().order_by("pk"))


def _is_demo_environment(env: Environment) -> bool:
    """A prod environment at its site's own address (as the contract file says) or at the local server."""
    return env.url.rstrip("/") == env.site.url.rstrip("/") or host_of(env.url) == LOCAL


def _move_environments(sites: list[Site], url_of: Callable[[Site], str]) -> None:
    for site in sites:
        env = next((e for e in site.environments.all() if e.kind == "prod"), None)
        if env is None:
            env = Environment(site=site, kind="prod", url=site.url)
        elif not _is_demo_environment(env):
            continue
        url = url_of(site)
        if env.pk is None or env.url != url:
            moved_from = env.url
            env.url = url
            env.save()
            _follow_history(site, moved_from, url)


def _follow_history(site: Site, old: str, new: str) -> None:
    """The site's Lighthouse history moves with its address: results are kept per page address, so without
    this the bakery's seeded months (and its 48-point drop) would vanish from its card and its performance
    page while the demo measures the local copy — and come back when the demo moves the address back."""
    old, new = old.rstrip("/"), new.rstrip("/")
    moved = LighthouseResult.objects.filter(site=site).filter(Q(url=old) | Q(url__startswith=old + "/"))
    moved.update(url=Concat(Value(new), Substr("url", len(old) + 1)))


def restore() -> None:
    """The prod environments the demo moved onto the local server, back on their site's address."""
    with transaction.atomic(), acting_as(label="demo"):
        _move_environments(_demo_sites(), lambda site: site.url)


def prepare(home: Path, port: int, http_port: int) -> LocalSites:
    folder = home / "demo-sites"
    folder.mkdir(parents=True, exist_ok=True)
    sites = _demo_sites()
    served = listing(sites)
    pages = folder / "served.json"
    pages.write_text(json.dumps(served, indent=1))
    tls = server.ensure_tls(folder / "tls")
    with transaction.atomic(), acting_as(label="demo"):  # audited like any change of a monitor, by "demo"
        _move_environments(sites, lambda site: local_url(site, http_port, "http"))
        for monitor in Monitor.objects.filter(site__in=sites).select_related("site"):
            if not _is_demo_target(monitor):
                continue
            url = f"{LOCAL}:{port}" if monitor.kind in {"tls", "tcp"} else local_url(monitor.site, port)
            if monitor.url != url:
                monitor.url, monitor.next_check_at, monitor.claimed_until = url, None, None
                monitor.save(update_fields=["url", "next_check_at", "claimed_until"])
    return LocalSites(port, http_port, pages, tls, {host: int(s["status"]) for host, s in served.items()})
