"""File integrity: a baseline of every file's hash, size and mode per site and environment, compared on a
schedule; each difference (added, changed, removed, mode changed) is one finding with timestamps and, for
small text files, a unified diff against the approved copy. WordPress core files are also checked against the
release's published md5 checksums when a checksum file is available.

The baseline only moves when a person approves (`approve`, audited) or when sitekeeper's update pipeline made
the change (`pipeline_change`): whatever else differs was made by someone else — the evidence clause 3.2(b)
needs. Unchanged files (same size, mtime and inode as when last hashed) are not read again, except on the
periodic full re-hash (SITEKEEPER_INTEGRITY_FULL_REHASH_DAYS, default 7), which catches a change that kept the
mtime. Files are read here or over SSH (`backups.sources.shell_for`); the same walk and stat cache serve the
malware scan (`security.malware`)."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as dt
import difflib
import json
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from django.conf import settings
from django.db import transaction

from sitekeeper import jobs
from sitekeeper.access.audit import acting_as
from sitekeeper.contracts.models import Site
from sitekeeper.security import findings
from sitekeeper.security.models import (
    Baseline,
    BaselineOrigin,
    Finding,
    FindingKind,
    FindingStatus,
    IntegrityScan,
    ScanKind,
    ScanState,
    Severity,
)
from sitekeeper.security.tree import (
    Entry,
    Tree,
    TreeError,
    batched,
    tree_for,
)

TEXT_LIMIT = 64 * 1024  # small text files keep a baseline copy for diffs
DIFF_LINES = 400
CORE_PREFIX = "core:"
# What a web server executes or obeys: a change there is an intrusion until shown otherwise.
EXECUTABLE = (".php", ".phtml", ".php5", ".php7", ".phar", ".inc", ".js", ".mjs", ".htaccess", ".user.ini")
CHECKSUMS_DIR = Path(__file__).resolve().parent / "checksums"


REMEDIATION = (
    "If the agency made this change, approve it into the baseline; otherwise treat it as an unauthorized "
    "modification (clause 3.2(b)): restore the file from the last good backup and find out how it "
    "was changed."
)


class IntegrityError(TreeError):
    pass


@dataclasses.dataclass(slots=True)
class FileState:
    entry: Entry
    sha256: str
    md5: str
    clean_ruleset: str
    hashed: bool  # read during this scan


def is_text(data: bytes) -> bool:
    return b"\0" not in data[:8192]


def pack(data: bytes) -> str:
    return base64.b64encode(zlib.compress(data, 6)).decode()


def unpack(text: str) -> bytes:
    return zlib.decompress(base64.b64decode(text)) if text else b""


def unified_diff(before: bytes, after: bytes, path: str) -> str:
    lines = difflib.unified_diff(
        before.decode("utf-8", "replace").splitlines(keepends=True),
        after.decode("utf-8", "replace").splitlines(keepends=True),
        f"baseline/{path}",
        f"current/{path}",
    )
    out = []
    for n, line in enumerate(lines):
        if n >= DIFF_LINES:
            out.append(f"… diff cut at {DIFF_LINES} lines\n")
            break
        out.append(line if line.endswith("\n") else line + "\n")
    return "".join(out)


ProgressFn = Callable[[str, int, int], None]


def refresh(
    site: Site,
    environment: str,
    tree: Tree,
    *,
    full: bool,
    now: dt.datetime,
    report: ProgressFn | None = None,
) -> dict[str, FileState]:
    """Walk the tree and bring the stat cache up to date, hashing only new files and files whose size, mtime
    or inode changed (everything when `full`). Returns path → state for every file in the tree now."""
    listing = tree.entries()
    cached = {
        row[0]: row[1:]
        for row in ScanState.objects.filter(site=site, environment=environment).values_list(
            "path", "pk", "size", "mtime_ns", "inode", "mode", "sha256", "md5", "clean_ruleset"
        )
    }
    states: dict[str, FileState] = {}
    to_hash: list[str] = []
    mode_only: list[tuple[int, int]] = []
    for path, entry in listing.items():
        row = cached.get(path)
        if row is not None and not full and row[1:4] == (entry.size, entry.mtime_ns, entry.inode):
            states[path] = FileState(entry, row[5], row[6], row[7], hashed=False)
            if row[4] != entry.mode:
                mode_only.append((row[0], entry.mode))
        else:
            to_hash.append(path)
    total = len(to_hash)
    new_rows, changed_rows = [], []
    for n, (path, sha, md5) in enumerate(tree.hashes(to_hash), 1):
        entry = listing[path]
        states[path] = FileState(entry, sha, md5, "", hashed=True)
        fields = {
            "size": entry.size,
            "mtime_ns": entry.mtime_ns,
            "inode": entry.inode,
            "mode": entry.mode,
            "sha256": sha,
            "md5": md5,
            "hashed_at": now,
        }
        row = cached.get(path)
        if row is None:
            new_rows.append(ScanState(site=site, environment=environment, path=path, **fields))
        else:
            # Same content after a touch keeps the malware verdict; new content needs a new one.
            clean = row[7] if row[5] == sha else ""
            states[path].clean_ruleset = clean
            changed_rows.append(ScanState(pk=row[0], clean_ruleset=clean, **fields))
        if report and n % 1000 == 0:
            report("hashing", n, total)
    gone = [row[0] for path, row in cached.items() if path not in states]
    with transaction.atomic():
        ScanState.objects.bulk_create(new_rows, batch_size=1000)
        ScanState.objects.bulk_update(
            changed_rows,
            ["size", "mtime_ns", "inode", "mode", "sha256", "md5", "hashed_at", "clean_ruleset"],
            batch_size=1000,
        )
        for pk, mode in mode_only:
            ScanState.objects.filter(pk=pk).update(mode=mode)
        for batch in batched(gone, 1000):  # type: ignore[arg-type]
            ScanState.objects.filter(pk__in=batch).delete()
    return states


def _full_due(site: Site, environment: str, now: dt.datetime) -> bool:
    days = settings.SITEKEEPER_INTEGRITY_FULL_REHASH_DAYS
    last = (
        IntegrityScan.objects.filter(
            site=site, environment=environment, kind=ScanKind.INTEGRITY, full_rehash=True, error=""
        )
        .exclude(finished_at=None)
        .order_by("-started_at")
        .first()
    )
    return last is None or now - last.started_at >= dt.timedelta(days=days)


def _reporter(scan: IntegrityScan) -> ProgressFn:
    def report(phase: str, done: int, total: int) -> None:
        jobs.report(IntegrityScan, scan.pk, {"phase": phase, "done": done, "total": total})

    return report


def _priority(path: str) -> tuple[str, str]:
    if path.lower().endswith(EXECUTABLE):
        return Severity.HIGH, "P2"
    return Severity.MEDIUM, "P3"


def _stamp(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).isoformat(timespec="seconds")


def scan(
    site: Site,
    environment: str = "prod",
    *,
    root: str | Path | None = None,
    full: bool = False,
    checksums_file: str | Path | None = None,
    now: dt.datetime | None = None,
) -> IntegrityScan:
    """Compare the site's files with the baseline (creating it on the first scan) and record each difference
    as a finding; findings whose file is back to the baseline are resolved."""
    now = now or dt.datetime.now(dt.UTC)
    full = full or _full_due(site, environment, now)
    run = IntegrityScan.objects.create(
        site=site, environment=environment, kind=ScanKind.INTEGRITY, started_at=now, full_rehash=full
    )
    report = _reporter(run)
    tree = tree_for(site, environment, root)
    try:
        report("listing", 0, 0)
        states = refresh(site, environment, tree, full=full, now=now, report=report)
        report("comparing", 0, len(states))
        changes, seen = _compare(site, environment, tree, states, now)
        seen |= _check_core(site, environment, tree, states=states, checksums_file=checksums_file, now=now)
        findings.resolve_missing(site, FindingKind.INTEGRITY, seen, environment=environment, now=now)
    except BaseException as exc:
        IntegrityScan.objects.filter(pk=run.pk).update(
            error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=dt.datetime.now(dt.UTC)
        )
        raise
    finally:
        tree.close()
    hashed = sum(1 for s in states.values() if s.hashed)
    done = {"phase": "done", "done": len(states), "total": len(states)}
    jobs.report(
        IntegrityScan,
        run.pk,
        done,
        finished_at=dt.datetime.now(dt.UTC),
        files=len(states),
        bytes=sum(s.entry.size for s in states.values()),
        hashed=hashed,
        skipped=len(states) - hashed,
        changes=changes,
    )
    run.refresh_from_db()
    return run


def _compare(
    site: Site, environment: str, tree: Tree, states: dict[str, FileState], now: dt.datetime
) -> tuple[dict[str, list[str]], set[str]]:
    baseline = {
        row[0]: row[1:]
        for row in Baseline.objects.filter(site=site, environment=environment).values_list(
            "path", "pk", "size", "mode", "sha256", "approved_at", "origin"
        )
    }
    first = (
        not baseline
        and not IntegrityScan.objects.filter(
            site=site, environment=environment, kind=ScanKind.INTEGRITY, error=""
        )
        .exclude(finished_at=None)
        .exists()
    )
    if first:
        _store_baseline(
            site,
            environment,
            tree,
            states=states,
            origin=BaselineOrigin.INITIAL,
            user=None,
            release="",
            now=now,
        )
        return {"added": [], "changed": [], "removed": [], "baseline": "created"}, set()
    added = sorted(p for p in states if p not in baseline)
    removed = sorted(p for p in baseline if p not in states)
    changed = sorted(
        p
        for p, s in states.items()
        if p in baseline and (baseline[p][3], baseline[p][2]) != (s.sha256, s.entry.mode)
    )
    small = [p for p in (*added, *changed) if states[p].entry.size <= TEXT_LIMIT]
    current = dict(tree.contents(small, TEXT_LIMIT))
    kept_rows = Baseline.objects.filter(site=site, environment=environment, path__in=changed)
    kept = dict(kept_rows.values_list("path", "content")) if changed else {}
    for path in added + changed + removed:
        before = baseline.get(path)
        state = states.get(path)
        change = "added" if before is None else "removed" if state is None else "changed"
        details: dict[str, Any] = {"path": path, "change": change, "detected_at": now.isoformat()}
        if before is not None:
            details |= {
                "baseline_sha256": before[3],
                "baseline_size": before[1],
                "baseline_mode": oct(before[2]),
                "baseline_approved_at": before[4].isoformat(),
                "baseline_origin": before[5],
            }
        if state is not None:
            details |= {
                "sha256": state.sha256,
                "size": state.entry.size,
                "mode": oct(state.entry.mode),
                "modified_at": _stamp(state.entry.mtime_ns),
            }
        if change == "changed" and before is not None and state is not None and before[3] == state.sha256:
            details["change"] = change = "mode"
        data = current.get(path)
        if change in ("added", "changed") and data is not None and is_text(data):
            old = unpack(kept.get(path, "")) if change == "changed" else b""
            if change == "added" or kept.get(path):
                details["diff"] = unified_diff(old, data, path)
        severity, priority = _priority(path)
        verb = {"added": "added", "removed": "removed", "changed": "modified", "mode": "permissions changed"}
        findings.record(
            site,
            kind=FindingKind.INTEGRITY,
            key=path,
            severity=severity,
            environment=environment,
            now=now,
            title=f"File {verb[change]} outside an approved change: {path}",
            details=details,
            remediation=REMEDIATION,
            priority=priority,
        )
    return {"added": added, "changed": changed, "removed": removed}, set(added + changed + removed)


def _store_baseline(
    site: Site,
    environment: str,
    tree: Tree,
    *,
    states: dict[str, FileState],
    origin: str,
    user: Any,
    release: str,
    now: dt.datetime,
) -> None:
    small = [p for p, s in states.items() if s.entry.size <= TEXT_LIMIT]
    texts = {p: pack(d) for p, d in tree.contents(small, TEXT_LIMIT) if is_text(d)}
    rows = [
        Baseline(
            site=site,
            environment=environment,
            path=p,
            size=s.entry.size,
            mode=s.entry.mode,
            sha256=s.sha256,
            content=texts.get(p, ""),
            approved_at=now,
            approved_by=user,
            origin=origin,
            release=release,
        )
        for p, s in states.items()
    ]
    Baseline.objects.bulk_create(rows, batch_size=500)


def wordpress_version(tree: Tree) -> str | None:
    for _, data in tree.contents(["wp-includes/version.php"], TEXT_LIMIT):
        match = re.search(rb"\$wp_version\s*=\s*['\"]([^'\"]+)['\"]", data)
        if match:
            return match.group(1).decode()
    return None


def load_checksums(path: Path, version: str) -> dict[str, str]:
    """api.wordpress.org/core/checksums/1.0/ format: {"checksums": {path: md5}} (one version asked) or
    {"checksums": {version: {path: md5}}}."""
    try:
        data = json.loads(path.read_text())
        sums = data["checksums"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IntegrityError(
            f"WordPress checksum file {path} is not readable in the api.wordpress.org format: {exc}"
        ) from exc
    if isinstance(sums.get(version), dict):
        sums = sums[version]
    return {k: v for k, v in sums.items() if isinstance(v, str)}


def _check_core(
    site: Site,
    environment: str,
    tree: Tree,
    *,
    states: dict[str, FileState],
    checksums_file: str | Path | None,
    now: dt.datetime,
) -> set[str]:
    if "wp-includes/version.php" not in states:
        return set()
    version = wordpress_version(tree)
    if version is None:
        return set()
    folder = Path(settings.SITEKEEPER_WORDPRESS_CHECKSUMS_DIR or CHECKSUMS_DIR)
    path = Path(checksums_file) if checksums_file else folder / f"wordpress-{version}.json"
    if not path.is_file():
        return set()  # no known-good list for this release: the baseline comparison still runs
    seen = set()
    for rel, md5 in load_checksums(path, version).items():
        # wp-content ships default plugins and themes that are updated on their own; wp-cli skips it too.
        if rel.startswith("wp-content/"):
            continue
        state = states.get(rel)
        if state is not None and state.md5 == md5:
            continue
        key = f"{CORE_PREFIX}{rel}"
        details = {
            "path": rel,
            "wordpress": version,
            "expected_md5": md5,
            "detected_at": now.isoformat(),
            "checksums": path.name,
        }
        if state is None:
            title, severity, priority = f"WordPress {version} core file missing: {rel}", Severity.MEDIUM, "P3"
        else:
            details |= {"md5": state.md5, "sha256": state.sha256, "modified_at": _stamp(state.entry.mtime_ns)}
            title, severity, priority = (
                f"WordPress {version} core file differs from the release: {rel}",
                Severity.HIGH,
                "P2",
            )
        findings.record(
            site,
            kind=FindingKind.INTEGRITY,
            key=key,
            severity=severity,
            title=title,
            details=details,
            remediation=f"Replace {rel} with the file from the WordPress {version} release (or update core).",
            priority=priority,
            environment=environment,
            now=now,
        )
        seen.add(key)
    return seen


def _rebaseline(
    site: Site,
    environment: str,
    tree: Tree,
    paths: Iterable[str],
    *,
    origin: str,
    user: Any,
    release: str,
    now: dt.datetime,
) -> list[str]:
    """Make the files' current state the baseline (row by row, so a person's approval is in the audit log)
    and resolve their findings. A path that no longer exists leaves the baseline."""
    wanted = set(paths)
    listing = {p: e for p, e in tree.entries().items() if p in wanted}
    sums = {p: (sha, md5) for p, sha, md5 in tree.hashes(sorted(listing))}
    texts = dict(tree.contents([p for p, e in listing.items() if e.size <= TEXT_LIMIT], TEXT_LIMIT))
    with transaction.atomic():
        for path in sorted(wanted):
            if path in listing and path in sums:
                entry, data = listing[path], texts.get(path)
                Baseline.objects.update_or_create(
                    site=site,
                    environment=environment,
                    path=path,
                    defaults={
                        "size": entry.size,
                        "mode": entry.mode,
                        "sha256": sums[path][0],
                        "content": pack(data) if data is not None and is_text(data) else "",
                        "approved_at": now,
                        "approved_by": user,
                        "origin": origin,
                        "release": release,
                    },
                )
            else:
                for row in Baseline.objects.filter(site=site, environment=environment, path=path):
                    row.delete()
        open_findings = Finding.objects.filter(
            site=site,
            environment=environment,
            kind=FindingKind.INTEGRITY,
            key__in=wanted,
            status=FindingStatus.OPEN,
        )
        for finding in open_findings:
            finding.status, finding.resolved_at, finding.decided_by = FindingStatus.RESOLVED, now, user
            finding.details = finding.details | {"approved": origin, "approved_at": now.isoformat()}
            finding.save()
    return sorted(wanted)


def approve(
    site: Site,
    paths: Iterable[str] | Literal["all"],
    user: Any,
    *,
    environment: str = "prod",
    root: str | Path | None = None,
    now: dt.datetime | None = None,
) -> list[str]:
    """A person accepts the current state of `paths` (or of every open integrity finding: "all") as the new
    baseline. Core-checksum findings among them are marked accepted (the file still differs from the
    release, knowingly)."""
    now = now or dt.datetime.now(dt.UTC)
    if user is None or not getattr(user, "pk", None):
        raise IntegrityError("approving a baseline change needs the person who approves it")
    open_keys = Finding.objects.filter(
        site=site, environment=environment, kind=FindingKind.INTEGRITY, status=FindingStatus.OPEN
    ).values_list("key", flat=True)
    keys = set(open_keys) if paths == "all" else set(paths)
    files = {k for k in keys if not k.startswith(CORE_PREFIX)}
    core = {k for k in keys if k.startswith(CORE_PREFIX)}
    tree = tree_for(site, environment, root)
    try:
        with acting_as(user):
            done = _rebaseline(
                site, environment, tree, files, origin=BaselineOrigin.PERSON, user=user, release="", now=now
            )
            for finding in Finding.objects.filter(
                site=site,
                environment=environment,
                kind=FindingKind.INTEGRITY,
                key__in=core,
                status=FindingStatus.OPEN,
            ):
                finding.status, finding.resolved_at, finding.decided_by = FindingStatus.ACCEPTED, now, user
                finding.save()
    finally:
        tree.close()
    return done + sorted(core)


@contextlib.contextmanager
def pipeline_change(
    site: Site,
    paths: Iterable[str] | None = None,
    *,
    release: str,
    environment: str = "prod",
    root: str | Path | None = None,
    now: dt.datetime | None = None,
) -> Iterator[None]:
    """Wrap a change sitekeeper's update pipeline makes (`with pipeline_change(site, release="…"): update()`):
    the files it touched become the baseline (origin pipeline, with the release) so the next scan does not
    alert. Given `paths`, exactly those; otherwise every file whose stat changed during the block — so the
    block should hold only the update itself."""
    if not release:
        raise IntegrityError("a pipeline change must say which release or update made it")
    tree = tree_for(site, environment, root)
    try:
        before = tree.entries() if paths is None else {}
        yield
        if paths is None:
            after = tree.entries()
            touched = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}
        else:
            touched = set(paths)
        _rebaseline(
            site,
            environment,
            tree,
            touched,
            origin=BaselineOrigin.PIPELINE,
            user=None,
            release=release,
            now=now or dt.datetime.now(dt.UTC),
        )
    finally:
        tree.close()
