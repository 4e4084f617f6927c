"""The worker: huey's consumer running the escalation pass every minute, in-process and as a real process.

The process test runs `sitekeeper worker` against its own data folder (SQLite queue; SQLite database, or a
fresh PostgreSQL database when SITEKEEPER_DATABASE_URL points at PostgreSQL) with the e-mail backend writing
files, crashes a pass between the insert and the commit, then checks that the worker sends each notice once,
and that a restarted worker sends nothing more.
"""

from __future__ import annotations

import datetime as dt
import email
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import time_machine
from huey.contrib.djhuey import HUEY

from sitekeeper.desk import tasks
from sitekeeper.desk.models import Escalation
from tests.desk.test_escalation import berlin, file
from tests.serving import dies_with_us, ready_seconds

REPO = Path(__file__).resolve().parents[2]
SITEKEEPER = Path(sys.executable).with_name("sitekeeper")
TASK = "sitekeeper.desk.tasks.escalation_every_minute"


def test_the_escalation_pass_is_a_periodic_task_every_minute():
    registered = HUEY._registry._registry  # huey has no public listing
    assert TASK in registered
    task = tasks.escalation_every_minute.s()
    start = dt.datetime(2026, 11, 23, tzinfo=dt.UTC).replace(tzinfo=None)  # huey passes naive UTC
    assert all(task.validate_datetime(start + dt.timedelta(minutes=m)) for m in range(0, 24 * 60, 7))
    assert task.expires == 55  # a tick that waited behind busy workers is dropped; the next one comes


@pytest.fixture
def immediate() -> Iterator[None]:
    HUEY.immediate = True
    yield
    HUEY.immediate = False


@pytest.mark.django_db
def test_the_task_runs_the_pass_in_immediate_mode(acme, immediate, monkeypatch):
    monkeypatch.setenv("SITEKEEPER_ESCALATION_EMAILS", "escalate@agency.test")
    ticket = file(acme, "P1", berlin(2026, 11, 23, 10))
    with time_machine.travel(berlin(2026, 11, 23, 14, 30), tick=False):
        tasks.escalation_every_minute()
    assert sorted(Escalation.objects.filter(ticket=ticket).values_list("kind", flat=True)) == [
        "breach",
        "warning",
    ]


# --- a real worker process ------------------------------------------------------------------------------
SEED = """
import datetime as dt
from django.utils import timezone
from sitekeeper.contracts.models import Calendar, CalendarVersion
from sitekeeper.desk import services
from tests.conftest import WEEKDAY_HOURS, make_client

from zoneinfo import ZoneInfo

received = timezone.now() - dt.timedelta(hours=5)
# The office is closed on the days of receipt and of the run, so the P1 always arrives after hours.
closed = sorted({str(t.astimezone(ZoneInfo("Europe/Berlin")).date()) for t in (received, timezone.now())})
calendar = Calendar.objects.create(slug="hq", name="Berlin office")
CalendarVersion.objects.create(
    calendar=calendar, number=1, timezone="Europe/Berlin", hours=WEEKDAY_HOURS, closures=closed
)
client = make_client("acme", "Acme GmbH", "business", calendar)
# P1 on Business (4 h, round the clock): received 5 h ago, so the warning and the breach are both due, and
# received after hours, so on-call is paged for it too (2.2).
ticket = services.file_request(
    client, channel="portal", subject="Shop down", description="500 on every page.", type="incident",
    priority="P1", site=client.sites.get(), environment="prod", steps="Open the home page.",
    received_at=received,
)
print("SEEDED", ticket.pk)
"""

CRASH = """
import os
from sitekeeper.desk import escalation

def killed(*args, **kwargs):
    os._exit(9)  # the process dies after inserting the notice, before the commit

escalation.notify = killed
escalation.escalation_pass()
"""

COUNTS = """
import json
from sitekeeper.desk.models import Escalation, Event
from sitekeeper.notify.models import Delivery
print("COUNTS", json.dumps({
    "escalations": Escalation.objects.count(),
    "events": Event.objects.filter(kind__in=["warning", "breach"]).count(),
    "pages": Event.objects.filter(kind="page").count(),
    "deliveries": sorted((d.target, d.status) for d in Delivery.objects.all()),
}))
"""

# The breach to the escalation list, on-call and the client's emergency contact; on-call's after-hours page.
EXPECTED_MAIL = {"escalate@agency.test": 1, "pager@agency.test": 2, "oncall@acme.test": 1}


