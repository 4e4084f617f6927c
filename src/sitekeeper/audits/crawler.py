"""The broken-link crawler: asyncio + the project's httpx client, no Django (linkscan.py stores the results).

One run starts at a site's URL and
- fetches same-site pages (GET) up to a depth and a page limit, parsing only text/html bodies with lexbor
  (selectolax) for links (<a>, <area>, <iframe>, <img src/srcset>, <source>, <script>, <link rel=stylesheet/
  icon>; <base href> honoured) and for the page's anchors (id=…, <a name=…>);
- checks every other URL once per run: same-site assets and external links with HEAD, falling back to GET when
  HEAD is refused or fails (405, 501, any other error status, a broken HEAD response);
- limits requests per host (concurrency, and an optional delay between requests to one host);
- honours the crawled site's robots.txt (user agent "sitekeeper"): a disallowed same-site URL is never
  fetched; it is reported as "blocked" (a warning, not a broken link) so nobody mistakes it for checked;
- answers 429 by waiting for Retry-After (seconds or an HTTP date; capped) with the whole host held back,
  then retrying a bounded number of times;
- follows redirects itself so the chain is recorded: a loop is a defect, a chain longer than `max_hops`
  is a warning, and the final target's status decides whether the link is broken;
- checks `page#anchor` links against the anchors of same-site HTML pages (external pages are not fetched
  for their bodies, so their fragments are not checked; `#`, `#top`, `#!…` and `#/…` never are).

Every URL is fetched once per run: hops are cached (as tasks, so concurrent askers share one request) and a
redirect chain through a URL that another link also points to costs nothing extra.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email.utils
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

import httpx
from selectolax.lexbor import LexborHTMLParser

from sitekeeper import http

__all__ = [
    "ERRORS",
    "WARNINGS",
    "CrawlSettings",
    "Defect",
    "Progress",
    "Result",
    "crawl",
    "crawl_sync",
    "normalize",
    "retry_after_seconds",
]

# Problem names: the values of audits.models.LinkProblem (kept as strings here: no Django import).
HTTP_ERROR, UNREACHABLE, REDIRECT_LOOP = "http_error", "unreachable", "redirect_loop"
REDIRECT_CHAIN, MISSING_FRAGMENT, BLOCKED = "redirect_chain", "missing_fragment", "blocked"
ERRORS = frozenset({HTTP_ERROR, UNREACHABLE, REDIRECT_LOOP, MISSING_FRAGMENT})
WARNINGS = frozenset({REDIRECT_CHAIN, BLOCKED})

PAGE, ASSET = "page", "asset"  # what a link points to: a page we may parse, or a resource we only check
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
HTML_TYPES = ("text/html", "application/xhtml+xml")
SKIPPED_FRAGMENTS = frozenset({"", "top"})
MAX_PAGES_LISTED = 50  # pages kept per defect (the count is exact)
MAX_FOLLOW = 20  # hops followed before a chain is called a loop (some loops change the URL every time)
MAX_BODY = 10 * 1024 * 1024  # HTML read per page at most
KEEPALIVE_BODY = 64 * 1024  # a small unwanted body is read anyway so the connection can be reused
DEFAULT_RETRY_AFTER = 5.0  # a 429 without a usable Retry-After
LANE_SIZE = 2  # connections per httpx client (see _Crawler.run)

# Tags and attributes that hold links; <link> only for the rel values that load something the page needs.
LINK_SELECTOR = "a[href], area[href], iframe[src], frame[src], img, source, script[src], link[href]"
LINK_RELS = frozenset({"stylesheet", "icon", "apple-touch-icon", "mask-icon"})
ANCHOR_SELECTOR = "[id], a[name]"
_NOT_PLAIN = re.compile(r"[\s\\]|/\.|#$")  # what normalize() would change in a root-relative link
NOT_FETCHED = ("mailto:", "tel:", "javascript:", "data:", "sms:", "callto:", "about:", "blob:")


@dataclass(frozen=True)
class CrawlSettings:
    max_depth: int = 6
    max_pages: int = 5000
    concurrency: int = 4  # requests in flight per host
    delay: float = 0.0  # seconds between the starts of two requests to one host
    check_external: bool = True
    excludes: tuple[str, ...] = ()  # URL prefixes ("https://…" or "/path") or regular expressions
    timeout: float = 10.0
    max_hops: int = 5  # more redirects than this: a REDIRECT_CHAIN warning
    retries_429: int = 3
    max_retry_wait: float = 120.0
    max_connections: int = 64  # in flight over all hosts

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__} | {
            "excludes": list(self.excludes)
        }


@dataclass
class Defect:
    url: str
    internal: bool
    problem: str
    status: int | None = None
    error: str = ""
    redirects: list[dict[str, Any]] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)
    page_count: int = 0

    @property
    def is_error(self) -> bool:
        return self.problem in ERRORS


@dataclass
class Result:
    start_url: str
    pages: int  # same-site HTML pages fetched and parsed
    links: int  # distinct URLs checked
    truncated: bool  # the page limit stopped the crawl
    defects: list[Defect]
    seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def broken(self) -> list[Defect]:
        return [d for d in self.defects if d.is_error]


@dataclass
class Progress:
    """Read by another thread (linkscan stores it on the scan row): plain integers, updated in place."""

    pages: int = 0
    checked: int = 0
    queued: int = 0
    started: float = field(default_factory=time.monotonic)

    def snapshot(self) -> dict[str, Any]:
        return {
            "phase": "crawl",
            "pages": self.pages,
            "checked": self.checked,
            "queued": self.queued,
            "seconds": round(time.monotonic() - self.started, 1),
        }


# -- pure helpers --------------------------------------------------------------------------------------
def normalize(url: str, base: str | None = None) -> tuple[str, str] | None:
    """(URL without fragment, fragment) in one spelling per resource, or None for what is not fetched
    (mailto:, tel:, javascript:, other schemes) or cannot be parsed."""
    url = re.sub(r"[\t\n\r]", "", url).strip()
    if not url or url.lower().startswith(NOT_FETCHED):
        return None
    try:
        parts = urlsplit(urljoin(base, url) if base else url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != (443 if scheme == "https" else 80):
        host = f"{host}:{port}"
    path = parts.path or "/"
    return urlunsplit((scheme, host, path, parts.query, "")), parts.fragment


def retry_after_seconds(value: str | None, now: dt.datetime | None = None, cap: float = 120.0) -> float:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date, within [0, cap]."""
    if value is None or not value.strip():
        return min(DEFAULT_RETRY_AFTER, cap)
    value = value.strip()
    if value.isdigit():
        return min(float(value), cap)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return min(DEFAULT_RETRY_AFTER, cap)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    now = now or dt.datetime.now(dt.UTC)
    return max(0.0, min((when - now).total_seconds(), cap))


