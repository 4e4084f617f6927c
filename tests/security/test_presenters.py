"""The security presenters: a finding's machine details as people read them, and one row per finding
across environments."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from sitekeeper.security import presenters

ORDER = ["critical", "high", "medium", "low", "info"]
NOW = dt.datetime(2026, 12, 7, 11, 7, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("0o644", "rw-r--r--"),
        ("644", "rw-r--r--"),
        (420, "rw-r--r--"),
        ("0o600", "rw-------"),
        (0o755, "rwxr-xr-x"),
    ],
)
def test_file_mode_reads_like_ls(value, shown):
    assert presenters.file_mode(value) == shown


@pytest.mark.parametrize("value", ["0o9", "rw-r--r--", 0o17777, -1])
def test_file_mode_refuses_what_is_not_a_mode(value):
    with pytest.raises(ValueError, match="not a file mode"):
        presenters.file_mode(value)


def test_file_mode_refuses_other_types():
    with pytest.raises(TypeError, match="not a file mode"):
        presenters.file_mode(True)


def test_times_name_their_zone_and_drop_microseconds():
    assert presenters.when("2026-12-07T11:07:15.373544+00:00") == "7 Dec 2026 11:07 UTC"
    assert presenters.when(dt.datetime(2026, 12, 7, 12, 7, tzinfo=dt.timezone(dt.timedelta(hours=1)))) == (
        "7 Dec 2026 11:07 UTC"
    )
    assert presenters.when(None) == "—"


def test_labels_are_words_never_snake_case():
    assert presenters.label("baseline_sha256") == "Approved SHA-256"
    assert presenters.label("exploit known") == "Exploit known"
    assert presenters.label("some_new_key") == "Some new key"


def test_details_as_labelled_fields():
    fields = presenters.detail_fields({
        "path": "wp-content/uploads/2026/11/cache-img.php", "mode": "0o600", "size": 1265,
        "detected_at": "2026-12-07T11:07:15.373544+00:00", "diff": "--- a\n+++ b",
        "matches": [{"rule": "php_eval_base64_chain", "category": "webshell",
                     "description": "eval of decoded data", "excerpt": "eval(base64_decode("}],
        "references": ["https://example.test/advisory"], "extra": {"nested_key": True},
    })  # fmt: skip
    shown = {f.label: f.value for f in fields}
    assert shown["Permissions"] == "rw-------"
    assert shown["Size"] == "1,265 bytes"
    assert shown["Detected"] == "7 Dec 2026 11:07 UTC"
    assert shown["Matched rules"] == (
        "php_eval_base64_chain (webshell): eval of decoded data — found: eval(base64_decode("
    )
    assert shown["Extra"] == "Nested key: yes"
    assert [f.label for f in fields][-2:] == [
        "Difference from the approved file",
        "Matched rules",
    ]  # pre last
    assert next(f for f in fields if f.label == "References").links == ("https://example.test/advisory",)
    text = " ".join(f"{f.label} {f.value}" for f in fields)
    assert "{'" not in text
    assert "0o" not in text
    assert "_" not in text.replace("php_eval_base64_chain", "").replace("base64_decode", "")


def test_client_title_drops_the_folder():
    details = {"path": "wp-content/uploads/2026/11/cache-img.php"}
    title = "Malware (web shell) in wp-content/uploads/2026/11/cache-img.php"
    assert presenters.client_title(title, details) == "Malware (web shell) in cache-img.php"
    assert presenters.client_title("New administrator 'x'", {}) == "New administrator 'x'"


def test_client_action_in_plain_words():
    assert "sha256" not in presenters.client_action("malware", "…add its sha256 to the allow-list.")
    assert presenters.client_action("vulnerability", "Update to 5.7.2.") == "Update to 5.7.2."


def _finding(env: str, severity: str = "high", key: str = "k", minutes: int = 0) -> SimpleNamespace:
    return SimpleNamespace(
        kind="vulnerability", key=key, environment=env, severity=severity,
        last_seen=NOW - dt.timedelta(minutes=minutes),
    )  # fmt: skip


def test_one_row_per_finding_across_environments():
    stage, prod = _finding("stage", "critical"), _finding("prod")
    other = _finding("prod", "medium", key="other")
    rows = presenters.grouped([other, stage, prod], ORDER)
    assert [r.lead for r in rows] == [stage, other]  # the most severe member leads; rows by severity
    assert rows[0].members == [prod, stage]  # production first
    assert rows[0].environments == ["prod", "stage"]
    assert presenters.environment_label("stage", staff=False) == "staging"
