"""The link crawler against sites the tests serve on 127.0.0.1: every defect of the acceptance site found
(404s, a redirect loop, a long chain, a missing #anchor, a broken srcset image, robots.txt), mailto/tel/
javascript skipped, HEAD refused → GET, the 429 host retried after its Retry-After, each URL fetched once,
per-host limits, depth and page limits; and the pure helpers (URL spelling, Retry-After, srcset, parsing)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from urllib.parse import urljoin

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sitekeeper import http
from sitekeeper.health import crawler
from sitekeeper.health.crawler import CrawlSettings, crawl_sync, normalize, parse_page, retry_after_seconds
from tests.health.linksite import Site, acceptance_routes, page, partner_routes, redirect, serving


@pytest.fixture
def partner():
    with serving(Site(partner_routes())) as site:
        yield site


@pytest.fixture
def site(partner):
    with serving(Site()) as served:
        served.routes = acceptance_routes(partner.base)
        yield served


def found(result: crawler.Result, base: str, other: str) -> set[tuple[str, str]]:
    return {(d.url.replace(base, "").replace(other, "partner:"), d.problem) for d in result.defects}


def test_every_defect_of_the_acceptance_site_is_found(site, partner):
    result = crawl_sync(site.base + "/", CrawlSettings())
    assert found(result, site.base, partner.base) == {
        ("/missing", "http_error"),
        ("/img/missing@2x.png", "http_error"),
        ("partner:/gone", "http_error"),
        ("/loop-a", "redirect_loop"),
        ("/chain/1", "redirect_chain"),
        ("/about/#nowhere", "missing_fragment"),
        ("/private/secret.html", "blocked"),
    }
    by_url = {d.url.replace(site.base, ""): d for d in result.defects}
    assert by_url["/missing"].pages == [site.base + "/"]
    assert by_url["/missing"].page_count == 1
    assert by_url["/missing"].status == 404
    assert by_url["/missing"].internal
    assert not by_url[partner.base + "/gone"].internal
    loop = [hop["url"].replace(site.base, "") for hop in by_url["/loop-a"].redirects]
    assert loop == ["/loop-a", "/loop-b", "/loop-a"]
    chain = by_url["/chain/1"].redirects
    assert len(chain) == 8
    assert chain[-1] == {"url": site.base + "/about/", "status": 200}
    assert {d.problem for d in result.broken} == {"http_error", "redirect_loop", "missing_fragment"}
    assert len(result.broken) == 5
    assert result.pages == 4  # /, /about/ (also the chain's and /old-page's end), /deep/, /embed/
    assert not result.truncated


def test_each_url_is_fetched_once_and_skipped_links_never(site, partner):
    crawl_sync(site.base + "/", CrawlSettings())
    requests = Counter((method, path) for _at, method, path in site.log)
    assert max(requests.values()) == 1, requests
    paths = {path for _at, _method, path in site.log}
    assert "/private/secret.html" not in paths  # robots.txt
    assert "/never-checked" not in paths  # <link rel=canonical> is not a resource the page loads
    assert not [p for p in paths if "mailto" in p or "tel:" in p or "javascript" in p]
    # Assets are checked with HEAD; a HEAD refused (405) is asked again with GET and is not broken.
    assert ("HEAD", "/css/site.css") in requests
    assert ("GET", "/css/site.css") not in requests
    assert requests[("HEAD", "/img/head-refused.png")] == 1
    assert requests[("GET", "/img/head-refused.png")] == 1
    # Pages are fetched with GET, their links followed; the redirect target /about/ was fetched once.
    assert requests[("GET", "/about/")] == 1
    assert ("GET", "/old-page") in requests


def test_the_429_host_is_retried_after_its_retry_after(site, partner):
    result = crawl_sync(site.base + "/", CrawlSettings())
    asked = partner.requests("/limited")
    assert len(asked) == 2
    assert asked[1][0] - asked[0][0] >= 1.0  # the server said Retry-After: 1
    assert not [d for d in result.defects if "limited" in d.url]


def test_a_host_that_stays_429_is_reported(partner):
    partner.routes["/busy"] = (429, {"Retry-After": "0"}, b"")
    with serving(Site({"/": page(f'<a href="{partner.base}/busy">x</a>')})) as site:
        result = crawl_sync(site.base + "/", CrawlSettings(retries_429=2))
    (defect,) = result.defects
    assert (defect.problem, defect.status) == ("http_error", 429)
    assert defect.error == "still 429 Too Many Requests after 3 tries"
    assert len(partner.requests("/busy")) == 3


def test_unreachable_links_and_robots_txt_that_cannot_be_read():
    closed = Site()
    with serving(closed):
        dead = closed.base  # the server is gone after this block: its port refuses connections
    routes = {"/": page(f'<a href="{dead}/x">dead</a>'), "/robots.txt": (503, {}, b"")}
    with serving(Site(routes)) as site:
        result = crawl_sync(site.base + "/", CrawlSettings(timeout=3))
    (defect,) = result.defects
    assert (defect.url, defect.problem, defect.status) == (f"{dead}/x", "unreachable", None)
    assert "ConnectError" in defect.error
    assert "robots.txt could not be read (HTTP 503)" in result.notes[0]


def test_external_links_can_be_left_unchecked(site, partner):
    result = crawl_sync(site.base + "/", CrawlSettings(check_external=False))
    assert not partner.log
    assert not [d for d in result.defects if not d.internal]


def _chain_site() -> dict:
    routes = {f"/d/{n}": page(f'<a href="/d/{n + 1}">next</a>') for n in range(10)}
    routes["/"] = redirect("/d/0")
    return routes


def test_the_depth_limit_checks_the_last_pages_links_and_names_the_pages_left_unread():
    """Pages up to the depth are read and every link on them is checked; a page one click further is
    checked (HEAD) but not read, and that makes the crawl incomplete: its own links are unknown."""
    with serving(Site(_chain_site())) as site:
        deep = crawl_sync(site.base + "/", CrawlSettings(max_depth=2))
        requests = Counter((method, path) for _at, method, path in site.log)
    # "/" (depth 0) redirects to /d/0: its links are depth 1 (/d/1), theirs depth 2 (/d/2, read; its link
    # to /d/3 is checked, /d/3 is not read).
    assert {("GET", "/d/0"), ("GET", "/d/1"), ("GET", "/d/2"), ("HEAD", "/d/3")} <= set(requests)
    assert ("GET", "/d/3") not in requests
    assert not [path for _method, path in requests if path == "/d/4"]
    assert (deep.pages, deep.depth_limited, deep.truncated, deep.complete) == (3, True, False, False)
    assert (deep.unread, deep.unread_examples) == (1, [site.base + "/d/3"])
    assert deep.limits == ["max_depth"]


def test_the_page_limit_reads_that_many_pages_checks_their_links_and_counts_the_rest():
    with serving(Site(_chain_site())) as site:
        limited = crawl_sync(site.base + "/", CrawlSettings(max_pages=3))
        requests = Counter((method, path) for _at, method, path in site.log)
    assert limited.pages == 3  # /d/0 (where "/" redirects), /d/1, /d/2
    assert ("HEAD", "/d/3") in requests
    assert ("GET", "/d/3") not in requests
    assert (limited.truncated, limited.depth_limited, limited.unread) == (True, False, 1)
    assert limited.limits == ["max_pages"]


def test_a_site_within_its_limits_is_complete():
    with serving(Site(_chain_site())) as site:
        result = crawl_sync(site.base + "/", CrawlSettings(max_pages=10, max_depth=11))
    assert (result.pages, result.complete, result.unread, result.limits) == (10, True, 0, [])


def test_error_targets_do_not_use_up_the_page_limit():
    """Home links to 12 missing pages and 3 real ones: with a limit of 4 pages every page is read and all 12
    broken links are found (before: each 404 target took a page of the budget, the scan stopped early)."""
    links = "".join(f'<a href="/gone/{n}.html">{n}</a>' for n in range(12))
    routes = {"/": page(links + '<a href="/a/">a</a><a href="/b/">b</a><a href="/c/">c</a>')}
    routes |= {f"/{name}/": page(f"<p>{name}</p>") for name in "abc"}
    with serving(Site(routes)) as site:
        result = crawl_sync(site.base + "/", CrawlSettings(max_pages=4, concurrency=8))
    assert (result.pages, result.complete, result.unread) == (4, True, 0)
    assert len(result.broken) == 12


def test_slash_and_index_html_are_one_page():
    """/ and /index.html answer the same bytes: one page (read once, its links followed once, counted once);
    an index.html whose content differs from its directory's page is a page of its own."""
    home = page('<a href="index.html">Home</a> <a href="p1.html">One</a> <a href="/docs/index.html">Docs</a>'
                ' <a href="/docs/">Docs</a> <a href="gone.html">Gone</a>')  # fmt: skip
    routes = {"/": home, "/index.html": home, "/p1.html": page('<a href="index.html">back</a>'),
              "/docs/": page("<p>docs</p>"), "/docs/index.html": page("<p>docs, printable</p>")}  # fmt: skip
    with serving(Site(routes)) as site:
        result = crawl_sync(site.base + "/", CrawlSettings(max_pages=4))
    assert (result.pages, result.complete) == (4, True)  # /, /p1.html, /docs/, /docs/index.html
    (gone,) = result.broken
    assert (gone.url, gone.page_count) == (site.base + "/gone.html", 1)  # on one page, not on two
    same = "1 URL served the same page as another URL of the same directory and counted once"
    assert result.notes == [f"{same} (e.g. {site.base}/index.html = {site.base}/)"]


