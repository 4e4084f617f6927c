"""`sitekeeper apply` and `sitekeeper export` as commands: output, errors, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sitekeeper.access.models import AuditEntry
from sitekeeper.contracts.models import Client
from tests.contracts.apply_support import EXAMPLE, state, write
from tests.contracts.test_apply import EXPECTED_EXAMPLE_CHANGES

SITEKEEPER = Path(sys.executable).with_name("sitekeeper")


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_apply_prints_each_change_then_a_summary(tmp_path):
    path = write(tmp_path, EXAMPLE)

    out, _ = run("apply", str(path))
    assert out.splitlines() == [*EXPECTED_EXAMPLE_CHANGES, "applied 8 changes"]

    out, _ = run("apply", str(path))
    assert out == "no changes\n"


@pytest.mark.django_db
def test_apply_dry_run_prints_the_diff_and_writes_nothing(tmp_path):
    path = write(tmp_path, EXAMPLE)
    before = state()

    out, _ = run("apply", str(path), "--dry-run")

    assert out.splitlines() == [*EXPECTED_EXAMPLE_CHANGES, "dry run: would apply 8 changes; nothing written"]
    assert state() == before


@pytest.mark.django_db
def test_apply_errors_go_to_stderr_and_raise_command_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, EXAMPLE.replace("plan: business", "plan: busines"))
    err = StringIO()

    with pytest.raises(CommandError, match=r"^1 error in acme.yaml; nothing was applied$"):
        call_command("apply", "acme.yaml", stdout=StringIO(), stderr=err)

    assert err.getvalue() == (
        "acme.yaml:13: clients[0].contract.plan: unknown plan 'busines' "
        "(known: starter, professional, business, enterprise)\n"
    )
    assert not Client.objects.exists()


@pytest.mark.django_db
def test_apply_as_a_user(tmp_path, admin):
    run("apply", str(write(tmp_path, EXAMPLE)), "--as", "admin")

    assert set(AuditEntry.objects.values_list("actor__username", "actor_label")) == {("admin", "cli:apply")}
    with pytest.raises(CommandError, match="--as nobody: no such user"):
        run("apply", str(write(tmp_path, EXAMPLE)), "--as", "nobody")


@pytest.mark.django_db
def test_export_to_stdout_and_to_a_file(tmp_path, acme):
    out, _ = run("export")
    assert "  - slug: acme\n" in out

    target = tmp_path / "agency.yaml"
    out, _ = run("export", str(target))
    assert out == f"wrote {target}\n"
    assert target.read_text(encoding="utf-8") == run("export")[0]
    assert run("apply", str(target))[0] == "no changes\n"


def test_exit_codes_of_the_console_script(tmp_path):
    """The real `sitekeeper` script on a fresh SQLite database: 0 when applied, non-zero on errors."""
    env = {k: v for k, v in os.environ.items() if k != "SITEKEEPER_DATABASE_URL"}
    env["SITEKEEPER_HOME"] = str(tmp_path / "home")

    def sitekeeper(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [SITEKEEPER, *args], env=env, cwd=tmp_path, capture_output=True, text=True, check=False
        )

    assert sitekeeper("migrate", "-v0").returncode == 0
    write(tmp_path, EXAMPLE.replace('"900.00"', "900.5"), "bad.yaml")
    bad = sitekeeper("apply", "bad.yaml")
    assert bad.returncode == 1
    assert bad.stderr.startswith(
        "bad.yaml:13: clients[0].contract.monthly_fee: 900.5 is a floating-point number"
    )
    assert "CommandError: 1 error in bad.yaml; nothing was applied" in bad.stderr

    write(tmp_path, EXAMPLE)
    dry = sitekeeper("apply", "acme.yaml", "--dry-run")
    assert (dry.returncode, dry.stdout.splitlines()[-1]) == (
        0,
        "dry run: would apply 8 changes; nothing written",
    )
    good = sitekeeper("apply", "acme.yaml")
    assert (good.returncode, good.stdout.splitlines()[-1]) == (0, "applied 8 changes")
    again = sitekeeper("apply", "acme.yaml")
    assert (again.returncode, again.stdout) == (0, "no changes\n")

    exported = sitekeeper("export", "export.yaml")
    assert exported.returncode == 0
    assert sitekeeper("apply", "export.yaml").stdout == "no changes\n"
    assert sitekeeper("apply", "missing.yaml").returncode == 1
