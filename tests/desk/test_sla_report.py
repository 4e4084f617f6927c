"""The month's SLA figures on a handful of acme's requests, every number worked out by hand.

acme: Business plan (response P1 4h wall, P2 8bh, P3 2bd, P4 3bd), here with resolution targets
P1 1bd, P2 3bd, P3 5bd, P4 10bd and recovery targets P1 6h (wall), P2 12bh; Berlin office calendar
(Mon-Fri 09:00-18:00). February 2026 is CET (UTC+1) throughout, so in Berlin it runs from
2026-01-31 23:00 UTC to 2026-02-28 23:00 UTC. The clocks are judged on 10 March 2026, 12:00 UTC.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from sitekeeper.access.models import User
from sitekeeper.contracts.models import Client
from sitekeeper.desk import services
from sitekeeper.desk.models import Channel, PauseReason, RequestType, State, Ticket
from sitekeeper.desk.sla_report import ClockTally, ReportError, SlaReport, sla_report
from tests.core.support import utc

NOW = utc(2026, 3, 10, 12)
H = 3600  # seconds


@pytest.fixture(autouse=True)
def fast_passwords(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def plan(acme: Client) -> None:
    plan = acme.contract.plan
    plan.resolution_targets = {"P1": "1bd", "P2": "3bd", "P3": "5bd", "P4": "10bd"}
    plan.recovery_targets = {"P1": "6h", "P2": "12bh"}
    plan.save()


class Month:
    """Files acme's requests with explicit instants; `staff` answers, `client` writes back."""

    def __init__(self, client: Client, staff: User, owner: User) -> None:
        self.client, self.staff, self.owner = client, staff, owner
        self.site = client.sites.get()
        self.tickets: dict[str, Ticket] = {}

    def file(self, name: str, received: dt.datetime, priority: str, kind: str) -> Ticket:
        ticket = services.file_request(
            self.client,
            channel=Channel.PORTAL,
            subject=f"request {name}",
            description="d",
            type=kind,
            priority=priority,
            site=self.site,
            environment="prod",
            steps="s",
            requester_user=self.owner,
            received_at=received,
        )
        self.tickets[name] = ticket
        return ticket

    def reply(self, name: str, at: dt.datetime) -> None:
        services.add_message(self.tickets[name], "on it", channel=Channel.STAFF, author=self.staff, at=at)

    def client_reply(self, name: str, at: dt.datetime) -> None:
        services.add_message(self.tickets[name], "here", channel=Channel.PORTAL, author=self.owner, at=at)

    def wait(self, name: str, state: str, at: dt.datetime) -> None:
        services.set_state(self.tickets[name], state, actor=self.staff, at=at)

    def recovered(self, name: str, at: dt.datetime) -> None:
        services.mark_recovered(self.tickets[name], actor=self.staff, at=at)

    def resolve(self, name: str, at: dt.datetime) -> None:
        services.resolve(self.tickets[name], actor=self.staff, at=at)


