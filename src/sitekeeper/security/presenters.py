"""How security findings read to people: pure formatting, no database access.

A finding's `details` is what the scanner recorded (a dict of machine keys: `mode` as "0o644", times as ISO
strings with microseconds, lists of rule matches). Staff read every field, under a human label and in a human
format; the client's portal reads none of them (it shows the title, severity, status and what we do). The
same finding recorded in production and on staging is one row with both environments named, not two rows.
"""

from __future__ import annotations

import datetime as dt
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

# Field labels for the keys the scanners write (integrity.py, malware.py, vulns.py, suspicious.py). A key not
# listed here is labelled from its own words ("baseline_origin" → "Baseline origin"), never shown raw.
LABELS: dict[str, str] = {
    "path": "File",
    "change": "Change",
    "detected_at": "Detected",
    "sha256": "SHA-256",
    "size": "Size",
    "mode": "Permissions",
    "modified_at": "File modified",
    "baseline_sha256": "Approved SHA-256",
    "baseline_size": "Approved size",
    "baseline_mode": "Approved permissions",
    "baseline_approved_at": "Baseline approved",
    "baseline_origin": "Baseline from",
    "diff": "Difference from the approved file",
    "matches": "Matched rules",
    "engines": "Scanners",
    "clamav": "ClamAV",
    "component": "Component",
    "installed": "Installed version",
    "where": "Found at",
    "affected": "Affected versions",
    "cvss": "CVSS score",
    "exploit known": "Exploit known",
    "advisory": "Advisory",
    "feed": "Feed",
    "references": "References",
    "rule": "Rule",
    "email": "E-mail",
    "excerpt": "Excerpt",
}
PREFORMATTED = {"diff", "excerpt", "match", "content"}
ENVIRONMENT_NAMES = {"prod": "production", "stage": "staging"}


@dataclass(frozen=True)
class Field:
    """One labelled value of a finding's details; `pre` keeps line breaks (a diff), `links` are URLs."""

    label: str
    value: str
    pre: bool = False
    links: tuple[str, ...] = ()
    instant: dt.datetime | None = None  # a time: the page prints it with |when in the page's zone


@dataclass
class Row:
    """One finding as people see it: the same kind and key in several environments is one row."""

    lead: Any  # the most severe (then most recent) member, whose title and remediation are shown
    members: list[Any] = field(default_factory=list)

    @property
    def environments(self) -> list[str]:
        return sorted({m.environment for m in self.members}, key=environment_order)


def environment_order(name: str) -> tuple[int, str]:
    """Production first, then staging, then anything else by name."""
    order = list(ENVIRONMENT_NAMES)
    return (order.index(name) if name in order else len(order), name)


def environment_label(name: str, *, staff: bool) -> str:
    """Staff read the environment's own name ("prod"); the client reads "production" / "staging"."""
    return name if staff else ENVIRONMENT_NAMES.get(name, name)