def srcset_urls(value: str) -> list[str]:
    """The URLs of a srcset ("a.png 1x, b.png 2x"); a candidate is a URL then an optional descriptor."""
    urls = []
    for candidate in value.split(","):
        words = candidate.split()
        if words:
            urls.append(words[0])
    return urls


def parse_page(body: bytes, url: str) -> tuple[list[tuple[str, str]], frozenset[str]]:
    """The distinct (absolute URL with fragment, kind) links of a page, and its anchors."""
    tree = LexborHTMLParser(body)
    base_node = tree.css_first("base[href]")
    base = urljoin(url, base_node.attributes.get("href") or "") if base_node is not None else url
    normal_base = normalize(base)
    origin = "{}://{}".format(*urlsplit(normal_base[0])[:2]) if normal_base else None
    found: dict[str, str] = {}
    for node in tree.css(LINK_SELECTOR):
        for raw, kind in _node_links(node):
            if origin and raw[:1] == "/" and raw[1:2] != "/" and not _NOT_PLAIN.search(raw):
                key = origin + raw  # a plain root-relative link (most of them): no need to parse
            else:
                normal = normalize(raw, base)
                if normal is None:
                    continue
                key = f"{normal[0]}#{normal[1]}" if normal[1] else normal[0]
            if found.get(key) != PAGE:  # a URL used both ways is a page (it may be parsed)
                found[key] = kind
    anchors = set()
    for node in tree.css(ANCHOR_SELECTOR):
        attributes = node.attributes
        for name in ("id", "name") if node.tag == "a" else ("id",):
            value = attributes.get(name)
            if value:
                anchors.add(value)
    return list(found.items()), frozenset(anchors)