@pytest.fixture
def february(plan: None, acme: Client, engineer: User, owner: User) -> Month:
    m = Month(acme, engineer, owner)
    # T1, P1 incident, Tue 10 Feb 10:00 CET; waiting for access 11:00-14:00 (3 h wall, 3 bh). Response
    # due 4 h + 3 h → 16:00 UTC, met 15:30 (on time); recovery due 6 h + 3 h → 18:00 UTC, met 19:00 (late);
    # resolution 9 bh → Wed 13:00 CET (12:00 UTC), met 12:30 UTC (late).
    m.file("T1", utc(2026, 2, 10, 9), "P1", RequestType.INCIDENT)
    m.wait("T1", State.WAITING_ACCESS, utc(2026, 2, 10, 10))
    m.client_reply("T1", utc(2026, 2, 10, 13))
    m.reply("T1", utc(2026, 2, 10, 15, 30))
    m.recovered("T1", utc(2026, 2, 10, 19))
    m.resolve("T1", utc(2026, 2, 11, 12, 30))
    # T2, P1 incident, Sat 14 Feb 11:00 CET: answered, recovered and resolved in time.
    m.file("T2", utc(2026, 2, 14, 10), "P1", RequestType.INCIDENT)
    m.reply("T2", utc(2026, 2, 14, 11))  # due 14:00 UTC
    m.recovered("T2", utc(2026, 2, 14, 12))  # due 16:00 UTC
    m.resolve("T2", utc(2026, 2, 16, 9))  # Mon 10:00 CET; due Mon 18:00 CET (9 bh from Mon 09:00)
    # T3, P2 bug, Wed 18 Feb 09:00 CET: never answered nor resolved — both clocks breached by 10 March.
    m.file("T3", utc(2026, 2, 18, 8), "P2", RequestType.BUG)
    # T9, P2 bug, Thu 19 Feb 09:00 CET: answered in time; unresolved past Mon 23 Feb 18:00 CET.
    m.file("T9", utc(2026, 2, 19, 8), "P2", RequestType.BUG)
    m.reply("T9", utc(2026, 2, 19, 9))
    # T5, P2 incident, Mon 23 Feb 09:00 CET: response due 18:00 CET, met 13:00; recovery due Tue 12:00 CET,
    # met Tue 09:00; resolution due Wed 25 Feb 18:00 CET, met Thu 26 Feb 10:00 CET (late).
    m.file("T5", utc(2026, 2, 23, 8), "P2", RequestType.INCIDENT)
    m.reply("T5", utc(2026, 2, 23, 12))
    m.recovered("T5", utc(2026, 2, 24, 8))
    m.resolve("T5", utc(2026, 2, 26, 9))
    # T4, P3 question, Fri 27 Feb 17:00 CET; waiting for information from 17:30 CET, still on 10 March.
    m.file("T4", utc(2026, 2, 27, 16), "P3", RequestType.QUESTION)
    m.wait("T4", State.WAITING_INFO, utc(2026, 2, 27, 16, 30))
    # T6, P4 change request, Sun 1 Feb 00:30 CET — still January in UTC, February in Berlin.
    m.file("T6", utc(2026, 1, 31, 23, 30), "P4", RequestType.CHANGE)
    m.reply("T6", utc(2026, 2, 2, 9))
    m.resolve("T6", utc(2026, 2, 3, 9))
    # T7, P1 incident, Sun 1 Mar 00:30 CET — still February in UTC, March in Berlin: not February's.
    m.file("T7", utc(2026, 2, 28, 23, 30), "P1", RequestType.INCIDENT)
    # T8, received in January, waiting for approval Fri 30 Jan 17:00 CET - Mon 2 Feb 10:00 CET: February
    # holds 34 h of that pause (from 1 Feb 00:00 CET), one of them business time (Mon 09:00-10:00).
    m.file("T8", utc(2026, 1, 30, 10), "P3", RequestType.BUG)
    m.wait("T8", State.WAITING_APPROVAL, utc(2026, 1, 30, 16))
    m.client_reply("T8", utc(2026, 2, 2, 9))
    return m


@pytest.fixture
def report(february: Month, acme: Client) -> SlaReport:
    return sla_report(acme, 2026, 2, now=NOW)


@pytest.mark.django_db
def test_the_month_is_the_calendars(report: SlaReport) -> None:
    assert (report.timezone, report.start, report.end) == (
        "Europe/Berlin",
        utc(2026, 1, 31, 23),
        utc(2026, 2, 28, 23),
    )
    assert report.received == 7  # T1-T6 and T9; not T7 (March in Berlin) nor T8 (January)


@pytest.mark.django_db
def test_requests_by_priority_and_type(report: SlaReport) -> None:
    assert report.by_priority == {"P1": 2, "P2": 3, "P3": 1, "P4": 1}
    assert report.by_type == {"incident": 3, "bug": 2, "change_request": 1, "update": 0, "question": 1}


