"""Smoke checks of one environment of a site, before and after the update pipeline changes it.

- every key page (KeyPage rows; none: "/") answers 200 and shows its expected text;
- no PHP fatal: the page body has none of WordPress's fatal messages, and the environment's PHP error
  logs (HealthConfig.error_logs[env], plus wp-content/debug.log when present) gained no "PHP Fatal error"
  line since the baseline (the log sizes taken before the step began);
- Lighthouse not collapsed (HealthConfig.smoke_lighthouse): the performance score is not more than
  HealthConfig.drop_points below the score taken in the baseline; Lighthouse missing or failing to run is a
  skipped check, never a failure — the pipeline must not depend on it;
- optional screenshots (HealthConfig.smoke_screenshots): each key page against its baseline screenshot,
  similarity = 1 - mean absolute pixel difference / 255, at least HealthConfig.screenshot_similarity.

`baseline(site, env)` is taken before applying; `check(site, env, baseline=…)` after. A skipped check has
ok=True and skipped=True: it is shown, but does not stop a release.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import logging
import os
import shlex
from pathlib import PurePosixPath
from typing import Any

from django.conf import settings

from sitekeeper import http, proc
from sitekeeper.backups.shell import Shell
from sitekeeper.backups.sources import SourceError, shell_for
from sitekeeper.contracts.models import Environment, Site
from sitekeeper.health.models import HealthConfig, KeyPage
from sitekeeper.security.tree import code_source

logger = logging.getLogger(__name__)

FATAL_MARKERS = ("Fatal error", "There has been a critical error on this website")
LOG_FATAL = b"PHP Fatal error"
DEBUG_LOG = "wp-content/debug.log"
LOG_READ_LIMIT = 4 * 1024 * 1024  # a log that grew more than this during one step: the tail is enough
PAGE_TIMEOUT = 30.0
VIEWPORT = {"width": 1280, "height": 800}


@dataclasses.dataclass(frozen=True)
class Check:
    environment: str
    name: str
    ok: bool
    detail: str = ""
    skipped: bool = False

    def as_dict(self, at: dt.datetime | None = None) -> dict[str, Any]:
        at = at or dt.datetime.now(dt.UTC)
        return {**dataclasses.asdict(self), "at": at.isoformat()}


@dataclasses.dataclass
class Page:
    path: str
    label: str = ""
    expected_text: str = ""
    lighthouse: bool = True


@dataclasses.dataclass
class Baseline:
    """What an environment looked like before a step: log sizes, Lighthouse scores, screenshots."""

    environment: str
    log_sizes: dict[str, int | None] = dataclasses.field(default_factory=dict)
    scores: dict[str, int | None] = dataclasses.field(default_factory=dict)
    screenshots: dict[str, bytes] = dataclasses.field(default_factory=dict)


def environment_url(site: Site, environment: str) -> str:
    """The environment's base URL; prod falls back to the site's URL."""
    url = Environment.objects.filter(site=site, kind=environment).values_list("url", flat=True).first()
    if not url and environment == "prod":
        url = site.url
    if not url:
        raise ValueError(f"{site} has no {environment} environment URL")
    return url.rstrip("/")


def key_pages(site: Site, pages: list[Page] | None = None) -> list[Page]:
    if pages is not None:
        return pages
    rows = [Page(k.path, k.label, k.expected_text, k.lighthouse) for k in KeyPage.objects.filter(site=site)]
    return rows or [Page("/", "Home")]


def _url(base: str, path: str) -> str:
    return base + (path if path.startswith("/") else f"/{path}")


# -- pages --------------------------------------------------------------------------------------------------
def page_checks(environment: str, base: str, pages: list[Page]) -> list[Check]:
    found = []
    with http.client(timeout=PAGE_TIMEOUT, follow_redirects=True) as session:
        for page in pages:
            url = _url(base, page.path)
            try:
                response = session.get(url)
            except (http.HTTPError, http.InvalidURL) as exc:
                found.append(Check(environment, f"page {page.path}", False, f"{url}: {exc}"))
                continue
            body = response.text
            problems = []
            if response.status_code != 200:
                problems.append(f"HTTP {response.status_code}")
            if page.expected_text and page.expected_text not in body:
                problems.append(f"does not show {page.expected_text!r}")
            shown = f" showing {page.expected_text!r}" if page.expected_text else ""
            detail = "; ".join(problems) or f"HTTP 200{shown}"
            found.append(Check(environment, f"page {page.path}", not problems, f"{url}: {detail}"))
            fatal = next((m for m in FATAL_MARKERS if m in body), None)
            found.append(
                Check(environment, f"no PHP fatal on {page.path}", fatal is None,
                      f"the page shows {fatal!r}" if fatal else "no fatal error message in the page")
            )  # fmt: skip
    return found


# -- PHP error logs -----------------------------------------------------------------------------------------
def _log_paths(site: Site, environment: str, root: str) -> list[str]:
    configured = (HealthConfig.for_site(site).error_logs or {}).get(environment)
    paths = [configured] if isinstance(configured, str) and configured else []
    paths = [p if p.startswith("/") else str(PurePosixPath(root) / p) for p in paths]
    debug = str(PurePosixPath(root) / DEBUG_LOG)
    return paths if debug in paths else [*paths, debug]


def _shell(site: Site, environment: str) -> tuple[Shell, str] | None:
    source = code_source(site, environment)
    if source is None or not source.path:
        return None
    try:
        return shell_for(source), source.path
    except SourceError:
        return None


def _size(shell: Shell, path: str) -> int | None:
    try:
        out = shell.run(["sh", "-c", f"stat -c %s -- {shlex.quote(path)} 2>/dev/null || true"], timeout=60)
    except proc.ProcError:
        return None
    text = out.decode().strip()
    return int(text) if text.isdigit() else None


def log_sizes(site: Site, environment: str) -> dict[str, int | None]:
    found = _shell(site, environment)
    if found is None:
        return {}
    shell, root = found
    return {path: _size(shell, path) for path in _log_paths(site, environment, root)}


def _grown(shell: Shell, path: str, before: int | None) -> bytes:
    size = _size(shell, path)
    if size is None:
        return b""
    start = before if before is not None and before <= size else 0  # rotated or truncated: read it all
    start = max(start, size - LOG_READ_LIMIT)
    return shell.run(["tail", "-c", f"+{start + 1}", "--", path], timeout=120)


def log_checks(site: Site, environment: str, before: dict[str, int | None] | None) -> list[Check]:
    found = _shell(site, environment)
    if found is None:
        return [
            Check(environment, "PHP error log", True, "no code folder set up: logs not read", skipped=True)
        ]
    if before is None:
        return [Check(environment, "PHP error log", True, "no log sizes from before the step", skipped=True)]
    shell, root = found
    checks = []
    for path in _log_paths(site, environment, root):
        try:
            added = _grown(shell, path, before.get(path))
        except proc.ProcError as exc:
            checks.append(
                Check(environment, f"PHP error log {path}", True, f"cannot read: {exc}", skipped=True)
            )
            continue
        fatals = [line for line in added.splitlines() if LOG_FATAL in line]
        detail = (
            f"{len(fatals)} new fatal error(s), last: {fatals[-1].decode('utf-8', 'replace')[:300]}"
            if fatals
            else "no new PHP fatal error"
        )
        if not fatals and before.get(path) is None and not added:
            detail = "no log file (nothing written)"
        checks.append(Check(environment, f"PHP error log {path}", not fatals, detail))
    return checks


# -- Lighthouse ---------------------------------------------------------------------------------------------
def lighthouse_score(url: str) -> tuple[int | None, str]:
    """Performance score of one run, or (None, why not); a missing Lighthouse is a reason, not an error."""
    from sitekeeper.health import lighthouse

    try:
        found = lighthouse.measure(url, runs=1, timeout=120)
    except (proc.MissingProgramError, lighthouse.LighthouseError, proc.ProcError) as exc:
        return None, f"Lighthouse did not run: {exc}"
    if found.runtime_error:
        return None, f"Lighthouse could not load the page: {found.runtime_error}"
    return found.scores.get("performance"), ""


def lighthouse_checks(
    environment: str, base: str, pages: list[Page], before: dict[str, int | None], drop: int
) -> list[Check]:
    checks = []
    for page in (p for p in pages if p.lighthouse):
        score, why = lighthouse_score(_url(base, page.path))
        name = f"Lighthouse {page.path}"
        previous = before.get(page.path)
        if score is None:
            checks.append(Check(environment, name, True, why or "no performance score", skipped=True))
        elif previous is None:
            checks.append(Check(environment, name, True, f"performance {score} (no score from before)"))
        else:
            ok = previous - score <= drop
            detail = f"performance {score}, before {previous} (a drop of more than {drop} fails)"
            checks.append(Check(environment, name, ok, detail))
    return checks


# -- screenshots --------------------------------------------------------------------------------------------
def screenshots(base: str, pages: list[Page]) -> tuple[dict[str, bytes], str]:
    """PNG of each key page's first screen with Debian's Chromium; ({}, why) when Playwright is missing."""
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        return {}, "Playwright is not installed (pip package 'playwright')"
    chrome = settings.SITEKEEPER_CHROME
    if not os.access(chrome, os.X_OK):
        return {}, f"Chromium is not installed at {chrome} (Debian package 'chromium')"
    shots: dict[str, bytes] = {}
    try:
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=chrome, args=["--no-sandbox", "--disable-gpu"])
            try:
                view = browser.new_page(viewport=VIEWPORT)  # type: ignore[arg-type]
                for page in pages:
                    view.goto(_url(base, page.path), wait_until="load", timeout=PAGE_TIMEOUT * 1000)
                    shots[page.path] = view.screenshot()
            finally:
                browser.close()
    except PlaywrightError as exc:
        return shots, f"screenshot failed: {exc}"
    return shots, ""


def similarity(before: bytes, after: bytes) -> float:
    """1 - mean absolute pixel difference / 255 (greyscale), after fitting `after` to `before`'s size."""
    from PIL import Image, ImageChops, ImageStat

    one = Image.open(io.BytesIO(before)).convert("L")
    two = Image.open(io.BytesIO(after)).convert("L")
    if two.size != one.size:
        two = two.resize(one.size)
    mean = ImageStat.Stat(ImageChops.difference(one, two)).mean[0]
    return 1.0 - mean / 255.0


