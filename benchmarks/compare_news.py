"""The `news` crawl of the throughput benchmark, this checkout against another, alternating.

    python benchmarks/compare_news.py --code ../old-checkout [--pages 2000] [--rounds 2]

Writes the benchmark's pages once, serves them, and crawls them with each checkout in turn
(old, new, old, new, …), so that both see the same machine load. Prints pages/s, the crawl
process's CPU per page and the cores kept busy, per run.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import throughput

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--code", type=Path, required=True, help="the other checkout")
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        names = throughput.make_pages(site, args.pages, 0.1)
        server, base = throughput.local_site(site)
        throughput.write_sitemap(site, names, base)
        try:
            for round_ in range(args.rounds):
                for name, code in (("other", args.code.resolve()), ("this", ROOT)):
                    throughput.ROOT = code  # measured() runs scrapy from ROOT
                    run = throughput.measured(
                        ["crawl", "news", "-a", f"sitemap={base}/sitemap.xml"],
                        Path(tmp) / f"{name}{round_}.db",
                        *throughput.LOCAL_SITE,
                    )
                    cpu = run["stats"].get("news/crawl_process_cpu", 0.0)
                    print(
                        f"{name:5} round {round_}: {args.pages / run['seconds']:.1f} pages/s, "
                        f"crawl process {cpu / args.pages * 1000:.2f} ms a page, "
                        f"{run['cpu_seconds'] / run['seconds']:.2f} cores busy",
                        flush=True,
                    )
        finally:
            server.kill()


if __name__ == "__main__":
    main()