@pytest.mark.parametrize("same_page", [False, True], ids=["other-page", "same-bytes-as-a3"])
def test_a_page_reached_by_a_shorter_path_after_it_was_left_unread_is_read(same_page):
    """/far is first found four clicks deep (beyond max_depth 3) and only checked; /d2 links to it too, at
    depth 3: it is read, and the crawl is complete. Also when /d2 is the same page as /a3 (same bytes, same
    directory: read once, its links followed from the smaller depth)."""
    routes = {
        "/": page('<a href="/a1">a</a><a href="/d1">d</a>'),
        "/a1": page('<a href="/a2">a</a>'), "/a2": page('<a href="/a3">a</a>'),
        "/a3": page('<a href="/far">far</a>'),
        "/d1": lambda _m: (time.sleep(0.3), page('<a href="/d2">d</a>'))[1],  # the short path comes late
        "/d2": page('<a href="/far">far</a>' if same_page else '<a href="/far">far away</a>'),
        "/far": page("<p>far</p>"),
    }  # fmt: skip
    with serving(Site(routes)) as site:
        result = crawl_sync(site.base + "/", CrawlSettings(max_depth=3))
        gets = {path for _at, method, path in site.log if method == "GET"}
    assert "/far" in gets
    assert (result.complete, result.unread) == (True, 0)
    assert result.pages == (6 if same_page else 7)


