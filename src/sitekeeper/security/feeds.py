"""Vulnerability feeds: import Wordfence Intelligence v3 and OSV documents from a file, a folder, a zip or a
URL the agency configures, and replace a feed's entries atomically (a failed import leaves the previous
entries in place). Matching is offline (`vulns.match_site`): nothing here is asked per site.

Formats:
- Wordfence Intelligence v3 (production or scanner feed): an object of id -> {title, software: [{type
  core/plugin/theme, slug, affected_versions: {label: {from_version, from_inclusive, to_version,
  to_inclusive}}, patched, patched_versions}], cvss: {score, rating}, references: [url], description, …}.
- OSV: one record, a list of records, or a folder / zip of record files; ecosystems npm, Packagist and
  PyPI are kept, others skipped (counted).

Known exploitation (`Vulnerability.has_exploit`): Wordfence v3 has no exploit field, so a reference to an
exploit database (exploit-db.com, packetstormsecurity, a "/exploits/" path) or a description saying
"actively exploited" counts; OSV: `database_specific.cisa_known_exploited` / `known_exploited` (or the
same under the affected entry), a reference of type EVIDENCE, or an exploit-database URL.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import tempfile
import zipfile
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.db import transaction

from sitekeeper import http, jobs
from sitekeeper.core.versions import VersionError, osv_intervals, wordfence_intervals
from sitekeeper.security.inventory import _pypi_name
from sitekeeper.security.models import Ecosystem, Feed, Vulnerability

MAX_DOCUMENT = 2 * 1024**3  # a feed larger than this is refused rather than filling the disk
_EXPLOIT_URL = re.compile(r"exploit-db\.com|packetstormsecurity|/exploits?/|nuclei-templates", re.I)
_WORDFENCE_TYPES = {
    "core": Ecosystem.WORDPRESS_CORE,
    "plugin": Ecosystem.WORDPRESS_PLUGIN,
    "theme": Ecosystem.WORDPRESS_THEME,
}
_OSV_ECOSYSTEMS = {"npm": Ecosystem.NPM, "packagist": Ecosystem.PACKAGIST, "pypi": Ecosystem.PYPI}
_SEVERITIES = {"critical", "high", "medium", "low"}


class FeedError(ValueError):
    """A feed cannot be fetched or read; the message names the feed, and the entry when one is malformed."""


def severity_for(score: Decimal | None, rating: str = "") -> str:
    rating = rating.strip().lower()
    rating = "medium" if rating == "moderate" else rating
    if rating in _SEVERITIES:
        return rating
    if score is None:
        return "medium"  # unrated advisories are treated as medium, not ignored
    if score >= Decimal(9):
        return "critical"
    if score >= Decimal(7):
        return "high"
    if score >= Decimal(4):
        return "medium"
    return "low" if score > 0 else "info"


def _score(value: Any) -> Decimal | None:
    try:
        score = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return score if Decimal(0) <= score <= Decimal(10) else None


# -- reading ------------------------------------------------------------------------------------------------
def fetch(location: str, name: str) -> bytes:
    """The document at a path or http(s) URL, through the project's HTTP client."""
    if re.match(r"^https?://", location):
        try:
            with (
                http.client(timeout=120, follow_redirects=True) as client,
                client.stream("GET", location) as response,
            ):
                response.raise_for_status()
                buffer = io.BytesIO()
                for chunk in response.iter_bytes():
                    buffer.write(chunk)
                    if buffer.tell() > MAX_DOCUMENT:
                        raise FeedError(f"feed {name}: {location} is larger than {MAX_DOCUMENT} bytes")
                return buffer.getvalue()
        except (http.HTTPError, http.InvalidURL) as exc:
            raise FeedError(f"feed {name}: cannot download {location}: {exc}") from exc
    path = Path(location)
    if path.is_dir():
        return _zip_folder(path)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise FeedError(f"feed {name}: cannot read {location}: {exc.strerror}") from exc


