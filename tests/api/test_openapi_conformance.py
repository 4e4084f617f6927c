"""The API does what its OpenAPI document says (issue 14.9): schemathesis against a live server.

`schemathesis run` (its CLI, in a process of its own so it does not share the GIL with the server thread)
reads /api/v1/openapi.json from pytest-django's live server and runs its examples, coverage and fuzzing
phases with every default check, with an agency engineer's token on the world's data (tests/web/world.py:
a request with messages and a file, a site with backups, findings and a published incident, scans, audits,
a release), so operations reach real objects. It fails on any 5xx, a response that violates its schema, an
undocumented status code, content type or header, a schema-valid request refused or an invalid one
accepted, a wrong answer to a bad token or an undeclared method.

Bounded and deterministic: `MAX_EXAMPLES` per operation, a fixed seed, no example database: 36 operations,
about 1,700 requests. Measured on the 2-core machine: 28 s for the test on its own (load 5), 83 s with a busy
loop on each core beside it. Slow, so it runs in CI's PostgreSQL pass.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.serving import dies_with_us
from tests.web.world import World

# Transactional (the live server's thread needs committed rows); serialized_rollback makes pytest-django keep
# the migrated rows (the built-in plans the world's clients use) even in a run of this folder alone, so they
# are there for this test and are put back for the tests after it (tests/parallel.py).
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

MAX_EXAMPLES = 20
SEED = 14
# The whole run, schema loading included, takes 28 s at rest and 83 s with every core busy (issue 14 asks for
# under two minutes); the kill timeout leaves room for a busier machine rather than fail on one.
DEADLINE_SECONDS = 240

# The service desk's contract decides which fields a new request needs (steps for bugs and incidents; the
# client for agency tokens): a body the schema accepts may still lack one, and the 422 names it (`missing`).
CONFIG = """
[[operations]]
include-path = "/api/v1/tickets"
include-method = "POST"
checks.positive_data_acceptance.expected-statuses = ["2xx", 401, 403, 404, 409, 422]
"""


def _run(live_url: str, token: str, folder: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    config, report = folder / "schemathesis.toml", folder / "report.json"
    config.write_text(CONFIG)
    schemathesis = Path(sys.executable).with_name("schemathesis")
    if not schemathesis.exists():
        pytest.fail(f"{schemathesis} is missing: pip install -e '.[dev]' (the dev extra)", pytrace=False)
    command = [
        str(schemathesis), "--no-color", "--config-file", str(config), "run",
        f"{live_url}/api/v1/openapi.json", "--url", live_url,
        "--header", f"Authorization: Bearer {token}",
        # A fresh connection per request: on a kept-alive one the test server's small writes wait ~40 ms for
        # delayed ACKs (Nagle), which tripled the run's time.
        "--header", "Connection: close",
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED), "--generation-database", "none",
        "--continue-on-failure", "--request-timeout", "30",
        "--report", "json", "--report-json-path", str(report),
    ]  # fmt: skip
    done = subprocess.run(
        dies_with_us(command),
        cwd=folder,  # its own files (if any) stay in the test's folder
        capture_output=True,
        text=True,
        timeout=DEADLINE_SECONDS,
        check=False,
        env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false"},
    )
    summary = json.loads(report.read_text()) if report.exists() else {}
    return done, summary


def test_every_operation_answers_as_documented(live_server, world: World, settings, tmp_path):
    # Hundreds of deliberately wrong tokens from one address: token guessing's 429 (tested on its own in
    # test_token_guessing.py) would otherwise answer most of the run.
    settings.SITEKEEPER_API_TOKEN_FAILURE_LIMIT = 1_000_000
    done, summary = _run(live_server.url, world.keys["engineer"], tmp_path)
    output = done.stdout[-20_000:] + done.stderr[-5_000:]
    assert summary, f"schemathesis wrote no report (exit {done.returncode}):\n{output}"
    operations, cases = summary["operations"], summary["test_cases"]
    print(  # noqa: T201 - the counts for the record (`pytest -s` shows them)
        f"schemathesis: {operations['tested']} operations, {cases['generated']} test cases, "
        f"{cases['with_failures']} with failures, {len(summary['errors'])} errors, "
        f"{summary['running_time']:.0f} s"
    )
    assert operations["tested"] == operations["total"] >= 36, output
    assert operations["errored"] == 0, output
    assert summary["failures"] == [], output
    assert summary["errors"] == [], output
    assert summary["warnings"]["rate_limited"] == [], output
    assert done.returncode == 0, output