# (clock, priority) → (with target, on time, late, breached, open, share on time)
TALLIES = {
    ("response", "P1"): (2, 2, 0, 0, 0, Decimal("100.0")),  # T1, T2
    ("response", "P2"): (3, 2, 0, 1, 0, Decimal("66.6")),  # T5, T9 on time; T3 breached; 2/3 truncated
    ("response", "P3"): (1, 0, 0, 0, 1, None),  # T4 paused: nothing decided
    ("response", "P4"): (1, 1, 0, 0, 0, Decimal("100.0")),  # T6
    ("resolution", "P1"): (2, 1, 1, 0, 0, Decimal("50.0")),  # T2 on time, T1 late
    ("resolution", "P2"): (3, 0, 1, 2, 0, Decimal("0.0")),  # T5 late, T3 and T9 breached
    ("resolution", "P3"): (1, 0, 0, 0, 1, None),
    ("resolution", "P4"): (1, 1, 0, 0, 0, Decimal("100.0")),
    ("recovery", "P1"): (2, 1, 1, 0, 0, Decimal("50.0")),  # T2 on time, T1 late
    ("recovery", "P2"): (1, 1, 0, 0, 0, Decimal("100.0")),  # T5; bugs have no recovery clock
    ("recovery", "P3"): (0, 0, 0, 0, 0, None),
    ("recovery", "P4"): (0, 0, 0, 0, 0, None),
}


@pytest.mark.django_db
def test_every_clock_at_every_priority(report: SlaReport) -> None:
    got = {
        (t.clock, t.priority): (
            t.with_target,
            t.met_on_time,
            t.met_late,
            t.breached,
            t.open,
            t.on_time_percent,
        )
        for t in report.clocks
    }
    assert got == TALLIES


@pytest.mark.django_db
def test_p1_incidents_line_by_line(february: Month, report: SlaReport) -> None:
    assert [(i.reference, i.received, i.on_time) for i in report.incidents] == [
        (february.tickets["T1"].reference, utc(2026, 2, 10, 9), False),
        (february.tickets["T2"].reference, utc(2026, 2, 14, 10), True),
    ]
    t1, t2 = report.incidents
    # clock → (met, wall seconds, counted seconds, on time)
    assert {
        c.clock: (c.met, c.wall.total_seconds(), c.counted.total_seconds(), c.on_time) for c in t1.clocks
    } == {
        # 6 h 30 wall; 3 h 30 counted: the 3-hour pause is left out of the wall-clock target
        "response": (utc(2026, 2, 10, 15, 30), 6.5 * H, 3.5 * H, True),
        # Tue 10:00 CET - Wed 13:30 CET; counted in business hours: Tue 1 + 4, Wed 4.5
        "resolution": (utc(2026, 2, 11, 12, 30), 27.5 * H, 9.5 * H, False),
        "recovery": (utc(2026, 2, 10, 19), 10 * H, 7 * H, False),
    }
    assert {
        c.clock: (c.met, c.wall.total_seconds(), c.counted.total_seconds(), c.on_time) for c in t2.clocks
    } == {
        "response": (utc(2026, 2, 14, 11), 1 * H, 1 * H, True),
        # Sat 11:00 CET - Mon 10:00 CET: 47 h, of which one business hour
        "resolution": (utc(2026, 2, 16, 9), 47 * H, 1 * H, True),
        "recovery": (utc(2026, 2, 14, 12), 2 * H, 2 * H, True),
    }
    assert t1.clock("recovery").due == utc(2026, 2, 10, 18)
    assert t1.clock("resolution").status == "met_late"


@pytest.mark.django_db
def test_paused_time_by_reason_clipped_to_the_month(report: SlaReport) -> None:
    got = {p.reason: (p.pauses, p.wall.total_seconds(), p.business.total_seconds()) for p in report.paused}
    assert got == {
        PauseReason.WAITING_ACCESS: (1, 3 * H, 3 * H),  # T1, Tue 11:00-14:00
        PauseReason.WAITING_INFO: (1, 30.5 * H, 0.5 * H),  # T4, Fri 17:30 CET to the month's end
        PauseReason.WAITING_APPROVAL: (1, 34 * H, 1 * H),  # T8's February part
        PauseReason.THIRD_PARTY: (0, 0, 0),
        PauseReason.INCOMPLETE: (0, 0, 0),
        PauseReason.UNAUTHORIZED_CHANGE: (0, 0, 0),
        PauseReason.ACCESS_REVOKED: (0, 0, 0),
        PauseReason.UNVERIFIED: (0, 0, 0),
    }