def _zip_folder(folder: Path) -> bytes:
    # A folder of OSV records is imported like the zip OSV publishes, so there is one reading path.
    with tempfile.SpooledTemporaryFile() as spool:
        with zipfile.ZipFile(spool, "w") as archive:
            for file in sorted(folder.rglob("*.json")):
                archive.write(file, str(file.relative_to(folder)))
        spool.seek(0)
        return spool.read()


def _documents(data: bytes, name: str) -> Iterator[tuple[str, Any]]:
    """(label, parsed JSON) for a JSON document or each .json member of a zip."""
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for member in sorted(archive.namelist()):
                    if member.endswith(".json"):
                        yield member, _json(archive.read(member), f"feed {name}: {member}")
        except zipfile.BadZipFile as exc:
            raise FeedError(f"feed {name}: not a readable zip: {exc}") from exc
        return
    yield "", _json(data, f"feed {name}")


def _json(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FeedError(f"{what}: not JSON: {exc}") from exc


# -- Wordfence ----------------------------------------------------------------------------------------------
def parse_wordfence(doc: Any, name: str) -> Iterator[Vulnerability]:
    if not isinstance(doc, dict):
        raise FeedError(f"feed {name}: a Wordfence v3 feed is an object of id -> vulnerability")
    for ident, entry in doc.items():
        what = f"feed {name}: entry {ident}"
        if not isinstance(entry, dict) or not isinstance(entry.get("software"), list):
            raise FeedError(f"{what}: expected an object with a 'software' list")
        cvss = entry.get("cvss") or {}
        score = _score(cvss.get("score")) if isinstance(cvss, dict) else None
        references = [str(r) for r in entry.get("references") or []]
        exploited = (
            any(_EXPLOIT_URL.search(r) for r in references)
            or "actively exploited" in str(entry.get("description", "")).lower()
        )
        for n, software in enumerate(entry["software"]):
            kind = software.get("type") if isinstance(software, dict) else None
            if kind not in _WORDFENCE_TYPES:
                raise FeedError(f"{what}: software[{n}].type must be core, plugin or theme, got {kind!r}")
            slug = "wordpress" if kind == "core" else str(software.get("slug") or "")
            if not slug:
                raise FeedError(f"{what}: software[{n}] has no slug")
            try:
                ranges = wordfence_intervals(software.get("affected_versions") or {}, f"software[{n}]")
            except VersionError as exc:
                raise FeedError(f"{what}: {exc}") from exc
            yield Vulnerability(
                ident=str(entry.get("id") or ident),
                ecosystem=_WORDFENCE_TYPES[kind],
                package=slug.lower(),
                title=str(entry.get("title") or ident)[:500],
                cvss_score=score,
                severity=severity_for(score, str(cvss.get("rating") or "") if isinstance(cvss, dict) else ""),
                has_exploit=exploited,
                ranges=[r.as_dict() for r in ranges],
                patched=[str(v) for v in software.get("patched_versions") or []],
                references=references,
            )


# -- OSV ----------------------------------------------------------------------------------------------------
def _osv_exploited(record: dict[str, Any], affected: dict[str, Any]) -> bool:
    for specific in (record.get("database_specific"), affected.get("database_specific")):
        if isinstance(specific, dict) and (
            specific.get("cisa_known_exploited") or specific.get("known_exploited")
        ):
            return True
    refs = [r for r in record.get("references") or [] if isinstance(r, dict)]
    return any(r.get("type") == "EVIDENCE" or _EXPLOIT_URL.search(str(r.get("url", ""))) for r in refs)


def _osv_severity(record: dict[str, Any], affected: dict[str, Any]) -> tuple[Decimal | None, str]:
    score = None
    for item in record.get("severity") or []:
        if isinstance(item, dict):
            score = _score(item.get("score")) or score  # a numeric score; CVSS vectors are not computed here
    rating = ""
    for specific in (affected.get("ecosystem_specific"), affected.get("database_specific"),
                     record.get("database_specific")):  # fmt: skip
        if isinstance(specific, dict) and specific.get("severity"):
            rating = str(specific["severity"])
            break
    return score, severity_for(score, rating)


def parse_osv(doc: Any, name: str, label: str = "") -> Iterator[Vulnerability]:
    records = doc if isinstance(doc, list) else [doc]
    for i, record in enumerate(records):
        where = f"feed {name}: {label or 'record'}" + (f"[{i}]" if isinstance(doc, list) else "")
        if not isinstance(record, dict) or not record.get("id"):
            raise FeedError(f"{where}: an OSV record is an object with an 'id'")
        what = f"feed {name}: {record['id']}"
        references = [str(r.get("url")) for r in record.get("references") or [] if isinstance(r, dict)]
        for n, affected in enumerate(record.get("affected") or []):
            package = affected.get("package") if isinstance(affected, dict) else None
            if not isinstance(package, dict) or not package.get("name"):
                raise FeedError(f"{what}: affected[{n}] has no package name")
            ecosystem = _OSV_ECOSYSTEMS.get(str(package.get("ecosystem", "")).split(":")[0].lower())
            if ecosystem is None:
                continue
            try:
                ranges = osv_intervals(affected, f"affected[{n}]")
            except VersionError as exc:
                raise FeedError(f"{what}: {exc}") from exc
            fixed = [
                str(event["fixed"])
                for rng in affected.get("ranges") or []
                for event in rng.get("events") or []
                if isinstance(event, dict) and "fixed" in event
            ]
            package_name = str(package["name"])
            package_name = _pypi_name(package_name) if ecosystem == Ecosystem.PYPI else package_name
            score, severity = _osv_severity(record, affected)
            yield Vulnerability(
                ident=str(record["id"]),
                ecosystem=ecosystem,
                package=package_name.lower() if ecosystem == Ecosystem.PACKAGIST else package_name,
                title=str(record.get("summary") or record["id"])[:500],
                cvss_score=score,
                severity=severity,
                has_exploit=_osv_exploited(record, affected),
                ranges=[r.as_dict() for r in ranges],
                patched=fixed,
                references=references,
            )


# -- import -------------------------------------------------------------------------------------------------
def import_feed(
    name: str,
    format: str,
    location: str,
    *,
    now: dt.datetime | None = None,
) -> Feed:
    """Fetch and parse a feed completely, then swap its entries in one transaction."""
    if format not in Feed.Format.values:
        raise FeedError(f"feed {name}: format must be one of {', '.join(Feed.Format.values)}, got {format!r}")
    now = now or dt.datetime.now(dt.UTC)
    feed, _ = Feed.objects.get_or_create(name=name, defaults={"format": format})
    is_url = bool(re.match(r"^https?://", location))
    Feed.objects.filter(pk=feed.pk).update(format=format, url=location if is_url else "")
    jobs.report(Feed, feed.pk, {"phase": f"reading {location}", "percent": 0})
    data = fetch(location, name)
    entries: list[Vulnerability] = []
    for label, doc in _documents(data, name):
        if format == Feed.Format.WORDFENCE:
            entries += parse_wordfence(doc, name)
        else:
            entries += parse_osv(doc, name, label)
    jobs.report(Feed, feed.pk, {"phase": "saving", "percent": 50, "of": len(entries), "index": 0})
    with transaction.atomic():
        Vulnerability.objects.filter(feed=feed).delete()
        batch = 1000
        for start in range(0, len(entries), batch):
            chunk = entries[start : start + batch]
            for entry in chunk:
                entry.feed = feed
            Vulnerability.objects.bulk_create(chunk)
            done = min(start + batch, len(entries))
            percent = 50 + 50 * done / max(len(entries), 1)
            jobs.report(
                Feed, feed.pk, {"phase": "saving", "percent": percent, "of": len(entries), "index": done}
            )
        Feed.objects.filter(pk=feed.pk).update(
            imported_at=now, entries=len(entries), sha256=hashlib.sha256(data).hexdigest(),
            progress={"phase": "done", "percent": 100},
        )  # fmt: skip
    feed.refresh_from_db()
    return feed
