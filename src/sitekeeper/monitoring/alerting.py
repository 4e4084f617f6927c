"""The alert promise (agreement 1.2: "alert within 5 minutes", the contract's `alert_minutes`), checked.

A monitor can only keep the promise when its slowest confirmed alert fits: the site may fail just after a
check, so up to one interval passes before the first failed check, then `confirmations` checks one interval
apart must fail, the last of them taking up to its timeout. We read that as

    interval × confirmations + timeout ≤ alert_minutes × 60 s

(conservative by design: it counts a whole interval of lag before the first failure). A monitor that cannot
meet it is refused wherever one is configured — the contract file (`apply`), the admin, the API — with the
numbers in the message so a person can see which one to change.
"""

from __future__ import annotations

from typing import Any

from sitekeeper.contracts.models import Contract, Site


def worst_alert_seconds(interval_seconds: int, confirmations: int, timeout_seconds: int) -> int:
    """The longest a confirmed outage can take to alert with this configuration, in seconds."""
    return interval_seconds * max(confirmations, 1) + timeout_seconds


def alert_problem(
    interval_seconds: int,
    confirmations: int,
    timeout_seconds: int,
    alert_minutes: int,
    *,
    label: str = "this monitor",
) -> str | None:
    """None when the configuration can alert within `alert_minutes`; else the reason, naming the numbers."""
    worst = worst_alert_seconds(interval_seconds, confirmations, timeout_seconds)
    limit = alert_minutes * 60
    if worst <= limit:
        return None
    return (
        f"{label} cannot alert within the contract's {alert_minutes} min ({limit} s): "
        f"{interval_seconds} s interval × {max(confirmations, 1)} confirmations + "
        f"{timeout_seconds} s timeout = {worst} s. Shorten the interval or the timeout, or lower the "
        "confirmations."
    )


def monitor_label(monitor: Any) -> str:
    """How an alert-promise problem names the monitor — the same words in `apply`'s refusal of a contract's
    alert time and in the console's refusal of a monitor."""
    return f"monitor “{monitor}” of {monitor.site.url}"


def monitor_alert_problem(monitor: Any, alert_minutes: int) -> str | None:
    """`alert_problem` for a Monitor (duck-typed: models.py imports this module, not the other way)."""
    return alert_problem(
        monitor.interval_seconds,
        monitor.confirmations,
        monitor.timeout_seconds,
        alert_minutes,
        label=monitor_label(monitor),
    )


def contract_alert_problems(contract: Contract, alert_minutes: int | None = None) -> list[str]:
    """Every enabled production monitor of the contract's sites that cannot alert within `alert_minutes`
    (default: the contract's own). Stage and dev monitors are not under the uptime promise.

    The monitors are read through the sites (`Site.monitors`): models.py uses this module's rule in
    Monitor.clean, so this module does not import models.py back."""
    minutes = contract.alert_minutes if alert_minutes is None else alert_minutes
    # Sites in the database's URL order (its collation, as before; a client's URLs are unique), each
    # site's monitors in pk order: the order of the old `order_by("site__url", "pk")`.
    sites = Site.objects.filter(client_id=contract.client_id).order_by("url").prefetch_related("monitors")
    monitors = [
        monitor
        for site in sites
        for monitor in sorted(site.monitors.all(), key=lambda m: m.pk)
        if monitor.environment == "prod" and monitor.enabled
    ]
    problems = []
    for monitor in monitors:
        problem = monitor_alert_problem(monitor, minutes)
        if problem:
            problems.append(problem)
    return problems
