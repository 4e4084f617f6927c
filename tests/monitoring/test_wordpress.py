"""The probe against a real WordPress site (scripts/wordpress-test.sh: private MariaDB + `php -S`, loopback).

Needs the Debian packages mariadb-server, mariadb-client, php-cli, php-mysql and wordpress: without them the
test is skipped (named in the message), or fails under SITEKEEPER_REQUIRE_ALL=1.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sitekeeper.contracts.models import Plan
from sitekeeper.monitoring.models import CheckResult, Monitor, Outage
from sitekeeper.monitoring.probe import Probe
from tests.monitoring.servers import make_monitor
from tests.serving import free_port, listening, ready_seconds, wait_until

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "wordpress-test.sh"
PACKAGES = "mariadb-server mariadb-client php-cli php-mysql wordpress"
TITLE = "Sitekeeper WordPress Test"

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@dataclass
class WordPress:
    base: Path
    env: dict[str, str]
    url: str

    def script(self, action: str) -> subprocess.CompletedProcess[str]:
        # `up` may wait for MariaDB, then php -S, then the install, each up to the readiness deadline.
        return subprocess.run(
            [str(SCRIPT), action],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=4 * ready_seconds() + 60,
            check=False,
        )

    def up(self) -> None:
        done = self.script("up")
        assert done.returncode == 0, done.stderr

    def stop_web(self) -> None:
        """Kill `php -S` by its pid (its process group: the workers too), as a crash would."""
        pid = int((self.base / "run" / "php.pid").read_text())
        os.killpg(pid, signal.SIGKILL)
        port = int(self.env["SITEKEEPER_WP_PORT"])
        # The processes are gone once nothing listens on the port any more.
        stopped = f"php -S on 127.0.0.1:{port} to stop after SIGKILL"
        wait_until(lambda: not listening(port), stopped, interval=0.05)


@contextlib.contextmanager
def running_wordpress(base: Path) -> Iterator[WordPress]:
    """A WordPress test site in `base` on free ports, for the block (skipped, or failed under
    SITEKEEPER_REQUIRE_ALL=1, when its Debian packages are missing)."""
    port = free_port()
    env = {
        **os.environ,
        "SITEKEEPER_WP_DIR": str(base),
        "SITEKEEPER_WP_PORT": str(port),
        "SITEKEEPER_WP_DB_PORT": str(free_port()),
        "SITEKEEPER_WP_TITLE": TITLE,
    }
    site = WordPress(base, env, f"http://127.0.0.1:{port}/")
    started = site.script("up")
    try:
        if started.returncode == 3:  # packages missing
            message = f"WordPress test site needs the Debian packages {PACKAGES}: {started.stderr.strip()}"
            if os.environ.get("SITEKEEPER_REQUIRE_ALL") == "1":
                pytest.fail(message)
            pytest.skip(message)
        assert started.returncode == 0, started.stderr
        yield site
    finally:
        site.script("down")


# Module scope: each module that imports this fixture has a WordPress of its own anyway (pytest makes one
# fixture per module it is defined or imported in); as a session fixture each lived to the end of the run,
# eight MariaDB + php -S at once, and their shutdown was the last worker's last half minute.
@pytest.fixture(scope="module")
def wordpress(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WordPress]:
    with running_wordpress(tmp_path_factory.mktemp("wordpress")) as site:
        yield site


def probe_once() -> int:
    """One pass of the probe after making every monitor due (as tests/monitoring/test_outages.py does)."""
    Monitor.objects.update(next_check_at=None, claimed_by="", claimed_until=None)
    return asyncio.run(Probe("a", flush_every=0.01).run(once=True))


def test_wordpress_version_file(wordpress: WordPress) -> None:
    version = wordpress.base / "site" / "wp-includes" / "version.php"
    assert "$wp_version" in version.read_text()


def test_wordpress_down_and_up_again(acme, admin, wordpress: WordPress) -> None:
    Plan.objects.filter(pk=acme.contract.plan_id).update(recovery_targets={"P1": "4h", "P2": "8h"})
    monitor = make_monitor(acme, wordpress.url, keyword=TITLE, timeout_seconds=5)
    assert monitor.confirmations >= 2

    assert probe_once() == 1
    monitor.refresh_from_db()
    assert monitor.state == "up"
    assert CheckResult.objects.get().ok

    wordpress.stop_web()
    try:
        for _ in range(monitor.confirmations - 1):
            probe_once()
            assert not Outage.objects.exists()  # not yet confirmed
        probe_once()
        outage = Outage.objects.get(monitor=monitor)
        assert outage.end is None
        ticket = outage.ticket
        assert (outage.priority, ticket.priority, ticket.type) == ("P1", "P1", "incident")
        assert outage.start == CheckResult.objects.filter(ok=False).order_by("at").first().at
    finally:
        wordpress.up()  # php -S again; MariaDB and the install are left as they are

    probe_once()
    outage.refresh_from_db()
    ticket.refresh_from_db()
    first_success_after = CheckResult.objects.filter(ok=True, at__gt=outage.start).order_by("at").first()
    assert outage.end == first_success_after.at
    assert ticket.recovered_at == outage.end
    assert ticket.recovery_met_at == outage.end
    monitor.refresh_from_db()
    assert monitor.state == "up"
