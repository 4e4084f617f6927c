"""A small static site the link-scan tests serve themselves on 127.0.0.1 (a free port, HTTP/1.1 keep-alive),
with a request log and content that can be switched between scans."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Answer = tuple[int, dict[str, str], bytes]
Route = Answer | Callable[[str], Answer]  # a fixed answer, or a function of the method


@dataclass
class Site:
    routes: dict[str, Route] = field(default_factory=dict)
    log: list[tuple[float, str, str]] = field(default_factory=list)  # (monotonic time, method, path)
    port: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def requests(self, path: str) -> list[tuple[float, str]]:
        return [(at, method) for at, method, logged in self.log if logged == path]

    def answer(self, method: str, path: str) -> Answer:
        self.log.append((time.monotonic(), method, path))
        route = self.routes.get(path)
        if route is None:
            return 404, {"Content-Type": "text/html"}, b"<h1>Not found</h1>"
        return route(method) if callable(route) else route


def page(body: str) -> Answer:
    return 200, {"Content-Type": "text/html; charset=utf-8"}, f"<!doctype html><html>{body}</html>".encode()


def redirect(to: str, status: int = 301) -> Answer:
    return status, {"Location": to}, b""


def asset(content_type: str = "image/png") -> Answer:
    return 200, {"Content-Type": content_type}, b"\x89PNG fake"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a real server
    site: Site

    def _serve(self, method: str) -> None:
        status, headers, body = self.site.answer(method, self.path)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def log_message(self, format: str, *args: object) -> None:
        return


@contextmanager
def serving(site: Site) -> Iterator[Site]:
    handler = type("Handler", (_Handler,), {"site": site})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    site.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name=f"linksite-{site.port}", daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# -- the acceptance site -----------------------------------------------------------------------------------
HOME = """
<head><link rel="stylesheet" href="/css/site.css"><link rel="icon" href="/favicon.ico">
<link rel="canonical" href="/never-checked"><script src="/js/app.js"></script></head>
<body id="top">
<a href="/about/">About</a> <a href="/missing">Gone page</a> <a href="/loop-a">Loop</a>
<a href="/chain/1">Long chain</a> <a href="/about/#team">Team</a> <a href="/about/#nowhere">Lost anchor</a>
<a href="mailto:info@example.test">Mail</a> <a href="tel:+4930123456">Call</a>
<a href="javascript:void(0)">Menu</a> <a href="#">Top</a> <a href="#top">Top</a>
<a href="/private/secret.html">Private</a> <a href="/old-page">Old</a>
<img src="/img/logo.png" srcset="/img/logo.png 1x, /img/missing@2x.png 2x" alt="">
<img src="/img/head-refused.png" alt=""> <iframe src="/embed/"></iframe>
<a href="{other}/limited">Partner</a> <a href="{other}/gone">Dead partner</a>
{extra}
</body>"""


def chain(routes: dict[str, Route], hops: int, end: str) -> None:
    for number in range(1, hops + 1):
        routes[f"/chain/{number}"] = redirect(f"/chain/{number + 1}" if number < hops else end, 302)


def acceptance_routes(other: str, *, fixed: bool = False) -> dict[str, Route]:
    """Version 1: a 404 page, a redirect loop, a missing #anchor, a 7-hop chain, a broken srcset image, a
    robots.txt-disallowed page, a partner host answering 429 once. Version 2 (`fixed`): the 404 page, the
    loop and the anchor are fixed, and a new broken link appears."""
    about = '<h2 id="team">Team</h2><a href="/">Home</a><a href="/deep/">Deep</a>'
    if fixed:
        about += '<p id="nowhere">now here</p>'
    routes: dict[str, Route] = {
        "/": page(HOME.format(other=other, extra='<a href="/new-broken">New</a>' if fixed else "")),
        "/robots.txt": (200, {"Content-Type": "text/plain"}, b"User-agent: *\nDisallow: /private/\n"),
        "/about/": page(about),
        "/deep/": page('<a href="/about/">back</a><img src="/img/logo.png">'),
        "/embed/": page("<p>map</p>"),
        "/old-page": redirect("/about/"),
        "/loop-a": redirect("/loop-b"),
        "/loop-b": redirect("/loop-a"),
        "/css/site.css": asset("text/css"),
        "/js/app.js": asset("text/javascript"),
        "/favicon.ico": asset("image/x-icon"),
        "/img/logo.png": asset(),
        "/img/head-refused.png": lambda method: (405, {"Allow": "GET"}, b"") if method == "HEAD" else asset(),
        "/private/secret.html": page("secret"),
    }
    chain(routes, 7, "/about/")
    if fixed:
        routes["/missing"] = page("back again")
        routes["/loop-b"] = page("no longer a loop")
    return routes


def partner_routes() -> dict[str, Route]:
    """The other host: /limited answers 429 (Retry-After: 1) the first time, then 200; /gone is a 404."""
    calls = {"n": 0}

    def limited(method: str) -> Answer:
        calls["n"] += 1
        if calls["n"] == 1:
            return 429, {"Retry-After": "1", "Content-Type": "text/plain"}, b"slow down"
        return page("partner")

    return {"/limited": limited}


# -- a generated site like the (12.16), at a smaller scale -----------------------------------------
def generated_routes(pages: int, broken: int) -> tuple[dict[str, Route], dict[str, list[str]]]:
    """`pages` pages with page-relative links (href="p0001.html"): index.html, also served at /, p0001.html …;
    page i links to its children 4i+1 … 4i+4, back to index.html and to its own #top. `broken` missing
    pages gone-NNNN.html, each linked from two neighbouring pages. Returns the routes and, per missing path,
    the paths of the pages it is on."""
    names = ["index.html", *(f"p{i:04}.html" for i in range(1, pages))]
    missing: dict[str, list[str]] = {}
    step = max(2, (pages - 2) // max(broken, 1))
    bodies = {}
    for i, name in enumerate(names):
        children = "".join(f'<li><a href="{names[c]}">{c}</a></li>' for c in range(4 * i + 1, 4 * i + 5)
                           if c < pages)  # fmt: skip
        head = f'<link rel="stylesheet" href="/site.css"><h1 id="top">Page {i}</h1>'
        bodies[name] = f'{head}<ul>{children}</ul><a href="index.html">Home</a> <a href="#top">Top</a>'

    for k in range(broken):
        i = 1 + k * step
        gone = f"gone-{i:04}.html"
        missing["/" + gone] = [f"/{names[i]}", f"/{names[i + 1]}"]
        for on in (names[i], names[i + 1]):
            bodies[on] += f' <a href="{gone}">old offer</a>'
    routes: dict[str, Route] = {f"/{name}": page(body) for name, body in bodies.items()}
    routes["/"] = routes["/index.html"]  # the same bytes: one page
    routes["/site.css"] = asset("text/css")
    return routes, missing
