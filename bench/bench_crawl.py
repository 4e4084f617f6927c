"""Link scan: sitekeeper's crawler against LinkChecker on the same generated 5,000-page site, in one run.

Run from the repository root:  .venv/bin/python bench/bench_crawl.py [--pages 5000] [--threads 32]
                                [--links root|page|both] [--no-linkchecker]

The site is generated in memory and served from a separate process (an asyncio HTTP/1.1 server with
keep-alive that answers from prebuilt bytes, so the server is never what is measured): page i links to its
10 children (10i+1 … 10i+10), its parent and 3 other pages, each page loads a stylesheet, a script and one
of 50 images; every 500th page links to a missing page and every 1,000th shows a missing image.
Two variants of the links (--links): root-relative (href="/p/17.html", the default) and page-relative
(href="17.html" from the pages under /p/, as many static-site generators write them). Besides the crawl, the
CPU time of parsing the 5,000 pages alone (crawler.parse_page) is measured per variant: that is where a
slow join of page-relative links shows.

Each crawler runs --repeat times (default 2, alternating); the fastest run of each counts.
Both crawlers start at / with the per-host limits off (sitekeeper: 32 requests in flight, no delay;
LinkChecker: `-t 32`), recurse without a depth limit, honour robots.txt (there is none: 404) and check no
external URLs (there are none). Throughput = same-site HTML pages / wall time. Both result sets of broken
URLs are compared: the goal is ≥ 3× LinkChecker's pages/s with the same broken links found.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGES = 50
TEXT = (
    "<p>Our bakery has baked bread, cakes and pastries for the neighbourhood since 1952. Every morning the "
    "ovens start at four, and the first loaves are on the shelves by seven. Ask about our seasonal specials "
    "and custom orders for weddings, birthdays and company events.</p>"
) * 4


def links_of(i: int, pages: int) -> list[int]:
    children = [c for c in range(10 * i + 1, 10 * i + 11) if c < pages]
    others = [(i * 7919 + k * 104729) % pages for k in (1, 2, 3)]
    return [*children, *([(i - 1) // 10] if i else []), *others]


def page_html(i: int, pages: int, relative: bool = False, root: bool = False) -> bytes:
    """Page i; `relative`: its <a> links page-relative (from /p/: "17.html"; from / itself: "p/17.html")."""
    prefix = ("p/" if root else "") if relative else "/p/"
    links = "".join(f'<li><a href="{prefix}{j}.html">Page {j}</a></li>' for j in links_of(i, pages))
    missing = f"{prefix}missing-{i}.html" if relative else f"/missing/{i}.html"
    broken = f'<a href="{missing}">old offer</a>' if i % 500 == 7 else ""
    broken_image = f'<img src="/img/broken-{i}.png" alt="">' if i % 1000 == 3 else ""
    return (
        f'<!doctype html><html><head><title>Page {i}</title><link rel="stylesheet" href="/static/site.css">'
        f'<script src="/static/app.js"></script></head><body><h1 id="top">Page {i}</h1>'
        f'<img src="/img/{i % IMAGES}.png" alt="">{broken_image}<nav><ul>{links}</ul></nav>{TEXT}{broken}'
        "</body></html>"
    ).encode()


def expected_broken(pages: int, relative: bool = False) -> set[str]:
    missing = "/p/missing-{}.html" if relative else "/missing/{}.html"
    found = {missing.format(i) for i in range(pages) if i % 500 == 7}
    return found | {f"/img/broken-{i}.png" for i in range(pages) if i % 1000 == 3}


# -- the server (a child process) ------------------------------------------------------------------------
def response(status: str, content_type: str, body: bytes) -> tuple[bytes, bytes]:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        "Connection: keep-alive\r\nLinkChecker: unthrottled\r\n\r\n"
    ).encode()
    return head, head + body


def bodies(pages: int, relative: bool) -> dict[str, bytes]:
    found = {"/": page_html(0, pages, relative, root=True)}
    for i in range(pages):
        found[f"/p/{i}.html"] = page_html(i, pages, relative)
    return found


def build(pages: int, relative: bool) -> dict[bytes, tuple[bytes, bytes]]:
    site = {
        path.encode(): response("200 OK", "text/html; charset=utf-8", body)
        for path, body in bodies(pages, relative).items()
    }
    site[b"/static/site.css"] = response("200 OK", "text/css", b"body{font-family:sans-serif}" * 40)
    site[b"/static/app.js"] = response("200 OK", "text/javascript", b"console.log(1);" * 60)
    for i in range(IMAGES):
        site[f"/img/{i}.png".encode()] = response("200 OK", "image/png", b"\x89PNG" + bytes(2000))
    return site


class Http(asyncio.Protocol):
    site: dict[bytes, tuple[bytes, bytes]] = {}
    missing = response("404 Not Found", "text/html", b"<h1>Not found</h1>")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            method, path, _ = head.split(b"\r\n", 1)[0].split(b" ", 2)
            answer = self.site.get(path.split(b"?", 1)[0], self.missing)
            self.transport.write(answer[0] if method == b"HEAD" else answer[1])  # type: ignore[attr-defined]
            if b"connection: close" in head.lower():
                self.transport.close()


async def serve(pages: int, relative: bool) -> None:
    Http.site = build(pages, relative)
    server = await asyncio.get_running_loop().create_server(Http, "127.0.0.1", 0, backlog=1024)
    sys.stdout.write(f"{server.sockets[0].getsockname()[1]}\n")
    sys.stdout.flush()
    await server.serve_forever()


# -- the two crawls ----------------------------------------------------------------------------------------
def run_sitekeeper(base: str, pages: int, threads: int) -> tuple[float, float, int, set[str]]:
    sys.path.insert(0, str(ROOT / "src"))
    from sitekeeper.health import crawler

    settings = crawler.CrawlSettings(
        max_depth=10_000, max_pages=pages * 2, concurrency=threads, delay=0.0, check_external=False,
        max_connections=threads,
    )  # fmt: skip
    started, cpu = time.perf_counter(), time.process_time()
    result = crawler.crawl_sync(base + "/", settings)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    broken = {d.url.removeprefix(base) for d in result.broken}
    return seconds, cpu, result.pages, broken


def run_linkchecker(base: str, threads: int) -> tuple[float, float, int, set[str]]:
    """LinkChecker throttles each host to 10 requests/s unless its configuration allows more *and* the
    server answers with a `LinkChecker` header (the bench server does): its per-host limit off, too."""
    program = ROOT / ".venv" / "bin" / "linkchecker"
    with tempfile.NamedTemporaryFile("w", suffix=".rc", delete=False) as config:
        config.write("[checking]\nmaxrequestspersecond=100000\n")
    os.chmod(config.name, 0o644)  # LinkChecker run as root reads it as 'nobody'
    argv = [str(program), "-f", config.name, "--no-status", "-t", str(threads), "-r", "-1", "-o", "csv"]
    argv += ["--verbose", base + "/"]
    started, before = time.perf_counter(), _children_cpu()
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=3600)  # noqa: S603
    seconds, cpu = time.perf_counter() - started, _children_cpu() - before
    os.unlink(config.name)
    rows = [line for line in done.stdout.splitlines() if line and not line.startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(rows)), delimiter=";")
    pages, broken = set(), set()
    for row in reader:
        url = row.get("url") or ""
        if row.get("valid") == "False":
            broken.add(url.removeprefix(base))
        elif url.endswith((".html", "/")):
            pages.add(url)
    return seconds, cpu, len(pages), broken


def parse_cpu(pages: int, relative: bool) -> float:
    """CPU seconds crawler.parse_page takes for the site's pages (best of 3): the parsing cost alone."""
    sys.path.insert(0, str(ROOT / "src"))
    from sitekeeper.health import crawler

    pages_ = [(f"http://127.0.0.1:1{path}", body) for path, body in bodies(pages, relative).items()]
    best = float("inf")
    for _ in range(3):
        cpu = time.process_time()
        for url, body in pages_:
            crawler.parse_page(body, url)
        best = min(best, time.process_time() - cpu)
    return best