@pytest.fixture
def database_url() -> Iterator[str | None]:
    """None (SQLite in the data folder), or a fresh PostgreSQL database on the server the suite uses."""
    url = os.environ.get("SITEKEEPER_DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        yield None
        return
    import psycopg

    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/')}_worker_{os.getpid()}"
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


REDIS_QUEUE = "redis://127.0.0.1:6379/11"  # a database number of its own, emptied before and after


@pytest.fixture(params=["sqlite", "redis"])
def queue_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The worker runs on the default SQLite queue and on Redis (several workers or machines)."""
    if request.param == "sqlite":
        yield None
        return
    import redis

    connection = redis.Redis.from_url(REDIS_QUEUE)
    try:
        connection.ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("SITEKEEPER_REQUIRE_ALL") == "1":
            pytest.fail("Redis is not reachable on 127.0.0.1:6379 (Debian package redis-server)")
        pytest.skip("Redis is not reachable on 127.0.0.1:6379 (install the Debian package redis-server)")
    connection.flushdb()
    yield REDIS_QUEUE
    connection.flushdb()


@pytest.fixture
def environment(tmp_path: Path, database_url: str | None, queue_url: str | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SITEKEEPER_")}
    env.update(
        SITEKEEPER_HOME=str(tmp_path / "home"),
        SITEKEEPER_EMAIL_URL=f"file://{tmp_path / 'mail'}",
        SITEKEEPER_ESCALATION_EMAILS="escalate@agency.test",
        SITEKEEPER_ONCALL="pager@agency.test",
        PYTHONPATH=str(REPO),  # the seed borrows tests/conftest.py's client factory
    )
    if database_url:
        env["SITEKEEPER_DATABASE_URL"] = database_url
    if queue_url:
        env["SITEKEEPER_QUEUE_URL"] = queue_url
    return env


def sitekeeper(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SITEKEEPER), *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=120, check=check
    )


def shell(env: dict[str, str], code: str, marker: str) -> str:
    output = sitekeeper(env, "shell", "-c", code).stdout
    return next(line for line in output.splitlines() if line.startswith(marker)).split(" ", 1)[1]


def mail_to(folder: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    for path in folder.glob("*.log") if folder.exists() else ():
        # The file backend writes each message followed by a line of dashes.
        for chunk in path.read_text().split("\n" + "-" * 79 + "\n"):
            if chunk.strip():
                counts[parseaddr(email.message_from_string(chunk)["To"])[1]] += 1
    return counts


class Worker:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.handle = log.open("w")
        self.process = subprocess.Popen(
            dies_with_us([str(SITEKEEPER), "worker", "--workers", "2"]),  # no worker outlives a killed pytest
            env=env,
            cwd=REPO,
            stdout=self.handle,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log.read_text()

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (ready_seconds() if timeout is None else timeout)
        while not condition():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"worker: {what} did not happen\n{self.output()}")
            time.sleep(0.2)

    def stop(self) -> int:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
        code = self.process.wait(timeout=ready_seconds())
        self.handle.close()
        return code


def passes_run(worker: Worker) -> int:
    return sum(TASK in line and "executed in" in line for line in worker.output().splitlines())


@pytest.mark.slow
def test_a_real_worker_repairs_a_crashed_pass_and_sends_each_notice_once(environment, tmp_path):
    sitekeeper(environment, "migrate", "-v", "0")
    shell(environment, SEED, "SEEDED")
    crashed = sitekeeper(environment, "shell", "-c", CRASH, check=False)
    assert crashed.returncode == 9, crashed.stderr
    before = json.loads(shell(environment, COUNTS, "COUNTS"))
    assert before == {"escalations": 0, "events": 0, "pages": 0, "deliveries": []}  # the crash left nothing

    # The worker runs its periodic tasks once at start, then every minute.
    worker = Worker(environment, tmp_path / "worker-1.log")
    mail = tmp_path / "mail"
    worker.wait_for(lambda: sum(mail_to(mail).values()) >= sum(EXPECTED_MAIL.values()), "sending the notices")
    worker.wait_for(lambda: passes_run(worker) >= 1, "the escalation pass")
    assert worker.stop() == 0
    banner = worker.output()
    where = "Redis redis://127.0.0.1:6379/11" if "SITEKEEPER_QUEUE_URL" in environment else "SQLite file"
    assert f"sitekeeper worker: queue 'sitekeeper' in {where}" in banner
    assert f"periodic {TASK} — Every minute: send the SLA warnings" in banner
    assert "2 thread workers, periodic tasks on" in banner
    assert "sitekeeper worker: stopped" in banner

    after = json.loads(shell(environment, COUNTS, "COUNTS"))
    # The warning, folded into the breach notice, the breach, and the after-hours page.
    assert after["escalations"] == 3
    assert after["events"] == 1
    assert after["pages"] == 1
    assert after["deliveries"] == sorted(
        [address, "sent"] for address, count in EXPECTED_MAIL.items() for _ in range(count)
    )

    # A restarted worker runs the pass again and sends nothing more.
    again = Worker(environment, tmp_path / "worker-2.log")
    again.wait_for(lambda: passes_run(again) >= 1, "the escalation pass after the restart")
    assert again.stop() == 0
    assert mail_to(mail) == EXPECTED_MAIL
    assert json.loads(shell(environment, COUNTS, "COUNTS")) == after