def _node_links(node: Any) -> Iterable[tuple[str, str]]:
    attributes = node.attributes
    tag = node.tag
    if tag in ("a", "area"):
        yield attributes.get("href") or "", PAGE
    elif tag in ("iframe", "frame"):
        yield attributes.get("src") or "", PAGE
    elif tag == "link":
        rels = set((attributes.get("rel") or "").lower().split())
        if rels & LINK_RELS:
            yield attributes.get("href") or "", ASSET
    else:  # img, source, script
        if attributes.get("src"):
            yield attributes["src"], ASSET
        if attributes.get("srcset"):
            for url in srcset_urls(attributes["srcset"]):
                yield url, ASSET


def _message(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# -- the crawl ---------------------------------------------------------------------------------------------
@dataclass
class _Hop:
    """One request's answer (after 429 retries): a redirect's Location, a final status, or an error."""

    url: str
    status: int | None = None
    location: str | None = None
    error: str = ""
    links: list[tuple[str, str]] | None = None  # parsed same-site HTML only
    anchors: frozenset[str] | None = None
    text: str | None = None  # robots.txt only
    tries: int = 1


@dataclass
class _Outcome:
    final: _Hop
    chain: list[dict[str, Any]]
    loop: bool = False
    blocked: bool = False


class _Refs:
    """The pages a link is on: the first few kept, all counted (each page counted once)."""

    __slots__ = ("count", "pages")

    def __init__(self) -> None:
        self.pages: list[str] = []
        self.count = 0

    def add(self, page: str) -> None:
        self.count += 1
        if len(self.pages) < MAX_PAGES_LISTED:
            self.pages.append(page)


@dataclass
class _Link:
    url: str
    internal: bool
    kind: str
    depth: int
    refs: _Refs = field(default_factory=_Refs)
    fragments: dict[str, _Refs] = field(default_factory=dict)
    outcome: _Outcome | None = None
    blocked: bool = False
    expanded: bool = False


class _Gate:
    """Per host: at most `concurrency` requests in flight, starts spaced by `delay`, and a hold after 429."""

    def __init__(self, concurrency: int, delay: float) -> None:
        self.semaphore = asyncio.Semaphore(max(1, concurrency))
        self.delay = delay
        self.next_start = 0.0
        self.not_before = 0.0

    async def __aenter__(self) -> None:
        await self.semaphore.acquire()
        while (wait := max(self.next_start, self.not_before) - time.monotonic()) > 0:
            await asyncio.sleep(wait)  # checked again: a 429 elsewhere may have moved not_before
        if self.delay:
            self.next_start = time.monotonic() + self.delay

    async def __aexit__(self, *exc: object) -> None:
        self.semaphore.release()

    def hold(self, seconds: float) -> None:
        self.not_before = max(self.not_before, time.monotonic() + seconds)


class _Crawler:
    def __init__(self, start_url: str, settings: CrawlSettings, progress: Progress) -> None:
        normal = normalize(start_url)
        if normal is None:
            raise ValueError(f"not an http(s) URL: {start_url!r}")
        self.start = normal[0]
        self.settings = settings
        self.progress = progress
        self.site_hosts = {urlsplit(self.start).netloc}
        self.links: dict[str, _Link] = {}
        self.hops: dict[tuple[str, str], asyncio.Task[_Hop]] = {}
        self.gates: dict[str, _Gate] = {}
        self.robots: dict[str, asyncio.Task[RobotFileParser | None]] = {}
        self.page_fetches = 0
        self.truncated = False
        self.notes: list[str] = []
        self.excludes = [_exclusion(rule, self.start) for rule in settings.excludes]
        self.group: asyncio.TaskGroup | None = None
        self.lanes: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()

    async def run(self) -> Result:
        """httpcore's pool looks at every one of its connections for every request, so one client with many
        connections spends more time choosing than sending. Instead each request borrows a client of its
        own ("lane": two connections, so the site's stays open while an external link is checked) from a
        free list; the number of lanes bounds the requests in flight over all hosts."""
        limits = httpx.Limits(max_connections=LANE_SIZE, max_keepalive_connections=LANE_SIZE)
        timeout = httpx.Timeout(self.settings.timeout, connect=min(5.0, self.settings.timeout), pool=None)
        tls = httpx.create_ssl_context()  # one for all lanes: loading the CA bundle costs ~20 ms each time
        async with contextlib.AsyncExitStack() as stack:
            for _ in range(max(1, self.settings.max_connections)):
                client = http.async_client(timeout=timeout, limits=limits, verify=tls)
                self.lanes.put_nowait(await stack.enter_async_context(client))
            async with asyncio.TaskGroup() as group:
                self.group = group
                self._found(None, self.start, "", PAGE, 0)
        return self._result()

    # links --------------------------------------------------------------------------------------------
    def _found(self, page: str | None, url: str, fragment: str, kind: str, depth: int) -> None:
        link = self.links.get(url)
        if link is None:
            if any(rule(url) for rule in self.excludes):
                return
            internal = urlsplit(url).netloc in self.site_hosts
            if not internal and not self.settings.check_external:
                return
            link = self.links[url] = _Link(url, internal, kind if internal else ASSET, depth)
            self.progress.queued += 1
            assert self.group is not None  # noqa: S101 - set by run() before the first link
            self.group.create_task(self._check(link))
        elif link.internal and kind == PAGE and depth < link.depth:
            link.depth = depth  # reached by a shorter path: its links may now be within the depth
            if link.outcome is not None:
                self._expand(link)
        if page is None:
            return
        if not fragment:
            link.refs.add(page)
        elif fragment.lower() not in SKIPPED_FRAGMENTS and not fragment.startswith(("!", "/")):
            link.fragments.setdefault(fragment, _Refs()).add(page)

    async def _check(self, link: _Link) -> None:
        try:
            if link.internal and not await self._allowed(link.url):
                link.blocked = True
                return
            if link.kind == PAGE:
                if self.page_fetches >= self.settings.max_pages:
                    self.truncated = True
                    return
                self.page_fetches += 1
            link.outcome = await self._resolve(link.url, link.kind)
            self._expand(link)
        finally:
            self.progress.queued -= 1
            self.progress.checked += 1

    def _expand(self, link: _Link) -> None:
        final = link.outcome.final if link.outcome else None
        if final is None or final.links is None or link.expanded or link.depth >= self.settings.max_depth:
            return
        link.expanded = True
        page = final.url
        counted: set[str] = set()
        for target, kind in final.links:
            url, _, fragment = target.partition("#")
            if url not in counted:  # one page counts once for a URL, whatever fragments it uses
                counted.add(url)
                self._found(page, url, "", kind, link.depth + 1)
            if fragment:
                self._found(page, url, fragment, kind, link.depth + 1)

    # robots.txt ---------------------------------------------------------------------------------------
    async def _allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        task = self.robots.get(parts.netloc)
        if task is None:
            task = self.robots[parts.netloc] = asyncio.ensure_future(self._robots(parts.scheme, parts.netloc))
        rules = await task
        return rules is None or rules.can_fetch(http.USER_AGENT, url)

    async def _robots(self, scheme: str, netloc: str) -> RobotFileParser | None:
        """The rules, or None (allow everything) when there is no robots.txt (RFC 9309: 4xx) or it cannot
        be read (noted in the result: an agency scan of its own client's site goes on)."""
        url = f"{scheme}://{netloc}/robots.txt"
        hop = await self._hop(url, "body")
        if hop.status is None or hop.status >= 500:
            reason = hop.error if hop.status is None else f"HTTP {hop.status}"
            self.notes.append(f"{url} could not be read ({reason}); crawled as if absent")
            return None
        if hop.status != 200 or hop.text is None:
            return None
        rules = RobotFileParser(url)
        rules.parse(hop.text.splitlines())
        return rules

    # requests -----------------------------------------------------------------------------------------
    async def _resolve(self, url: str, kind: str) -> _Outcome:
        chain: list[dict[str, Any]] = []
        seen: set[str] = set()
        current = url
        while True:
            if url == self.start:  # the site lives where its start URL redirects to (https://www…)
                self.site_hosts.add(urlsplit(current).netloc)
            internal = urlsplit(current).netloc in self.site_hosts
            if current != url and internal and not await self._allowed(current):
                return _Outcome(_Hop(current), chain, blocked=True)
            hop = await self._hop(current, "page" if internal and kind == PAGE else "head")
            chain.append({"url": current, "status": hop.status})
            seen.add(current)
            target = normalize(hop.location, current) if hop.location else None
            if target is None:
                return _Outcome(hop, chain if len(chain) > 1 else [])
            if target[0] in seen or len(chain) > MAX_FOLLOW:
                chain.append({"url": target[0], "status": None})
                return _Outcome(hop, chain, loop=True)
            current = target[0]

    def _hop(self, url: str, mode: str) -> asyncio.Future[_Hop]:
        task = self.hops.get((url, mode))
        if task is None:
            task = self.hops[(url, mode)] = asyncio.ensure_future(self._fetch(url, mode))
        return task

    async def _fetch(self, url: str, mode: str) -> _Hop:
        netloc = urlsplit(url).netloc
        gate = self.gates.get(netloc)
        if gate is None:
            gate = self.gates[netloc] = _Gate(self.settings.concurrency, self.settings.delay)
        tries = 0
        while True:
            tries += 1
            async with gate:
                client = await self.lanes.get()
                try:
                    hop, retry_after = await self._request(client, url, mode)
                finally:
                    self.lanes.put_nowait(client)
            hop.tries = tries
            if hop.status != 429 or tries > self.settings.retries_429:
                if hop.status == 429:
                    hop.error = f"still 429 Too Many Requests after {tries} tries"
                return hop
            gate.hold(retry_after_seconds(retry_after, cap=self.settings.max_retry_wait))

    async def _request(self, client: httpx.AsyncClient, url: str, mode: str) -> tuple[_Hop, str | None]:
        if mode == "head":
            try:
                response = await client.head(url)
            except (httpx.ConnectError, httpx.TimeoutException, httpx.UnsupportedProtocol) as exc:
                return _Hop(url, error=_message(exc)), None
            except httpx.HTTPError:
                pass  # a broken HEAD answer: GET may still work
            else:
                status = response.status_code
                if status < 400 or status == 429:
                    return self._answer(url, response), response.headers.get("retry-after")
        return await self._get(client, url, parse=mode)

    async def _get(self, client: httpx.AsyncClient, url: str, *, parse: str) -> tuple[_Hop, str | None]:
        try:
            async with client.stream("GET", url) as response:
                hop = self._answer(url, response)
                wanted = 200 <= response.status_code < 300 and parse in ("page", "body")
                ctype = response.headers.get("content-type", "").lower()
                if wanted and (parse == "body" or ctype.startswith(HTML_TYPES)):
                    body = await _read(response, MAX_BODY)
                    if parse == "body":
                        hop.text = body.decode("utf-8", "replace")
                    else:
                        hop.links, hop.anchors = parse_page(body, url)
                        self.progress.pages += 1
                elif int(response.headers.get("content-length") or KEEPALIVE_BODY + 1) <= KEEPALIVE_BODY:
                    await response.aread()
                return hop, response.headers.get("retry-after")
        except httpx.HTTPError as exc:
            return _Hop(url, error=_message(exc)), None

    @staticmethod
    def _answer(url: str, response: httpx.Response) -> _Hop:
        status = response.status_code
        location = response.headers.get("location") if status in REDIRECT_STATUSES else None
        error = "" if status < 400 else (response.reason_phrase or f"HTTP {status}")
        return _Hop(url, status=status, location=location, error=error)

    # the result ---------------------------------------------------------------------------------------
    def _result(self) -> Result:
        defects = []
        for link in self.links.values():
            defects.extend(self._defects(link))
        defects.sort(key=lambda d: (d.problem, d.url))
        checked = sum(1 for link in self.links.values() if link.outcome is not None)
        return Result(
            start_url=self.start,
            pages=self.progress.pages,
            links=checked,
            truncated=self.truncated,
            defects=defects,
            seconds=time.monotonic() - self.progress.started,
            notes=self.notes,
        )

    def _defects(self, link: _Link) -> Iterable[Defect]:
        def defect(problem: str, url: str = link.url, refs: _Refs = link.refs, **more: Any) -> Defect:
            return Defect(url, link.internal, problem, pages=refs.pages, page_count=refs.count, **more)

        if link.blocked:
            yield defect(BLOCKED, error="disallowed by robots.txt: not fetched")
            return
        outcome = link.outcome
        if outcome is None:
            return
        final = outcome.final
        if outcome.blocked:
            yield defect(BLOCKED, error="redirects to a URL robots.txt disallows", redirects=outcome.chain)
        elif outcome.loop:
            hops = len(outcome.chain) - 1
            yield defect(REDIRECT_LOOP, status=final.status, error=f"redirect loop ({hops} hops)",
                         redirects=outcome.chain)  # fmt: skip
        elif final.error or final.status is None or final.status >= 400:
            problem = UNREACHABLE if final.status is None else HTTP_ERROR
            yield defect(problem, status=final.status, error=final.error[:500], redirects=outcome.chain)
        elif final.anchors is not None:
            for fragment, refs in link.fragments.items():
                if fragment not in final.anchors and unquote(fragment) not in final.anchors:
                    yield defect(MISSING_FRAGMENT, url=f"{link.url}#{fragment}", refs=refs,
                                 status=final.status, error=f"no element with id or name {fragment!r}",
                                 redirects=outcome.chain)  # fmt: skip
        if not outcome.loop and len(outcome.chain) - 1 > self.settings.max_hops:
            hops, limit = len(outcome.chain) - 1, self.settings.max_hops
            yield defect(REDIRECT_CHAIN, status=final.status, redirects=outcome.chain,
                         error=f"{hops} redirects (more than {limit})")  # fmt: skip


async def _read(response: httpx.Response, limit: int) -> bytes:
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)


def _exclusion(rule: str, start: str) -> Any:
    """A rule is a URL prefix ("https://…"), a path prefix on the site ("/wp-admin/") or a regex."""
    if rule.startswith(("http://", "https://")):
        return lambda url: url.startswith(rule)
    if rule.startswith("/"):
        prefix = urljoin(start, rule)
        return lambda url: url.startswith(prefix)
    pattern = re.compile(rule)
    return lambda url: pattern.search(url) is not None


async def crawl(
    start_url: str, settings: CrawlSettings | None = None, progress: Progress | None = None
) -> Result:
    """Crawl from `start_url` and return every defect found."""
    return await _Crawler(start_url, settings or CrawlSettings(), progress or Progress()).run()


def crawl_sync(
    start_url: str, settings: CrawlSettings | None = None, progress: Progress | None = None
) -> Result:
    """`crawl` in its own event loop (a worker thread, the CLI, the benchmark)."""
    return asyncio.run(crawl(start_url, settings, progress))