def _children_cpu() -> float:
    """CPU seconds of the children waited for so far (the server, still running, is not among them)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each crawler; the fastest counts")
    parser.add_argument(
        "--links", choices=("root", "page", "both"), default="root",
        help="root-relative links (default), page-relative ones, or one run of each",
    )  # fmt: skip
    parser.add_argument("--no-linkchecker", action="store_true", help="crawl with sitekeeper only")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--relative", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.pages, args.relative))
        return
    print(f"site: {args.pages} pages + {IMAGES + 2} assets, {len(expected_broken(args.pages))} broken links, "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    for relative in {"root": (False,), "page": (True,), "both": (False, True)}[args.links]:
        bench(args, relative)


def bench(args: argparse.Namespace, relative: bool) -> None:
    variant = "page-relative" if relative else "root-relative"
    argv = [sys.executable, __file__, "--serve", "--pages", str(args.pages)]
    if relative:
        argv.append("--relative")
    server = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)  # noqa: S603 - this same script, serving
    try:
        base = f"http://127.0.0.1:{int(server.stdout.readline())}"  # type: ignore[union-attr]
        expected = expected_broken(args.pages, relative)
        # Alternated, best of N each: a burst of load from elsewhere hits one run, not one tool.
        runs: dict[str, list[tuple[float, float, int, set[str]]]] = {"ours": [], "theirs": []}
        for _ in range(max(1, args.repeat)):
            runs["ours"].append(run_sitekeeper(base, args.pages, args.threads))
            if not args.no_linkchecker:
                runs["theirs"].append(run_linkchecker(base, args.threads))
    finally:
        server.terminate()
        server.wait(timeout=10)
    per = 5000 / args.pages
    print(f"{variant} links: parsing alone {parse_cpu(args.pages, relative) * per:.2f} CPU s per 5,000 pages")
    results = [("sitekeeper", min(runs["ours"]))]
    if runs["theirs"]:
        results.append(("linkchecker", min(runs["theirs"])))
    for name, (seconds, cpu, pages, broken) in results:
        same = "all expected" if broken == expected else f"DIFFERENT: {sorted(broken ^ expected)[:10]}"
        per_5000 = cpu * 5000 / max(pages, 1)
        print(f"  {name:12} {seconds:7.2f} s  {pages:5} pages  {pages / seconds:8.1f} pages/s  "
              f"CPU {cpu:6.2f} s ({per_5000:.2f} per 5,000 pages)  broken: {same}")  # fmt: skip
    if len(results) == 2:
        (_, ours), (_, theirs) = results
        ratio = (ours[2] / ours[0]) / (theirs[2] / theirs[0])
        cpu_ratio = (ours[2] / ours[1]) / (theirs[2] / theirs[1])
        print(f"  ratio: sitekeeper is {ratio:.1f}x LinkChecker's pages/s (goal >= 3x), {cpu_ratio:.1f}x per "
              f"CPU second; same broken links: {'yes' if ours[3] == theirs[3] else 'no'}")  # fmt: skip


if __name__ == "__main__":
    main()