def screenshot_checks(
    environment: str, base: str, pages: list[Page], before: dict[str, bytes], threshold: float
) -> list[Check]:
    after, why = screenshots(base, pages)
    checks = []
    for page in pages:
        name = f"screenshot {page.path}"
        if page.path not in before or page.path not in after:
            checks.append(Check(environment, name, True, why or "no screenshot from before", skipped=True))
            continue
        score = similarity(before[page.path], after[page.path])
        checks.append(
            Check(environment, name, score >= threshold, f"similarity {score:.3f} (at least {threshold:.3f})")
        )
    return checks


# -- the two entry points -----------------------------------------------------------------------------------
def baseline(site: Site, environment: str, *, pages: list[Page] | None = None) -> Baseline:
    """Take what the checks after the step compare against (log sizes always; scores and screenshots only
    when the site's health settings ask for them)."""
    config = HealthConfig.for_site(site)
    chosen = key_pages(site, pages)
    found = Baseline(environment, log_sizes=log_sizes(site, environment))
    base = environment_url(site, environment)
    if config.smoke_lighthouse:
        for page in (p for p in chosen if p.lighthouse):
            found.scores[page.path] = lighthouse_score(_url(base, page.path))[0]
    if config.smoke_screenshots:
        found.screenshots = screenshots(base, chosen)[0]
    return found


def check(
    site: Site, environment: str, *, pages: list[Page] | None = None, baseline: Baseline | None = None
) -> list[Check]:
    """Every smoke check of `environment`, compared with `baseline` (taken before the step) if given."""
    config = HealthConfig.for_site(site)
    chosen = key_pages(site, pages)
    try:
        base = environment_url(site, environment)
    except ValueError as exc:
        return [Check(environment, "environment URL", False, str(exc))]
    found = page_checks(environment, base, chosen)
    found += log_checks(site, environment, baseline.log_sizes if baseline else None)
    if config.smoke_lighthouse:
        found += lighthouse_checks(
            environment, base, chosen, baseline.scores if baseline else {}, config.drop_points
        )
    if config.smoke_screenshots:
        found += screenshot_checks(
            environment,
            base,
            chosen,
            baseline.screenshots if baseline else {},
            float(config.screenshot_similarity),
        )
    return found
