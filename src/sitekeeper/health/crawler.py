"""The broken-link crawler: asyncio + the project's httpx client, no Django (linkscan.py stores the results).

One run starts at a site's URL and
- reads same-site pages (GET) up to a depth and a page limit, parsing only text/html bodies with lexbor
  (selectolax) for links (<a>, <area>, <iframe>, <img src/srcset>, <source>, <script>, <link rel=stylesheet/
  icon>; <base href> honoured) and for the page's anchors (id=…, <a name=…>);
- checks every link on every page it read, once per run: same-site assets, external links and the pages a
  limit keeps it from reading with HEAD, falling back to GET when HEAD is refused or fails (405, 501, any
  other error status, a broken HEAD response);
- counts as pages only the same-site HTML documents it read (2xx text/html): a link target that answers an
  error, a redirect, or a document byte-for-byte the same as one already read in the same directory (`/` and
  `/index.html`) is not a page of its own, so none of them uses up the page limit;
- says when a limit stopped it: a same-site page it found but did not read (beyond the depth, or over the
  page limit) makes the run incomplete, with how many such pages there were (their own links are unknown);
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
import hashlib
import re
import time
from collections import deque
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

# Problem names: the values of health.models.LinkProblem (kept as strings here: no Django import).
HTTP_ERROR, UNREACHABLE, REDIRECT_LOOP = "http_error", "unreachable", "redirect_loop"
REDIRECT_CHAIN, MISSING_FRAGMENT, BLOCKED = "redirect_chain", "missing_fragment", "blocked"
ERRORS = frozenset({HTTP_ERROR, UNREACHABLE, REDIRECT_LOOP, MISSING_FRAGMENT})
WARNINGS = frozenset({REDIRECT_CHAIN, BLOCKED})

PAGE, ASSET = "page", "asset"  # what a link points to: a page we may parse, or a resource we only check
MAX_PAGES, MAX_DEPTH = "max_pages", "max_depth"  # the limits that can leave pages unread
MAX_UNREAD_LISTED = 20  # unread pages named in the result (the count is exact)
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
# What urljoin + normalize() would change in a link the fast path joins by hand: whitespace, backslashes, ";"
# (urljoin drops an empty ;params), dot segments (also a harmless "/.well-known": it just takes the slow
# path), an empty fragment or query; in a page-relative link also a scheme (":") and "//" (urljoin drops
# the empty segment).
_NOT_PLAIN = re.compile(r"[\s\\;]|/\.|#$|\?$|\?#")
_NOT_PLAIN_RELATIVE = re.compile(r"^[/.?#]|[\s\\:;]|//|/\.|#$|\?$|\?#")
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
    pages: int  # distinct same-site HTML pages read (errors, redirects and duplicates not counted)
    links: int  # distinct URLs checked
    truncated: bool  # the page limit left same-site pages unread
    defects: list[Defect]
    seconds: float
    notes: list[str] = field(default_factory=list)
    depth_limited: bool = False  # the depth limit left same-site pages unread
    unread: int = 0  # same-site pages found (their link checked) but not read: their own links are unknown
    unread_examples: list[str] = field(default_factory=list)  # the first few of them
    checked: frozenset[str] = frozenset()  # every URL checked (linkscan: a defect not seen again is fixed
    # only when its URL was checked again)

    @property
    def broken(self) -> list[Defect]:
        return [d for d in self.defects if d.is_error]

    @property
    def complete(self) -> bool:
        """No limit left a page unread: every link of the site reachable from the start was checked."""
        return not (self.truncated or self.depth_limited)

    @property
    def limits(self) -> list[str]:
        """The limits that stopped the crawl: MAX_PAGES, MAX_DEPTH."""
        return [name for name, hit in ((MAX_PAGES, self.truncated), (MAX_DEPTH, self.depth_limited)) if hit]


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
    join = _Joiner(base)
    found: dict[str, str] = {}
    for node in tree.css(LINK_SELECTOR):
        for raw, kind in _node_links(node):
            key = join.fast(raw)
            if key is None:
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


class _Joiner:
    """Joins the plain links of one page by hand: urljoin + normalize cost ~15 µs a link, most of a page's
    parsing time. Exact only where the result is the same string: a root-relative path ("/a/b.html?q#f"),
    a page-relative one ("b.html", "sub/c.html?q#f": the base's directory + the link) and a fragment of the
    page itself ("#f"), each without dot segments, whitespace, backslashes, a scheme or an empty query or
    fragment. Anything else (../, ./, //host, other schemes…) returns None: the caller takes urljoin."""

    __slots__ = ("directory", "origin", "page")

    def __init__(self, base: str) -> None:
        normal = normalize(base)
        self.origin = self.directory = self.page = None
        if normal is not None:
            self.page = normal[0]  # without its fragment: "#f" links join to it
            self.origin = "{}://{}".format(*urlsplit(self.page)[:2])
            without_query = self.page.split("?", 1)[0]
            self.directory = without_query[: without_query.rfind("/") + 1]

    def fast(self, raw: str) -> str | None:
        if self.page is None or not raw:
            return None
        first = raw[0]
        if first == "/":
            if raw[1:2] != "/" and not _NOT_PLAIN.search(raw):
                return self.origin + raw  # type: ignore[operator]
        elif first == "#":
            if not _NOT_PLAIN.search(raw):
                return self.page + raw
        elif not _NOT_PLAIN_RELATIVE.search(raw):
            return self.directory + raw  # type: ignore[operator]
        return None


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
    html: bool = False  # the answer's Content-Type is HTML
    same_as: _Hop | None = None  # the same page, read first at another URL of the same directory


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
    unread: str = ""  # MAX_PAGES or MAX_DEPTH: a same-site page that limit kept from being read


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
        self.reading = 0  # page reads in flight, each holding a slot of the page budget
        self.budget = asyncio.Condition()
        self.read: set[str] = set()  # the URLs whose HTML was read
        self.expanded: set[str] = set()  # pages read whose links were followed
        self.same_pages: dict[tuple[str, bytes], _Hop] = {}  # (directory, digest of the HTML) -> page read
        self.duplicates: list[tuple[str, str]] = []  # (URL, the URL of the same page read first)
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
            while closer := self._within_depth_after_all():
                async with asyncio.TaskGroup() as group:
                    self.group = group
                    for link in closer:
                        self._spawn(self._read_later(link))
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
            self._spawn(self._check(link))
        elif link.internal and kind == PAGE and depth < link.depth:
            self._shorter_path(link, depth)
        if page is None:
            return
        if not fragment:
            link.refs.add(page)
        elif fragment.lower() not in SKIPPED_FRAGMENTS and not fragment.startswith(("!", "/")):
            link.fragments.setdefault(fragment, _Refs()).add(page)

    def _spawn(self, work: Any) -> None:
        self.progress.queued += 1
        assert self.group is not None  # noqa: S101 - set by run() before the first link
        self.group.create_task(work)

    def _shorter_path(self, link: _Link, depth: int) -> None:
        """A page reached by a shorter path. One left unread for the depth is read now (one still being
        checked is read when its check ends: _check_page looks again). The links of a page already read are
        not followed again here: passing each shorter depth down at once sets off cascades of re-expansions
        on a well-linked site; _within_depth_after_all settles the depths at the end instead, and only when
        the depth limit left something unread."""
        link.depth = depth
        if link.outcome is not None and link.unread == MAX_DEPTH and depth <= self.settings.max_depth:
            link.unread = ""
            self._spawn(self._read_later(link))

    def _within_depth_after_all(self) -> list[_Link]:
        """The pages left unread for the depth that a shortest path (breadth-first over the pages read, from
        the start) brings within it; every link gets its shortest depth. Empty when the limit left nothing
        unread, which is the common case: then this costs nothing."""
        if not any(link.unread == MAX_DEPTH for link in self.links.values()):
            return []
        depths = {self.start: 0}
        queue = deque([self.start])
        while queue:
            url = queue.popleft()
            for target in self._page_links(self.links[url]):
                if target not in depths and target in self.links:
                    depths[target] = depths[url] + 1
                    queue.append(target)
        closer = []
        for url, depth in depths.items():
            link = self.links[url]
            link.depth = min(link.depth, depth)
            if link.unread == MAX_DEPTH and link.depth <= self.settings.max_depth:
                link.unread = ""
                closer.append(link)
        return closer

    async def _check(self, link: _Link) -> None:
        try:
            if link.internal and not await self._allowed(link.url):
                link.blocked = True
                return
            if link.kind == PAGE:  # same-site (an external link is always an asset: checked, never read)
                await self._check_page(link)
            else:
                link.outcome = await self._resolve(link.url, ASSET)
        finally:
            self.progress.queued -= 1
            self.progress.checked += 1

    async def _read_later(self, link: _Link) -> None:
        try:
            await self._check_page(link)
        finally:
            self.progress.queued -= 1

    async def _check_page(self, link: _Link) -> None:
        """Read the page when the limits allow; otherwise check its link only (HEAD, as an asset) and, when
        it is an HTML page, note it as unread because of that limit."""
        if link.depth > self.settings.max_depth:
            await self._check_only(link, MAX_DEPTH)
            if link.unread != MAX_DEPTH or link.depth > self.settings.max_depth:
                return
            link.unread = ""  # reached by a shorter path while it was checked: read it after all
        if not await self._reserve():
            await self._check_only(link, MAX_PAGES)
            return
        try:
            link.outcome = await self._resolve(link.url, PAGE)
        finally:
            await self._release()
        self._expand(link)

    async def _check_only(self, link: _Link, limit: str) -> None:
        link.outcome = await self._resolve(link.url, ASSET)
        final = link.outcome.final
        if final.html and final.status is not None and 200 <= final.status < 300 and not link.outcome.loop:
            link.unread = limit  # decided in _result: it may be a page read under another link after all

    async def _reserve(self) -> bool:
        """A slot of the page budget: pages read + reads in flight stay within max_pages. When the reads in
        flight hold every slot left, wait: one that turns out not to be a page (an error, a redirect to a
        page already read, a duplicate, not HTML) gives its slot back. False: the budget is spent."""
        async with self.budget:
            while self.progress.pages + self.reading >= self.settings.max_pages:
                if not self.reading:
                    return False
                await self.budget.wait()
            self.reading += 1
            return True

    async def _release(self) -> None:
        async with self.budget:
            self.reading -= 1
            free = self.settings.max_pages - self.progress.pages - self.reading
            if not self.reading:
                self.budget.notify_all()  # the budget is settled: every waiter learns whether it is spent
            elif free > 0:
                self.budget.notify(free)  # only as many as can go: waking all of them costs O(n) each time

    @staticmethod
    def _page_links(link: _Link) -> Iterable[str]:
        """The URLs (without fragment) the page a link leads to links to; nothing if it was not read."""
        final = link.outcome.final if link.outcome else None
        if final is not None and final.same_as is not None:
            final = final.same_as
        for target, _kind in final.links or () if final is not None else ():
            yield target.partition("#")[0]

    def _expand(self, link: _Link) -> None:
        """Follow the links of a page read, once per page whichever links led to it (a page reached through
        a redirect and directly is on each of its links' pages once). Every link of every page read is
        checked; the depth limit decides which of them are read in turn (see _check_page)."""
        final = link.outcome.final if link.outcome else None
        if final is not None and final.same_as is not None:
            final = final.same_as  # the same page read first at another URL: its links, once
        if final is None or final.links is None or final.url in self.expanded:
            return
        page = final.url
        self.expanded.add(page)
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
                if wanted and (parse == "body" or hop.html):
                    body = await _read(response, MAX_BODY)
                    if parse == "body":
                        hop.text = body.decode("utf-8", "replace")
                    else:
                        self._read_page(hop, body)
                elif int(response.headers.get("content-length") or KEEPALIVE_BODY + 1) <= KEEPALIVE_BODY:
                    await response.aread()
                return hop, response.headers.get("retry-after")
        except httpx.HTTPError as exc:
            return _Hop(url, error=_message(exc)), None

    def _read_page(self, hop: _Hop, body: bytes) -> None:
        """Parse a page and count it, unless the same bytes were read at another URL of the same directory
        (`/` and `/index.html`, `/shop/` and `/shop/index.php`, `/list` and `/list?utm_source=x`): that is the
        same page — not counted again, and its links (the same, resolved from the same directory; only a
        query-only or empty href would differ) are followed once. Different directories resolve relative
        links differently: never the same page."""
        self.read.add(hop.url)
        directory = hop.url.split("?", 1)[0]
        directory = directory[: directory.rfind("/") + 1]
        key = (directory, hashlib.blake2b(body, digest_size=16).digest())
        same = self.same_pages.get(key)
        if same is not None:
            self.duplicates.append((hop.url, same.url))
            hop.links, hop.anchors, hop.same_as = [], same.anchors, same
            return
        hop.links, hop.anchors = parse_page(body, hop.url)
        self.same_pages[key] = hop
        self.progress.pages += 1

    @staticmethod
    def _answer(url: str, response: httpx.Response) -> _Hop:
        status = response.status_code
        location = response.headers.get("location") if status in REDIRECT_STATUSES else None
        error = "" if status < 400 else (response.reason_phrase or f"HTTP {status}")
        html = response.headers.get("content-type", "").lower().startswith(HTML_TYPES)
        return _Hop(url, status=status, location=location, error=error, html=html)

    # the result ---------------------------------------------------------------------------------------
    def _result(self) -> Result:
        defects = []
        for link in self.links.values():
            defects.extend(self._defects(link))
        defects.sort(key=lambda d: (d.problem, d.url))
        checked = frozenset(url for url, link in self.links.items() if link.outcome or link.blocked)
        unread = self._unread()
        return Result(
            start_url=self.start,
            pages=self.progress.pages,
            links=sum(1 for link in self.links.values() if link.outcome is not None),
            truncated=MAX_PAGES in unread.values(),
            depth_limited=MAX_DEPTH in unread.values(),
            unread=len(unread),
            unread_examples=sorted(unread)[:MAX_UNREAD_LISTED],
            checked=checked,
            defects=defects,
            seconds=time.monotonic() - self.progress.started,
            notes=[*self.notes, *self._duplicate_note()],
        )

    def _unread(self) -> dict[str, str]:
        """Same-site pages left unread by a limit (by final URL, so two links to one page count once), less
        those read after all (through another link that redirects there)."""
        unread: dict[str, str] = {}
        for link in self.links.values():
            if link.unread and link.outcome is not None:
                url = link.outcome.final.url
                if url not in self.read and unread.get(url) != MAX_PAGES:
                    unread[url] = link.unread  # both limits: the page limit is the one to raise first
        return unread

    def _duplicate_note(self) -> list[str]:
        if not self.duplicates:
            return []
        url, same = min(self.duplicates)
        count = len(self.duplicates)
        urls = f"{count} URL{'s' if count != 1 else ''}"
        note = f"{urls} served the same page as another URL of the same directory and counted once"
        return [f"{note} (e.g. {url} = {same})"]

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
