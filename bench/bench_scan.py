"""Integrity + malware scan throughput on a generated 50,000-file tree, first scan vs second scan of the same
unchanged tree (goal: second ≥ 5× faster — unchanged files are neither re-hashed nor re-scanned).

Run from the repository root:  .venv/bin/python bench/bench_scan.py [--files 50000]

The tree mimics a WordPress site: ~60 % PHP, 15 % JS, 10 % CSS, 15 % images (PNG/JPEG-like random bytes),
sizes drawn around WordPress's own (PHP 1–40 kB, JS 1–120 kB, images 5–300 kB). It uses a data folder of its
own (a temporary SITEKEEPER_HOME with a SQLite database, tables created with syncdb).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_tree(root: Path, files: int, rng: random.Random) -> int:
    kinds = [("php", 0.60, 1_000, 40_000), ("js", 0.15, 1_000, 120_000), ("css", 0.10, 500, 60_000),
             ("png", 0.15, 5_000, 300_000)]  # fmt: skip
    words = b"function wp_get_option( $name ) { return apply_filters( 'option_' . $name, $value ); }\n"
    total = 0
    for i in range(files):
        ext, _, low, high = rng.choices(kinds, weights=[k[1] for k in kinds])[0]
        folder = root / f"wp-content/plugins/p{i // 500}/inc{(i // 50) % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        size = int(rng.triangular(low, high, low * 3))
        data = rng.randbytes(size) if ext == "png" else (words * (size // len(words) + 1))[:size]
        (folder / f"f{i}.{ext}").write_bytes(data)
        total += size
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sk-bench-scan-") as tmp:
        os.environ["SITEKEEPER_HOME"] = str(Path(tmp) / "home")
        os.environ.pop("SITEKEEPER_DATABASE_URL", None)
        sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sitekeeper.settings")
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", run_syncdb=True, verbosity=0)
        from sitekeeper.contracts.models import Client, Site
        from sitekeeper.security import integrity, malware

        client = Client.objects.create(slug="bench", name="Bench", legal_name="Bench Ltd")
        site = Site.objects.create(
            client=client, url="https://bench.test", name="Bench", platform="wordpress"
        )
        tree = Path(tmp) / "site"
        size = make_tree(tree, args.files, random.Random(6))
        print(f"tree: {args.files} files, {size / 1e6:.0f} MB")
        times = []
        for label in ("first", "second"):
            start = time.perf_counter()
            one = integrity.scan(site, root=tree)
            mid = time.perf_counter()
            two = malware.scan(site, root=tree)
            end = time.perf_counter()
            times.append(end - start)
            print(f"{label}: integrity {mid - start:.1f} s (hashed {one.hashed}), malware {end - mid:.1f} s "
                  f"(scanned {two.hashed}), total {end - start:.1f} s = "
                  f"{args.files / (end - start):,.0f} files/s, "
                  f"{size / 1e6 / (end - start):,.0f} MB/s")  # fmt: skip
        print(f"second scan {times[0] / times[1]:.1f}x faster (goal >= 5x)")


if __name__ == "__main__":
    main()