@pytest.mark.django_db
def test_an_open_pause_counts_up_to_now(february: Month, acme: Client) -> None:
    # Judged on Fri 27 Feb 18:00 CET: T4 has been waiting for half an hour.
    early = sla_report(acme, 2026, 2, now=utc(2026, 2, 27, 17))
    info = early.pause(PauseReason.WAITING_INFO)
    assert (info.wall, info.business) == (dt.timedelta(minutes=30), dt.timedelta(minutes=30))
    # ... and T9's resolution (due Mon 23 Feb) had breached, T3's too, but T4's response is paused.
    assert early.tally("resolution", "P2").breached == 2


@pytest.mark.django_db
def test_march_starts_at_midnight_in_berlin_and_is_an_hour_shorter(february: Month, acme: Client) -> None:
    march = sla_report(acme, 2026, 3, now=NOW)
    assert (march.start, march.end) == (utc(2026, 2, 28, 23), utc(2026, 3, 31, 22))
    assert march.received == 1
    [t7] = march.incidents
    assert t7.received == utc(2026, 2, 28, 23, 30)
    # Unanswered, unrecovered: response and recovery breached, resolution (1 bd from Mon 2 Mar) too.
    assert [(c.clock, c.status, c.on_time) for c in t7.clocks] == [
        ("response", "breached", False),
        ("resolution", "breached", False),
        ("recovery", "breached", False),
    ]
    assert t7.on_time is False
    # T4's wait carries on into March: 1 Mar 00:00 CET to NOW (Tue 10th 13:00 CET), that is the business
    # days 2-6 and 9 March of 9 h each and 09:00-13:00 on the 10th.
    info = march.pause(PauseReason.WAITING_INFO)
    assert info.wall == NOW - utc(2026, 2, 28, 23)
    assert info.business == dt.timedelta(hours=6 * 9 + 4)


@pytest.mark.django_db
def test_as_dict_is_plain_json(report: SlaReport) -> None:
    data = json.loads(json.dumps(report.as_dict()))
    assert data["start"] == "2026-01-31T23:00:00+00:00"
    assert data["by_priority"] == {"P1": 2, "P2": 3, "P3": 1, "P4": 1}
    assert data["clocks"][1] == {
        "clock": "response",
        "priority": "P2",
        "with_target": 3,
        "met_on_time": 2,
        "met_late": 0,
        "breached": 1,
        "open": 0,
        "on_time_percent": "66.6",
    }
    response = data["incidents"][0]["clocks"][0]
    assert response == {
        "clock": "response",
        "target": "4h",
        "due": "2026-02-10T16:00:00+00:00",
        "met": "2026-02-10T15:30:00+00:00",
        "wall": {"seconds": 23400, "hours": "6.50"},
        "counted": {"seconds": 12600, "hours": "3.50"},
        "status": "met",
        "on_time": True,
    }
    assert data["paused"][0] == {
        "reason": "waiting_access",
        "label": "waiting for client access",
        "pauses": 1,
        "wall": {"seconds": 10800, "hours": "3.00"},
        "business": {"seconds": 10800, "hours": "3.00"},
    }


@pytest.mark.django_db
def test_an_empty_month(acme: Client) -> None:
    empty = sla_report(acme, 2026, 5, now=NOW)
    assert empty.received == 0
    assert empty.incidents == ()
    assert all(t == ClockTally(t.clock, t.priority) and t.on_time_percent is None for t in empty.clocks)
    assert all(p.pauses == 0 for p in empty.paused)