def test_a_shorter_path_found_late_brings_a_whole_subtree_within_the_depth():
    """max_depth 3: /p is read at depth 3 (through /a1, /a2) and its link /g, at depth 4, only checked; then a
    slow shortcut / → /d1 → /p puts /p at depth 2, so /g is at depth 3 and is read, and /g's own link /h (at
    depth 4) is checked: the crawl ends incomplete only because of /h."""
    routes = {
        "/": page('<a href="/a1">a</a><a href="/d1">d</a>'),
        "/a1": page('<a href="/a2">a</a>'), "/a2": page('<a href="/p">p</a>'),
        "/p": page('<a href="/g">g</a>'), "/g": page('<a href="/h">h</a>'), "/h": page("<p>h</p>"),
        "/d1": lambda _m: (time.sleep(0.4), page('<a href="/p">p</a>'))[1],
    }  # fmt: skip
    with serving(Site(routes)) as site:
        result = crawl_sync(site.base + "/", CrawlSettings(max_depth=3))
        gets = {path for _at, method, path in site.log if method == "GET"}
        heads = {path for _at, method, path in site.log if method == "HEAD"}
    assert {"/p", "/g"} <= gets
    assert "/h" in heads
    assert "/h" not in gets
    assert (result.unread, result.unread_examples) == (1, [site.base + "/h"])


def test_per_host_delay():
    routes = {"/": page("".join(f'<img src="/i/{n}.png">' for n in range(6)))}
    routes |= {f"/i/{n}.png": (200, {"Content-Type": "image/png"}, b"x") for n in range(6)}
    with serving(Site(routes)) as site:
        crawl_sync(site.base + "/", CrawlSettings(concurrency=4, delay=0.1))
    starts = sorted(at for at, _m, path in site.log if path.startswith("/i/"))
    assert len(starts) == 6
    assert starts[-1] - starts[0] >= 0.45  # 5 gaps of 0.1 s between request starts (less the first's latency)