def file_mode(value: Any) -> str:
    """A permission mode as `ls -l` shows it: "0o644", "644", 420 all read "rw-r--r--"."""
    if isinstance(value, bool):
        raise TypeError(f"not a file mode: {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        text = value.strip().lower().removeprefix("0o")
        try:
            number = int(text, 8)
        except ValueError:
            raise ValueError(f"not a file mode: {value!r} (expected octal such as 0o644)") from None
    else:
        raise TypeError(f"not a file mode: {value!r} (expected an octal string or a number)")
    if not 0 <= number <= 0o7777:
        raise ValueError(f"not a file mode: {value!r} (outside 0..0o7777)")
    return stat.filemode(number)[1:]


def instant(value: Any) -> dt.datetime | None:
    """A details time as an aware datetime (ISO strings parsed, naive ones UTC); None if it is not one."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, dt.datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def when(value: dt.datetime | str | None) -> str:
    """A time to the minute with its zone named: "7 Dec 2026 11:07 UTC" (ISO strings are parsed)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if value.tzinfo is None:  # the scanners write UTC; a naive time is UTC by the project's convention
        value = value.replace(tzinfo=dt.UTC)
    return f"{value.astimezone(dt.UTC):%-d %b %Y %H:%M} UTC"


def byte_size(value: Any) -> str:
    """1265 → "1,265 bytes"; text already formatted by the scanner ("1,210 → 1,265 bytes") is kept."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,} byte{'s' if value != 1 else ''}"
    return str(value)


def label(key: str) -> str:
    """The human label of a details key: "baseline_origin" → "Baseline from", "foo_bar" → "Foo bar"."""
    if key in LABELS:
        return LABELS[key]
    words = key.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:] if words else "Detail"


def _match(item: Any) -> str:
    """One malware rule match: "php_eval_base64_chain (webshell): eval of decoded data — `eval(…`"."""
    if not isinstance(item, dict):
        return plain(item)
    head = str(item.get("rule", "rule"))
    if item.get("category"):
        head += f" ({item['category']})"
    text = f"{head}: {item['description']}" if item.get("description") else head
    return f"{text} — found: {item['excerpt']}" if item.get("excerpt") else text


def plain(value: Any) -> str:
    """Any JSON value as words: lists joined, nested dicts as "Label: value" pairs, never a Python repr."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return "; ".join(f"{label(str(k))}: {plain(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(plain(v) for v in value) or "—"
    return str(value)


def detail_field(key: str, value: Any) -> Field:
    """One details entry as a labelled, formatted field."""
    if key.endswith("mode") and value not in (None, ""):
        try:
            return Field(label(key), file_mode(value))
        except (TypeError, ValueError):
            return Field(label(key), plain(value))
    if key.endswith("_at"):
        return Field(label(key), when(value), instant=instant(value))
    if key.endswith("size"):
        return Field(label(key), byte_size(value))
    if key == "matches" and isinstance(value, list):
        return Field(label(key), "\n".join(_match(m) for m in value), pre=True)
    return _text_field(key, value)


def _text_field(key: str, value: Any) -> Field:
    if key == "references" and isinstance(value, list):
        urls = tuple(str(v) for v in value if str(v).startswith(("https://", "http://")))
        return Field(label(key), plain(value), links=urls)
    pre = key in PREFORMATTED or (isinstance(value, str) and "\n" in value)
    return Field(label(key), value if isinstance(value, str) and pre else plain(value), pre=pre)


def detail_fields(details: dict[str, Any] | None) -> list[Field]:
    """All of a finding's details for staff, labelled; preformatted ones (a diff) last so they don't split
    the short facts."""
    fields = [detail_field(str(k), v) for k, v in (details or {}).items()]
    return [f for f in fields if not f.pre] + [f for f in fields if f.pre]


def client_title(title: str, details: dict[str, Any] | None) -> str:
    """A finding's title for the client: a file's path inside the site is shortened to the file's name
    (the folder layout of the server is ours, not theirs)."""
    path = (details or {}).get("path")
    if isinstance(path, str) and path and path in title:
        return title.replace(path, PurePosixPath(path).name)
    return title


# What we do about a finding, for the client: the staff remediation names hashes, allow-lists and log files.
CLIENT_ACTION = {
    "malware": "We remove the file, find out how it got there, and change the passwords that could be "
    "affected.",
    "integrity": "We check the change; if it was not made by us or by you, we restore the file.",
    "suspicious": "We check this with you and undo it if it was not wanted.",
}


def client_action(kind: str, remediation: str) -> str:
    """What the client reads under "What we do": our plain sentence for the kind, else the remediation
    (a vulnerability's "update to 5.7.2" is already in the client's words)."""
    return CLIENT_ACTION.get(kind, remediation or "We are looking into it.")


def grouped(findings: Iterable[Any], severity_order: Sequence[str]) -> list[Row]:
    """Findings with the same kind and key (one problem seen in several environments) as one row, ordered
    by severity then most recent; the row's lead is its most severe member."""
    rows: dict[tuple[str, str], Row] = {}
    for finding in findings:
        row = rows.setdefault((finding.kind, finding.key), Row(lead=finding))
        row.members.append(finding)
    for row in rows.values():
        row.members.sort(key=lambda f: environment_order(f.environment))
        row.lead = min(row.members, key=lambda f: _rank(f, severity_order))
    return sorted(rows.values(), key=lambda r: _rank(r.lead, severity_order))


def _rank(finding: Any, severity_order: Sequence[str]) -> tuple[int, float]:
    return (severity_order.index(finding.severity), -finding.last_seen.timestamp())
