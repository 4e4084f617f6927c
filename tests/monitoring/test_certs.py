# ruff: noqa: F811  (the fixtures of tests/monitoring/servers.py are imported by name, then used as arguments)
"""Certificate expiry warnings (30/14/7/1 days, once each) and chain errors as P1 incidents."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl

import pytest

from sitekeeper.monitoring.certs import threshold_due
from sitekeeper.monitoring.models import Monitor, Outage
from sitekeeper.monitoring.probe import Probe
from sitekeeper.notify.models import Delivery
from tests.monitoring.servers import certs, https_server, make_monitor  # noqa: F401 (fixtures)

NOW = dt.datetime(2026, 11, 22, 12, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("days_left", "expected"), [(45, None), (30, 30), (20, 30), (10, 14), (5, 7), (7, 7), (0.5, 1), (-1, 1)]
)
def test_threshold_due_is_the_smallest_reached(days_left: float, expected: int | None) -> None:
    assert threshold_due(NOW + dt.timedelta(days=days_left), NOW, []) == expected


def run(location: str, certs) -> None:
    Monitor.objects.update(next_check_at=None, claimed_by="", claimed_until=None)
    context = ssl.create_default_context(cafile=str(certs.ca_file))
    asyncio.run(Probe(location, flush_every=0.01, ssl_context=context).run(once=True))


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_expiring_certificate_warned_once(acme, admin, certs, https_server) -> None:
    running = https_server(certs.expiring)
    monitor = make_monitor(acme, f"localhost:{running.port}", kind="tls")
    run("a", certs)
    run("b", certs)
    monitor.refresh_from_db()
    assert 4 <= (monitor.cert_expires_at - dt.datetime.now(dt.UTC)).days <= 5
    assert "Sitekeeper Test CA" in monitor.cert_issuer
    warnings = Delivery.objects.filter(event="monitor.cert")
    assert warnings.count() == 1  # two checks, one warning: the 7-day one
    assert warnings.get().key.endswith(":7")
    assert not Outage.objects.exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_chain_error_is_a_p1_incident(acme, admin, certs, https_server) -> None:
    running = https_server(certs.self_signed)
    make_monitor(acme, f"localhost:{running.port}", kind="tls", confirmations=1)
    run("a", certs)
    outage = Outage.objects.get()
    assert (outage.priority, outage.ticket.priority) == ("P1", "P1")
    assert "TLS" in outage.cause