def test_per_host_concurrency():
    lock, state = threading.Lock(), {"now": 0, "most": 0}

    def slow(_method: str) -> tuple[int, dict[str, str], bytes]:
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        time.sleep(0.15)
        with lock:
            state["now"] -= 1
        return 200, {"Content-Type": "image/png"}, b"x"

    routes = {"/": page("".join(f'<img src="/i/{n}.png">' for n in range(8)))}
    routes |= {f"/i/{n}.png": slow for n in range(8)}
    with serving(Site(routes)) as site:
        crawl_sync(site.base + "/", CrawlSettings(concurrency=2))
    assert state["most"] == 2


def test_excludes_are_not_checked(site, partner):
    rules = ("/chain/", r"loop-\w", partner.base + "/gone")
    result = crawl_sync(site.base + "/", CrawlSettings(excludes=rules))
    assert {d.problem for d in result.defects} == {"http_error", "missing_fragment", "blocked"}
    assert not [p for _a, _m, p in site.log if p.startswith(("/chain/", "/loop-"))]
    assert not partner.requests("/gone")


def test_a_start_url_that_redirects_to_another_host_keeps_that_host_same_site():
    with serving(Site()) as target:
        target.routes = {"/": page('<a href="/inner">in</a>'), "/inner": page('<a href="/gone">x</a>')}
        with serving(Site({"/": redirect(target.base + "/")})) as start:
            result = crawl_sync(start.base + "/", CrawlSettings())
    (defect,) = result.defects
    assert defect.url == target.base + "/gone"
    assert defect.internal
    assert defect.pages == [target.base + "/inner"]


# -- pure helpers ------------------------------------------------------------------------------------------
def test_normalize():
    assert normalize("HTTP://Example.TEST:80") == ("http://example.test/", "")
    assert normalize("https://example.test:443/a?b=1#c") == ("https://example.test/a?b=1", "c")
    assert normalize("../x#y", "https://example.test/a/b/c") == ("https://example.test/a/x", "y")
    assert normalize(" /p\n ", "http://h.test:8080/") == ("http://h.test:8080/p", "")
    for skipped in ("mailto:a@b.test", "tel:+1", "javascript:void(0)", "data:image/png;base64,x", "ftp://h/"):
        assert normalize(skipped, "http://h.test/") is None
    assert normalize("http://[::1:80/") is None


URLS = (
    r"https?://[a-zA-Z0-9.-]{1,20}(:[0-9]{1,5})?(/[a-zA-Z0-9._~%-]{0,10}){0,3}(\?[a-z=&]{0,8})?(#[a-z]{0,5})?"
)


@given(st.from_regex(URLS, fullmatch=True))
def test_normalize_is_idempotent(url):
    first = normalize(url)
    if first is not None:
        assert normalize(first[0]) == (first[0], "")


def test_retry_after_seconds():
    now = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)
    assert retry_after_seconds("7", now) == 7
    assert retry_after_seconds("Sun, 06 Dec 2026 12:00:30 GMT", now) == 30
    assert retry_after_seconds("Sun, 06 Dec 2026 11:00:00 GMT", now) == 0  # in the past
    assert retry_after_seconds("9999", now, cap=120) == 120
    assert retry_after_seconds("soon", now) == crawler.DEFAULT_RETRY_AFTER
    assert retry_after_seconds(None, now) == crawler.DEFAULT_RETRY_AFTER


def test_parse_page_links_anchors_base_and_srcset():
    html = b"""<html><head><base href="https://cdn.test/base/"><link rel="stylesheet" href="s.css">
    <link rel="alternate" href="/feed"></head><body><a id="x" href="/a#frag">a</a><a name="old"></a>
    <img srcset="i1.png 1x, /i2.png 2x"><source src="v.mp4"><script src="//js.test/app.js"></script>
    <a href="mailto:x@y.test">m</a><a href="/a">again</a><iframe src="f.html"></iframe></body></html>"""
    links, anchors = parse_page(html, "https://site.test/page/")
    assert dict(links) == {
        "https://cdn.test/base/s.css": "asset",
        "https://cdn.test/a#frag": "page",
        "https://cdn.test/a": "page",
        "https://cdn.test/base/i1.png": "asset",
        "https://cdn.test/i2.png": "asset",
        "https://cdn.test/base/v.mp4": "asset",
        "https://js.test/app.js": "asset",
        "https://cdn.test/base/f.html": "page",
    }
    assert anchors == {"x", "old"}