@pytest.mark.django_db
def test_a_p1_incident_without_resolution_target_still_shows_when_it_was_resolved(
    acme: Client, engineer: User, owner: User
) -> None:
    # The Business plan as shipped: response targets only.
    m = Month(acme, engineer, owner)
    m.file("T", utc(2026, 2, 10, 9), "P1", RequestType.INCIDENT)
    m.resolve("T", utc(2026, 2, 10, 11))
    [line] = sla_report(acme, 2026, 2, now=NOW).incidents
    resolution = line.clock("resolution")
    assert (resolution.target, resolution.met, resolution.counted, resolution.on_time) == (
        None,
        utc(2026, 2, 10, 11),
        None,
        None,
    )
    assert resolution.wall == dt.timedelta(hours=2)
    assert line.on_time is True  # the one clock with a target (response, met by the resolution) in time


@pytest.mark.django_db
def test_a_client_without_contract_or_a_month_out_of_range(acme: Client) -> None:
    with pytest.raises(ReportError, match=r"1\.\.12"):
        sla_report(acme, 2026, 13, now=NOW)
    nobody = Client.objects.create(slug="nobody", name="Nobody")
    with pytest.raises(ReportError, match="no current contract"):
        sla_report(nobody, 2026, 2, now=NOW)


# Uptime in the report (issue 12 items 1 and 12): per site with coverage; unmeasured; monitoring gaps -----


@pytest.mark.django_db
def test_uptime_per_site_with_coverage_and_a_monitoring_gap(acme: Client, owner: User) -> None:
    from django.test import Client as HttpClient

    from sitekeeper.contracts.models import Site
    from sitekeeper.monitoring.models import Monitor, Outage, ProbeSession

    site = acme.sites.get()
    monitor = Monitor.objects.create(site=site, url=site.url, created_at=utc(2025, 1, 1))
    # February 2026 in Berlin: 31 Jan 23:00 → 28 Feb 23:00 UTC = 672 h; the probes missed 10 h of it.
    ProbeSession.objects.create(
        location="fra",
        instance="p:1",
        started_at=utc(2026, 1, 1),
        last_beat_at=utc(2026, 2, 10),
        stopped_at=utc(2026, 2, 10),
    )
    ProbeSession.objects.create(
        location="fra", instance="p:2", started_at=utc(2026, 2, 10, 10), last_beat_at=NOW, stopped_at=NOW
    )
    # 2 h down: 100 × (1 − 120 / 40,320) = 99.7024 % → shortfall 0.1976 → 2 steps → 40 % of 450.00 (2 sites).
    Outage.objects.create(
        monitor=monitor, site=site, start=utc(2026, 2, 12, 10), end=utc(2026, 2, 12, 12), cause="x"
    )
    Site.objects.create(client=acme, url="https://shop.acme.test", name="Acme shop", platform="other")
    report = sla_report(acme, 2026, 2, now=NOW)
    measured, shop = report.uptime
    assert (measured.uptime, measured.coverage) == (Decimal("99.7024"), Decimal("98.5119"))  # 662 / 672 h
    assert measured.monitoring_gap is True
    assert measured.credit_amount == Decimal("180.00")
    assert (shop.uptime, shop.coverage, shop.monitoring_gap, shop.credit_amount) == (
        None,
        Decimal(0),
        True,
        None,
    )
    assert report.credit["credit_amount"] == "180.00"
    data = json.loads(json.dumps(report.as_dict()))
    assert data["uptime"][1] == {
        "site": "https://shop.acme.test",
        "name": "Acme shop",
        "uptime": None,
        "coverage": "0",
        "monitoring_gap": True,
        "counted_minutes": "0",
        "excluded_minutes": "0",
        "credit_amount": None,
    }
    http = HttpClient()
    http.force_login(owner)
    page = http.get("/portal/requests/sla/2026-02/").content.decode()
    assert page.count('data-flag="monitoring-gap"') == 3  # two sites flagged, and the note explaining it
    assert "not measured" in page
    assert "99.7024 %" in page
    assert "Service credit for the month: <strong>180.00 EUR</strong>" in page
