"""The link crawler against sites the tests serve on 127.0.0.1: every defect of the acceptance site found
(404s, a redirect loop, a long chain, a missing #anchor, a broken srcset image, robots.txt), mailto/tel/
javascript skipped, HEAD refused → GET, the 429 host retried after its Retry-After, each URL fetched once,
per-host limits, depth and page limits; and the pure helpers (URL spelling, Retry-After, srcset, parsing)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sitekeeper import http
from sitekeeper.audits import crawler
from sitekeeper.audits.crawler import CrawlSettings, crawl_sync, normalize, parse_page, retry_after_seconds
from tests.audits.linksite import Site, acceptance_routes, page, partner_routes, redirect, serving


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


def test_depth_and_page_limits():
    routes = {f"/d/{n}": page(f'<a href="/d/{n + 1}">next</a>') for n in range(10)}
    routes["/"] = redirect("/d/0")
    with serving(Site(routes)) as site:
        deep = crawl_sync(site.base + "/", CrawlSettings(max_depth=2))
        fetched = {path for _at, _m, path in site.log}
        # "/" (depth 0) redirects to /d/0: its links are depth 1 (/d/1), theirs depth 2 (/d/2, fetched,
        # its own links not followed).
        assert {"/d/0", "/d/1", "/d/2"} <= fetched
        assert "/d/3" not in fetched
        assert not deep.truncated
        site.log.clear()
        limited = crawl_sync(site.base + "/", CrawlSettings(max_pages=3))
        assert limited.truncated
        assert limited.pages == 3  # /d/0 (where "/" redirects), /d/1, /d/2: three page links fetched
        assert "/d/3" not in {path for _at, _m, path in site.log}


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