# Page-relative links: the fast join (no urljoin per link) must give exactly what urljoin + normalize give.
RELATIVE = [
    "a.html", "sub/b.html?q=1#f", "../up.html", "./same.html", "../../../top.html", "?only=query", "#frag",
    "c.html#", "d.html?", "e.html?#x", "p%20q.html", "x:y.html", "/root.html", "/r?#", "//cdn.test/y",
    "http://Other.TEST:80/x", "a.html#b#c", "sub/./x.html", "sub/../y.html", "..", ".", "a;p.html",
    "a.html?next=/../x", " spaced.html ", "tab\tbed.html", "back\\slash.html", "#", "ünï.html",
]  # fmt: skip


def _key(raw: str, base: str) -> str | None:
    normal = normalize(raw, base)
    if normal is None:
        return None
    return f"{normal[0]}#{normal[1]}" if normal[1] else normal[0]


@pytest.mark.parametrize("base_href", ["", "/other/deeper/", "../x/y.html?z=1", "https://cdn.test"])
def test_page_relative_links_are_joined_exactly(base_href):
    """../, ./, a query, a fragment, a scheme-like first segment, <base href>: the same URLs as urljoin."""
    anchors = "".join(f'<a href="{raw}">x</a>' for raw in RELATIVE)
    head = f'<base href="{base_href}">' if base_href else ""
    url = "https://site.test/dir/page.html?x=1"
    links, _anchors = parse_page(f"<html><head>{head}</head><body>{anchors}</body></html>".encode(), url)
    base = urljoin(url, base_href) if base_href else url
    expected = {_key(raw.replace("\\t", "\t"), base) for raw in RELATIVE} - {None}
    assert {link for link, _kind in links} == expected


def test_plain_page_relative_links_take_no_urljoin(monkeypatch):
    """On a page of 200 links like href="p0001.html", urljoin runs for none of them (it ran for each)."""
    calls = Counter()
    real = crawler.urljoin

    def counting(*args, **kwargs):
        calls["urljoin"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(crawler, "urljoin", counting)
    body = "".join(f'<a href="p{n:04}.html">{n}</a><a href="p{n:04}.html#s">s</a>' for n in range(200))
    links, _anchors = parse_page(f"<html><body>{body}</body></html>".encode(), "https://site.test/b/i.html")
    assert len(links) == 400
    assert ("https://site.test/b/p0007.html#s", "page") in links
    assert calls["urljoin"] == 0


BASES = st.sampled_from([
    "https://site.test/", "https://site.test/dir/page.html?x=1", "http://Site.TEST:80/a/b/", "https://h.test",
    "https://h.test:8443/a;p/b?q#f", "https://user@h.test/x/",
])  # fmt: skip


@given(BASES, st.text(alphabet="ab./?#:%;= \t\\é", max_size=14))
def test_the_fast_join_is_exact_whenever_it_applies(base, raw):
    fast = crawler._Joiner(base).fast(raw)
    if fast is not None:
        assert fast == _key(raw, base)


@pytest.mark.slow
def test_a_real_wordpress_site(wordpress):  # noqa: F811 - the fixture imported below
    """The real WordPress test site (php -S): pages, feeds, REST links and assets are crawled; whatever it
    calls broken, a plain GET confirms (on this site the category archive is a real 404: its permalink is
    not routed); nothing same-site is unreachable or loops. External links: not checked (no internet in CI)
    """
    result = crawl_sync(wordpress.url, CrawlSettings(check_external=False, concurrency=2))
    assert result.pages >= 3
    assert result.links >= 10
    internal = [d for d in result.broken if d.internal]
    assert {d.problem for d in internal} <= {"http_error", "missing_fragment"}
    with http.client() as client:
        for defect in internal:
            if defect.problem == "http_error":
                assert client.get(defect.url).status_code == defect.status >= 400


from tests.monitoring.test_wordpress import wordpress  # noqa: E402, F401 - the session fixture
